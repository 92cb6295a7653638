/**
 * Fidelity (and speed) of a bundle's precision variants against its fp32 graphs, on the engine itself.
 *
 *   npx tsx bench/fidelity.ts --model DIR [--precisions int8,int4] [--tf-images 4] [--images 16]
 *                             [--class-images 500 --class-out FILE] [--write] [--threads N]
 *
 * Per variant:
 * - teacher-forced: the variant runs on the fp32 run's own tokens (a full prefix), and at every scale the
 *   CFG-guided logits of both are compared: top-1 agreement per scale and the mean KL(fp32 ‖ variant) of the
 *   softmax the sampler draws from (before top-k/top-p);
 * - free-running, same seed and settings: the share of images whose tokens at the first 4 scales equal fp32's,
 *   and the PSNR of the final image against fp32's;
 * - time per image (B = 1, CFG, no previews) relative to fp32, alternating rounds, median;
 * - with --class-out, `--class-images` images per precision (classes in turn) as raw RGB for
 *   tools/eval_precision_classes.py (the class-correct rate of the judging classifier).
 * --write records the results under graphs.transformer.variants.<p>.fidelity in manifest.json (temp + rename);
 * --record-class FILE [--classifier-accuracy A] records tools/eval_precision_classes.py's rates the same way.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Precision, VarEngine, availablePrecisions } from '../src/engine/index';
import { guidanceAt } from '../src/engine/sampler';
import { psnr, median } from './stats';

const { values: v } = parseArgs({
  options: {
    model: { type: 'string' }, precisions: { type: 'string' }, 'tf-images': { type: 'string' }, images: { type: 'string' },
    'class-images': { type: 'string' }, 'class-out': { type: 'string' }, write: { type: 'boolean' }, threads: { type: 'string' },
    'speed-rounds': { type: 'string' }, provider: { type: 'string' }, 'record-class': { type: 'string' },
    'classifier-accuracy': { type: 'string' },
  },
});

interface Guided { logits: Float64Array[] } // per scale: (B·l, V) guided logits of the conditional rows

/** CFG-guided logits of rows 0..B−1 from the (2B, l, V) output, as the sampler forms them (float64). */
function guided(raw: Float32Array, B: number, l: number, V: number, t: number): Float64Array {
  const out = new Float64Array(B * l * V);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < l; i++) {
      const c = (b * l + i) * V;
      const u = ((B + b) * l + i) * V;
      for (let x = 0; x < V; x++) out[c + x] = (1 + t) * raw[c + x] - t * raw[u + x];
    }
  }
  return out;
}

/** Per row: argmax agreement and KL(p ‖ q) of softmax(a), softmax(b). */
export function compareRows(a: Float64Array, b: Float64Array, V: number): { agree: number; kl: number; rows: number } {
  let agree = 0;
  let kl = 0;
  const rows = a.length / V;
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    let ia = o, ib = o, ma = -Infinity, mb = -Infinity;
    for (let x = o; x < o + V; x++) {
      if (a[x] > ma) { ma = a[x]; ia = x; }
      if (b[x] > mb) { mb = b[x]; ib = x; }
    }
    if (ia - o === ib - o) agree++;
    let za = 0, zb = 0;
    for (let x = o; x < o + V; x++) { za += Math.exp(a[x] - ma); zb += Math.exp(b[x] - mb); }
    const la = Math.log(za), lb = Math.log(zb);
    let d = 0;
    for (let x = o; x < o + V; x++) {
      const lpa = a[x] - ma - la;
      const lpb = b[x] - mb - lb;
      d += Math.exp(lpa) * (lpa - lpb);
    }
    kl += Math.max(d, 0);
  }
  return { agree, kl, rows };
}

/**
 * `--record-class FILE`: the JSON tools/eval_precision_classes.py printed ({n, classCorrect: {fp32, <p>…}})
 * recorded as each variant's `classCorrect` (with the judging classifier's test accuracy), nothing generated.
 */
function recordClassCorrect(dir: string, file: string, classifierAccuracy?: number): void {
  const r = JSON.parse(readFileSync(file, 'utf8')) as { n: number; classCorrect: Record<string, number> };
  const out: Record<string, unknown> = {};
  for (const [p, rate] of Object.entries(r.classCorrect)) {
    if (p === 'fp32') continue;
    out[p] = { classCorrect: { fp32: r.classCorrect.fp32, variant: rate, samples: r.n, ...(classifierAccuracy ? { classifierTestAccuracy: classifierAccuracy } : {}) } };
  }
  recordFidelity(dir, out);
  console.log(JSON.stringify(out, null, 1));
}

async function main() {
  const dir = v.model!;
  if (v['record-class']) return recordClassCorrect(dir, v['record-class'], v['classifier-accuracy'] ? Number(v['classifier-accuracy']) : undefined);
  const threads = v.threads ? Number(v.threads) : undefined;
  const provider = (v.provider as 'cpu') ?? 'cpu';
  const fp32 = await VarEngine.create(dir, { provider, precision: 'fp32', threads, skipHashes: true });
  const m = fp32.manifest;
  const K = m.patchNums.length;
  const V = m.vocabSize;
  const nClasses = m.classes.length;
  const precisions = (v.precisions ? v.precisions.split(',') : availablePrecisions(m).filter((p) => p !== 'fp32')) as Precision[];
  const tfImages = Number(v['tf-images'] ?? 4);
  const images = Number(v.images ?? 16);
  const speedRounds = Number(v['speed-rounds'] ?? 3);
  const sampling = { ...m.sampling, moreSmooth: false };
  const results: Record<string, unknown> = {};

  const runOnce = async (engine: VarEngine, classIndex: number, seed: number, prefix?: Int32Array[], keepLogits = false) => {
    const logits: Float64Array[] = [];
    let tokens: Int32Array[] = [];
    let image: Uint8Array | undefined;
    let ms = 0;
    const c0 = process.cpuUsage();
    for await (const e of engine.generate(
      { classIndex, seed, batch: 1, sampling, previews: false, ...(prefix ? { prefix: [{ tokens: prefix }] } : {}) },
      undefined,
      keepLogits ? { onLogits: (k, raw) => logits.push(guided(raw, 1, m.patchNums[k] ** 2, V, guidanceAt(sampling.cfg, k, K))) } : {},
    )) {
      if (e.type === 'done') { tokens = e.tokens[0]; image = e.images[0].data; ms = e.timings.totalMs; }
    }
    const c = process.cpuUsage(c0);
    return { logits, tokens, image: image!, ms, cpuMs: (c.user + c.system) / 1000 };
  };

  for (const p of precisions) {
    const q = await VarEngine.create(dir, { provider, precision: p, threads, skipHashes: true });
    // teacher-forced
    const agree = new Array(K).fill(0);
    const rows = new Array(K).fill(0);
    let klSum = 0, klRows = 0;
    for (let i = 0; i < tfImages; i++) {
      const ref = await runOnce(fp32, i % nClasses, 1000 + i, undefined, true);
      const got = await runOnce(q, i % nClasses, 1000 + i, ref.tokens, true);
      for (let k = 0; k < K; k++) {
        const c = compareRows(ref.logits[k], got.logits[k], V);
        agree[k] += c.agree; rows[k] += c.rows; klSum += c.kl; klRows += c.rows;
      }
    }
    // free-running
    let same4 = 0;
    const psnrs: number[] = [];
    for (let i = 0; i < images; i++) {
      const a = await runOnce(fp32, i % nClasses, 2000 + i);
      const b = await runOnce(q, i % nClasses, 2000 + i);
      if (a.tokens.slice(0, 4).every((t, k) => t.every((x, j) => x === b.tokens[k][j]))) same4++;
      psnrs.push(psnr(a.image, b.image));
    }
    // speed, alternating rounds (class 0 is warm in both after the runs above); wall and CPU time (all threads)
    const tA: number[] = [], tB: number[] = [], cA: number[] = [], cB: number[] = [];
    for (let r = 0; r < speedRounds; r++) {
      const a = await runOnce(fp32, 0, 3000 + r);
      const b = await runOnce(q, 0, 3000 + r);
      tA.push(a.ms); tB.push(b.ms); cA.push(a.cpuMs); cB.push(b.cpuMs);
    }
    const entry = {
      ...(tfImages > 0 ? {
        teacherForcedTop1: agree.map((a, k) => +(a / rows[k]).toFixed(4)),
        teacherForcedTop1Mean: +(agree.reduce((s, a) => s + a, 0) / rows.reduce((s, r) => s + r, 0)).toFixed(4),
        meanKL: +(klSum / klRows).toExponential(3),
        teacherForcedImages: tfImages,
      } : {}),
      ...(images > 0 ? {
        first4ScalesIdentical: +(same4 / images).toFixed(3),
        // 100 dB stands for identical images (JSON has no Infinity)
        psnrMedianDb: +Math.min(median(psnrs), 100).toFixed(2),
        psnrMinDb: +Math.min(...psnrs, 100).toFixed(2),
        images,
      } : {}),
      // On a shared machine the CPU time is the steadier measure of work; the ratio recorded is of CPU time on
      // CPU (the same thread count on both sides) and of wall time on a GPU.
      ...(speedRounds > 0 ? {
        msPerImage: { fp32: +median(tA).toFixed(1), [p]: +median(tB).toFixed(1) },
        cpuMsPerImage: { fp32: +median(cA).toFixed(1), [p]: +median(cB).toFixed(1) },
        speedVsFp32: { [provider === 'cpu' ? 'cpu' : 'gpu']: +(provider === 'cpu' ? median(cB) / median(cA) : median(tB) / median(tA)).toFixed(3) },
      } : {}),
      loadAverage: (await import('node:os')).loadavg()[0],
    };
    results[p] = entry;
    console.error(`${p}: ${JSON.stringify(entry)}`);
    await q.dispose();
  }

  if (v['class-out']) {
    // Raw RGB (n, R, R, 3) per precision + labels, for the judging classifier.
    const n = Number(v['class-images'] ?? 500);
    const R = m.resolution;
    const labels = Array.from({ length: n }, (_, i) => i % nClasses);
    for (const p of ['fp32', ...precisions] as Precision[]) {
      const e = p === 'fp32' ? fp32 : await VarEngine.create(dir, { provider, precision: p, threads, skipHashes: true });
      const buf = new Uint8Array(n * R * R * 3);
      for (let i = 0; i < n; i++) buf.set((await runOnce(e, labels[i], 5000 + i)).image, i * R * R * 3);
      writeFileSync(`${v['class-out']}.${p}.rgb`, buf);
      if (e !== fp32) await e.dispose();
    }
    writeFileSync(`${v['class-out']}.labels.json`, JSON.stringify({ n, resolution: R, labels, precisions: ['fp32', ...precisions] }));
  }
  await fp32.dispose();

  if (v.write) recordFidelity(dir, results);
  console.log(JSON.stringify(results, null, 1));
}

/** Merge measured fields into manifest.json's variants (temp + rename); keeps what was recorded before. */
export function recordFidelity(dir: string, results: Record<string, unknown>, bar?: (p: string, f: Record<string, unknown>) => boolean): void {
  const path = join(dir, 'manifest.json');
  const man = JSON.parse(readFileSync(path, 'utf8'));
  for (const [p, r] of Object.entries(results)) {
    const variant = man.graphs.transformer.variants?.[p];
    if (!variant) continue;
    const old = variant.fidelity ?? {};
    const merged = { ...old, ...(r as object), speedVsFp32: { ...(old.speedVsFp32 ?? {}), ...((r as { speedVsFp32?: object }).speedVsFp32 ?? {}) } };
    merged.noVisibleLoss = bar ? bar(p, merged) : noVisibleLoss(merged);
    variant.fidelity = merged;
  }
  writeFileSync(path + '.tmp', JSON.stringify(man, null, 1) + '\n');
  renameSync(path + '.tmp', path);
}

/**
 * The bar: with a class-correct rate measured, within 1 point of fp32's; without one, a final image within
 * 30 dB PSNR of fp32's in the median and ≥ 95 % teacher-forced top-1 agreement.
 */
export function noVisibleLoss(f: Record<string, unknown>): boolean {
  const cc = f.classCorrect as { fp32: number; variant: number } | undefined;
  if (cc) return cc.fp32 - cc.variant <= 0.01;
  return (f.psnrMedianDb as number) >= 30 && (f.teacherForcedTop1Mean as number) >= 0.95;
}

if (process.argv[1]?.endsWith('fidelity.ts')) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
