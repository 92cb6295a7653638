// The pure arithmetic of a sampling run: which images exist, their order, their seeds, shards and work items.
// Order (the npz's order): class-major in the run's class list, index-minor. Global index g = slot·perClass + i.
import { StudioError } from '../../shared/errors';

export interface SamplingSettings { cfg: number; topK: number; topP: number; moreSmooth: boolean }

/** What defines a run's images; two output folders belong to the same run when these are equal. */
export interface SampleSpec {
  format: 'var-studio-sample-run';
  version: 1;
  model: { name: string; sha256: string; resolution: number };
  classes: number[];
  perClass: number;
  seed: number;
  sampling: SamplingSettings;
}

/** The official FID evaluation settings of VAR (FoundationVision/VAR README, "FID" sampling: cfg 1.5, top-k 900, top-p 0.96). */
export const FID_SAMPLING: SamplingSettings = { cfg: 1.5, topK: 900, topP: 0.96, moreSmooth: false };

/** Per-class index bound: seeds stay distinct across classes while index < 2²⁰. */
export const MAX_PER_CLASS = 1 << 20;

/**
 * The seed of image (class c, index i) in a run seeded with s: (s + c·2²⁰ + i) mod 2³².
 * Consecutive within a class, so a batch of one class starting at index i is the engine's batch seeded with
 * imageSeedFor(s, c, i) (the engine gives image b the seed + b).
 */
export function imageSeedFor(s: number, c: number, i: number): number {
  return (s + c * MAX_PER_CLASS + i) >>> 0;
}

export interface ImageRef { classIndex: number; index: number }

export function totalImages(spec: Pick<SampleSpec, 'classes' | 'perClass'>): number {
  return spec.classes.length * spec.perClass;
}

/** Image at global index g (class-major, index-minor). */
export function imageAt(spec: Pick<SampleSpec, 'classes' | 'perClass'>, g: number): ImageRef {
  return { classIndex: spec.classes[Math.floor(g / spec.perClass)], index: g % spec.perClass };
}

/** Every image of the run, in npz order. */
export function allImages(spec: Pick<SampleSpec, 'classes' | 'perClass'>): ImageRef[] {
  return Array.from({ length: totalImages(spec) }, (_, g) => imageAt(spec, g));
}

export interface Shard { k: number; n: number }

/** "k/N" with 0 ≤ k < N. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new StudioError('bad-shard', `--shard must be k/N (for example 0/4), got "${text}"`, 'Number shards from 0 to N−1.');
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || k >= n) throw new StudioError('bad-shard', `--shard ${text}: k must be in 0..N−1 and N ≥ 1`, 'Number shards from 0 to N−1.');
  return { k, n };
}

/** Shard k of N: the contiguous global range [⌊k·T/N⌋, ⌊(k+1)·T/N⌋), so shards are disjoint and cover every image. */
export function shardRange(total: number, shard: Shard): { start: number; end: number } {
  return { start: Math.floor((shard.k * total) / shard.n), end: Math.floor(((shard.k + 1) * total) / shard.n) };
}

/** A unit of work: `count` consecutive indices of one class from `start`, generated as one engine batch. */
export interface WorkItem { classIndex: number; start: number; count: number; seed: number }

/** The global range [start, end) cut into items of at most `batch` images that never cross a class. */
export function workItems(spec: Pick<SampleSpec, 'classes' | 'perClass' | 'seed'>, start: number, end: number, batch: number): WorkItem[] {
  const items: WorkItem[] = [];
  let g = start;
  while (g < end) {
    const { classIndex, index } = imageAt(spec, g);
    const count = Math.min(batch, end - g, spec.perClass - index);
    items.push({ classIndex, start: index, count, seed: imageSeedFor(spec.seed, classIndex, index) });
    g += count;
  }
  return items;
}

/** PNG file name of an image inside the output folder. */
export function imageFileName(r: ImageRef): string {
  return `c${String(r.classIndex).padStart(4, '0')}-i${String(r.index).padStart(6, '0')}.png`;
}

export function imageKey(r: ImageRef): string {
  return `${r.classIndex}/${r.index}`;
}

/** The fields that make two specs the same run, with a readable name for the first that differs. */
export function specDifference(a: SampleSpec, b: SampleSpec): string | null {
  if (a.model.sha256 !== b.model.sha256) return `model sha256 ${a.model.sha256.slice(0, 12)}… vs ${b.model.sha256.slice(0, 12)}…`;
  if (a.seed !== b.seed) return `seed ${a.seed} vs ${b.seed}`;
  if (a.perClass !== b.perClass) return `per-class ${a.perClass} vs ${b.perClass}`;
  if (a.classes.join(',') !== b.classes.join(',')) return 'class list';
  const s = (x: SamplingSettings) => `cfg ${x.cfg}, top-k ${x.topK}, top-p ${x.topP}${x.moreSmooth ? ', more smooth' : ''}`;
  if (s(a.sampling) !== s(b.sampling)) return `settings (${s(a.sampling)}) vs (${s(b.sampling)})`;
  return null;
}
