/** Validation of generate/edit requests: every refusal is an EngineError whose message says what to change. */
import { EngineError } from './errors';
import { SAMPLING_BOUNDS, type Manifest } from './manifest';
import type { SamplingSettings } from './sampler';

export const MAX_BATCH = 64;

export function checkSettings(s: SamplingSettings, m: Manifest): void {
  if (typeof s !== 'object' || s === null) throw new EngineError('bad-sampling', `sampling must be an object { cfg, topK, topP, moreSmooth }, got ${s}`);
  if (typeof s.cfg !== 'number' || !Number.isFinite(s.cfg) || s.cfg < SAMPLING_BOUNDS.cfg.min || s.cfg > SAMPLING_BOUNDS.cfg.max) {
    throw new EngineError('bad-cfg', `cfg must be a number in ${SAMPLING_BOUNDS.cfg.min}..${SAMPLING_BOUNDS.cfg.max}, got ${s.cfg}`);
  }
  if (!Number.isInteger(s.topK) || s.topK < 0) {
    throw new EngineError('bad-top-k', `top-k must be an integer ≥ 0 (0 = off, 1 = greedy, at most ${m.vocabSize}), got ${s.topK}`);
  }
  if (typeof s.topP !== 'number' || !Number.isFinite(s.topP) || s.topP < 0 || s.topP > 1) {
    throw new EngineError('bad-top-p', `top-p must be a number in [0, 1] (0 or 1 = off), got ${s.topP}`);
  }
  if (typeof s.moreSmooth !== 'boolean') throw new EngineError('bad-more-smooth', `moreSmooth must be true or false, got ${s.moreSmooth}`);
}

export function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new EngineError('bad-seed', `seed must be an integer 0 ≤ seed < 4294967296, got ${seed}`);
  }
}

export function checkBatch(batch: number): void {
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) {
    throw new EngineError('bad-batch', `batch must be an integer 1..${MAX_BATCH}, got ${batch}`);
  }
}

export function checkClass(classIndex: number | null, m: Manifest): void {
  if (classIndex === null) return;
  const n = m.classes.length;
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= n) {
    throw new EngineError('bad-class', `class must be an integer 0..${n - 1} (this model has ${n} classes), got ${classIndex}`);
  }
}

/** The checks every run (generate or edit) shares: sampling settings, seed, batch and class. */
export function checkRunRequest(
  req: { sampling: SamplingSettings; seed: number; batch: number; classIndex: number | null },
  m: Manifest,
): void {
  checkSettings(req.sampling, m);
  checkSeed(req.seed);
  checkBatch(req.batch);
  checkClass(req.classIndex, m);
}

/** Resolve a class given as an index or a name (case-insensitive, exact name) to an index. */
export function resolveClass(spec: string, m: Manifest): number {
  const trimmed = spec.trim();
  if (/^-?\d+$/.test(trimmed)) {
    const i = Number(trimmed);
    checkClass(i, m);
    return i;
  }
  const lower = trimmed.toLowerCase();
  const i = m.classes.findIndex((c) => c.toLowerCase() === lower);
  if (i < 0) {
    const hint = m.classes.filter((c) => c.toLowerCase().includes(lower)).slice(0, 5);
    throw new EngineError('bad-class', `no class named "${trimmed}" in this model${hint.length ? ` (did you mean: ${hint.join(', ')}?)` : ` (classes: ${m.classes.slice(0, 10).join(', ')}${m.classes.length > 10 ? ', …' : ''})`}`);
  }
  return i;
}

/** Check a token prefix (scales 0..k−1, row-major) against the model. */
export function checkPrefix(tokens: Int32Array[], m: Manifest, what: string): void {
  if (!Array.isArray(tokens) || tokens.length < 1 || tokens.length > m.patchNums.length) {
    throw new EngineError('bad-prefix', `${what}: expected token maps for 1..${m.patchNums.length} scales, got ${Array.isArray(tokens) ? tokens.length : typeof tokens}`);
  }
  tokens.forEach((t, k) => {
    const p = m.patchNums[k];
    if (!(t instanceof Int32Array) || t.length !== p * p) {
      throw new EngineError('bad-prefix', `${what}: scale ${k} must have ${p}×${p} = ${p * p} tokens (Int32Array), got ${t?.length}`);
    }
    for (let i = 0; i < t.length; i++) {
      if (t[i] < 0 || t[i] >= m.vocabSize) throw new EngineError('bad-prefix', `${what}: scale ${k} token ${i} is ${t[i]}, outside 0..${m.vocabSize - 1}`);
    }
  });
}
