/**
 * One engine measurement in a fresh process (so peak RSS belongs to this model alone).
 * Prints one JSON object on stdout. Run by bench/bench.ts; by hand:
 *   npx tsx bench/engine_worker.ts --model DIR [--runs 3] [--threads N] [--opt all|extended|basic|disabled]
 *                                  [--mode sequential|parallel] [--provider cpu] [--class 0] [--precision fp32|int8|…]
 */
import { parseArgs } from 'node:util';
import { openWeights } from './open-weights';
import { type Precision, VarEngine } from '../src/engine/index';
import { median } from './stats';

const { values: v } = parseArgs({
  options: {
    model: { type: 'string' }, runs: { type: 'string' }, threads: { type: 'string' }, opt: { type: 'string' },
    mode: { type: 'string' }, precision: { type: 'string' }, spin: { type: 'string' }, provider: { type: 'string' }, class: { type: 'string' }, warmup: { type: 'string' }, 'skip-bare': { type: 'boolean' },
  },
});


async function main() {
  const runs = Number(v.runs ?? 3);
  const warmup = Number(v.warmup ?? 1);
  const tLoad = performance.now();
  const engine = await VarEngine.create(v.model!, {
    provider: (v.provider as 'cpu') ?? 'cpu',
    precision: (v.precision as Precision | 'auto' | undefined) ?? 'fp32',
    threads: v.threads ? Number(v.threads) : undefined,
    graphOptimizationLevel: (v.opt as 'all') ?? undefined,
    executionMode: (v.mode as 'sequential') ?? undefined,
    spinning: v.spin === undefined ? undefined : v.spin === '1',
    skipHashes: true,
  });
  const loadMs = performance.now() - tLoad;
  const m = engine.manifest;
  const s = m.sampling;
  // Every run uses a class not seen before in this process, so the first-scale cache (core.ts Scale0Cache)
  // never helps the timed runs: the headline numbers are cold. One warm run at the end shows the cached case.
  const nClasses = m.classes.length;
  const base = { batch: 1, sampling: { ...s, moreSmooth: false } };
  const classFor = (r: number, bare: boolean) => (Number(v.class ?? 0) + 2 * r + (bare ? 1 : 0)) % nClasses;
  const withPreview: { totalMs: number; cpuMs: number; firstPreviewMs: number; perScaleMs: number[]; previewMs: number; decodeMs: number }[] = [];
  const noPreview: number[] = [];
  const noPreviewCpu: number[] = [];
  const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000; // all threads of this process (ORT pools included)
  for (let r = 0; r < warmup + runs; r++) {
    // with previews (what a user sees)
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let first = 0;
    for await (const e of engine.generate({ ...base, classIndex: classFor(r, false), seed: r })) {
      if (e.type === 'scale' && e.index === 0) first = performance.now() - t0;
      if (e.type === 'done' && r >= warmup) {
        withPreview.push({ totalMs: performance.now() - t0, cpuMs: cpuMs(process.cpuUsage(c0)), firstPreviewMs: first, perScaleMs: e.timings.perScaleMs, previewMs: e.timings.previewMs, decodeMs: e.timings.decodeMs });
      }
    }
    // without previews (the bare generation, comparable to the PyTorch reference loop)
    if (v['skip-bare']) continue;
    const t1 = performance.now();
    const c1 = process.cpuUsage();
    for await (const e of engine.generate({ ...base, classIndex: classFor(r, true), seed: r, previews: false })) void e;
    if (r >= warmup) {
      noPreview.push(performance.now() - t1);
      noPreviewCpu.push(cpuMs(process.cpuUsage(c1)));
    }
  }
  // warm: a class whose 1×1 scale is cached
  let warmFirst = 0;
  let warmTotal = 0;
  {
    const t0 = performance.now();
    for await (const e of engine.generate({ ...base, classIndex: classFor(0, false), seed: 12345 })) {
      if (e.type === 'scale' && e.index === 0) warmFirst = performance.now() - t0;
      if (e.type === 'done') warmTotal = performance.now() - t0;
    }
  }
  const K = m.patchNums.length;
  const open = openWeights(engine);
  const perScale = Array.from({ length: K }, (_, k) => median(withPreview.map((x) => x.perScaleMs[k])));
  const out = {
    model: m.name, resolution: m.resolution, depth: m.transformer.depth, embedDim: m.transformer.embedDim, patchNums: m.patchNums,
    provider: engine.provider.inUse, providerSkipped: engine.provider.skipped, precision: engine.precision.transformer,
    // bytes of the graph files of the sessions this process had open (the variant's instead of fp32's where one
    // runs): transformer, fhat_step, decoder and preview; the encoder only once an encode opened it (never here)
    weightBytes: open.bytes,
    weightGraphs: open.graphs,
    threads: v.threads ? Number(v.threads) : null, opt: v.opt ?? 'all', mode: v.mode ?? 'sequential', spin: v.spin ?? 'default',
    runs, loadMs,
    totalMs: median(withPreview.map((x) => x.totalMs)),
    totalNoPreviewMs: noPreview.length ? median(noPreview) : null,
    minTotalMs: Math.min(...withPreview.map((x) => x.totalMs)),
    // fractions within each run (numerator and denominator under the same load), then the median
    warmFirstPreviewMs: warmFirst,
    warmFirstPreviewFraction: warmFirst / warmTotal,
    firstPreviewFraction: median(withPreview.map((x) => x.firstPreviewMs / x.totalMs)),
    previewFraction: median(withPreview.map((x) => x.previewMs / x.totalMs)),
    minNoPreviewMs: noPreview.length ? Math.min(...noPreview) : null,
    cpuMs: median(withPreview.map((x) => x.cpuMs)),
    cpuNoPreviewMs: noPreviewCpu.length ? median(noPreviewCpu) : null,
    loadAverage: (await import('node:os')).loadavg(),
    firstPreviewMs: median(withPreview.map((x) => x.firstPreviewMs)),
    previewMs: median(withPreview.map((x) => x.previewMs)),
    decodeMs: median(withPreview.map((x) => x.decodeMs)),
    perScaleMs: perScale,
    allTotalsMs: withPreview.map((x) => x.totalMs),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  };
  await engine.dispose();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`engine_worker: ${(e as Error).message}\n`);
  process.exit(1);
});
