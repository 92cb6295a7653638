// The one image I/O path: the encoder and the metadata writer/reader, and one decoder for every opener
// (inspect, canvas open, CLI) with the same EXIF orientation and alpha handling.
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { decodeImage, encodeImage, inspectImage, openCanvasImage, readMetaRecords, readPngText } from '../../../src/host/image-io';
import { StudioError } from '../../../src/shared/errors';

function gradient(w: number, h: number) {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) { data[3 * i] = i % 256; data[3 * i + 1] = (i * 7) % 256; data[3 * i + 2] = 200; }
  return { width: w, height: h, data };
}

const record = { key: 'var-studio' as const, json: JSON.stringify({ seed: 3, name: 'Ankle boot — 靴' }), description: 'a test — 靴' };

describe('image I/O (sharp + PNG tEXt / XMP)', () => {
  it('PNG round trip is lossless; the record goes in a tEXt chunk right after IHDR, exact even beyond Latin-1', async () => {
    const img = gradient(13, 9);
    const png = await encodeImage(img, { format: 'png', quality: 100 }, record);
    // chunk 1 (after the 8-byte signature and the 25-byte IHDR chunk) is tEXt
    expect(Buffer.from(png.subarray(8 + 25 + 4, 8 + 25 + 8)).toString('latin1')).toBe('tEXt');
    expect(JSON.parse(readPngText(png)['var-studio'])).toEqual({ seed: 3, name: 'Ankle boot — 靴' });
    const back = await decodeImage(png);
    expect([back.width, back.height]).toEqual([13, 9]);
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('JPEG and WebP carry the same record in XMP; the reader returns it by key', async () => {
    for (const format of ['jpeg', 'webp'] as const) {
      const bytes = await encodeImage(gradient(8, 8), { format, quality: 90 }, record);
      const meta = await sharp(bytes).metadata();
      expect(meta.format).toBe(format);
      expect(readMetaRecords(bytes, meta.format, meta.xmp)).toEqual({ 'var-studio': record.json });
    }
  });

  it('a corrupt file is a StudioError with a one-line reason', async () => {
    const png = await encodeImage(gradient(8, 8), { format: 'png', quality: 100 });
    await expect(decodeImage(png.subarray(0, 40))).rejects.toBeInstanceOf(StudioError);
    await expect(decodeImage(new TextEncoder().encode('not an image at all'))).rejects.toMatchObject({ code: 'unreadable-image', message: expect.stringMatching(/cannot decode the image/) });
  });

  it('every opener sees the same pixels: EXIF orientation applied, transparency flattened over white', async () => {
    const rotated = await sharp({ create: { width: 6, height: 2, channels: 3, background: '#204060' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const clear = await sharp({ create: { width: 3, height: 3, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    for (const bytes of [rotated, clear]) {
      const decoded = await decodeImage(bytes);
      const inspected = (await inspectImage(bytes)).image;
      const opened = (await openCanvasImage(bytes, 'f')).image;
      expect(inspected).toEqual(decoded);
      expect(opened).toEqual(decoded);
    }
    expect([(await decodeImage(rotated)).width, (await decodeImage(rotated)).height]).toEqual([2, 6]);
    expect(Array.from((await decodeImage(clear)).data.subarray(0, 3))).toEqual([255, 255, 255]);
  });
});
