import { describe, expect, it } from 'vitest';
import { Xoshiro128, imageSeed, splitmix32State } from '../../../src/engine/rng';

// Test vectors computed with tools/var_ref/rng.py (the Python twin of the generator, docs/sampling.md).
const VECTORS: { seed: number; state: number[]; u32: number[]; uniform: number }[] = [
  { seed: 0, state: [1684164658, 3653269916, 2939563536, 2141751570], u32: [1789933344, 44971166, 2521387044], uniform: 0.8961040471869464 },
  { seed: 1, state: [1580013426, 350525680, 3524174333, 3011703609], u32: [393288148, 2174103013, 3814759091], uniform: 0.48725518162749837 },
  { seed: 42, state: [551831576, 144025891, 322543647, 3034809370], u32: [660444221, 3652823732, 77672526], uniform: 0.2119302863992052 },
  { seed: 4294967295, state: [3950124170, 4293442868, 1302505678, 2762329221], u32: [4104197751, 1825856343, 1152209388], uniform: 0.5652051035911946 },
];

describe('xoshiro128** seeded by splitmix32 (docs/sampling.md)', () => {
  for (const v of VECTORS) {
    it(`seed ${v.seed}: state, uint32 stream and uniform equal the Python reference exactly`, () => {
      expect(Array.from(splitmix32State(v.seed))).toEqual(v.state);
      const r = new Xoshiro128(v.seed);
      expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual(v.u32);
      expect(r.nextUniform()).toBe(v.uniform);
    });
  }

  it('uniforms lie in [0, 1) and have a plausible mean', () => {
    const r = new Xoshiro128(7);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 100000; i++) {
      const u = r.nextUniform();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / 100000 - 0.5)).toBeLessThan(0.005);
  });

  it('skipUniforms(n) advances exactly like n draws', () => {
    const a = new Xoshiro128(99);
    const b = new Xoshiro128(99);
    a.skipUniforms(37);
    for (let i = 0; i < 37; i++) b.nextUniform();
    expect(a.nextUniform()).toBe(b.nextUniform());
  });

  it('image b of a batch uses seed (s + b) mod 2^32', () => {
    expect(imageSeed(10, 3)).toBe(13);
    expect(imageSeed(4294967295, 1)).toBe(0);
  });

  it('rejects seeds outside [0, 2^32)', () => {
    expect(() => new Xoshiro128(-1)).toThrow(/seed/);
    expect(() => new Xoshiro128(2 ** 32)).toThrow(/seed/);
    expect(() => new Xoshiro128(1.5)).toThrow(/seed/);
  });
});
