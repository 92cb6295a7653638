// Batch sampling throughput: images/s in-process (no queue), with one and two local queue workers on a real
// redis-server, and the queue's overhead per item (a worker's wall time between items, outside generation).
// Run: npx tsx bench/batch.ts [--model DIR] [--per-class N] [--classes K] [--batch B]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { VarEngine } from '../src/engine/index';
import { FID_SAMPLING, type SampleSpec, totalImages, workItems } from '../src/host/batch/plan';
import { clearRun, submitRun } from '../src/host/batch/queue';
import { runItem } from '../src/host/batch/run';
import { RecordLog, modelSha256, openRunFolder } from '../src/host/batch/store';

const REPO = resolve(import.meta.dirname, '..');
const { values: v } = parseArgs({ options: { model: { type: 'string' }, 'per-class': { type: 'string' }, classes: { type: 'string' }, batch: { type: 'string' } } });
const MODEL = resolve(v.model ?? join(REPO, 'models/var-fashion-32'));
const perClass = Number(v['per-class'] ?? 32);
const nClasses = Number(v.classes ?? 3);
const batch = Number(v.batch ?? 8);
const TMP = mkdtempSync(join(tmpdir(), 'var-bench-batch-'));

async function specFor(engine: VarEngine): Promise<SampleSpec> {
  const m = engine.manifest;
  return {
    format: 'var-studio-sample-run', version: 1, model: { name: m.name, sha256: await modelSha256(MODEL), resolution: m.resolution },
    classes: Array.from({ length: nClasses }, (_, i) => i), perClass, seed: 0,
    sampling: { ...FID_SAMPLING, topK: Math.min(FID_SAMPLING.topK, m.vocabSize) },
  };
}

async function inProcess(spec: SampleSpec, engine: VarEngine) {
  const dir = join(TMP, 'direct');
  await openRunFolder(dir, spec, false);
  const ctx = { engine, spec, dir, log: new RecordLog(join(dir, 'samples.jsonl')), modelId: 'bench', createdAt: new Date(0).toISOString() };
  const items = workItems(spec, 0, totalImages(spec), batch);
  await runItem(ctx, items[0]); // warm-up (graph first-run costs)
  const t0 = performance.now();
  for (const it of items) await runItem(ctx, it);
  const ms = performance.now() - t0;
  return { imagesPerS: (totalImages(spec) * 1000) / ms, msPerItem: ms / items.length };
}

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

/** Spawns `workers` worker processes on a fresh run; wall = first item start to last item end (startup excluded). */
async function queued(url: string, spec: SampleSpec, workers: number) {
  const name = `bench-${workers}`;
  const dir = join(TMP, name);
  await submitRun(url, name, spec, dir, batch);
  const starts: number[] = [];
  const ends: number[] = [];
  let itemMs = 0;
  await Promise.all(Array.from({ length: workers }, () => new Promise<void>((done, fail) => {
    const p = spawn(process.execPath, [join(REPO, 'bin/var-studio.mjs'), 'worker', '--redis', url, '--queue', name, '--model', MODEL, '--exit-when-done'], { cwd: REPO });
    let buf = '';
    p.stderr.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (/ started: /.test(line)) starts.push(performance.now());
        const m = /: ([\d.]+) s$/.exec(line);
        if (m) { ends.push(performance.now()); itemMs += Number(m[1]) * 1000; }
      }
    });
    p.on('close', (code) => (code === 0 ? done() : fail(new Error(`worker exited with ${code}`))));
  })));
  await clearRun(url, name);
  const wall = Math.max(...ends) - Math.min(...starts);
  const items = ends.length;
  // a worker's time outside its items, per item: fetching, locking and completing jobs (and pipe latency)
  const overheadMs = (wall * workers - itemMs) / items;
  return { imagesPerS: (totalImages(spec) * 1000) / wall, items, overheadMs };
}

const engine = await VarEngine.create(MODEL, { provider: 'cpu' });
const spec = await specFor(engine);
const direct = await inProcess(spec, engine);
await engine.dispose();
const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', TMP], { stdio: 'ignore' });
await new Promise<void>((ok) => {
  const tryIt = () => { const c = connect(port, '127.0.0.1', () => { c.end(); ok(); }).on('error', () => setTimeout(tryIt, 100)); };
  tryIt();
});
const url = `redis://127.0.0.1:${port}`;
try {
  const one = await queued(url, spec, 1);
  const two = await queued(url, spec, 2);
  const result = {
    model: spec.model.name, resolution: spec.model.resolution, images: totalImages(spec), batch, loadAverage: loadavg().map((x) => +x.toFixed(1)), cpus: (await import('node:os')).cpus().length,
    inProcess: { imagesPerS: +direct.imagesPerS.toFixed(2), msPerItem: +direct.msPerItem.toFixed(1) },
    oneWorker: { imagesPerS: +one.imagesPerS.toFixed(2), overheadMsPerItem: +one.overheadMs.toFixed(1) },
    twoWorkers: { imagesPerS: +two.imagesPerS.toFixed(2), overheadMsPerItem: +two.overheadMs.toFixed(1), speedup: +(two.imagesPerS / one.imagesPerS).toFixed(2) },
  };
  console.log(JSON.stringify(result, null, 1));
} finally {
  redis.kill('SIGTERM');
  rmSync(TMP, { recursive: true, force: true });
}
