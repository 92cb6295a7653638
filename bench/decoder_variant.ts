/**
 * The decoder's int8 variant against fp32 on the same f̂: PSNR of the 8-bit images (engine generations with the
 * manifest's sampling) and decode time in alternating rounds (wall, CPU seconds, load average). JSON on stdout.
 *   npx tsx bench/decoder_variant.ts --model DIR [--images 8] [--rounds 4] [--variant int8] [--write]
 * --write records the CPU-time ratio (speedVsFp32.cpu) and the generated images' PSNR in the variant's fidelity;
 * noVisibleLoss then also needs that PSNR at or above the bar (40 dB).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { CoreScaleEvent } from '../src/engine/core';
import { planarToRgb } from '../src/engine/image';
import { VarEngine } from '../src/engine/index';
import { sessionOptions } from '../src/engine/providers';
import { median, psnr } from './stats';

const { values: v } = parseArgs({ options: { model: { type: 'string' }, images: { type: 'string' }, rounds: { type: 'string' }, variant: { type: 'string' }, write: { type: 'boolean' } } });
const NO_VISIBLE_LOSS_DB = 40;

async function main() {
  const dir = v.model!;
  const nImages = Number(v.images ?? 8);
  const rounds = Number(v.rounds ?? 4);
  const key = (v.variant ?? 'int8') as 'int8';
  const engine = await VarEngine.create(dir, { provider: 'cpu', precision: 'fp32', skipHashes: true });
  const m = engine.manifest;
  const variant = m.graphs.decoder.variants?.[key];
  if (!variant) throw new Error(`${dir}: the decoder has no ${key} variant (tools/quantize_bundle.py --graphs decoder --precision int8)`);
  const R = m.resolution;
  const h = m.patchNums[m.patchNums.length - 1];
  const per = m.cvae * h * h;
  // Final f̂ of real generations (one class per image, seeds 0..n−1), without previews.
  const fhats = new Float32Array(nImages * per);
  for (let i = 0; i < nImages; i++) {
    let last: CoreScaleEvent | undefined;
    const onCore = (e: { type: string }) => { if (e.type === 'scale') last = e as CoreScaleEvent; };
    for await (const e of engine.generate({ classIndex: i % m.classes.length, seed: i, batch: 1, sampling: { ...m.sampling, moreSmooth: false }, previews: false }, undefined, { keepFloat: true, onCore })) void e;
    fhats.set(last!.fHat!, i * per);
  }
  await engine.dispose();
  const opts = sessionOptions('cpu', {});
  const arms = { fp32: await ort.InferenceSession.create(join(dir, m.graphs.decoder.model), opts), [key]: await ort.InferenceSession.create(join(dir, variant.model), opts) };
  const decode = async (s: ort.InferenceSession, i: number) => {
    const out = await s.run({ f_hat: new ort.Tensor('float32', fhats.slice(i * per, (i + 1) * per), [1, m.cvae, h, h]) });
    return planarToRgb((out.image as ort.Tensor).data as Float32Array, R, R).data;
  };
  const scores: number[] = [];
  for (let i = 0; i < nImages; i++) scores.push(psnr(await decode(arms.fp32, i), await decode(arms[key], i)));
  const times: Record<string, { wallMs: number[]; cpuMs: number[] }> = { fp32: { wallMs: [], cpuMs: [] }, [key]: { wallMs: [], cpuMs: [] } };
  for (let r = 0; r < rounds; r++) {
    for (const [name, s] of Object.entries(arms)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await decode(s, r % nImages);
      const c = process.cpuUsage(c0);
      times[name].wallMs.push(performance.now() - t0);
      times[name].cpuMs.push((c.user + c.system) / 1000);
    }
  }
  const summary = Object.fromEntries(Object.entries(times).map(([n, t]) => [n, { wallMsMedian: Math.round(median(t.wallMs)), wallMsMin: Math.round(Math.min(...t.wallMs)), cpuMsMedian: Math.round(median(t.cpuMs)) }]));
  const finite = scores.map((s) => (Number.isFinite(s) ? s : 100));
  if (v.write) {
    // temp + rename; the manifest is not itself listed in "files", so no hash changes
    const path = join(dir, 'manifest.json');
    const raw = JSON.parse(readFileSync(path, 'utf8'));
    const rec = raw.graphs.decoder.variants[key];
    const generatedPsnrMedianDb = +median(finite).toFixed(2);
    rec.fidelity = {
      ...rec.fidelity, generatedPsnrMedianDb, generatedImages: nImages,
      speedVsFp32: { ...(rec.fidelity?.speedVsFp32 ?? {}), cpu: +(median(times[key].cpuMs) / median(times.fp32.cpuMs)).toFixed(3) },
      noVisibleLoss: rec.fidelity?.noVisibleLoss === true && generatedPsnrMedianDb >= NO_VISIBLE_LOSS_DB,
    };
    writeFileSync(`${path}.tmp`, `${JSON.stringify(raw, null, 1)}\n`);
    renameSync(`${path}.tmp`, path);
  }
  process.stdout.write(`${JSON.stringify({
    model: m.name, variant: key, images: nImages, psnrMedianDb: +median(finite).toFixed(2), psnrMinDb: +Math.min(...finite).toFixed(2),
    recorded: variant.fidelity ?? null, summary, cpuRatio: +(summary[key].cpuMsMedian / summary.fp32.cpuMsMedian).toFixed(3),
    wallRatio: +(summary[key].wallMsMedian / summary.fp32.wallMsMedian).toFixed(3), loadAverage: loadavg(),
  })}\n`);
}

main().catch((e) => {
  process.stderr.write(`decoder_variant: ${(e as Error).stack}\n`);
  process.exit(1);
});
