// Generating work items into an output folder, and joining output folders into the npz.
import type { VarEngine } from '../../engine/index';
import type { ImageSettings } from '../../shared/contract';
import { StudioError } from '../../shared/errors';
import { encodeImage, settingsRecord } from '../image-io';
import { writeNpz } from './npz';
import { type ImageRef, type SampleSpec, type WorkItem, allImages, imageFileName, imageKey, imageSeedFor, specDifference } from './plan';
import { RecordLog, doneImages, readImagePixels, readRecords, readSpec, writeImageFile } from './store';

export interface ItemContext {
  /** `precision` goes into each PNG's settings record when the engine reports it. */
  engine: Pick<VarEngine, 'generate' | 'manifest'> & Partial<Pick<VarEngine, 'precision'>>;
  spec: SampleSpec;
  dir: string;
  log: RecordLog;
  modelId: string;
  /** The time written into the PNG's settings record. */
  createdAt: string;
}

/**
 * Generates one item as one engine batch and writes its PNGs and records. Idempotent: the seeds come from
 * the spec, so running an item twice (a retried queue item) writes the same pixels again.
 */
export async function runItem(ctx: ItemContext, item: WorkItem, signal?: AbortSignal): Promise<void> {
  const { engine, spec } = ctx;
  const m = engine.manifest;
  let done: { images: { width: number; height: number; data: Uint8Array }[]; classIndices: number[] } | undefined;
  let seeds: number[] = [];
  for await (const e of engine.generate({ classIndex: item.classIndex, seed: item.seed, batch: item.count, sampling: spec.sampling, previews: false }, signal)) {
    if (e.type === 'start') seeds = e.seeds;
    if (e.type === 'done') done = e;
  }
  if (!done) throw new StudioError('sample-failed', `class ${item.classIndex} images ${item.start}..${item.start + item.count - 1}: the engine ended without images`, 'Run again with --resume.');
  for (let b = 0; b < item.count; b++) {
    const ref = { classIndex: item.classIndex, index: item.start + b };
    const seed = imageSeedFor(spec.seed, ref.classIndex, ref.index);
    if (seeds[b] !== seed) throw new StudioError('seed-mismatch', `image ${imageKey(ref)}: the engine used seed ${seeds[b]}, the plan says ${seed}`, 'This is a bug; report it.');
    const settings: ImageSettings = {
      format: 'var-studio-settings', version: 2,
      model: { id: ctx.modelId, name: m.name, title: m.title, resolution: m.resolution },
      classIndex: ref.classIndex, resolvedClassIndex: ref.classIndex, className: m.classes[ref.classIndex], seed, sampling: spec.sampling,
      ...(engine.precision ? { precision: { ...engine.precision } } : {}), createdAt: ctx.createdAt,
    };
    await writeImageFile(ctx.dir, ref, await encodeImage(done.images[b], { format: 'png', quality: 100 }, settingsRecord(settings)));
    await ctx.log.append({ class: ref.classIndex, index: ref.index, seed, file: imageFileName(ref), settings: spec.sampling, model: { name: spec.model.name, sha256: spec.model.sha256 } });
  }
}

/** Items with the images already done in the folder left out (an item is cut to its first missing image on). */
export async function remainingItems(dir: string, spec: SampleSpec, items: WorkItem[]): Promise<{ items: WorkItem[]; done: number }> {
  const refs = items.flatMap((it) => Array.from({ length: it.count }, (_, b) => ({ classIndex: it.classIndex, index: it.start + b })));
  const done = await doneImages(dir, spec, refs, (r) => imageSeedFor(spec.seed, r.classIndex, r.index));
  const out: WorkItem[] = [];
  for (const it of items) {
    // runs of missing images inside the item, each as its own item
    let b = 0;
    while (b < it.count) {
      while (b < it.count && done.has(imageKey({ classIndex: it.classIndex, index: it.start + b }))) b++;
      const from = b;
      while (b < it.count && !done.has(imageKey({ classIndex: it.classIndex, index: it.start + b }))) b++;
      if (b > from) out.push({ classIndex: it.classIndex, start: it.start + from, count: b - from, seed: imageSeedFor(spec.seed, it.classIndex, it.start + from) });
    }
  }
  return { items: out, done: done.size };
}

/**
 * Checks that the folders together hold every image of one run exactly once (same model, seed and settings),
 * then writes the npz in run order. Refusals name the folder at fault.
 */
export async function collectNpz(dirs: string[], out: string, onImage?: (i: number, total: number) => void): Promise<{ spec: SampleSpec; count: number }> {
  if (dirs.length === 0) throw new StudioError('no-shards', 'no output folders given', 'Name the shard folders to join.');
  let spec: SampleSpec | undefined;
  const owner = new Map<string, string>();
  for (const dir of dirs) {
    const s = await readSpec(dir);
    if (!s) throw new StudioError('bad-shard', `${dir} is not a sampling output folder (no run.json)`, 'Name folders written by var-studio sample --out.');
    if (spec) {
      const diff = specDifference(spec, s);
      if (diff) throw new StudioError('bad-shard', `${dir} belongs to another run than ${dirs[0]} (${diff})`, 'Join only shards of one run.');
    } else spec = s;
    for (const [key, rec] of await readRecords(dir)) {
      if (rec.settings && specDifference(s, { ...s, sampling: rec.settings }) !== null) throw new StudioError('bad-shard', `${dir}: record of image ${key} (${rec.log}) has other settings than the run`, 'Regenerate that shard.');
      const prev = owner.get(key);
      if (prev !== undefined && prev !== dir) throw new StudioError('bad-shard', `image ${key} is in both ${prev} and ${dir}`, 'Each shard must hold a disjoint part; join each shard folder once.');
      owner.set(key, dir);
    }
  }
  const refs: ImageRef[] = allImages(spec!);
  const missing = refs.filter((r) => !owner.has(imageKey(r)));
  if (missing.length) {
    const r = missing[0];
    throw new StudioError('incomplete-run', `${missing.length} of ${refs.length} images are missing (first: class ${r.classIndex} index ${r.index}); the folders given: ${dirs.join(', ')}`, 'Finish the missing shard with --resume, or name every shard folder.');
  }
  const res = spec!.model.resolution;
  await writeNpz(out, refs.length, res, res, async (i) => {
    const ref = refs[i];
    const dir = owner.get(imageKey(ref))!;
    const px = await readImagePixels(dir, ref, res);
    if (!px) throw new StudioError('bad-shard', `${dir}: ${imageFileName(ref)} is missing or corrupt`, `Run that shard again with --resume (it regenerates broken images).`);
    return px;
  }, (i) => onImage?.(i + 1, refs.length));
  return { spec: spec!, count: refs.length };
}
