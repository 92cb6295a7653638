/**
 * How long a checkpoint import blocks the host's event loop: the importer in this thread vs in the importer
 * worker (EngineWorker('importer')). Writes the small official-layout pair with torch unless --var/--vae/--templates
 * are given. Prints one JSON object:
 *   npx tsx bench/import_responsiveness.ts [--var F --vae F --templates DIR] [--precision int8]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { importCheckpoints, type ImportOptions } from '../src/engine/import/index';
import { EngineWorker } from '../src/host/engine-worker/worker-engine';
import { writeSmallPair } from '../tests/unit/host/small-pair';

const { values: v } = parseArgs({ options: { var: { type: 'string' }, vae: { type: 'string' }, templates: { type: 'string' }, precision: { type: 'string' } } });
const REPO = resolve(import.meta.dirname, '..');

/** Wall time and the longest event-loop stall of one import. */
async function measure(run: (o: ImportOptions) => Promise<unknown>, opts: ImportOptions): Promise<{ wallMs: number; maxStallMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const t0 = performance.now();
  await run(opts);
  const wallMs = performance.now() - t0;
  h.disable();
  return { wallMs: Math.round(wallMs), maxStallMs: Math.round(h.max / 1e5) / 10 };
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'var-import-bench-'));
  const worker = new EngineWorker('importer');
  try {
    const pair = v.var && v.vae && v.templates ? { varFile: v.var, vaeFile: v.vae, templatesDir: v.templates } : writeSmallPair(join(tmp, 'fx'));
    const opts = (out: string): ImportOptions => ({
      varFile: pair.varFile, vaeFile: pair.vaeFile, outDir: join(tmp, out), templatesDir: pair.templatesDir, resourcesDir: join(REPO, 'resources'),
      precisions: v.precision ? [v.precision as 'int8'] : [],
    });
    // warm both (module loading, ORT start) so the timed runs compare the import itself
    await importCheckpoints(opts('warm-here'));
    await worker.importer()(opts('warm-worker'));
    const inThread = await measure(importCheckpoints, opts('here'));
    const inWorker = await measure(worker.importer(), opts('worker'));
    console.log(JSON.stringify({ precision: v.precision ?? 'fp32', inThread, inWorker, stallRatio: Math.round((inWorker.maxStallMs / inThread.maxStallMs) * 1000) / 1000, wallRatio: Math.round((inWorker.wallMs / inThread.wallMs) * 100) / 100 }));
  } finally {
    await worker.terminate();
    rmSync(tmp, { recursive: true, force: true });
  }
}

void main();
