/**
 * var-studio command line: generate, edit and info on any bundle (default: the embedded model).
 * Results go to files; --json prints one JSON object on stdout; progress goes to stderr. Bad input exits
 * with status 2 and one line "var-studio: error: <reason>"; an internal failure exits with 1.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BundleError, EngineError, type EngineEvent, PRECISIONS, type Precision, type ProviderName, availablePrecisions, defaultModelDir, defaultRegion,
  type SamplingSettings, resolveClass,
} from '../engine/index';
import { EngineWorker, WorkerEngine, type HostEngine } from '../host/engine-worker/worker-engine';
import { chainRecord, decodeImage, decodeMask, encodeImage, inspectImage, settingsRecord } from '../host/image-io';
import { currentEnvironment, doctorReport, formatDoctor } from '../host/gpu-doctor';
import { MAX_GPU_INDEX } from '../host/host-settings';
import { modelIdForDir } from '../host/models';
import { LIMITS, PROVIDER_NAMES, type GraphPrecisions, type ImageSettings } from '../shared/contract';
import { noteworthySkips } from '../shared/providers';
import type { EditChain, EditOperation } from '../shared/edit';
import { StudioError } from '../shared/errors';
import { forLog } from '../shared/log-text';
import { describePrecisions, precisionMismatchNote } from '../shared/settings';
import { type OutputFormat, UsageError, batchPath, outputFormat, parseFloatArg, parseIntArg, parseRegion } from './args';
import { MODELS_HELP, MODELS_USAGE, cmdModels, isModelsError, modelsHuman } from './models';
import { type OutputFile, checkOutputPath, writeOutputs } from './outputs';
import { Progress } from './progress';
import { SAMPLE_HELP, SAMPLE_USAGE, cmdQueue, cmdSample, cmdWorker, sampleHuman } from './sample';

const USAGE = `var-studio — VAR next-scale image generation and zero-shot editing

usage:
  var-studio generate --class <index|name> [--seed N] [--cfg X] [--top-k K] [--top-p P] [--more-smooth]
                      [--batch B] --out FILE.png [--tokens-out FILE.json]
  var-studio generate --from IMAGE --out FILE.png [any option above, to change that setting]
  var-studio edit --image IN --mask MASK --out FILE.png [--class C] [--from-scale k] [--region x,y,size]
                  [--feather PX (default 4)] [--seed N] [--cfg X] [--top-k K] [--top-p P] [--more-smooth] [--batch B]
  var-studio info
${MODELS_USAGE}
  var-studio doctor [--provider NAME] [--gpu N] [--threads N] [--json]
${SAMPLE_USAGE}

common options:
  --model DIR        model bundle folder (default: the embedded model, models/var-fashion-32)
  --provider NAME    auto | cuda | dml | coreml | webgpu | cpu (default auto; falls back to cpu)
  --precision P      auto | fp32 | int8 | int4 | fp16 | dq8: the variant to run, for every graph that has it
                     (transformer, decoder; default auto: per graph the fastest one the bundle records as
                     without visible loss on this device, else fp32)
  --gpu N            which GPU CUDA or DirectML uses, 0..3 (default 0, the first adapter; on a laptop with
                     two GPUs DirectML's 0 is usually the integrated one)
  --threads N        onnxruntime intra-op threads (default: chosen by measurement, see bench/RESULTS.md)
  --json             print the result as one JSON object on stdout
  --quiet            no progress bar
  -h, --help         this text

generate: sampling settings default to the model's manifest; --seed defaults to a random seed (printed).
  Image b of a batch uses seed + b, so any image can be regenerated alone; FILE.png becomes FILE-b.png.
--out: the extension picks the format: .png (lossless, settings in a tEXt chunk), .jpg/.jpeg or .webp
  (quality 95, settings in XMP); any other extension is refused. All outputs of a run (images and
  --tokens-out) are written together: if one fails, none is left behind and existing files stay as they were.
  With SOURCE_DATE_EPOCH set, the record's time is that one, so the same command writes the same bytes.
  The PNG carries the studio's own settings record (tEXt chunk "var-studio" right after IHDR), so the
  studio opens it with its settings and regenerates it exactly.
  The record holds the precision each graph ran in (e.g. transformer dq8, decoder fp32).
generate --from IMAGE: regenerates an image from its settings record (class, seed, sampling), at the
  precision it was made with unless --precision is given; a warning on stderr names both precisions when
  the loaded model runs others (another precision gives another image).
  edit writes the studio's edit chain record (tEXt "var-studio-edit"), as the canvas editor's export does.
edit: the mask is an image of the same size as IN, white = regenerate. The region (a square in image
  pixels, default: the whole image if square; write --region=-8,0,64 when x starts with a minus) is resized
  to the model's resolution; it may reach past the
  edge to outpaint. No --class = inpainting (null class). --from-scale k keeps the region's own tokens for
  scales 1..k (scale-locked edit).
doctor: loads the model with the chosen provider and tells which execution provider runs, which were tried,
  and why each other one cannot run here (CUDA/cuDNN missing or of the wrong version, no DirectML, not an
  Apple-silicon Mac, …) with what to install. Exit status 0 when the model loaded.
The benchmark is a development tool of the repository: npm run bench (bench/RESULTS.md explains it).
${MODELS_HELP}
${SAMPLE_HELP}`;

interface Common { model: string; provider: ProviderName | 'auto'; precision: Precision | 'auto'; threads?: number; gpu?: number; json: boolean; quiet: boolean }

function commonOptions(v: Record<string, string | boolean | undefined>): Common {
  const provider = (v.provider as string | undefined) ?? 'auto';
  if (provider !== 'auto' && !(PROVIDER_NAMES as readonly string[]).includes(provider)) throw new UsageError(`--provider must be auto, ${PROVIDER_NAMES.join(', ')}, got "${provider}"`);
  const precision = (v.precision as string | undefined) ?? 'auto';
  if (precision !== 'auto' && !(PRECISIONS as readonly string[]).includes(precision)) throw new UsageError(`--precision must be auto, ${PRECISIONS.join(', ')}, got "${precision}"`);
  return {
    model: resolve((v.model as string | undefined) ?? defaultModelDir()),
    provider: provider as ProviderName | 'auto',
    precision: precision as Precision | 'auto',
    threads: parseIntArg('threads', v.threads as string | undefined, 1, 256),
    gpu: parseIntArg('gpu', v.gpu as string | undefined, 0, MAX_GPU_INDEX),
    json: Boolean(v.json),
    quiet: Boolean(v.quiet),
  };
}

/** The engine's worker threads opened by this run, closed when the command ends. */
const workers = new Set<EngineWorker>();

/** The engine runs in a worker thread (as in the studio), so this thread stays free for signals and progress. */
async function openEngine(c: Common, usedDefault: boolean): Promise<HostEngine> {
  if (usedDefault && !existsSync(resolve(c.model, 'manifest.json'))) {
    throw new UsageError(`the embedded model is not installed at ${c.model} (it is built by the training pipeline, tools/); pass --model DIR to use another bundle`);
  }
  const worker = new EngineWorker();
  workers.add(worker);
  // threads undefined = onnxruntime's default (one per physical core), the measured best (bench/RESULTS.md)
  return WorkerEngine.create(worker, c.model, { provider: c.provider, precision: c.precision, threads: c.threads, deviceId: c.gpu });
}

const samplingOptions = {
  seed: { type: 'string' }, cfg: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' },
  'more-smooth': { type: 'boolean' }, batch: { type: 'string' }, class: { type: 'string' },
} as const;
const commonSpec = {
  model: { type: 'string' }, provider: { type: 'string' }, precision: { type: 'string' }, threads: { type: 'string' }, gpu: { type: 'string' },
  json: { type: 'boolean' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

function samplingFrom(v: Record<string, string | boolean | undefined>, engine: HostEngine, maxBatch: number, recorded?: ImageSettings) {
  const d = recorded?.sampling ?? engine.manifest.sampling;
  const sampling: SamplingSettings = {
    cfg: parseFloatArg('cfg', v.cfg as string | undefined) ?? d.cfg,
    topK: parseIntArg('top-k', v['top-k'] as string | undefined, 0, engine.manifest.vocabSize) ?? d.topK,
    topP: parseFloatArg('top-p', v['top-p'] as string | undefined) ?? d.topP,
    moreSmooth: v['more-smooth'] === true ? true : d.moreSmooth,
  };
  // The same bounds as the studio's fields (the contract's LIMITS and the sampling schema).
  if (!(sampling.cfg >= 0 && sampling.cfg <= LIMITS.maxCfg)) throw new UsageError(`--cfg must be from 0 to ${LIMITS.maxCfg}, got ${sampling.cfg}`);
  if (!(sampling.topP >= 0 && sampling.topP <= 1)) throw new UsageError(`--top-p must be from 0 to 1, got ${sampling.topP}`);
  return {
    sampling,
    seed: parseIntArg('seed', v.seed as string | undefined, 0, 0xffffffff) ?? recorded?.seed ?? Math.floor(Math.random() * 0x100000000),
    batch: parseIntArg('batch', v.batch as string | undefined, 1, maxBatch) ?? 1,
  };
}

/** Runs a job to its end; the seeds are the engine's own (from its 'start' event). */
async function drive(events: AsyncGenerator<EngineEvent>, progress: Progress, patchNums: number[]) {
  let done: Extract<EngineEvent, { type: 'done' }> | undefined;
  let seeds: number[] = [];
  for await (const e of events) {
    if (e.type === 'start') seeds = e.seeds;
    if (e.type === 'scale') progress.update(e.index + 1, patchNums.length, `scale ${e.index + 1}/${patchNums.length} (${e.patch}×${e.patch}) ${(e.elapsedMs / 1000).toFixed(2)} s`);
    if (e.type === 'done') done = e;
  }
  progress.end();
  return { ...done!, seeds };
}

/** Lossless PNG; JPEG and WebP at a high fixed quality. */
const OUTPUT_QUALITY: Record<OutputFormat, number> = { png: 100, jpeg: 95, webp: 95 };

async function cmdGenerate(argv: string[]): Promise<unknown> {
  const { values: v } = parseArgs({ args: argv, options: { ...commonSpec, ...samplingOptions, out: { type: 'string' }, 'tokens-out': { type: 'string' }, from: { type: 'string' } }, strict: true, allowPositionals: false });
  if (v.help) return USAGE;
  const recorded = v.from === undefined ? undefined : await recordOf(v.from);
  const c = commonOptions(v);
  // A record is regenerated at the precision it was made with unless --precision says otherwise.
  if (recorded && v.precision === undefined) c.precision = recorded.precision?.transformer ?? 'fp32';
  if (!v.out) throw new UsageError('generate needs --out FILE.png');
  const format = outputFormat(v.out);
  if (recorded && v.class === undefined) v.class = recorded.classIndex === null ? 'random' : String(recorded.classIndex);
  if (v.class === undefined) throw new UsageError('generate needs --class <index|name> (or "random")');
  // a path that cannot be written is refused before the run, not after it
  await checkOutputPath('--out', v.out);
  if (v['tokens-out']) await checkOutputPath('--tokens-out', v['tokens-out']);
  const engine = await openEngine(c, v.model === undefined);
  try {
    const classIndex = v.class.trim().toLowerCase() === 'random' ? null : resolveClass(v.class, engine.manifest);
    const s = samplingFrom(v, engine, LIMITS.maxBatch, recorded);
    const note = recorded ? precisionMismatchNote(recorded.precision, engine.precision) : null;
    if (note) process.stderr.write(`var-studio: warning: ${note}\n`);
    const progress = new Progress(!c.quiet);
    const done = await drive(engine.generate({ classIndex, ...s }), progress, engine.manifest.patchNums);
    const m = engine.manifest;
    const model = { id: modelIdForDir(c.model), name: m.name, title: m.title, resolution: m.resolution };
    const createdAt = recordTime();
    const outputs: OutputFile[] = [];
    for (let b = 0; b < done.images.length; b++) {
      const path = batchPath(v.out, b, s.batch);
      const settings: ImageSettings = {
        format: 'var-studio-settings', version: 2, model, classIndex, resolvedClassIndex: done.classIndices[b],
        className: m.classes[done.classIndices[b]], seed: done.seeds[b], sampling: s.sampling, precision: { ...engine.precision }, createdAt,
      };
      outputs.push({ flag: '--out', path, data: await encodeImage(done.images[b], { format, quality: OUTPUT_QUALITY[format] }, settingsRecord(settings)) });
    }
    const files = outputs.map((o) => o.path);
    if (v['tokens-out']) {
      const tokens = {
        model: engine.manifest.name, patchNums: engine.manifest.patchNums,
        images: done.tokens.map((t, b) => ({ seed: done.seeds[b], classIndex: done.classIndices[b], tokens: t.map((x) => Array.from(x)) })),
      };
      outputs.push({ flag: '--tokens-out', path: v['tokens-out'], data: JSON.stringify(tokens) });
    }
    await writeOutputs(outputs);
    return {
      ok: true, command: 'generate', files, tokensFile: v['tokens-out'] ?? null, seed: s.seed, classIndices: done.classIndices,
      settings: { ...s.sampling, batch: s.batch },
      provider: engine.provider, precision: engine.precision.transformer, graphPrecisions: { ...engine.precision }, timings: done.timings,
    };
  } finally {
    await engine.dispose();
  }
}

/** The settings record of an image --from names; one made by "vary from a scale" needs its kept tokens, which only the studio has. */
async function recordOf(path: string): Promise<ImageSettings> {
  const { settings } = await inspectImage(await readInput(path, '--from'));
  if (!settings) throw new UsageError(`--from ${path}: the image carries no VAR Studio settings record (or a damaged one)`);
  if (settings.prefix) throw new UsageError(`--from ${path}: the image was varied from scale ${settings.prefix.fromScale}; open it in the studio to regenerate it`);
  return settings;
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    throw new UsageError(`${what} file not found or unreadable: ${path}`);
  }
}

async function cmdEdit(argv: string[]): Promise<unknown> {
  const { values: v } = parseArgs({
    args: argv,
    options: { ...commonSpec, ...samplingOptions, image: { type: 'string' }, mask: { type: 'string' }, out: { type: 'string' }, 'from-scale': { type: 'string' }, region: { type: 'string' }, feather: { type: 'string' } },
    strict: true, allowPositionals: false,
  });
  if (v.help) return USAGE;
  const c = commonOptions(v);
  if (!v.image) throw new UsageError('edit needs --image IN');
  if (!v.mask) throw new UsageError('edit needs --mask MASK (white = regenerate)');
  if (!v.out) throw new UsageError('edit needs --out FILE.png');
  const format = outputFormat(v.out);
  await checkOutputPath('--out', v.out);
  const region = parseRegion(v.region);
  const feather = parseFloatArg('feather', v.feather) ?? 4;
  const image = await decodeImage(await readInput(v.image, '--image'));
  const mask = await decodeMask(await readInput(v.mask, '--mask'));
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new UsageError(`--mask is ${mask.width}×${mask.height} but --image is ${image.width}×${image.height}; the mask must be the same size`);
  }
  const engine = await openEngine(c, v.model === undefined);
  try {
    const classIndex = v.class === undefined ? null : resolveClass(v.class, engine.manifest);
    const fromScale = parseIntArg('from-scale', v['from-scale'], 0, engine.manifest.patchNums.length);
    const s = samplingFrom(v, engine, LIMITS.maxEditBatch);
    const progress = new Progress(!c.quiet);
    const done = await drive(engine.edit({ image, mask, region, classIndex, fromScale, feather, ...s }), progress, engine.manifest.patchNums);
    const m = engine.manifest;
    const used = region ?? defaultRegion(image, mask);
    const { width, height } = done.images[0];
    const op: EditOperation = classIndex !== null ? 'class-edit' : width !== image.width || height !== image.height ? 'outpaint' : 'inpaint';
    const at = recordTime();
    const outputs: OutputFile[] = [];
    for (let b = 0; b < done.images.length; b++) {
      const path = batchPath(v.out, b, s.batch);
      const resolved = done.classIndices[b];
      const chain: EditChain = {
        format: 'var-studio-edit-chain', version: 2,
        source: { kind: 'file', fileName: basename(v.image).slice(0, 500), width: image.width, height: image.height },
        steps: [{
          op, model: { id: modelIdForDir(c.model), name: m.name, resolution: m.resolution }, classIndex, resolvedClassIndex: resolved,
          className: resolved < 0 ? 'null class (inpainting)' : m.classes[resolved], seed: done.seeds[b], sampling: s.sampling,
          ...(fromScale ? { fromScale } : {}), feather, region: used, maskedPixels: maskedInside(mask, used),
          canvas: { width, height, shiftX: Math.max(0, -used.x), shiftY: Math.max(0, -used.y) }, at,
        }],
      };
      outputs.push({ flag: '--out', path, data: await encodeImage(done.images[b], { format, quality: OUTPUT_QUALITY[format] }, chainRecord(chain)) });
    }
    await writeOutputs(outputs);
    const files = outputs.map((o) => o.path);
    return { ok: true, command: 'edit', files, seed: s.seed, classIndex, size: [done.images[0].width, done.images[0].height], provider: engine.provider, precision: engine.precision.transformer, graphPrecisions: { ...engine.precision }, timings: done.timings };
  } finally {
    await engine.dispose();
  }
}

/** The time written into records: SOURCE_DATE_EPOCH (seconds) when set, so a rerun gives identical bytes. */
function recordTime(): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return (epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date()).toISOString();
}

/** Mask pixels (≥ 0.5) inside both the image and the region: the step's "masked pixels". */
function maskedInside(mask: { width: number; height: number; data: Float32Array }, r: { x: number; y: number; size: number }): number {
  let n = 0;
  for (let y = Math.max(r.y, 0); y < Math.min(r.y + r.size, mask.height); y++)
    for (let x = Math.max(r.x, 0); x < Math.min(r.x + r.size, mask.width); x++) if (mask.data[y * mask.width + x] >= 0.5) n++;
  return n;
}

async function cmdInfo(argv: string[]): Promise<unknown> {
  const { values: v } = parseArgs({ args: argv, options: commonSpec, strict: true, allowPositionals: false });
  if (v.help) return USAGE;
  const c = commonOptions(v);
  const engine = await openEngine(c, v.model === undefined);
  try {
    const m = engine.manifest;
    return {
      ok: true, command: 'info', model: c.model, name: m.name, title: m.title, resolution: m.resolution, patchNums: m.patchNums,
      vocabSize: m.vocabSize, classes: m.classes.length, depth: m.transformer.depth, embedDim: m.transformer.embedDim,
      sampling: m.sampling, preview: m.preview.method, provider: engine.provider,
      precision: engine.precision.transformer, precisions: availablePrecisions(m),
      graphPrecisions: { ...engine.precision }, precisionText: describePrecisions(engine.precision),
    };
  } finally {
    await engine.dispose();
  }
}

async function cmdDoctor(argv: string[]): Promise<unknown> {
  const { values: v } = parseArgs({ args: argv, options: commonSpec, strict: true, allowPositionals: false });
  if (v.help) return USAGE;
  const c = commonOptions(v);
  const env = currentEnvironment();
  let engine: HostEngine | null = null;
  let loadError: string | null = null;
  try {
    engine = await openEngine(c, v.model === undefined);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    loadError = (e as Error).message.split('\n')[0]!;
  }
  try {
    const report = { ...doctorReport(engine?.provider ?? null, c.provider, c.threads ?? null, env, PROVIDER_NAMES), gpu: c.gpu ?? 0, ...(engine ? { precision: describePrecisions(engine.precision) } : {}) };
    return { ok: engine !== null, command: 'doctor', model: c.model, ...report, ...(loadError ? { error: loadError } : {}) };
  } finally {
    await engine?.dispose();
  }
}

function human(result: unknown): string {
  if (typeof result === 'string') return result;
  const r = result as Record<string, unknown>;
  if (r.command === 'doctor') return `${formatDoctor(r as unknown as Parameters<typeof formatDoctor>[0])}${r.error ? `\n\nthe model did not load: ${r.error}` : ''}`;
  if (r.command === 'generate' || r.command === 'edit') {
    const t = r.timings as { totalMs: number };
    const p = r.provider as { inUse: string; requested: string; skipped: { provider: string; reason: string }[] };
    const shown = noteworthySkips(p);
    const skipped = shown.length ? ` (skipped ${shown.map((s) => `${s.provider}: ${s.reason}`).join('; ')})` : '';
    return `${(r.files as string[]).join('\n')}\nseed ${r.seed}, ${(t.totalMs / 1000).toFixed(2)} s on ${p.inUse} (${describePrecisions(r.graphPrecisions as GraphPrecisions)})${skipped}`;
  }
  const batch = sampleHuman(r);
  if (batch !== null) return batch;
  if (String(r.command).startsWith('models ')) return modelsHuman(r) ?? JSON.stringify(result, null, 2);
  return JSON.stringify(result, null, 2);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const wantsJson = rest.includes('--json');
  try {
    let result: unknown;
    switch (cmd) {
      case 'generate': result = await cmdGenerate(rest); break;
      case 'edit': result = await cmdEdit(rest); break;
      case 'info': result = await cmdInfo(rest); break;
      case 'models': result = await cmdModels(rest); break;
      case 'doctor': result = await cmdDoctor(rest); break;
      case 'sample': result = await cmdSample(rest); break;
      case 'queue': result = await cmdQueue(rest); break;
      case 'worker': result = await cmdWorker(rest); break;
      case undefined: case '-h': case '--help': case 'help':
        process.stdout.write(`${USAGE}\n`);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${cmd}" (expected generate, edit, info, models, doctor, sample, queue or worker; --help for usage)`);
    }
    if (typeof result === 'string') process.stdout.write(`${result}\n`);
    else process.stdout.write(`${wantsJson ? JSON.stringify(result) : human(result)}\n`);
    return 0;
  } catch (e) {
    const known = e instanceof UsageError || e instanceof EngineError || e instanceof BundleError || e instanceof StudioError || isModelsError(e) ||
      (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'));
    const code = (e as { code?: string }).code ?? 'internal';
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    process.stderr.write(`var-studio: error: ${forLog(message)}\n`); // messages may quote bundle or file text
    if (wantsJson) process.stdout.write(`${JSON.stringify({ ok: false, error: { code, message } })}\n`);
    if (!known && process.env.VAR_STUDIO_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return known ? 2 : 1;
  } finally {
    await Promise.all([...workers].map((w) => w.terminate()));
    workers.clear();
  }
}
