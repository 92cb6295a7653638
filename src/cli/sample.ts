/**
 * var-studio sample / sample merge / queue / worker: batch sampling for evaluation (FID protocol), on one
 * machine, in shards, or over many machines through Redis + BullMQ. The logic lives in src/host/batch.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { VarEngine, defaultModelDir, resolveClass } from '../engine/index';
import { type SampleSpec, FID_SAMPLING, MAX_PER_CLASS, imageSeedFor, parseShard, shardRange, totalImages, workItems } from '../host/batch/plan';
import { DEFAULT_QUEUE, clearRun, collectRun, queueStatus, runWorker, submitRun } from '../host/batch/queue';
import { collectNpz, remainingItems, runItem } from '../host/batch/run';
import { RecordLog, modelSha256, openRunFolder, removeStaleTemps } from '../host/batch/store';
import { modelIdForDir } from '../host/models';
import { LIMITS, PROVIDER_NAMES } from '../shared/contract';
import { UsageError, parseFloatArg, parseIntArg } from './args';
import { Progress, rateLabel } from './progress';

export const SAMPLE_USAGE = `  var-studio sample --out DIR [--per-class N (50) | --classes LIST] [--seed S (0)]
                    [--cfg X (1.5)] [--top-k K (900)] [--top-p P (0.96)] [--more-smooth] [--batch B (16)]
                    [--npz FILE.npz] [--shard k/N] [--resume]
  var-studio sample merge --out FILE.npz DIR...
  var-studio queue submit --redis URL --out SHARED_DIR [sample flags] [--queue NAME]
  var-studio queue status --redis URL [--queue NAME]
  var-studio queue collect --redis URL --out FILE.npz [--queue NAME]
  var-studio worker --redis URL [--model DIR] [--queue NAME] [--exit-when-done]`;

export const SAMPLE_HELP = `sample: N images of each class (default every class of the model, 50 each: the FID protocol) with the
  official FID settings unless given. Image (class c, index i) has seed (S + c·2^20 + i) mod 2^32, so any image is
  regenerated alone by the generate command the run prints. DIR gets c<class>-i<index>.png per image and
  samples.jsonl (one record per image: class, index, seed, settings, model sha256 = sha256 of manifest.json).
  --npz writes one member arr_0.npy, uint8 (N, H, W, 3), class-major then index, as guided-diffusion's
  evaluator reads it. --classes LIST: comma list of class indices or names (in that order), or a count "K" for
  classes 0..K-1. --resume continues an interrupted run (images whose PNG or record is missing or broken are
  made again); the npz is the same bytes either way. --shard k/N takes the contiguous global range
  [floor(k·T/N), floor((k+1)·T/N)) of the T images; "sample merge" joins the shard folders into one npz.
queue/worker: the same run split into items (one class, up to --batch consecutive indices) on a BullMQ queue;
  workers on any machine write into the shared --out folder; see README "Batch sampling and many machines".`;

const sampleSpecOptions = {
  model: { type: 'string' }, provider: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }, out: { type: 'string' }, 'per-class': { type: 'string' }, classes: { type: 'string' },
  seed: { type: 'string' }, cfg: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' }, 'more-smooth': { type: 'boolean' },
  batch: { type: 'string' },
} as const;

type Values = Record<string, string | boolean | undefined>;

function engineOptions(v: Values) {
  const provider = (v.provider as string | undefined) ?? 'auto';
  if (provider !== 'auto' && !(PROVIDER_NAMES as readonly string[]).includes(provider)) throw new UsageError(`--provider must be auto, ${PROVIDER_NAMES.join(', ')}, got "${provider}"`);
  return { provider: provider as 'auto', threads: parseIntArg('threads', v.threads as string | undefined, 1, 256) };
}

function modelDir(v: Values): string {
  return resolve((v.model as string | undefined) ?? defaultModelDir());
}

/** The run's spec from the flags and the model's manifest. */
async function specFrom(v: Values, engine: VarEngine, dir: string): Promise<SampleSpec> {
  const m = engine.manifest;
  let classes: number[];
  const list = (v.classes as string | undefined)?.trim();
  if (list === undefined) classes = m.classes.map((_, i) => i);
  else if (/^\d+$/.test(list) && !list.includes(',')) {
    const k = parseIntArg('classes', list, 1, m.classes.length)!;
    classes = Array.from({ length: k }, (_, i) => i);
  } else classes = list.split(',').map((s) => resolveClass(s, m));
  if (new Set(classes).size !== classes.length) throw new UsageError('--classes names a class twice');
  const topK = parseIntArg('top-k', v['top-k'] as string | undefined, 0, m.vocabSize);
  const sampling = {
    cfg: parseFloatArg('cfg', v.cfg as string | undefined) ?? FID_SAMPLING.cfg,
    // top-k at or above the vocabulary keeps every token: the FID default is clamped for small vocabularies
    topK: topK ?? Math.min(FID_SAMPLING.topK, m.vocabSize),
    topP: parseFloatArg('top-p', v['top-p'] as string | undefined) ?? FID_SAMPLING.topP,
    moreSmooth: v['more-smooth'] === true,
  };
  if (sampling.cfg < 0 || sampling.cfg > LIMITS.maxCfg) throw new UsageError(`--cfg must be in 0..${LIMITS.maxCfg}, got ${sampling.cfg}`);
  if (sampling.topP < 0 || sampling.topP > 1) throw new UsageError(`--top-p must be in 0..1, got ${sampling.topP}`);
  return {
    format: 'var-studio-sample-run', version: 1,
    model: { name: m.name, sha256: await modelSha256(dir), resolution: m.resolution },
    classes, perClass: parseIntArg('per-class', v['per-class'] as string | undefined, 1, MAX_PER_CLASS) ?? 50,
    seed: parseIntArg('seed', v.seed as string | undefined, 0, 0xffffffff) ?? 0, sampling,
  };
}

/** The generate command that makes image (class, index) of the run alone, with the same pixels. */
export function regenerateCommand(spec: SampleSpec, model: string, classIndex: number, index: number, out: string): string {
  const s = spec.sampling;
  return `var-studio generate --model ${model} --class ${classIndex} --seed ${imageSeedFor(spec.seed, classIndex, index)} --cfg ${s.cfg} --top-k ${s.topK} --top-p ${s.topP}${s.moreSmooth ? ' --more-smooth' : ''} --out ${out}`;
}

function recordTime(): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  return (epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date()).toISOString();
}

async function cmdSampleRun(argv: string[]): Promise<unknown> {
  const { values: v } = parseArgs({
    args: argv, options: { ...sampleSpecOptions, npz: { type: 'string' }, shard: { type: 'string' }, resume: { type: 'boolean' } }, strict: true, allowPositionals: false,
  });
  if (v.help) return `usage:\n${SAMPLE_USAGE}\n\n${SAMPLE_HELP}`;
  if (!v.out) throw new UsageError('sample needs --out DIR');
  if (v.npz && v.shard) throw new UsageError('--npz writes the whole run; with --shard, join the shards with "var-studio sample merge"');
  const dir = modelDir(v);
  const out = resolve(v.out);
  const engine = await VarEngine.create(dir, engineOptions(v));
  try {
    const spec = await specFrom(v, engine, dir);
    const batch = parseIntArg('batch', v.batch, 1, LIMITS.maxBatch) ?? Math.min(16, LIMITS.maxBatch);
    const shard = v.shard ? parseShard(v.shard) : { k: 0, n: 1 };
    await openRunFolder(out, spec, Boolean(v.resume));
    await removeStaleTemps(out);
    const range = shardRange(totalImages(spec), shard);
    const planned = workItems(spec, range.start, range.end, batch);
    const { items, done } = await remainingItems(out, spec, planned);
    const total = range.end - range.start;
    const progress = new Progress(!v.quiet);
    const ctx = { engine, spec, dir: out, log: new RecordLog(join(out, 'samples.jsonl')), modelId: modelIdForDir(dir), createdAt: recordTime() };
    const t0 = Date.now();
    let made = 0;
    for (const item of items) {
      await runItem(ctx, item);
      made += item.count;
      progress.update(done + made, total, rateLabel(made, total - done, Date.now() - t0));
    }
    progress.end();
    if (v.npz) await collectNpz([out], resolve(v.npz));
    const first = spec.classes[0];
    return {
      ok: true, command: 'sample', out, npz: v.npz ? resolve(v.npz) : null, images: total, generated: made, skipped: done,
      shard: `${shard.k}/${shard.n}`, seed: spec.seed, settings: spec.sampling, modelSha256: spec.model.sha256,
      regenerate: regenerateCommand(spec, dir, first, 0, `c${first}-i0.png`),
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    await engine.dispose();
  }
}

async function cmdSampleMerge(argv: string[]): Promise<unknown> {
  const { values: v, positionals } = parseArgs({ args: argv, options: { out: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  if (v.help) return `usage:\n${SAMPLE_USAGE}`;
  if (!v.out) throw new UsageError('sample merge needs --out FILE.npz');
  if (positionals.length === 0) throw new UsageError('sample merge needs the shard folders: var-studio sample merge --out FILE.npz DIR...');
  const progress = new Progress(!v.quiet);
  const t0 = Date.now();
  const { count } = await collectNpz(positionals.map((p) => resolve(p)), resolve(v.out), (i, n) => { if (i % 64 === 0 || i === n) progress.update(i, n, rateLabel(i, n, Date.now() - t0)); });
  progress.end();
  return { ok: true, command: 'sample merge', npz: resolve(v.out), images: count };
}

export async function cmdSample(argv: string[]): Promise<unknown> {
  return argv[0] === 'merge' ? cmdSampleMerge(argv.slice(1)) : cmdSampleRun(argv);
}

const queueOptions = { redis: { type: 'string' }, queue: { type: 'string' } } as const;

function redisUrl(v: Values): string {
  const url = v.redis as string | undefined;
  if (!url || !/^rediss?:\/\//.test(url)) throw new UsageError(`--redis must be a URL such as redis://host:6379, got ${url === undefined ? 'nothing' : `"${url}"`}`);
  return url;
}

export async function cmdQueue(argv: string[]): Promise<unknown> {
  const [sub, ...rest] = argv;
  if (sub === 'submit') {
    const { values: v } = parseArgs({ args: rest, options: { ...sampleSpecOptions, ...queueOptions }, strict: true, allowPositionals: false });
    if (!v.out) throw new UsageError('queue submit needs --out SHARED_DIR (a folder every worker sees at the same path)');
    const url = redisUrl(v);
    const dir = modelDir(v);
    const engine = await VarEngine.create(dir, engineOptions(v));
    try {
      const spec = await specFrom(v, engine, dir);
      const batch = parseIntArg('batch', v.batch, 1, LIMITS.maxBatch) ?? Math.min(16, LIMITS.maxBatch);
      const r = await submitRun(url, v.queue ?? DEFAULT_QUEUE, spec, resolve(v.out), batch);
      return { ok: true, command: 'queue submit', queue: v.queue ?? DEFAULT_QUEUE, out: r.dir, images: r.images, items: r.items, queued: r.queued, modelSha256: spec.model.sha256 };
    } finally {
      await engine.dispose();
    }
  }
  if (sub === 'status' || sub === 'collect' || sub === 'clear') {
    const { values: v } = parseArgs({ args: rest, options: { ...queueOptions, out: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' } }, strict: true, allowPositionals: false });
    const url = redisUrl(v);
    const name = v.queue ?? DEFAULT_QUEUE;
    if (sub === 'status') return { ok: true, command: 'queue status', queue: name, ...(await queueStatus(url, name)) };
    if (sub === 'clear') {
      await clearRun(url, name);
      return { ok: true, command: 'queue clear', queue: name };
    }
    if (!v.out) throw new UsageError('queue collect needs --out FILE.npz');
    const progress = new Progress(!v.quiet);
    const t0 = Date.now();
    const { count } = await collectRun(url, name, resolve(v.out), (i, n) => { if (i % 64 === 0 || i === n) progress.update(i, n, rateLabel(i, n, Date.now() - t0)); });
    progress.end();
    return { ok: true, command: 'queue collect', npz: resolve(v.out), images: count };
  }
  throw new UsageError(`queue needs submit, status, collect or clear, got ${sub === undefined ? 'nothing' : `"${sub}"`}`);
}

export async function cmdWorker(argv: string[]): Promise<unknown> {
  const { values: v } = parseArgs({
    args: argv,
    options: { ...queueOptions, model: { type: 'string' }, provider: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' },
      'exit-when-done': { type: 'boolean' }, 'lock-ms': { type: 'string' }, 'stalled-ms': { type: 'string' } },
    strict: true, allowPositionals: false,
  });
  const url = redisUrl(v);
  const dir = modelDir(v);
  const engine = await VarEngine.create(dir, engineOptions(v));
  try {
    const r = await runWorker(url, v.queue ?? DEFAULT_QUEUE, {
      engine, modelDir: dir, modelId: modelIdForDir(dir), createdAt: recordTime(),
      lockMs: parseIntArg('lock-ms', v['lock-ms'], 500, 3_600_000), stalledMs: parseIntArg('stalled-ms', v['stalled-ms'], 200, 3_600_000),
      onStart: v.quiet ? undefined : (it, id) => process.stderr.write(`item ${id} started: class ${it.classIndex} images ${it.start}..${it.start + it.count - 1}\n`),
      onItem: v.quiet ? undefined : (it, ms) => process.stderr.write(`class ${it.classIndex} images ${it.start}..${it.start + it.count - 1}: ${(ms / 1000).toFixed(2)} s\n`),
    }, Boolean(v['exit-when-done']));
    return { ok: true, command: 'worker', items: r.items };
  } finally {
    await engine.dispose();
  }
}

export function sampleHuman(r: Record<string, unknown>): string | null {
  if (r.command === 'sample') {
    return `${r.images} images in ${r.out} (${r.generated} generated, ${r.skipped} already done) in ${Number(r.seconds).toFixed(1)} s${r.npz ? `\nnpz: ${r.npz}` : ''}\n` +
      `model sha256 ${r.modelSha256}\nregenerate any image alone (class c, index i uses seed (${r.seed} + c·1048576 + i) mod 2^32), e.g.:\n  ${r.regenerate}`;
  }
  if (r.command === 'sample merge' || r.command === 'queue collect') return `${r.images} images → ${r.npz}`;
  if (r.command === 'queue submit') return `${r.queued} of ${r.items} items queued on "${r.queue}" (${r.images} images into ${r.out})`;
  if (r.command === 'queue status') {
    const done = Number(r.completed);
    return r.spec ? `queue "${r.queue}": ${done}/${r.items} items done, ${r.active} active, ${r.waiting} waiting, ${r.delayed} retrying, ${r.failed} failed; folder ${r.dir}` : `queue "${r.queue}" has no run`;
  }
  return null;
}

