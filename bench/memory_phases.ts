/**
 * Where a generation's peak resident memory is reached: the peak RSS (VmHWM) of each phase of each image —
 * load, every scale (transformer + sampling + f̂ step + preview), the decode — read from /proc and reset
 * between phases (`echo 5 > /proc/self/clear_refs`, Linux only). Prints one JSON object on stdout.
 *   npx tsx bench/memory_phases.ts --model DIR [--precision dq8] [--images 3] [--previews]
 *       [--arena-off transformer,fhatStep,decoder,preview] [--gc-between]
 * --arena-off: those sessions run without onnxruntime's CPU arena; --gc-between: a full V8 collection after
 * each image (to tell JS garbage from memory the C side keeps).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openWeights } from './open-weights';
import { type Precision, VarEngine } from '../src/engine/index';

const { values: v } = parseArgs({
  options: {
    model: { type: 'string' }, precision: { type: 'string' }, images: { type: 'string' }, previews: { type: 'boolean' },
    threads: { type: 'string' }, 'gc-between': { type: 'boolean' }, 'arena-off': { type: 'string' },
  },
});

const MIB = 1024 * 1024;

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function status(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status has no ${field} (this probe needs Linux)`);
  return Number(m[1]) / 1024; // MiB
}

/** Peak RSS since the last reset, then reset it so the next phase starts from the current RSS. */
function phasePeak(): number {
  const peak = status('VmHWM');
  writeFileSync('/proc/self/clear_refs', '5');
  return peak;
}

async function main() {
  if (!v.model) throw new Error('--model DIR is required');
  const images = Number(v.images ?? 3);
  const node = status('VmRSS');
  phasePeak();
  const engine = await VarEngine.create(v.model, {
    provider: 'cpu', precision: (v.precision as Precision | 'auto' | undefined) ?? 'fp32', skipHashes: true,
    threads: v.threads ? Number(v.threads) : undefined,
    cpuMemArenaOff: v['arena-off'] ? v['arena-off'].split(',') : undefined,
  });
  const load = { peak: phasePeak(), after: status('VmRSS') };
  const m = engine.manifest;
  const { bytes: weightBytes, graphs: openGraphs } = openWeights(engine);
  const runs: { scales: number[]; decode: number; afterDone: number; ms: number; decodeMs: number; externalMiB: number }[] = [];
  for (let i = 0; i < images; i++) {
    const scales: number[] = [];
    let decode = 0;
    let decodeMs = 0;
    const t0 = performance.now();
    // class changes per image so the first-scale cache never hides the 1×1 scale's cost
    for await (const e of engine.generate({ batch: 1, classIndex: i % m.classes.length, seed: i, previews: v.previews ?? false, sampling: { ...m.sampling, moreSmooth: false } })) {
      if (e.type === 'scale') scales.push(phasePeak());
      if (e.type === 'done') { decode = phasePeak(); decodeMs = e.timings.decodeMs; }
    }
    runs.push({ scales, decode, afterDone: status('VmRSS'), ms: performance.now() - t0, decodeMs, externalMiB: process.memoryUsage().arrayBuffers / MIB });
    if (v['gc-between']) collectGarbage();
  }
  const peak = Math.max(load.peak, ...runs.flatMap((r) => [...r.scales, r.decode]));
  const weightsMiB = weightBytes / MIB;
  const round = (x: number) => Math.round(x);
  process.stdout.write(`${JSON.stringify({
    model: m.name, precision: engine.precision, arenaOff: v['arena-off'] ?? '', gcBetween: v['gc-between'] ?? false, weightGraphs: openGraphs, weightsMiB: round(weightsMiB), nodeMiB: round(node),
    load: { peak: round(load.peak), after: round(load.after) },
    runs: runs.map((r) => ({ scales: r.scales.map(round), decode: round(r.decode), afterDone: round(r.afterDone), ms: round(r.ms), decodeMs: round(r.decodeMs), externalMiB: round(r.externalMiB) })),
    peakMiB: round(peak), ratio: Number((peak / weightsMiB).toFixed(2)),
  })}\n`);
  await engine.dispose();
}

main().catch((e) => {
  process.stderr.write(`memory_phases: ${(e as Error).message}\n`);
  process.exit(1);
});
