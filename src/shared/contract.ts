// THE contract between the renderer and its host (Electron main, or src/server in browser mode):
// every request with its params and result, and every event, each with a runtime schema.
// Both adapters (IPC + MessagePort, WebSocket) validate with these schemas on both sides; nobody
// redeclares these types. Pure TypeScript: no Node, Electron or DOM imports.
import { arr, bool, bytes, int, literal, nullable, num, obj, oneOf, optional, refine, str, tagged, type Infer, type Schema } from './schema';
import {
  LIMITS, PROVIDER_NAMES, exportResultSchema, idSchema, jobIdSchema, providerNameSchema, rgbImageSchema, samplingSchema,
  seedSchema, timingsSchema, tokenMapSchema, tokenPyramidSchema,
} from './blocks';
import { editEvents, editRequests } from './edit';
import { modelManagerEvents, modelManagerRequests } from './model-manager';

export {
  LIMITS, PROVIDER_NAMES, exportResultSchema, idSchema, jobIdSchema, providerNameSchema, rgbImageSchema, samplingSchema,
  sameSampling, seedSchema, timingsSchema, tokenMapSchema, tokenPyramidSchema,
} from './blocks';
export type { ExportResult, ProviderNameMsg, RgbImageMsg, Sampling } from './blocks';

/** "Vary from a scale": keep the token maps of scales 1..fromScale (one pyramid prefix for every image). */
export const prefixSchema = refine(
  obj({ fromScale: int(1, LIMITS.maxScales), tokens: tokenPyramidSchema }),
  (p) => (p.tokens.length === p.fromScale ? null : 'exactly fromScale token maps (scales 1..fromScale)'),
);
export type Prefix = Infer<typeof prefixSchema>;

export const generateSettingsSchema = obj({
  modelId: idSchema,
  /** null = a random class per image, drawn from that image's seeded stream (docs/sampling.md). */
  classIndex: nullable(int(0, LIMITS.maxClasses - 1)),
  /** uint32; image b of a batch uses seed + b. */
  seed: seedSchema,
  batch: int(1, LIMITS.maxBatch),
  sampling: samplingSchema,
  prefix: optional(prefixSchema),
});
export type GenerateSettings = Infer<typeof generateSettingsSchema>;

export const errorInfoSchema = obj({
  code: str({ min: 1, max: 64 }),
  message: str({ max: 4000 }),
  /** What the user can do about it. */
  hint: str({ max: 1000 }),
});
export type ErrorInfo = Infer<typeof errorInfoSchema>;

// ---------- the settings embedded in an exported image ----------

export const PRECISION_NAMES = ['fp32', 'int8', 'int4', 'fp16', 'dq8'] as const;
export const precisionSchema = oneOf(PRECISION_NAMES);
export type PrecisionName = Infer<typeof precisionSchema>;

/** The precision each graph ran in; graphs a bundle lacks (or that were not recorded) are left out. */
export const graphPrecisionsSchema = obj({
  transformer: precisionSchema,
  fhatStep: optional(precisionSchema),
  encoder: optional(precisionSchema),
  decoder: optional(precisionSchema),
  preview: optional(precisionSchema),
});
export type GraphPrecisions = Infer<typeof graphPrecisionsSchema>;

export const imageSettingsSchema = obj({
  format: literal('var-studio-settings'),
  /** 2: sampling nested; version 1 records (flat) are upgraded by settingsFromJson. */
  version: literal(2),
  model: obj({ id: idSchema, name: str({ max: 200 }), title: str({ max: 300 }), resolution: int(1, LIMITS.maxSide) }),
  /** What was asked: a class, or null for a random class drawn from the seed. */
  classIndex: nullable(int(0, LIMITS.maxClasses - 1)),
  /** The class this image has (drawn when classIndex is null). */
  resolvedClassIndex: int(0, LIMITS.maxClasses - 1),
  className: str({ max: 500 }),
  /** The seed of this very image (base seed + its index in the batch), so batch 1 reproduces it. */
  seed: seedSchema,
  sampling: samplingSchema,
  prefix: optional(prefixSchema),
  /** The precision each graph ran in; absent in records written before precision variants (read as all fp32). */
  precision: optional(graphPrecisionsSchema),
  createdAt: str({ max: 40 }),
});
export type ImageSettings = Infer<typeof imageSettingsSchema>;

// ---------- models ----------

export const modelSummarySchema = obj({
  id: idSchema,
  source: oneOf(['embedded', 'user'] as const),
  name: str({ max: 200 }),
  title: str({ max: 300 }),
  /** Folder shown to the user (where the bundle lives). */
  dir: str({ max: 4096 }),
  resolution: nullable(int(1, LIMITS.maxSide)),
  classCount: nullable(int(0, LIMITS.maxClasses)),
  /** Why this bundle cannot be used, when its manifest cannot be read. */
  problem: nullable(str({ max: 2000 })),
});
export type ModelSummary = Infer<typeof modelSummarySchema>;

export const loadedModelSchema = obj({
  id: idSchema,
  name: str({ max: 200 }),
  title: str({ max: 300 }),
  description: str({ max: 4000 }),
  license: str({ max: 300 }),
  resolution: int(1, LIMITS.maxSide),
  patchNums: arr(int(1, LIMITS.maxPatch), { min: 1, max: LIMITS.maxScales }),
  vocabSize: int(1, LIMITS.maxVocab),
  classes: arr(str({ max: 500 }), { min: 1, max: LIMITS.maxClasses }),
  sampling: samplingSchema,
  previewMethod: str({ max: 1000 }),
  /** The transformer precision in use, and those the bundle offers (docs/model-bundle.md "Precision variants"). */
  precision: precisionSchema,
  precisions: arr(precisionSchema, { min: 1, max: 8 }),
  /** The precision each graph runs in (the transformer's is `precision`). */
  graphPrecisions: optional(graphPrecisionsSchema),
  provider: obj({
    inUse: providerNameSchema,
    requested: oneOf([...PROVIDER_NAMES, 'auto'] as const),
    skipped: arr(obj({ provider: providerNameSchema, reason: str({ max: 2000 }) }), { max: 8 }),
  }),
});
export type LoadedModel = Infer<typeof loadedModelSchema>;

// ---------- export / open ----------

export const exportFormatSchema = oneOf(['png', 'jpeg', 'webp'] as const);
export type ExportFormat = Infer<typeof exportFormatSchema>;

export const exportParamsSchema = obj({
  format: exportFormatSchema,
  /** 1 = the model's resolution; 2/4/8 = upscaled. */
  upscale: refine(int(1, LIMITS.maxUpscale), (n) => ([1, 2, 4, 8].includes(n) ? null : 'one of 1, 2, 4, 8')),
  kernel: oneOf(['nearest', 'lanczos3'] as const),
  quality: int(1, 100),
  image: rgbImageSchema,
  settings: imageSettingsSchema,
  /** Suggested file name without folder; the user picks the real place (Electron) or the browser downloads. */
  fileName: str({ min: 1, max: 120, pattern: /^[A-Za-z0-9._ -]+$/ }),
});
export type ExportParams = Infer<typeof exportParamsSchema>;

export const inspectParamsSchema = obj({ fileName: str({ max: 500 }), bytes: bytes(LIMITS.maxFileBytes) });
export const inspectResultSchema = obj({
  /** null when the file carries no VAR Studio settings (then `note` says so). */
  settings: nullable(imageSettingsSchema),
  note: str({ max: 1000 }),
  image: rgbImageSchema,
  format: str({ max: 20 }),
});
export type InspectResult = Infer<typeof inspectResultSchema>;

// ---------- the gallery (kept by the host in the app's data folder) ----------

export const GALLERY_LIMITS = {
  /** Entries the host keeps; the oldest beyond this are pruned when new ones arrive. */
  maxEntries: 2000,
  /** Entries per gallery.list page (whole images travel, so pages stay small). */
  pageSize: 50,
} as const;

export const galleryEntrySchema = obj({
  id: idSchema,
  /** Images of one run share a jobId (shown together as a batch); an opened file gets one of its own. */
  jobId: jobIdSchema,
  indexInBatch: int(0, LIMITS.maxBatch - 1),
  origin: oneOf(['generated', 'opened'] as const),
  /** ISO time the entry was made (browse by date). */
  createdAt: str({ min: 1, max: 40 }),
  image: rgbImageSchema,
  /** Preview after each scale (generated entries); empty for opened files. */
  scalePreviews: arr(rgbImageSchema, { max: LIMITS.maxScales }),
  /** Token map per scale: generated, or encoded from an opened file by the model's encoder. */
  tokens: tokenPyramidSchema,
  patchNums: arr(int(1, LIMITS.maxPatch), { max: LIMITS.maxScales }),
  /** The model whose tokens these are (generated with it, or encoded by its encoder). */
  tokensModelId: optional(idSchema),
  settings: nullable(imageSettingsSchema),
  fileName: optional(str({ max: 500 })),
  totalMs: optional(num(0, 1e9)),
});
export type GalleryEntryMsg = Infer<typeof galleryEntrySchema>;

const galleryRequests = {
  /** Newest first. */
  'gallery.list': {
    params: obj({ offset: int(0, GALLERY_LIMITS.maxEntries), limit: int(1, GALLERY_LIMITS.pageSize) }),
    result: obj({ entries: arr(galleryEntrySchema, { max: GALLERY_LIMITS.pageSize }), total: int(0, GALLERY_LIMITS.maxEntries) }),
  },
  /** Stores entries; an entry with an existing id replaces it (an undone delete, tokens added later). */
  'gallery.add': { params: obj({ entries: arr(galleryEntrySchema, { min: 1, max: LIMITS.maxBatch }) }), result: obj({ stored: int(0, LIMITS.maxBatch) }) },
  'gallery.delete': { params: obj({ ids: arr(idSchema, { min: 1, max: GALLERY_LIMITS.maxEntries }) }), result: obj({ deleted: int(0, GALLERY_LIMITS.maxEntries) }) },
  'gallery.clear': { params: obj({}), result: obj({ deleted: int(0, GALLERY_LIMITS.maxEntries) }) },
  /** Token maps of an image by the loaded model's encoder (resized to its resolution), so any image can be varied. */
  'image.encode': {
    params: obj({ modelId: idSchema, image: rgbImageSchema }),
    result: obj({ tokens: arr(tokenMapSchema, { min: 1, max: LIMITS.maxScales }), patchNums: arr(int(1, LIMITS.maxPatch), { min: 1, max: LIMITS.maxScales }) }),
  },
} as const;

// ---------- requests ----------

const empty = obj({});

export const appInfoSchema = obj({
  version: str({ max: 40 }),
  host: oneOf(['electron', 'browser'] as const),
  modelsDir: str({ max: 4096 }),
});
export type AppInfo = Infer<typeof appInfoSchema>;

export const requests = {
  'app.info': { params: empty, result: appInfoSchema },
  'models.list': { params: empty, result: obj({ models: arr(modelSummarySchema, { max: 1000 }) }) },
  /** precision: 'auto' (default) = the fastest variant recorded without visible loss on this device. */
  'models.load': { params: obj({ modelId: idSchema, precision: optional(oneOf([...PRECISION_NAMES, 'auto'] as const)) }), result: loadedModelSchema },
  /** Resolves when the job is accepted; progress arrives as job.* events with this jobId. */
  'generate.start': { params: obj({ jobId: jobIdSchema, settings: generateSettingsSchema }), result: obj({ jobId: jobIdSchema }) },
  'generate.cancel': { params: obj({ jobId: jobIdSchema }), result: obj({ cancelled: bool }) },
  'image.export': { params: exportParamsSchema, result: exportResultSchema },
  'image.inspect': { params: inspectParamsSchema, result: inspectResultSchema },
  // The canvas editor: edit jobs, canvas open, autosaved document, export with the edit chain.
  ...editRequests,
  // The model manager: the official catalogue, downloads (pull / pause / cancel), remove, import.
  ...modelManagerRequests,
  ...galleryRequests,
} as const satisfies Record<string, { params: Schema<unknown>; result: Schema<unknown> }>;

export type RequestKind = keyof typeof requests;
export type ParamsOf<K extends RequestKind> = Infer<(typeof requests)[K]['params']>;
export type ResultOf<K extends RequestKind> = Infer<(typeof requests)[K]['result']>;
export const requestKinds = Object.keys(requests) as RequestKind[];

export function isRequestKind(kind: unknown): kind is RequestKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(requests, kind);
}

// ---------- events (host → renderer) ----------

export const eventSchema = tagged('type', {
  'job.start': obj({
    type: literal('job.start'),
    jobId: jobIdSchema,
    scales: int(1, LIMITS.maxScales),
    patchNums: arr(int(1, LIMITS.maxPatch), { min: 1, max: LIMITS.maxScales }),
    batch: int(1, LIMITS.maxBatch),
    classIndices: arr(int(-1, LIMITS.maxClasses - 1), { max: LIMITS.maxBatch }), // -1 = the null (unconditional) class
    seeds: arr(seedSchema, { max: LIMITS.maxBatch }),
  }),
  'job.scale': obj({
    type: literal('job.scale'),
    jobId: jobIdSchema,
    /** 0-based scale index. */
    index: int(0, LIMITS.maxScales - 1),
    patch: int(1, LIMITS.maxPatch),
    previews: arr(rgbImageSchema, { min: 1, max: LIMITS.maxBatch }),
    tokens: arr(tokenMapSchema, { min: 1, max: LIMITS.maxBatch }),
    elapsedMs: num(0, 1e9),
  }),
  'job.done': obj({
    type: literal('job.done'),
    jobId: jobIdSchema,
    images: arr(rgbImageSchema, { min: 1, max: LIMITS.maxBatch }),
    /** [image][scale] */
    tokens: arr(tokenPyramidSchema, { min: 1, max: LIMITS.maxBatch }),
    classIndices: arr(int(-1, LIMITS.maxClasses - 1), { min: 1, max: LIMITS.maxBatch }),
    seeds: arr(seedSchema, { min: 1, max: LIMITS.maxBatch }),
    timings: timingsSchema,
  }),
  'job.cancelled': obj({ type: literal('job.cancelled'), jobId: jobIdSchema, completedScales: int(0, LIMITS.maxScales) }),
  'job.error': obj({ type: literal('job.error'), jobId: jobIdSchema, error: errorInfoSchema }),
  ...editEvents,
  ...modelManagerEvents,
});
export type StudioEvent = Infer<typeof eventSchema>;
export type EventOf<T extends StudioEvent['type']> = Extract<StudioEvent, { type: T }>;

// ---------- validation entry points ----------

export function parseParams<K extends RequestKind>(kind: K, params: unknown): ParamsOf<K> {
  return requests[kind].params.parse(params, 'params') as ParamsOf<K>;
}
export function parseResult<K extends RequestKind>(kind: K, result: unknown): ResultOf<K> {
  return requests[kind].result.parse(result, 'result') as ResultOf<K>;
}
export function parseEvent(event: unknown): StudioEvent {
  return eventSchema.parse(event, 'event');
}
