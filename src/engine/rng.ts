/**
 * The studio's seeded generator (docs/sampling.md "Generator"): xoshiro128** seeded by splitmix32.
 * Identical in tools/var_ref/sampler.py, so the same seed gives the same draws on every platform.
 * All arithmetic is on uint32 words via Math.imul and `>>> 0`.
 */

const GOLDEN = 0x9e3779b9;

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The four state words produced by splitmix32 from a 32-bit seed (docs/sampling.md "Seeding"). */
export function splitmix32State(seed: number): Uint32Array {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer 0 ≤ s < 2^32, got ${seed}`);
  }
  const state = new Uint32Array(4);
  let x = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    x = (x + GOLDEN) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
    z = (z ^ (z >>> 15)) >>> 0;
    state[i] = z;
  }
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  return state;
}

/** One image's stream. Image b of a batch seeded with s uses `new Xoshiro128(imageSeed(s, b))`. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    const st = splitmix32State(seed);
    this.s0 = st[0];
    this.s1 = st[1];
    this.s2 = st[2];
    this.s3 = st[3];
  }

  /** Next uint32 (xoshiro128**). */
  nextUint32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform double in [0, 1) with 53 random bits: (a·2²⁶ + b) / 2⁵³. */
  nextUniform(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Fill `out` with uniforms, in order. */
  fillUniform(out: Float64Array): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.nextUniform();
    return out;
  }

  /** Consume n uniforms without keeping them (kept tokens in edits / resumed scales still draw). */
  skipUniforms(n: number): void {
    for (let i = 0; i < n; i++) {
      this.nextUint32();
      this.nextUint32();
    }
  }
}

/** Seed of image b in a batch seeded with s: (s + b) mod 2³² (docs/sampling.md). */
export function imageSeed(seed: number, b: number): number {
  return (seed + b) >>> 0;
}

/** The seeds of every image of a batch seeded with s. */
export function imageSeeds(seed: number, batch: number): number[] {
  return Array.from({ length: batch }, (_, b) => imageSeed(seed, b));
}
