// The canvas editor's part of the contract (issue 6): edit jobs, opening images into the canvas, the
// autosaved document and the export of an edited image with its edit chain. contract.ts merges these
// requests and the 'edit.done' event into its maps.
//
// This file imports runtime values from schema.ts only (contract.ts imports this file, so a runtime import
// back would be a module cycle that breaks whichever side loads first); the few contract building blocks
// it needs are restated here with the same limits, and tests/unit/canvas checks they stay equal.
import {
  ContractError, arr, bool, bytes, int, int32s, literal, nullable, num, obj, oneOf, optional, refine, str, tagged, type Infer, type Schema,
} from './schema';

export const EDIT_LIMITS = {
  /** Same as LIMITS.maxSide in contract.ts: the largest document side. */
  maxSide: 8192,
  /** The largest region box sent to the model (it is resized to the model resolution anyway). */
  maxRegion: 2048,
  maxBatch: 8,
  maxScales: 32,
  maxClasses: 100_000,
  maxVocab: 1 << 20,
  maxPatch: 64,
  /** A gzip-packed image or mask (autosave, export). */
  maxPackedBytes: 64 * 1024 * 1024,
  /** An opened file. Same as LIMITS.maxFileBytes. */
  maxFileBytes: 64 * 1024 * 1024,
  maxChain: 1000,
  maxFeather: 256,
} as const;

const jobId = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ });
const modelId = str({ min: 1, max: 200, pattern: /^[A-Za-z0-9._:\- ]+$/ });
const classIndex = int(0, EDIT_LIMITS.maxClasses - 1);

/** RGB, row-major, 3 bytes/pixel (as the contract's rgbImageSchema). */
export const editImageSchema = refine(
  obj({ width: int(1, EDIT_LIMITS.maxSide), height: int(1, EDIT_LIMITS.maxSide), data: bytes(EDIT_LIMITS.maxSide * EDIT_LIMITS.maxSide * 3) }),
  (img) => (img.data.length === img.width * img.height * 3 ? null : 'image data of width·height·3 bytes (RGB)'),
);
export type EditImage = Infer<typeof editImageSchema>;

/** One byte per pixel, 0 = keep, 255 = regenerate (the engine regenerates pixels ≥ 128). */
export const maskSchema = refine(
  obj({ width: int(1, EDIT_LIMITS.maxSide), height: int(1, EDIT_LIMITS.maxSide), data: bytes(EDIT_LIMITS.maxSide * EDIT_LIMITS.maxSide) }),
  (m) => (m.data.length === m.width * m.height ? null : 'mask data of width·height bytes'),
);
export type MaskMsg = Infer<typeof maskSchema>;

/** A square in document pixels; it may reach past the image edge (that part is outpainted). */
export const regionSchema = obj({
  x: int(-EDIT_LIMITS.maxSide, EDIT_LIMITS.maxSide),
  y: int(-EDIT_LIMITS.maxSide, EDIT_LIMITS.maxSide),
  size: int(1, EDIT_LIMITS.maxRegion),
});
export type Region = Infer<typeof regionSchema>;

export const operationSchema = oneOf(['inpaint', 'class-edit', 'outpaint'] as const);
export type EditOperation = Infer<typeof operationSchema>;

// ---------- edit jobs ----------

export const editStartParamsSchema = refine(
  obj({
    jobId,
    modelId,
    operation: operationSchema,
    /** null = the null class (inpainting); a class = class-conditional edit. */
    classIndex: nullable(classIndex),
    /** Scale-locked edit: keep the region's own tokens of scales 1..fromScale. */
    fromScale: optional(int(1, EDIT_LIMITS.maxScales)),
    seed: int(0, 0xffffffff),
    batch: int(1, EDIT_LIMITS.maxBatch),
    cfg: num(0, 50),
    topK: int(0, EDIT_LIMITS.maxVocab),
    topP: num(0, 1),
    moreSmooth: bool,
    /** Paste-back feather radius in document pixels. */
    feather: num(0, EDIT_LIMITS.maxFeather),
    /** The pixels the region covers inside the document (the renderer crops; nothing else is needed). */
    image: editImageSchema,
    mask: maskSchema,
    /** The region relative to `image`'s top-left corner (x, y ≤ 0 where it reaches past the image). */
    region: regionSchema,
  }),
  (p) => {
    if (p.mask.width !== p.image.width || p.mask.height !== p.image.height) return 'a mask of the same size as the image';
    const { x, y, size } = p.region;
    if (x > 0 || y > 0 || x + size < p.image.width || y + size < p.image.height) return 'a region that contains the whole cropped image';
    if (p.operation === 'inpaint' && p.classIndex !== null) return 'classIndex null for inpainting (class edits use operation "class-edit")';
    if (p.operation === 'class-edit' && p.classIndex === null) return 'a class for a class edit';
    return null;
  },
);
export type EditStartParams = Infer<typeof editStartParamsSchema>;

const timings = obj({
  totalMs: num(0, 1e9),
  perScaleMs: arr(num(0, 1e9), { max: EDIT_LIMITS.maxScales }),
  previewMs: num(0, 1e9),
  decodeMs: num(0, 1e9),
});

/** One result of an edit: the region square, already pasted back (feathered) over the source pixels. */
export const candidateSchema = obj({
  image: editImageSchema,
  /** Where the candidate's top-left corner sits relative to the sent image's top-left (= region.x, region.y). */
  offset: obj({ x: int(-EDIT_LIMITS.maxSide, EDIT_LIMITS.maxSide), y: int(-EDIT_LIMITS.maxSide, EDIT_LIMITS.maxSide) }),
  classIndex: int(-1, EDIT_LIMITS.maxClasses - 1),
  seed: int(0, 0xffffffff),
});
export type Candidate = Infer<typeof candidateSchema>;

/** Edit jobs stream job.start / job.scale (previews at model resolution) and end with edit.done, job.cancelled or job.error. */
export const editDoneEventSchema = obj({
  type: literal('edit.done'),
  jobId,
  candidates: arr(candidateSchema, { min: 1, max: EDIT_LIMITS.maxBatch }),
  /** Token maps of each candidate's region, [candidate][scale]. */
  tokens: arr(arr(int32s(EDIT_LIMITS.maxPatch * EDIT_LIMITS.maxPatch, 0, EDIT_LIMITS.maxVocab - 1), { max: EDIT_LIMITS.maxScales }), { min: 1, max: EDIT_LIMITS.maxBatch }),
  timings,
});
export type EditDoneEvent = Infer<typeof editDoneEventSchema>;

// ---------- the edit chain (what was done to a document; exported in the image's metadata) ----------

export const sourceSchema = tagged('kind', {
  file: obj({ kind: literal('file'), fileName: str({ max: 500 }), width: int(1, EDIT_LIMITS.maxSide), height: int(1, EDIT_LIMITS.maxSide) }),
  /** A generated image from the history; its generation settings as the contract's settings JSON. */
  generated: obj({ kind: literal('generated'), settingsJson: str({ max: 200_000 }), width: int(1, EDIT_LIMITS.maxSide), height: int(1, EDIT_LIMITS.maxSide) }),
});
export type DocSource = Infer<typeof sourceSchema>;

export const editStepSchema = obj({
  op: operationSchema,
  model: obj({ id: modelId, name: str({ max: 200 }), resolution: int(1, EDIT_LIMITS.maxSide) }),
  classIndex: nullable(classIndex),
  /** The class of the accepted candidate (-1 = the null class). */
  resolvedClassIndex: int(-1, EDIT_LIMITS.maxClasses - 1),
  className: str({ max: 500 }),
  seed: int(0, 0xffffffff),
  cfg: num(0, 50),
  topK: int(0, EDIT_LIMITS.maxVocab),
  topP: num(0, 1),
  moreSmooth: bool,
  fromScale: optional(int(1, EDIT_LIMITS.maxScales)),
  feather: num(0, EDIT_LIMITS.maxFeather),
  /** Region in the coordinates of the document before this step. */
  region: regionSchema,
  /** Regenerated (mask ≥ 128) pixels inside the image part of the region. */
  maskedPixels: int(0, EDIT_LIMITS.maxSide * EDIT_LIMITS.maxSide),
  /** Document size after the step and where the old document's origin went (outpainting left/up shifts it). */
  canvas: obj({ width: int(1, EDIT_LIMITS.maxSide), height: int(1, EDIT_LIMITS.maxSide), shiftX: int(0, EDIT_LIMITS.maxSide), shiftY: int(0, EDIT_LIMITS.maxSide) }),
  at: str({ max: 40 }),
});
export type EditStep = Infer<typeof editStepSchema>;

export const editChainSchema = obj({
  format: literal('var-studio-edit-chain'),
  version: literal(1),
  source: sourceSchema,
  steps: arr(editStepSchema, { max: EDIT_LIMITS.maxChain }),
});
export type EditChain = Infer<typeof editChainSchema>;

/** PNG tEXt keyword / XMP element holding the edit chain JSON. */
export const EDIT_CHAIN_KEY = 'var-studio-edit';

export function editChainToJson(chain: EditChain): string {
  return JSON.stringify(chain);
}

export function editChainFromJson(text: string): EditChain {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ContractError('editChain', 'JSON text', text);
  }
  return editChainSchema.parse(raw, 'editChain');
}

// ---------- opening an image into the canvas ----------

export const canvasOpenParamsSchema = obj({ fileName: str({ max: 500 }), bytes: bytes(EDIT_LIMITS.maxFileBytes) });
export const canvasOpenResultSchema = obj({
  image: editImageSchema,
  format: str({ max: 20 }),
  /** The edit chain of an image exported by the canvas editor, when it carries one. */
  chain: nullable(editChainSchema),
  /** Generation settings JSON (contract imageSettingsSchema) when the file carries them. */
  settingsJson: nullable(str({ max: 200_000 })),
  note: str({ max: 1000 }),
});
export type CanvasOpenResult = Infer<typeof canvasOpenResultSchema>;

// ---------- the autosaved document ----------

/** A gzip-compressed raw buffer (RGB image, or one byte per pixel for a mask): exact, and small on the wire. */
export const packedSchema = bytes(EDIT_LIMITS.maxPackedBytes);

export const documentMetaSchema = obj({
  format: literal('var-studio-canvas'),
  version: literal(1),
  /** Changes whenever a new document is opened (so a stale tab cannot overwrite a newer one unnoticed). */
  docId: str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ }),
  name: str({ max: 500 }),
  width: int(1, EDIT_LIMITS.maxSide),
  height: int(1, EDIT_LIMITS.maxSide),
  /** Bumped on every pixel change; the image is only re-sent when it differs from the saved one. */
  imageRev: int(0, Number.MAX_SAFE_INTEGER),
  region: regionSchema,
  chain: editChainSchema,
  savedAt: str({ max: 40 }),
});
export type DocumentMeta = Infer<typeof documentMetaSchema>;

export const documentSaveParamsSchema = obj({
  meta: documentMetaSchema,
  /** Absent when the host already holds this docId's image at meta.imageRev. */
  image: optional(packedSchema),
  mask: packedSchema,
});
export type DocumentSaveParams = Infer<typeof documentSaveParamsSchema>;

export const documentSaveResultSchema = obj({
  /** false when the image was missing and the host holds another revision: send it again with the image. */
  saved: bool,
  imageRev: int(0, Number.MAX_SAFE_INTEGER),
  bytes: int(0, 4 * EDIT_LIMITS.maxPackedBytes),
});

export const documentRestoreResultSchema = obj({
  document: nullable(obj({ meta: documentMetaSchema, image: packedSchema, mask: packedSchema })),
  /** Why an autosave was found but could not be restored (it is kept on disk as a .broken copy). */
  problem: nullable(str({ max: 2000 })),
});
export type DocumentRestoreResult = Infer<typeof documentRestoreResultSchema>;

// ---------- export of the edited image ----------

export const documentExportParamsSchema = obj({
  format: oneOf(['png', 'jpeg', 'webp'] as const),
  quality: int(1, 100),
  width: int(1, EDIT_LIMITS.maxSide),
  height: int(1, EDIT_LIMITS.maxSide),
  image: packedSchema,
  chain: editChainSchema,
  fileName: str({ min: 1, max: 120, pattern: /^[A-Za-z0-9._ -]+$/ }),
});
export type DocumentExportParams = Infer<typeof documentExportParamsSchema>;

const exportResult = tagged('kind', {
  saved: obj({ kind: literal('saved'), path: str({ max: 4096 }), bytes: int(0, EDIT_LIMITS.maxFileBytes) }),
  download: obj({ kind: literal('download'), fileName: str({ min: 1, max: 130 }), mime: str({ max: 40 }), bytes: bytes(EDIT_LIMITS.maxFileBytes) }),
  cancelled: obj({ kind: literal('cancelled') }),
});

const empty = obj({});

/** Merged into contract.ts `requests`. */
export const editRequests = {
  /** Resolves when the job is accepted; progress arrives as job.start / job.scale, then edit.done (or job.cancelled / job.error). */
  'edit.start': { params: editStartParamsSchema, result: obj({ jobId }) },
  'edit.cancel': { params: obj({ jobId }), result: obj({ cancelled: bool }) },
  'canvas.open': { params: canvasOpenParamsSchema, result: canvasOpenResultSchema },
  'document.save': { params: documentSaveParamsSchema, result: documentSaveResultSchema },
  'document.restore': { params: empty, result: documentRestoreResultSchema },
  'document.discard': { params: empty, result: obj({ discarded: bool }) },
  'document.export': { params: documentExportParamsSchema, result: exportResult },
} as const satisfies Record<string, { params: Schema<unknown>; result: Schema<unknown> }>;

/** Merged into contract.ts `eventSchema`. */
export const editEvents = { 'edit.done': editDoneEventSchema } as const;
