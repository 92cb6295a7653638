import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Xoshiro128, imageSeed, splitmix32State } from '../../../src/engine/rng';
import { TINY_FIXTURES, readJson } from './helpers';

// The vectors are written by the Python twin of the generator (tools/var_ref/rng.py via tools/make_fixtures.py);
// tools/tests/test_export_fixtures.py checks that the committed file is what the Python code writes.
interface RngVector { seed: number; state: number[]; u32: number[]; uniforms: number[] }
const VECTORS = readJson<{ seeds: RngVector[] }>(join(TINY_FIXTURES, 'rng.json')).seeds;

describe('xoshiro128** seeded by splitmix32 (docs/sampling.md)', () => {
  it('the fixture covers the seed range ends and several streams', () => {
    const seeds = VECTORS.map((v) => v.seed);
    expect(seeds).toContain(0);
    expect(seeds).toContain(2 ** 32 - 1);
    expect(seeds.length).toBeGreaterThanOrEqual(4);
    for (const v of VECTORS) expect([v.state.length, v.u32.length >= 4, v.uniforms.length >= 4]).toEqual([4, true, true]);
  });

  it.each(VECTORS.map((v) => [v.seed, v] as const))('seed %d: state, uint32 stream and uniforms equal the Python reference exactly', (_seed, v) => {
    expect(Array.from(splitmix32State(v.seed))).toEqual(v.state);
    const r = new Xoshiro128(v.seed);
    expect(Array.from({ length: v.u32.length }, () => r.nextUint32())).toEqual(v.u32);
    const r2 = new Xoshiro128(v.seed);
    expect(Array.from({ length: v.uniforms.length }, () => r2.nextUniform())).toEqual(v.uniforms);
  });

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
