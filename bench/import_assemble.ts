/**
 * Peak memory and time of a whole import of d16-shaped checkpoints: `npx tsx bench/import_assemble.ts [--samples N]`.
 *
 * Writes var_d16.pth + vae_ch160v4096z32.pth with random weights at full size (official layout, ~1.7 GB,
 * tools/tests/official_checkpoints.py) into a temp folder, then, in a fresh Node process, runs
 * importCheckpoints with the shipped graph templates, recording RSS before and the peak RSS. The point: the
 * increase stays near the largest tensor plus the preview fit's working set, not the checkpoint size.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCheckpoints } from '../src/engine/import';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MB = 1024 * 1024;

const WRITE_D16 = `
import sys
from tests.official_checkpoints import write_official_pair
from var_ref.config import OFFICIAL_VAE, OFFICIAL_VAR
write_official_pair(sys.argv[1], OFFICIAL_VAR[16], OFFICIAL_VAE, seed=16, var_name='var_d16.pth', vae_name='vae_ch160v4096z32.pth')
`;

async function worker(dir: string, samples: number): Promise<Record<string, number>> {
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const r = await importCheckpoints({
    varFile: join(dir, 'var_d16.pth'), vaeFile: join(dir, 'vae_ch160v4096z32.pth'), outDir: join(dir, 'bundle'), previewSamples: samples,
  });
  const p = r.manifest.preview as unknown as { psnrVsDecoder: number; psnrConstantBaseline: number };
  return {
    rssBeforeMB: rssBefore / MB, peakRssMB: process.resourceUsage().maxRSS / 1024, ...r.timings,
    bundleMB: Object.values(r.manifest.files).reduce((s, f) => s + f.bytes, 0) / MB, psnrVsDecoder: p.psnrVsDecoder, psnrConstantBaseline: p.psnrConstantBaseline,
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const samples = args.includes('--samples') ? Number(args[args.indexOf('--samples') + 1]) : 1;
  if (args[0] === '--worker') {
    process.stdout.write(JSON.stringify(await worker(args[1], samples)));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'var-import-d16-'));
  try {
    execFileSync('/usr/bin/python3', ['-c', WRITE_D16, dir], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, OPENBLAS_NUM_THREADS: '1', PYTHONPATH: 'tools' } });
    const tsx = join(REPO, 'node_modules/tsx/dist/cli.mjs');
    const run = spawnSync(process.execPath, ['--expose-gc', tsx, fileURLToPath(import.meta.url), '--worker', dir, '--samples', String(samples)], { cwd: REPO, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`worker failed: ${run.stderr}`);
    const w = JSON.parse(run.stdout) as Record<string, number>;
    const out = Object.fromEntries(Object.entries(w).map(([k, v]) => [k, +v.toFixed(1)]));
    process.stdout.write(`${JSON.stringify({ previewSamples: samples, ...out, peakIncreaseMB: +(w.peakRssMB - w.rssBeforeMB).toFixed(1) }, null, 1)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
