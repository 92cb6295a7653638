import { describe, expect, it } from 'vitest';
import { EngineError, decodeImage, encodePng, readPngText } from '../../../src/engine/index';
import { resizeFloat } from '../../../src/engine/image';

function gradient(w: number, h: number) {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) { data[3 * i] = i % 256; data[3 * i + 1] = (i * 7) % 256; data[3 * i + 2] = 200; }
  return { width: w, height: h, data };
}

describe('image I/O (sharp + PNG tEXt)', () => {
  it('PNG round trip is lossless; settings go in a tEXt chunk right after IHDR', async () => {
    const img = gradient(13, 9);
    const png = await encodePng(img, { 'var-studio': JSON.stringify({ seed: 3, cfg: 1.5 }) });
    // chunk 1 (after the 8-byte signature and the 25-byte IHDR chunk) is tEXt
    expect(png.subarray(8 + 25 + 4, 8 + 25 + 8).toString('latin1')).toBe('tEXt');
    expect(JSON.parse(readPngText(png)['var-studio'])).toEqual({ seed: 3, cfg: 1.5 });
    const back = await decodeImage(png);
    expect([back.width, back.height]).toEqual([13, 9]);
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('a corrupt file is an EngineError "bad-image" with a one-line reason', async () => {
    const png = await encodePng(gradient(8, 8));
    const broken = png.subarray(0, 40);
    await expect(decodeImage(broken)).rejects.toBeInstanceOf(EngineError);
    await expect(decodeImage(Buffer.from('not an image at all'))).rejects.toMatchObject({ code: 'bad-image' });
  });

  it('resize: constant images stay constant; identity at the same size; shrinking averages', () => {
    const c = new Float64Array(10 * 10 * 3).fill(77);
    expect(Array.from(resizeFloat(c, 10, 10, 3, 4, 4)).every((v) => Math.abs(v - 77) < 1e-9)).toBe(true);
    expect(Array.from(resizeFloat(c, 10, 10, 3, 23, 23)).every((v) => Math.abs(v - 77) < 1e-9)).toBe(true);
    const stripes = new Float64Array(8).map((_, i) => (i % 2 ? 255 : 0)); // 8×1, 1 channel
    const half = resizeFloat(stripes, 8, 1, 1, 4, 1);
    half.forEach((v) => expect(v).toBeGreaterThan(60));
  });
});
