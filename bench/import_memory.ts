/**
 * Peak memory of reading a checkpoint tensor by tensor: `npx tsx bench/import_memory.ts [--keep DIR]`.
 *
 * Writes a d12-shaped VAR with random weights (~530 MB, tools/write_test_checkpoints.py --big) into a temp folder,
 * then, in a fresh Node process, opens it with openCheckpoint and reads every tensor as float32 the way an import
 * does (one at a time, each dropped after use), recording RSS before and the process's peak RSS. The file is
 * deleted afterwards. The point: the increase stays near the largest tensor, not the file size.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCheckpoint } from '../src/engine/import/open';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MB = 1024 * 1024;

interface WorkerResult {
  rssBeforeMB: number;
  peakRssMB: number;
  tensors: number;
  bytesRead: number;
  readMs: number;
}

/** Runs in the child: every tensor read once, nothing kept. */
async function readAll(path: string): Promise<WorkerResult> {
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const r = await openCheckpoint(path);
  let bytesRead = 0;
  for (const key of r.keys()) {
    const data = r.info(key).dtype === 'int64' ? await r.readInt64(key) : await r.readFloat32(key);
    bytesRead += data.byteLength;
  }
  await r.close();
  return {
    rssBeforeMB: rssBefore / MB, peakRssMB: process.resourceUsage().maxRSS / 1024, tensors: r.keys().length, bytesRead,
    readMs: performance.now() - t0,
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--worker') {
    process.stdout.write(JSON.stringify(await readAll(args[1])));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'var-import-memory-'));
  try {
    execFileSync('/usr/bin/python3', [join(REPO, 'tools/write_test_checkpoints.py'), '--out', dir, '--big'], {
      stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
    });
    const big = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).big;
    const tsx = join(REPO, 'node_modules/tsx/dist/cli.mjs');
    const run = spawnSync(process.execPath, ['--expose-gc', tsx, fileURLToPath(import.meta.url), '--worker', join(dir, big.file)], {
      cwd: REPO, encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`worker failed: ${run.stderr}`);
    const w = JSON.parse(run.stdout) as WorkerResult;
    const result = {
      file: big.file, fileMB: +(big.bytes / MB).toFixed(1), tensors: w.tensors, largestTensor: big.largest_key,
      largestTensorMB: +(big.largest_bytes / MB).toFixed(1), rssBeforeMB: +w.rssBeforeMB.toFixed(1), peakRssMB: +w.peakRssMB.toFixed(1),
      peakIncreaseMB: +(w.peakRssMB - w.rssBeforeMB).toFixed(1), readSeconds: +(w.readMs / 1000).toFixed(2),
      readMBps: +((w.bytesRead / MB) / (w.readMs / 1000)).toFixed(0),
    };
    process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
