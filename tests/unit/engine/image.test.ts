import { describe, expect, it } from 'vitest';
import { resizeFloat } from '../../../src/engine/image';

describe('engine image helpers', () => {
  it('resize: constant images stay constant; identity at the same size; shrinking averages', () => {
    const c = new Float64Array(10 * 10 * 3).fill(77);
    expect(Array.from(resizeFloat(c, 10, 10, 3, 4, 4)).every((v) => Math.abs(v - 77) < 1e-9)).toBe(true);
    expect(Array.from(resizeFloat(c, 10, 10, 3, 23, 23)).every((v) => Math.abs(v - 77) < 1e-9)).toBe(true);
    const stripes = new Float64Array(8).map((_, i) => (i % 2 ? 255 : 0)); // 8×1, 1 channel
    const half = resizeFloat(stripes, 8, 1, 1, 4, 1);
    half.forEach((v) => expect(v).toBeGreaterThan(60));
  });
});
