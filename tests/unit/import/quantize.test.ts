/**
 * The importer's TypeScript quantizer (src/engine/import/quantize.ts) against tools/quantize_bundle.py: the same
 * weights bytes for every setting in tests/fixtures/tiny/variants/python-quantized.json (made by
 * tools/make_quantize_fixtures.py), the same manifest record, and a graph that onnxruntime runs to the same
 * logits as the Python-written variant.
 */
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VarEngine } from '../../../src/engine/index';
import { addTransformerVariants, addVariantsToBundle } from '../../../src/engine/import/bundle-writer';
import { ImportError } from '../../../src/engine/import/checkpoint';
import { type QuantPrecision, halfBits, parsePrecisionList, quantSpec, quantizeBlockwise, quantizePerColumn, rintEven, writeQuantizedVariant } from '../../../src/engine/import/quantize';
import { readManifest } from '../../../src/engine/bundle';
import { REPO, copyTinyBundle, editManifest, readJson } from '../engine/helpers';

const VARIANTS = join(REPO, 'tests/fixtures/tiny/variants');
interface Case { precision: QuantPrecision; quantization: Record<string, unknown>; weights: { sha256: string; bytes: number } }
const CASES = readJson<Record<string, Case>>(join(VARIANTS, 'python-quantized.json'));

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('quantization arithmetic', () => {
  it('rounds half to even, as numpy.rint', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(rintEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });

  it('block codes dequantize to within half a step of the weights (K not a multiple of the block)', () => {
    const N = 6, K = 70;
    const w = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 7)));
    for (const [bits, symmetric] of [[8, true], [4, false], [4, true]] as const) {
      const r = quantizeBlockwise(w, N, K, bits, 32, symmetric);
      expect(r.blocks).toBe(3);
      const codeOf = (n: number, k: number) => {
        const idx = (n * r.blocks + Math.floor(k / 32)) * 32 + (k % 32);
        return bits === 8 ? r.codes[idx] : (r.codes[idx >> 1] >> ((idx & 1) * 4)) & 15;
      };
      const zpOf = (n: number, b: number) => {
        if (!r.zeroPoints) return 1 << (bits - 1);
        const per = r.zeroPoints.length / N;
        return bits === 8 ? r.zeroPoints[n * per + b] : (r.zeroPoints[n * per + (b >> 1)] >> ((b & 1) * 4)) & 15;
      };
      let worst = 0;
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          const b = Math.floor(k / 32);
          const s = r.scales[n * r.blocks + b];
          const back = (codeOf(n, k) - zpOf(n, b)) * s;
          worst = Math.max(worst, Math.abs(back - w[n * K + k]) / s);
        }
      }
      expect(worst).toBeLessThanOrEqual(0.5 + 1e-5);
      expect(worst).toBeGreaterThan(0);
    }
  });

  it('dq8 stores Wᵀ with one scale per output column', () => {
    const w = Float32Array.from([1, -2, 0.5, 4, 0, 0]); // N = 3 rows of K = 2
    const r = quantizePerColumn(w, 3, 2);
    expect(Array.from(r.scales)).toEqual([Math.fround(2 / 127), Math.fround(4 / 127), 1]);
    expect(Array.from(r.codes)).toEqual([64, 16, 0, -127, 127, 0]); // [K, N]
  });

  it('refuses bit widths and block sizes MatMulNBits has no kernel for', () => {
    expect(() => quantizeBlockwise(new Float32Array(4), 1, 4, 3, 32, true)).toThrow(ImportError);
    expect(() => quantizeBlockwise(new Float32Array(4), 1, 4, 8, 48, true)).toThrow(/power of two/);
  });
});

describe.each(Object.entries(CASES))('variant %s of the tiny transformer', (key, c) => {
  it('writes the bytes tools/quantize_bundle.py writes, and the same manifest record', async () => {
    const b = copyTinyBundle();
    try {
      const q = c.quantization;
      const spec = quantSpec(c.precision, { bits: q.bits as number, blockSize: q.blockSize as number, symmetric: q.symmetric as boolean, accuracyLevel: q.accuracyLevel as number });
      const v = await writeQuantizedVariant(b.dir, 'transformer.onnx', spec);
      expect(v.weights).toBe(`transformer.${c.precision}.weights`);
      expect(readFileSync(join(b.dir, v.weights)).length).toBe(c.weights.bytes);
      expect(sha256(join(b.dir, v.weights))).toBe(c.weights.sha256);
      const m = await readManifest(b.dir);
      await addTransformerVariants(b.dir, m, [spec]);
      expect(m.graphs.transformer.variants?.[c.precision]?.quantization).toEqual(q);
      expect(readdirSync(b.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      b.cleanup();
    }
  });
});

describe('a finished bundle folder', () => {
  it('gets every asked variant listed with its sha256, and loads with hash checks at each precision', async () => {
    const b = copyTinyBundle();
    try {
      const m = await addVariantsToBundle(b.dir, ['int8', 'int4', 'dq8']);
      expect(Object.keys(m.graphs.transformer.variants ?? {}).sort()).toEqual(['dq8', 'int4', 'int8']);
      for (const p of ['int8', 'int4', 'dq8'] as const) {
        const e = await VarEngine.create(b.dir, { provider: 'cpu', precision: p, threads: 1 });
        expect(e.precision.transformer).toBe(p);
        await e.dispose();
      }
      // without measured fidelity, auto stays fp32
      const auto = await VarEngine.create(b.dir, { provider: 'cpu', threads: 1 });
      expect(auto.precision.transformer).toBe('fp32');
      await auto.dispose();
    } finally {
      b.cleanup();
    }
  }, 60_000);

  it('reads --precision lists and refuses unknown names by name', () => {
    expect(parsePrecisionList('fp32,int8, int4,int8')).toEqual(['int8', 'int4']);
    expect(parsePrecisionList('fp32')).toEqual([]);
    expect(() => parsePrecisionList('int8,int3')).toThrow(/unknown int3/);
  });
});

describe('fp16', () => {
  it('narrows float32 to half bits as numpy does (round to nearest even, subnormals, overflow)', () => {
    const cases: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [1e-8, 0x0000], [6e-8, 0x0001],
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [2 ** -24 * 1.5, 0x0002], [2 ** -25, 0x0000], [Infinity, 0x7c00], [-0, 0x8000]];
    for (const [x, h] of cases) expect(halfBits(x), String(x)).toBe(h);
    expect(halfBits(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it('writes the weight bytes tools/quantize_bundle.py wrote for the tiny bundle', async () => {
    const b = copyTinyBundle();
    try {
      const v = await writeQuantizedVariant(b.dir, 'transformer.onnx', quantSpec('fp16'));
      const want = readJson(join(VARIANTS, 'variants.json')).files['transformer.fp16.weights'];
      expect(sha256(join(b.dir, v.weights))).toBe(want.sha256);
      expect(v.quantized).toEqual([]);
    } finally {
      b.cleanup();
    }
  });
});

describe.each(['int8', 'fp16'] as const)('the TypeScript-written %s graph in the engine', (precision) => {
  it(`gives the same tokens and logits as the Python-written ${precision} variant`, async () => {
    const ts = copyTinyBundle();
    const py = copyTinyBundle();
    try {
      const m = await readManifest(ts.dir);
      const files = await addTransformerVariants(ts.dir, m, [precision]);
      editManifest(ts.dir, (raw) => {
        raw.graphs.transformer.variants = m.graphs.transformer.variants;
        for (const f of files) raw.files[f] = { sha256: sha256(join(ts.dir, f)), bytes: readFileSync(join(ts.dir, f)).length };
      });
      const pyFiles = [`transformer.${precision}.onnx`, `transformer.${precision}.weights`];
      for (const f of pyFiles) cpSync(join(VARIANTS, f), join(py.dir, f));
      const extra = readJson(join(VARIANTS, 'variants.json'));
      editManifest(py.dir, (raw) => {
        raw.graphs.transformer.variants = { [precision]: extra.variants[precision] };
        for (const f of pyFiles) raw.files[f] = extra.files[f];
      });
      const run = async (dir: string) => {
        const e = await VarEngine.create(dir, { provider: 'cpu', precision, threads: 1 });
        expect(e.precision.transformer).toBe(precision);
        const logits: number[][] = [];
        let tokens: Int32Array[] = [];
        for await (const ev of e.generate({ classIndex: 1, seed: 11, batch: 1, sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false }, previews: false },
          undefined, { onLogits: (_k, l) => logits.push(Array.from(l)) })) {
          if (ev.type === 'done') tokens = ev.tokens[0];
        }
        await e.dispose();
        return { logits, tokens: tokens.map((t) => Array.from(t)) };
      };
      const a = await run(ts.dir);
      const b = await run(py.dir);
      expect(a.tokens).toEqual(b.tokens);
      expect(a.logits).toEqual(b.logits);
    } finally {
      ts.cleanup();
      py.cleanup();
    }
  }, 60_000);
});
