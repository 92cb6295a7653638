/**
 * Where the time of one generation goes, scale by scale: transformer call, host-side sampling, f̂ step,
 * preview, then the decode; with CPU seconds and the load average. Optionally A/B rounds of two loop
 * precisions in one process (one engine each, alternating rounds, so both see the same load). JSON on stdout.
 *   npx tsx bench/profile_scales.ts --model DIR [--runs 2] [--batch 1] [--precision fp32] [--ab fp32,int8]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { CoreDoneEvent, CoreScaleEvent } from '../src/engine/core';
import { type Precision, VarEngine } from '../src/engine/index';
import { median } from './stats';

const { values: v } = parseArgs({
  options: {
    model: { type: 'string' }, runs: { type: 'string' }, batch: { type: 'string' }, ab: { type: 'string' }, precision: { type: 'string' },
    class: { type: 'string' }, threads: { type: 'string' }, previews: { type: 'string' },
  },
});

interface Round {
  arm: string; totalMs: number; cpuMs: number; decodeMs: number; previewMs: number;
  perScale: { transformerMs: number; sampleMs: number; fhatMs: number; previewMs: number }[];
  load1: number;
}

async function main() {
  const runs = Number(v.runs ?? 2);
  const batch = Number(v.batch ?? 1);
  const precisions = (v.ab ? v.ab.split(',') : [v.precision ?? 'fp32']) as Precision[];
  const engines: VarEngine[] = [];
  for (const precision of precisions) {
    engines.push(await VarEngine.create(v.model!, { provider: 'cpu', precision, skipHashes: true, threads: v.threads ? Number(v.threads) : undefined }));
  }
  const m = engines[0].manifest;
  const arms = precisions.map((p, i) => ({ precision: p, graphs: engines[i].precision }));
  const rounds: Round[] = [];
  const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
  // One warm-up (first-run allocations), then alternating arms; every run a class not seen before (cold 1×1 scale).
  for (let r = -1; r < runs; r++) {
    for (const [ai, arm] of arms.entries()) {
      const engine = engines[ai];
      const perScale: Round['perScale'] = [];
      let done: CoreDoneEvent | undefined;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const onCore = (e: CoreScaleEvent | CoreDoneEvent) => {
        if (e.type === 'scale') perScale.push({ ...e.parts, previewMs: e.previewMs });
        else done = e;
      };
      const cls = (Number(v.class ?? 0) + 7 * (r + 1)) % m.classes.length; // same class and seed in every arm
      for await (const e of engine.generate({ classIndex: cls, seed: 100 + r, batch, sampling: { ...m.sampling, moreSmooth: false }, previews: v.previews !== '0' }, undefined, { onCore })) void e;
      if (r < 0) continue;
      rounds.push({
        arm: JSON.stringify(arm), totalMs: performance.now() - t0, cpuMs: cpuMs(process.cpuUsage(c0)),
        decodeMs: done!.decodeMs, previewMs: perScale.reduce((s, x) => s + x.previewMs, 0), perScale, load1: loadavg()[0],
      });
    }
  }
  const summary = arms.map((arm) => {
    const rs = rounds.filter((x) => x.arm === JSON.stringify(arm));
    const med = (f: (x: Round) => number) => Math.round(median(rs.map(f)));
    return {
      arm, runs: rs.length, totalMs: med((x) => x.totalMs), minTotalMs: Math.round(Math.min(...rs.map((x) => x.totalMs))), cpuMs: med((x) => x.cpuMs),
      decodeMs: med((x) => x.decodeMs), previewMs: med((x) => x.previewMs),
      perScale: m.patchNums.map((p, k) => ({
        patch: p,
        transformerMs: med((x) => x.perScale[k].transformerMs), sampleMs: Math.round(median(rs.map((x) => x.perScale[k].sampleMs)) * 10) / 10,
        fhatMs: Math.round(median(rs.map((x) => x.perScale[k].fhatMs)) * 10) / 10, previewMs: Math.round(median(rs.map((x) => x.perScale[k].previewMs)) * 10) / 10,
      })),
    };
  });
  for (const e of engines) await e.dispose();
  process.stdout.write(`${JSON.stringify({ model: m.name, batch, loadAverage: loadavg(), summary, rounds: rounds.map((x) => ({ arm: x.arm, totalMs: Math.round(x.totalMs), cpuMs: Math.round(x.cpuMs), load1: x.load1 })) })}\n`);
}

main().catch((e) => {
  process.stderr.write(`profile_scales: ${(e as Error).stack}\n`);
  process.exit(1);
});
