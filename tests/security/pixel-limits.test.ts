// Review findings 5 and 10: one set of pixel limits checked before anything is decoded or allocated (a
// decompression bomb is refused at its header), the edit region bounded, and image.inspect opening the
// same formats as canvas.open.
import { describe, expect, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { checkEditInputs, defaultRegion } from '../../src/engine/edit';
import { MAX_REGION } from '../../src/engine/index';
import { PIXEL_LIMITS, decodeImage, inspectImage, openCanvasImage } from '../../src/host/image-io';
import { EDIT_LIMITS } from '../../src/shared/edit';
import { LIMITS } from '../../src/shared/contract';

/** A PNG whose header claims side×side pixels, with one compressed row of data (a few hundred bytes). */
function bombPng(side: number): Buffer {
  const crc = (buf: Buffer) => {
    let c = ~0;
    for (const b of buf) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return (~c) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const idat = deflateSync(Buffer.alloc(1 + side * 3));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

describe('finding 5: pixel limits and region bounds', () => {
  it('the limits are one set: the contract side, the canvas side and the decoder agree', () => {
    expect(PIXEL_LIMITS.maxSide).toBe(LIMITS.maxSide);
    expect(PIXEL_LIMITS.maxSide).toBe(EDIT_LIMITS.maxSide);
    expect(PIXEL_LIMITS.maxPixels).toBe(LIMITS.maxSide * LIMITS.maxSide);
    expect(MAX_REGION).toBe(EDIT_LIMITS.maxRegion);
  });

  it('a 16000² PNG bomb of a few hundred bytes is refused from its header by every opener', async () => {
    const bomb = bombPng(16000);
    expect(bomb.length).toBeLessThan(2000);
    await expect(decodeImage(bomb)).rejects.toMatchObject({ code: 'image-too-large' });
    await expect(inspectImage(bomb)).rejects.toMatchObject({ code: 'image-too-large' });
    await expect(openCanvasImage(bomb, 'bomb.png')).rejects.toMatchObject({ code: 'image-too-large' });
  });

  it('an edit region past the bound is refused before the crop is allocated; the default region is bounded', () => {
    const img = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) };
    const mask = { width: 64, height: 64, data: new Uint8Array(64 * 64).fill(255) };
    expect(() => checkEditInputs(img, mask, { x: 0, y: 0, size: 16384 }, 4)).toThrow(/region size 16384 is larger than 2048/);
    const big = { width: 4096, height: 4096, data: new Uint8Array(0) };
    const bigMask = { width: 4096, height: 4096, data: new Uint8Array(4096 * 4096) };
    bigMask.data[4000 * 4096 + 4000] = 255;
    const r = defaultRegion(big, bigMask);
    expect(r.size).toBe(2048);
    expect(r.x + r.size).toBeLessThanOrEqual(4096);
  });
});

describe('finding 10: image.inspect opens what canvas.open opens', () => {
  it('GIF, TIFF and SVG are refused as unsupported by both', async () => {
    const rgb = { raw: { width: 4, height: 4, channels: 3 as const } };
    const pixels = Buffer.alloc(48, 128);
    const files = {
      gif: await sharp(pixels, rgb).gif().toBuffer(),
      tiff: await sharp(pixels, rgb).tiff().toBuffer(),
      svg: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'),
    };
    for (const [name, bytes] of Object.entries(files)) {
      await expect(inspectImage(bytes), name).rejects.toMatchObject({ code: 'unsupported-image' });
      await expect(openCanvasImage(bytes, `x.${name}`), name).rejects.toMatchObject({ code: 'unsupported-image' });
    }
  });
});
