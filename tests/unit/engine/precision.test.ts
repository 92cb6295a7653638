/**
 * Precision variants (docs/model-bundle.md "Precision variants"): the engine runs the variant asked for, 'auto'
 * follows the recorded fidelity and speed, and a variant's logits stay within the stated tolerance of fp32.
 * Fixtures: tests/fixtures/tiny/variants (tools/quantize_bundle.py --precision int8,fp16 on the tiny bundle).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, type Precision, VarEngine } from '../../../src/engine/index';
import { choosePrecision } from '../../../src/engine/graphs';
import { readManifest } from '../../../src/engine/bundle';
import { REPO, addVariantFixture, copyTinyBundle, editManifest } from './helpers';

const VARIANTS = join(REPO, 'tests/fixtures/tiny/variants');
// max |variant − fp32| / max |fp32| of the logits, as in tools/tests/test_quantize.py
const TOLERANCE: Record<string, number> = { int8: 0.02, fp16: 0.002 };

let bundle: { dir: string; cleanup: () => void };
beforeAll(() => {
  bundle = copyTinyBundle();
  addVariantFixture(bundle.dir, VARIANTS, 'transformer');
});
afterAll(() => bundle.cleanup());

const sampling = { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false };

/** Per scale, the raw logits of a generation (optionally teacher-forced on `prefix`). */
async function run(engine: VarEngine, prefix?: Int32Array[]) {
  const logits: Float32Array[] = [];
  let tokens: Int32Array[] = [];
  for await (const e of engine.generate({ classIndex: 2, seed: 5, batch: 1, sampling, previews: false, ...(prefix ? { prefix: [{ tokens: prefix }] } : {}) },
    undefined, { onLogits: (_k, l) => logits.push(Float32Array.from(l)) })) {
    if (e.type === 'done') tokens = e.tokens[0];
  }
  return { logits, tokens };
}

describe('precision variants', () => {
  it('a bundle without variants runs fp32, and asking for a missing precision is a BundleError naming what exists', async () => {
    const plain = copyTinyBundle();
    try {
      const e = await VarEngine.create(plain.dir, { provider: 'cpu', threads: 1 });
      expect(e.precision.transformer).toBe('fp32');
      await e.dispose();
      await expect(VarEngine.create(plain.dir, { provider: 'cpu', precision: 'int8' })).rejects.toSatisfy(
        (err: unknown) => err instanceof BundleError && err.code === 'no-such-precision' && /only fp32/.test(err.message));
    } finally {
      plain.cleanup();
    }
  });

  for (const p of ['int8', 'fp16'] as Precision[]) {
    it(`${p}: the engine loads the variant, and teacher-forced logits are within ${TOLERANCE[p]} of fp32 (relative)`, async () => {
      const ref = await VarEngine.create(bundle.dir, { provider: 'cpu', precision: 'fp32', threads: 1 });
      const q = await VarEngine.create(bundle.dir, { provider: 'cpu', precision: p, threads: 1 });
      try {
        expect(q.precision).toMatchObject({ transformer: p, decoder: 'fp32', encoder: 'fp32' });
        const a = await run(ref);
        const b = await run(q, a.tokens);
        expect(b.logits.length).toBe(a.logits.length);
        let worst = 0;
        let differs = false;
        a.logits.forEach((la, k) => {
          let maxAbs = 0;
          let maxDiff = 0;
          for (let i = 0; i < la.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(la[i]));
            maxDiff = Math.max(maxDiff, Math.abs(la[i] - b.logits[k][i]));
          }
          if (maxDiff > 0) differs = true;
          worst = Math.max(worst, maxDiff / maxAbs);
        });
        expect(differs).toBe(true); // really another graph
        expect(worst).toBeLessThanOrEqual(TOLERANCE[p]);
      } finally {
        await ref.dispose();
        await q.dispose();
      }
    });
  }

  it("'auto' picks the fastest variant recorded without visible loss on the device kind, else fp32", async () => {
    const m = await readManifest(bundle.dir);
    const v = m.graphs.transformer.variants!;
    expect(choosePrecision(m, 'auto', 'cpu')).toBe('fp32'); // nothing measured yet
    v.int8!.fidelity = { noVisibleLoss: true, speedVsFp32: { cpu: 0.6 } };
    v.fp16!.fidelity = { noVisibleLoss: true, speedVsFp32: { cpu: 1.2, gpu: 0.5 } };
    expect(choosePrecision(m, 'auto', 'cpu')).toBe('int8');
    expect(choosePrecision(m, 'auto', 'cuda')).toBe('fp16');
    v.int8!.fidelity = { noVisibleLoss: false, speedVsFp32: { cpu: 0.4 } };
    expect(choosePrecision(m, 'auto', 'cpu')).toBe('fp32');
    expect(choosePrecision(m, 'fp16', 'cpu')).toBe('fp16'); // an explicit choice is honoured as given

    editManifest(bundle.dir, (raw) => {
      raw.graphs.transformer.variants.int8.fidelity = { noVisibleLoss: true, speedVsFp32: { cpu: 0.7 } };
    });
    const e = await VarEngine.create(bundle.dir, { provider: 'cpu', threads: 1 });
    try {
      expect(e.precision.transformer).toBe('int8');
    } finally {
      await e.dispose();
    }
  });

  it('the manifest check names a variant file that "files" does not list, and an unknown precision', async () => {
    const b = copyTinyBundle();
    try {
      editManifest(b.dir, (m) => { m.graphs.transformer.variants = { int8: { model: 'x.onnx', weights: 'x.weights', quantization: {} } }; });
      await expect(readManifest(b.dir)).rejects.toThrow(/graphs\.transformer\.variants\.int8\.model.*x\.onnx/);
      editManifest(b.dir, (m) => { m.graphs.transformer.variants = { int3: { model: 'x.onnx', weights: 'x.weights', quantization: {} } }; });
      await expect(readManifest(b.dir)).rejects.toThrow(/variants\.int3.*precision name/);
    } finally {
      b.cleanup();
    }
  });
});
