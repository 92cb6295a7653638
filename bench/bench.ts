/**
 * `npm run bench` → `var-studio bench`: the engine beside the PyTorch reference, in one run on one machine,
 * on (a) the embedded model (the tiny fixture bundle while the embedded model is not built) and (b) a
 * d16-shaped bundle with random weights (built into a cache folder on first use, bench/make_d16_bundle.py).
 *
 * Each measurement runs in its own process (peak RSS per model). Numbers are medians over `runs` after one
 * warm-up. Targets (measured, never asserted in tests): engine ≤ 0.5× PyTorch on the embedded model, ≤ 0.7× on
 * d16; previews ≤ 10 % of a generation; first preview ≤ 5 % of it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultModelDir } from '../src/engine/index';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';

export interface BenchOptions {
  model: string | null; provider: string; threads?: number; quick: boolean; skipD16: boolean; skipPytorch: boolean;
  out?: string; json: boolean; runs?: number; threadSweep: boolean;
}

interface EngineResult {
  model: string; resolution: number; depth: number; embedDim: number; patchNums: number[]; provider: string;
  threads: number | null; opt: string; mode: string; spin: string; runs: number; loadMs: number; totalMs: number; totalNoPreviewMs: number | null;
  firstPreviewMs: number; previewMs: number; decodeMs: number; perScaleMs: number[]; allTotalsMs: number[]; peakRssMB: number;
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function engineRun(model: string, runs: number, extra: string[] = []): EngineResult {
  const tsx = join(REPO, 'node_modules/tsx/dist/cli.mjs');
  const r = spawnSync(process.execPath, [tsx, join(REPO, 'bench/engine_worker.ts'), '--model', model, '--runs', String(runs), ...extra], {
    cwd: REPO, encoding: 'utf8', maxBuffer: 1 << 24, timeout: 3_600_000,
  });
  if (r.status !== 0) throw new Error(`engine worker failed on ${model}: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

interface TorchResult {
  available: boolean; reason?: string; totalMs?: number; perScaleMs?: number[]; decodeMs?: number; previewMs?: number;
  firstPreviewMs?: number; peakRssMB?: number; threads?: { torch: number; openblas: number }; blas?: unknown; tried?: unknown[];
}

/**
 * tools/bench_reference.py (the reference helper's timer) in two thread layouts — torch 1 + OpenBLAS 2 (the
 * best for matmul-heavy work in training-notes.md) and torch 2 + OpenBLAS 1 (better for convolutions) — and
 * the faster one is reported, so the comparison is not unfair to PyTorch.
 */
function torchRun(bundle: string, runs: number): TorchResult {
  const script = join(REPO, 'tools/bench_reference.py');
  if (!existsSync(PYTHON)) return { available: false, reason: `${PYTHON} not found: no PyTorch reference on this machine` };
  if (!existsSync(script)) return { available: false, reason: 'tools/bench_reference.py is missing: no PyTorch reference timing' };
  const tried: TorchResult[] = [];
  let lastError = '';
  for (const [torchThreads, blasThreads] of [[1, 2], [2, 1]]) {
    const r = spawnSync(PYTHON, [script, '--bundle', bundle, '--runs', String(runs), '--threads', String(torchThreads), '--openblas-threads', String(blasThreads), '--print-json'], {
      cwd: REPO, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 3_600_000,
    });
    if (r.status !== 0) {
      lastError = (r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.status}`;
      continue;
    }
    const raw = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    const t = raw.timings;
    tried.push({
      available: true, totalMs: t.totalMs, perScaleMs: t.perScaleMs, decodeMs: t.decodeMs,
      previewMs: Array.isArray(t.previewMs) ? t.previewMs.reduce((a: number, b: number) => a + b, 0) : t.previewMs,
      firstPreviewMs: t.firstPreviewMs, peakRssMB: raw.peakRssMb, threads: raw.threads, blas: raw.blas,
    });
  }
  if (!tried.length) return { available: false, reason: `tools/bench_reference.py failed: ${lastError}` };
  const best = tried.reduce((a, b) => (b.totalMs! < a.totalMs! ? b : a));
  return { ...best, tried: tried.map((x) => ({ threads: x.threads, totalMs: x.totalMs })) };
}

function ensureD16(): { dir: string; builtSeconds: number | null } {
  const dir = process.env.VAR_STUDIO_BENCH_D16 ?? join(homedir(), '.cache/var-studio/bench-d16');
  if (existsSync(join(dir, 'manifest.json'))) return { dir, builtSeconds: null };
  log(`building the d16-shaped random bundle into ${dir} (~1.6 GB; takes minutes) ...`);
  mkdirSync(dirname(dir), { recursive: true });
  const t0 = Date.now();
  const r = spawnSync(PYTHON, [join(REPO, 'bench/make_d16_bundle.py'), '--out', dir], {
    cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 7_200_000,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`bench/make_d16_bundle.py failed (exit ${r.status})`);
  return { dir, builtSeconds: (Date.now() - t0) / 1000 };
}

const ms = (x: number | undefined) => (x === undefined ? 'n/a' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');

interface Row { label: string; target: number; engine: EngineResult; torch: TorchResult; bundle: string }

function table(rows: Row[]): string {
  const head = ['model', 'engine / image (with previews)', 'engine, no previews', 'PyTorch / image', 'ratio engine / PyTorch (target)', 'first preview', 'previews', 'peak RSS engine', 'peak RSS PyTorch'];
  const lines = [head, head.map(() => '---')];
  for (const r of rows) {
    const e = r.engine;
    // Like with like: the bare engine loop against the reference loop (neither with previews); the
    // ratio with the engine's previews included is shown next to it.
    const bare = e.totalNoPreviewMs ?? e.totalMs;
    const ratio = r.torch.available && r.torch.totalMs ? bare / r.torch.totalMs : undefined;
    const ratioWith = r.torch.available && r.torch.totalMs ? e.totalMs / r.torch.totalMs : undefined;
    lines.push([
      r.label,
      ms(e.totalMs),
      ms(e.totalNoPreviewMs ?? undefined),
      r.torch.available ? ms(r.torch.totalMs) : `n/a (${r.torch.reason})`,
      ratio === undefined ? `n/a (≤ ${r.target})` : `${ratio.toFixed(2)}× (≤ ${r.target}: ${mark(ratio <= r.target)}); with previews ${ratioWith!.toFixed(2)}×`,
      `${ms(e.firstPreviewMs)} = ${pct(e.firstPreviewMs / e.totalMs)} (≤ 5 %: ${mark(e.firstPreviewMs / e.totalMs <= 0.05)})`,
      `${ms(e.previewMs)} = ${pct(e.previewMs / e.totalMs)} (≤ 10 %: ${mark(e.previewMs / e.totalMs <= 0.1)})`,
      `${e.peakRssMB.toFixed(0)} MB`,
      r.torch.peakRssMB ? `${r.torch.peakRssMB.toFixed(0)} MB` : 'n/a',
    ]);
  }
  const perScale = rows.map((r) => {
    const t = r.torch.perScaleMs;
    return `per-scale (${r.label}), engine: ${r.engine.perScaleMs.map((x, k) => `${r.engine.patchNums[k]}²:${x.toFixed(1)}`).join(' ')} ms; decode ${ms(r.engine.decodeMs)}` +
      (t ? `\nper-scale (${r.label}), PyTorch: ${t.map((x, k) => `${r.engine.patchNums[k]}²:${x.toFixed(1)}`).join(' ')} ms; decode ${ms(r.torch.decodeMs)}` : '');
  });
  return `${lines.map((l) => `| ${l.join(' | ')} |`).join('\n')}\n\n${perScale.join('\n')}`;
}

export async function runBench(o: BenchOptions): Promise<unknown> {
  const runs = o.runs ?? (o.quick ? 1 : 3);
  const rows: Row[] = [];
  const notes: string[] = [];
  const threadArgs = o.threads ? ['--threads', String(o.threads)] : [];

  let embedded = o.model ?? defaultModelDir();
  let label = 'embedded';
  if (!existsSync(join(embedded, 'manifest.json'))) {
    notes.push(`the embedded model is not built yet (${embedded}); measured the tiny fixture bundle instead`);
    embedded = join(REPO, 'tests/fixtures/tiny/bundle');
    label = 'tiny (embedded model missing)';
  } else if (o.model) label = o.model;
  log(`engine on ${embedded} ...`);
  const e1 = engineRun(embedded, runs, ['--provider', o.provider === 'auto' ? 'cpu' : o.provider, ...threadArgs]);
  log(`PyTorch reference on ${embedded} ...`);
  const t1 = o.skipPytorch ? { available: false, reason: 'skipped (--skip-pytorch)' } : torchRun(embedded, runs);
  rows.push({ label: `${label} (d${e1.depth}, ${e1.resolution} px)`, target: 0.5, engine: e1, torch: t1, bundle: embedded });

  let d16Build: number | null = null;
  if (!o.skipD16) {
    const { dir, builtSeconds } = ensureD16();
    d16Build = builtSeconds;
    if (builtSeconds !== null) notes.push(`built the d16 random bundle in ${builtSeconds.toFixed(0)} s (${dir})`);
    const d16Runs = Math.min(runs, 2);
    log(`engine on d16 (${dir}) ...`);
    const e2 = engineRun(dir, d16Runs, ['--provider', o.provider === 'auto' ? 'cpu' : o.provider, ...threadArgs]);
    log('PyTorch reference on d16 ...');
    const t2 = o.skipPytorch ? { available: false, reason: 'skipped (--skip-pytorch)' } : torchRun(dir, d16Runs);
    rows.push({ label: 'd16 random (256 px)', target: 0.7, engine: e2, torch: t2, bundle: dir });
  }

  const sweep: EngineResult[] = [];
  if (o.threadSweep) {
    for (const row of rows) {
      for (const cfg of [['--threads', '1'], ['--threads', '2'], ['--threads', '2', '--spin', '1'], ['--threads', '2', '--opt', 'basic'], ['--threads', '2', '--mode', 'parallel']]) {
        log(`sweep ${row.label} ${cfg.join(' ')} ...`);
        sweep.push(engineRun(row.bundle, row.label.startsWith('d16') ? 1 : runs, [...cfg, '--skip-bare']));
      }
    }
  }

  const text = `${table(rows)}${notes.length ? `\n\nnotes: ${notes.join('; ')}` : ''}` +
    (sweep.length ? `\n\nsession options (engine time / image, with previews):\n${sweep.map((s) => `  ${s.model} threads=${s.threads} opt=${s.opt} mode=${s.mode} spin=${s.spin === '1' ? 'on' : 'off'}: ${ms(s.totalMs)} (runs: ${s.allTotalsMs.map((x) => ms(x)).join(', ')})`).join('\n')}` : '');
  const result = { ok: true, command: 'bench', date: new Date().toISOString(), rows, notes, d16BuildSeconds: d16Build, sweep, table: text };
  const out = o.out ?? join(REPO, 'bench/RESULTS.json');
  writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
  log(`wrote ${out}`);
  return result;
}
