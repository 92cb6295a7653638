/**
 * Exactness against the PyTorch reference (tests/fixtures/tiny, written by tools/make_fixtures.py).
 * Tolerances (stated by the fixtures): tokens, kept sets, uniforms and masks exact (rng.json is checked in
 * rng.test.ts); graph outputs relative 1e-4 = max|got − want| / max|want| over a tensor; filtered logits
 * 1e-12; soft embeddings 1e-5.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VarEngine } from '../../../src/engine/index';
import { type CoreDoneEvent, type CoreScaleEvent, type ForcedScale, runScales } from '../../../src/engine/core';
import { tokenOffsets } from '../../../src/engine/manifest';
import { areaMatrix, keepMasksPerScale } from '../../../src/engine/resample';
import { Xoshiro128, imageSeed } from '../../../src/engine/rng';
import { TokenSampler, cfgMix, guidanceAt, topKFilter, topPFilter } from '../../../src/engine/sampler';
import { TINY_BUNDLE, TINY_FIXTURES, readJson } from './helpers';

interface T { shape: number[]; data: (number | null)[] }
const fx = (name: string) => readJson(join(TINY_FIXTURES, name));
const f32 = (t: T) => Float32Array.from(t.data as number[]);

/** max|got − want| / max|want| */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    num = Math.max(num, Math.abs(got[i] - want[i]));
    den = Math.max(den, Math.abs(want[i]));
  }
  return num / (den || 1);
}

let engine: VarEngine;
beforeAll(async () => {
  engine = await VarEngine.create(TINY_BUNDLE, { provider: 'cpu', threads: 1 });
});
afterAll(async () => {
  await engine.dispose();
});

async function runCore(labels: number[], rngs: Xoshiro128[], s: { cfg: number; topK: number; topP: number; moreSmooth: boolean }, forced?: (ForcedScale | undefined)[][]) {
  const scales: CoreScaleEvent[] = [];
  let done: CoreDoneEvent | undefined;
  for await (const e of runScales(engine.coreContext(), { labels, rngs, settings: s, forced, previews: true, keepFloat: true })) {
    if (e.type === 'scale') scales.push(e);
    else done = e;
  }
  return { scales, done: done! };
}

describe('resampling matrices (resample.json): 1e-12', () => {
  it('area matrices for the tiny, official 256 and 512 sets', () => {
    const d = fx('resample.json');
    for (const set of ['tiny', 'official256', 'official512']) {
      const h = d[set].full;
      for (const [q, t] of Object.entries(d[set].area) as [string, T][]) {
        const a = areaMatrix(Number(q), h);
        // our matrix is float32 (what fhat_step receives); the fixture is float64
        (t.data as number[]).forEach((v, i) => expect(Math.abs(a[i] - Math.fround(v))).toBeLessThanOrEqual(1e-12));
      }
    }
  });
});

describe('edit masks (edit_masks.json): exact', () => {
  for (const c of fx('edit_masks.json').cases) {
    it(`${c.name}: per-scale keep masks (bilinear align_corners=False, > 0.5, ≤ 3 tokens kept)`, () => {
      const keeps = keepMasksPerScale(f32(c.mask), c.patchNums);
      keeps.forEach((k, s) => expect(Array.from(k)).toEqual(c.keep[s]));
    });
  }
});

describe('sampler (sampling.json): draws identical given the uniforms', () => {
  for (const c of fx('sampling.json').cases) {
    it(`${c.name}: uniforms, kept sets and tokens exact; filtered logits 1e-12${c.moreSmooth ? '; soft embedding 1e-5' : ''}`, () => {
      const [l, V] = c.cond.shape;
      const cond = f32(c.cond), uncond = f32(c.uncond);
      const rng = new Xoshiro128(c.seed);
      const u = new Float64Array(l);
      rng.fillUniform(u);
      expect(Array.from(u)).toEqual(c.uniforms);
      const sampler = new TokenSampler(V);
      const codebook = engine.codebook;
      const t = guidanceAt(c.cfg, c.scale, c.numScales);
      const ratio = c.scale / (c.numScales - 1);
      for (let i = 0; i < l; i++) {
        const tok = sampler.sampleToken(cond.subarray(i * V, (i + 1) * V), uncond.subarray(i * V, (i + 1) * V), t, c.topK, c.topP, u[i]);
        expect(tok).toBe(c.tokens[i]);
        const kept = Array.from(sampler.x).flatMap((v, j) => (v === -Infinity ? [] : [j]));
        expect(kept).toEqual(c.kept[i]);
        for (let v = 0; v < V; v++) {
          const want = c.filtered.data[i * V + v];
          if (want === null) expect(sampler.x[v]).toBe(-Infinity);
          else expect(Math.abs(sampler.x[v] - want)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want)));
        }
        if (c.moreSmooth) {
          // Gumbel uniforms come after all l token uniforms, token-major (docs/sampling.md)
          const gu = new Float64Array(V);
          rng.fillUniform(gu);
          expect(Array.from(gu)).toEqual(c.gumbelUniforms.data.slice(i * V, (i + 1) * V));
          const emb = sampler.smoothEmbedding(ratio, gu, codebook, c.softEmbedding.shape[1], new Float64Array(c.softEmbedding.shape[1]));
          const want = c.softEmbedding.data.slice(i * emb.length, (i + 1) * emb.length);
          expect(relErr(Float32Array.from(emb), want)).toBeLessThanOrEqual(1e-5);
        }
      }
      expect(rng.nextUniform()).toBe(c.nextUniform);
    });
  }

  it('the step functions alone reproduce a case (cfgMix → topKFilter → topPFilter)', () => {
    const c = fx('sampling.json').cases[2];
    const V = c.cond.shape[1];
    const x = cfgMix(f32(c.cond).subarray(0, V), f32(c.uncond).subarray(0, V), guidanceAt(c.cfg, c.scale, c.numScales), new Float64Array(V));
    topPFilter(topKFilter(x, c.topK), c.topP);
    expect(Array.from(x).flatMap((v, j) => (v === -Infinity ? [] : [j]))).toEqual(c.kept[0]);
  });
});

describe('transformer (teacher_forced.json): logits within 1e-4 relative', () => {
  it('scale by scale with its own KV cache, labels [class, null]', async () => {
    const d = fx('teacher_forced.json');
    const m = engine.manifest;
    const { begins } = tokenOffsets(m.patchNums);
    const { depth, numHeads: H, headDim: c } = m.transformer;
    const sess = engine.coreContext().sessions.transformer;
    const empty = new ort.Tensor('float32', new Float32Array(0), [2, H, 0, c]);
    let past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < depth; i++) { past[`past_key_${i}`] = empty; past[`past_value_${i}`] = empty; }
    for (let k = 0; k < m.patchNums.length; k++) {
      const l = m.patchNums[k] ** 2;
      let ti: Float32Array;
      if (k === 0) ti = new Float32Array(2 * m.cvae);
      else {
        const one = f32(d.tokenInputs[k - 1]);
        ti = new Float32Array(2 * one.length);
        ti.set(one, 0);
        ti.set(one, one.length);
      }
      const out = await sess.run({
        labels: new ort.Tensor('int64', BigInt64Array.of(BigInt(d.label), BigInt(m.transformer.numClasses)), [2]),
        token_input: new ort.Tensor('float32', ti, [2, k === 0 ? 1 : l, m.cvae]),
        begin: new ort.Tensor('int64', BigInt64Array.of(BigInt(begins[k])), [1]),
        ...past,
      });
      const next: Record<string, ort.Tensor> = {};
      for (let i = 0; i < depth; i++) {
        next[`past_key_${i}`] = out[`present_key_${i}`] as ort.Tensor;
        next[`past_value_${i}`] = out[`present_value_${i}`] as ort.Tensor;
      }
      past = next;
      expect(relErr((out.logits as ort.Tensor).data as Float32Array, d.logits[k].data)).toBeLessThanOrEqual(1e-4);
    }
  });
});

describe('greedy generation (greedy.json): tokens identical, tensors within 1e-4 relative', () => {
  it('top-k 1, cfg 2 ramp: tokens, f̂ after each scale, previews and final image', async () => {
    const d = fx('greedy.json');
    const { scales, done } = await runCore([d.label], [new Xoshiro128(0)], { cfg: d.cfg, topK: d.topK, topP: d.topP, moreSmooth: false });
    scales.forEach((s, k) => {
      expect(Array.from(s.tokens[0])).toEqual(d.tokens[k][0]);
      expect(relErr(s.fHat!, d.fHats[k].data)).toBeLessThanOrEqual(1e-4);
      expect(relErr(s.previewFloat!, d.previews[k].data)).toBeLessThanOrEqual(1e-4);
    });
    expect(relErr(done.imageFloat!, d.image.data)).toBeLessThanOrEqual(1e-4);
  });
});

describe('encoder (encoder.json): token maps identical, tensors within 1e-4 relative', () => {
  it('image → token maps per scale, latent f, and decoder(f̂ of those tokens)', async () => {
    const d = fx('encoder.json');
    const toks = (await engine.encodePlanar(f32(d.image), 1))[0];
    toks.forEach((t, k) => expect(Array.from(t)).toEqual(d.tokens[k][0]));
    const out = await (await engine.coreContext().sessions.encoder()).run({ image: new ort.Tensor('float32', f32(d.image), d.image.shape) });
    expect(relErr((out.f as ort.Tensor).data as Float32Array, d.f.data)).toBeLessThanOrEqual(1e-4);
    const forced = [toks.map((tokens) => ({ tokens, keep: null }))];
    const { done } = await runCore([3], [new Xoshiro128(0)], { cfg: 1, topK: 0, topP: 0, moreSmooth: false }, forced);
    expect(relErr(done.imageFloat!, d.decoded.data)).toBeLessThanOrEqual(1e-4);
  });
});

describe('seeded full generations (generation_seeded.json): token-identical, tensors within 1e-4 relative', () => {
  const d = fx('generation_seeded.json');
  const byName = (n: string) => d.generations.find((g: { name: string }) => g.name === n);
  for (const g of d.generations) {
    it(g.name, async () => {
      const m = engine.manifest;
      const nc = m.transformer.numClasses;
      const B = g.batch;
      const rngs = Array.from({ length: B }, (_, b) => new Xoshiro128(imageSeed(g.seed, b)));
      let labels: number[];
      if (g.labels === null) {
        labels = rngs.map((r, b) => {
          const u = r.nextUniform();
          expect(u).toBe(g.labelUniforms[b]);
          return Math.min(Math.floor(u * nc), nc - 1);
        });
      } else labels = g.labels.length === B ? g.labels : new Array(B).fill(g.labels[0]);
      expect(labels).toEqual(g.drawnLabels);
      let forced: (ForcedScale | undefined)[][] | undefined;
      if (g.prefixScales !== undefined) {
        const src = byName('two classes, top-k 16 top-p 0.9');
        forced = Array.from({ length: B }, (_, b) => Array.from({ length: g.prefixScales }, (_, k) => ({ tokens: Int32Array.from(src.tokens[k][b]), keep: null })));
      }
      if (g.edit) {
        const enc = fx('encoder.json');
        const keeps = keepMasksPerScale(f32(g.edit.mask), m.patchNums);
        forced = [m.patchNums.map((_, k) => ({ tokens: Int32Array.from(enc.tokens[k][0]), keep: keeps[k] }))];
      }
      const { done } = await runCore(labels, rngs, { cfg: g.cfg, topK: g.topK, topP: g.topP, moreSmooth: g.moreSmooth }, forced);
      for (let b = 0; b < B; b++) {
        done.tokens[b].forEach((t, k) => expect(Array.from(t)).toEqual(g.tokens[k][b]));
      }
      expect(relErr(done.imageFloat!, g.image.data)).toBeLessThanOrEqual(1e-4);
    });
  }

  it('the public API reproduces the two-class case image by image (generate with one class, batch of one)', async () => {
    const g = byName('two classes, top-k 16 top-p 0.9');
    for (let b = 0; b < 2; b++) {
      let tokens: Int32Array[] | undefined;
      for await (const e of engine.generate({ classIndex: g.labels[b], seed: imageSeed(g.seed, b), batch: 1, sampling: { cfg: g.cfg, topK: g.topK, topP: g.topP, moreSmooth: false } })) {
        if (e.type === 'done') tokens = e.tokens[0];
      }
      tokens!.forEach((t, k) => expect(Array.from(t)).toEqual(g.tokens[k][b]));
    }
  });
});
