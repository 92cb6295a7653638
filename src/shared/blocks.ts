// The contract's building blocks, used by both contract.ts and edit.ts: the bounds, ids, the RGB image,
// the sampling settings, timings and the export result. A module of its own so neither file restates them.
import {
  arr, bool, bytes, int, int32s, literal, num, obj, oneOf, refine, str, tagged, type Infer,
} from './schema';

/** Bounds that keep one message from exhausting memory; generous for every model we know. */
export const LIMITS = {
  /** Images per generation run. */
  maxBatch: 16,
  /** Candidates per canvas edit. */
  maxEditBatch: 8,
  maxScales: 32,
  maxPatch: 64,
  maxVocab: 1 << 20,
  maxSide: 8192,
  maxClasses: 100_000,
  /** The largest classifier-free guidance scale (the engine keeps the same bound in SAMPLING_BOUNDS). */
  maxCfg: 50,
  /** An opened file (image.inspect, canvas.open) or an exported file returned for download. */
  maxFileBytes: 64 * 1024 * 1024,
  maxUpscale: 8,
  /** The JSON part of one request (everything but its byte arrays); the largest legal one, a 1000-step edit chain with every string at its cap, is 1.55 MB. */
  maxRequestJsonBytes: 2 * 1024 * 1024,
} as const;

/** The execution providers a host can be asked for. */
export const PROVIDER_NAMES = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const;
export const providerNameSchema = oneOf(PROVIDER_NAMES);
export type ProviderNameMsg = Infer<typeof providerNameSchema>;

export const idSchema = str({ min: 1, max: 200, pattern: /^[A-Za-z0-9._:\- ]+$/ });
export const jobIdSchema = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ });
export const seedSchema = int(0, 0xffffffff);

export const rgbImageSchema = refine(
  obj({ width: int(1, LIMITS.maxSide), height: int(1, LIMITS.maxSide), data: bytes(LIMITS.maxSide * LIMITS.maxSide * 3) }),
  (img) => (img.data.length === img.width * img.height * 3 ? null : 'image data of width·height·3 bytes (RGB)'),
);
/** RGB, row-major, 3 bytes per pixel (the engine's RgbImage). */
export type RgbImageMsg = Infer<typeof rgbImageSchema>;

/** One token map per scale, row-major, coarse → fine. */
export const tokenMapSchema = int32s(LIMITS.maxPatch * LIMITS.maxPatch, 0, LIMITS.maxVocab - 1);
export const tokenPyramidSchema = arr(tokenMapSchema, { max: LIMITS.maxScales });

/** The sampling settings, one object wherever they travel (requests, settings records, edit steps, engine). */
export const samplingSchema = obj({
  cfg: num(0, LIMITS.maxCfg),
  topK: int(0, LIMITS.maxVocab),
  topP: num(0, 1),
  moreSmooth: bool,
});
export type Sampling = Infer<typeof samplingSchema>;

export function sameSampling(a: Sampling, b: Sampling): boolean {
  return a.cfg === b.cfg && a.topK === b.topK && a.topP === b.topP && a.moreSmooth === b.moreSmooth;
}

export const timingsSchema = obj({
  totalMs: num(0, 1e9),
  perScaleMs: arr(num(0, 1e9), { max: LIMITS.maxScales }),
  previewMs: num(0, 1e9),
  decodeMs: num(0, 1e9),
});

export const exportResultSchema = tagged('kind', {
  saved: obj({ kind: literal('saved'), path: str({ max: 4096 }), bytes: int(0, LIMITS.maxFileBytes) }),
  download: obj({ kind: literal('download'), fileName: str({ min: 1, max: 130 }), mime: str({ max: 40 }), bytes: bytes(LIMITS.maxFileBytes) }),
  cancelled: obj({ kind: literal('cancelled') }),
});
export type ExportResult = Infer<typeof exportResultSchema>;

/**
 * Settings records written before sampling was nested (version 1) carry cfg/topK/topP/moreSmooth at the
 * top level; this moves them into `sampling` so old files and autosaves keep opening. Other values pass.
 */
export function nestLegacySampling(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const rec = raw as Record<string, unknown>;
  if ('sampling' in rec || !('cfg' in rec)) return raw;
  const { cfg, topK, topP, moreSmooth, ...rest } = rec;
  return { ...rest, sampling: { cfg, topK, topP, moreSmooth } };
}
