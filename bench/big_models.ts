/**
 * Big models (transformer weights over 2 GiB): load and generate one bundle in this process and record what a
 * user waits for and what memory it needs. Never part of `npm test`.
 *
 *   npx tsx bench/big_models.ts --model DIR [--no-generate] [--threads N] [--label TEXT] [--no-store]
 *
 * Records: the sha256 check of every file (what the engine does by default), each session's creation time,
 * peak RSS (`process.resourceUsage().maxRSS`) after loading and after one generation (B = 1, CFG on, the
 * manifest's sampling settings, previews on), and the time per image. Each run is stored by model name in
 * bench/big-models.json and the "Big models" section of bench/RESULTS.md is rewritten from all stored runs.
 * Random-weight bundles of the official d24/d30 shapes: tools/make_shaped_bundle.py --preset d24|d30.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readManifest, verifyFiles } from '../src/engine/bundle';
import { VarEngine } from '../src/engine/index';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const JSON_PATH = join(REPO, 'bench/big-models.json');
const RESULTS_MD = join(REPO, 'bench/RESULTS.md');
const BEGIN = '<!-- big-models:begin (bench/big_models.ts writes this section) -->';
const END = '<!-- big-models:end -->';

export interface BigModelRun {
  model: string; label: string; date: string; depth: number; embedDim: number; resolution: number;
  transformerWeightsBytes: number; bundleBytes: number;
  hashCheckMs: number; loadMs: Record<string, number>; engineCreateMs: number;
  rssAfterLoadMB: number; maxRssAfterLoadMB: number;
  /** Linux /proc/self/status after load: anonymous (heap) and file-backed (mapped files) resident memory. */
  rssSplitAfterLoadMB: { anon: number; file: number } | null;
  generation: null | { classIndex: number; totalMs: number; perScaleMs: number[]; decodeMs: number; previewMs: number; maxRssMB: number; rssMB: number };
  machine: { cpus: number; cpuModel: string; totalMemGB: number; loadAverage: number[]; node: string; threads: number | null };
}

const mb = (bytes: number) => bytes / (1 << 20);
const maxRssMB = () => process.resourceUsage().maxRSS / 1024; // KiB → MiB

function rssSplitMB(): { anon: number; file: number } | null {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
    return { anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return null;
  }
}

async function measure(dir: string, generate: boolean, threads: number | undefined, label: string): Promise<BigModelRun> {
  const manifest = await readManifest(dir);
  const t0 = performance.now();
  await verifyFiles(resolve(dir), manifest, true);
  const hashCheckMs = performance.now() - t0;

  const t1 = performance.now();
  const engine = await VarEngine.create(dir, { provider: 'cpu', threads, skipHashes: true });
  const engineCreateMs = performance.now() - t1;
  const loadMs = { ...engine.coreContext().sessions.loadMs };
  const rssAfterLoadMB = mb(process.memoryUsage().rss);
  const maxRssAfterLoadMB = maxRssMB();
  const rssSplitAfterLoadMB = rssSplitMB();
  process.stderr.write(`big_models: loaded in ${(engineCreateMs / 1000).toFixed(1)} s, peak RSS ${maxRssAfterLoadMB.toFixed(0)} MB\n`);

  let generation: BigModelRun['generation'] = null;
  if (generate) {
    const s = engine.manifest.sampling;
    const classIndex = Math.min(207, engine.manifest.classes.length - 1); // one fixed class, the same for every model
    const tg = performance.now();
    for await (const e of engine.generate({ classIndex, seed: 1, batch: 1, sampling: s })) {
      if (e.type === 'scale') process.stderr.write(`big_models: scale ${e.index} (${e.patch}²) at ${(e.elapsedMs / 1000).toFixed(1)} s\n`);
      if (e.type === 'done') {
        generation = {
          classIndex, totalMs: performance.now() - tg, perScaleMs: e.timings.perScaleMs, decodeMs: e.timings.decodeMs,
          previewMs: e.timings.previewMs, maxRssMB: maxRssMB(), rssMB: mb(process.memoryUsage().rss),
        };
      }
    }
  }
  await engine.dispose();
  const m = engine.manifest;
  return {
    model: m.name, label, date: new Date().toISOString(), depth: m.transformer.depth, embedDim: m.transformer.embedDim,
    resolution: m.resolution,
    transformerWeightsBytes: statSync(join(dir, m.graphs.transformer.weights)).size,
    bundleBytes: Object.values(m.files).reduce((a, f) => a + f.bytes, 0),
    hashCheckMs, loadMs, engineCreateMs, rssAfterLoadMB, maxRssAfterLoadMB, rssSplitAfterLoadMB, generation,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', totalMemGB: totalmem() / 2 ** 30, loadAverage: loadavg(), node: process.version, threads: threads ?? null },
  };
}

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

/** The markdown section for all stored runs (one row per model, newest run). */
export function section(runs: BigModelRun[]): string {
  const head = ['model', 'transformer.weights · bundle', 'sha256 check', 'session creation (transformer · others)', 'RSS after load: peak · now (heap + mapped files)',
    'time / image (B=1, CFG)', 'peak RSS after generation', 'load average'];
  const rows = runs.map((r) => {
    const others = Object.entries(r.loadMs).filter(([g]) => g !== 'transformer').reduce((a, [, v]) => a + v, 0);
    return [
      `${r.label} (d${r.depth}, width ${r.embedDim}, ${r.resolution} px)`,
      `${gb(r.transformerWeightsBytes)} · ${gb(r.bundleBytes)}`,
      sec(r.hashCheckMs),
      `${sec(r.loadMs.transformer)} · ${sec(others)}`,
      `${(r.maxRssAfterLoadMB / 1024).toFixed(2)} · ${(r.rssAfterLoadMB / 1024).toFixed(2)} GiB${r.rssSplitAfterLoadMB ? ` (${(r.rssSplitAfterLoadMB.anon / 1024).toFixed(2)} + ${(r.rssSplitAfterLoadMB.file / 1024).toFixed(2)})` : ''}`,
      r.generation ? sec(r.generation.totalMs) : 'not run',
      r.generation ? `${(r.generation.maxRssMB / 1024).toFixed(2)} GiB` : '—',
      r.machine.loadAverage.map((x) => x.toFixed(1)).join(' '),
    ];
  });
  const perScale = runs.filter((r) => r.generation).map((r) =>
    `${r.label}: ${r.generation!.perScaleMs.map((x) => `${(x / 1000).toFixed(2)}s`).join(' ')}; decode ${sec(r.generation!.decodeMs)}; previews ${sec(r.generation!.previewMs)}`);
  const m = runs[0]?.machine;
  return [
    BEGIN,
    '## Big models (transformer weights over 2 GiB)',
    '',
    `\`npx tsx bench/big_models.ts --model DIR\` on random-weight bundles of the official shapes (\`tools/make_shaped_bundle.py --preset d24|d30\`,`,
    'outside git). One process per model; onnxruntime-node 1.30.0, CPU execution provider, default engine settings.',
    m ? `Machine: ${m.cpus} vCPUs (${m.cpuModel}), ${m.totalMemGB.toFixed(0)} GB, Node ${m.node}, shared with other jobs (load average in the last column).` : '',
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    'Per scale (transformer + sampling + f̂ step), then decode and the sum of previews:',
    '```',
    ...perScale,
    '```',
    END,
  ].join('\n');
}

function store(run: BigModelRun): BigModelRun[] {
  let runs: BigModelRun[] = [];
  try {
    runs = JSON.parse(readFileSync(JSON_PATH, 'utf8'));
  } catch { /* first run */ }
  runs = [...runs.filter((r) => r.model !== run.model), run].sort((a, b) => a.depth - b.depth);
  writeAtomic(JSON_PATH, `${JSON.stringify(runs, null, 1)}\n`);
  const md = readFileSync(RESULTS_MD, 'utf8');
  const i = md.indexOf(BEGIN);
  const j = md.indexOf(END);
  const body = section(runs);
  writeAtomic(RESULTS_MD, i >= 0 && j > i ? md.slice(0, i) + body + md.slice(j + END.length) : `${md.trimEnd()}\n\n${body}\n`);
  return runs;
}

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: { model: { type: 'string' }, 'no-generate': { type: 'boolean' }, 'no-store': { type: 'boolean' }, threads: { type: 'string' }, label: { type: 'string' } },
  });
  if (!v.model) throw new Error('usage: npx tsx bench/big_models.ts --model DIR [--no-generate] [--threads N] [--label TEXT] [--no-store]');
  const manifest = await readManifest(v.model);
  const run = await measure(v.model, !v['no-generate'], v.threads ? Number(v.threads) : undefined, v.label ?? manifest.name);
  if (!v['no-store']) store(run);
  process.stdout.write(`${JSON.stringify(run)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`big_models: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
