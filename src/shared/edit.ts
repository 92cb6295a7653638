// The canvas editor's part of the contract: edit jobs, opening images into the canvas, the autosaved
// document and the export of an edited image with its edit chain. contract.ts merges these requests and
// the 'edit.done' event into its maps; the building blocks both share come from blocks.ts.
import {
  ContractError, arr, bool, bytes, int, int32s, literal, nullable, num, obj, oneOf, optional, refine, str, tagged, type Infer, type Schema,
} from './schema';
import {
  LIMITS, exportResultSchema, idSchema, jobIdSchema, nestLegacySampling, rgbImageSchema, samplingSchema, seedSchema, timingsSchema,
  tokenPyramidSchema,
} from './blocks';

/** Bounds of the canvas editor; the ones it shares with generation are LIMITS' own. */
export const EDIT_LIMITS = {
  maxSide: LIMITS.maxSide,
  maxFileBytes: LIMITS.maxFileBytes,
  /** The largest region box sent to the model (it is resized to the model resolution anyway). */
  maxRegion: 2048,
  maxBatch: LIMITS.maxEditBatch,
  /** A gzip-packed image or mask (autosave, export). */
  maxPackedBytes: 64 * 1024 * 1024,
  maxChain: 1000,
  maxFeather: 256,
} as const;

const classIndex = int(0, LIMITS.maxClasses - 1);

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
    jobId: jobIdSchema,
    modelId: idSchema,
    operation: operationSchema,
    /** null = the null class (inpainting); a class = class-conditional edit. */
    classIndex: nullable(classIndex),
    /** Scale-locked edit: keep the region's own tokens of scales 1..fromScale. */
    fromScale: optional(int(1, LIMITS.maxScales)),
    seed: seedSchema,
    batch: int(1, EDIT_LIMITS.maxBatch),
    sampling: samplingSchema,
    /** Paste-back feather radius in document pixels. */
    feather: num(0, EDIT_LIMITS.maxFeather),
    /** The pixels the region covers inside the document (the renderer crops; nothing else is needed). */
    image: rgbImageSchema,
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

/** One result of an edit: the region square, already pasted back (feathered) over the source pixels. */
export const candidateSchema = obj({
  image: rgbImageSchema,
  /** Where the candidate's top-left corner sits relative to the sent image's top-left (= region.x, region.y). */
  offset: obj({ x: int(-EDIT_LIMITS.maxSide, EDIT_LIMITS.maxSide), y: int(-EDIT_LIMITS.maxSide, EDIT_LIMITS.maxSide) }),
  classIndex: int(-1, LIMITS.maxClasses - 1),
  seed: seedSchema,
});
export type Candidate = Infer<typeof candidateSchema>;

/** Edit jobs stream job.start / job.scale (previews at model resolution) and end with edit.done, job.cancelled or job.error. */
export const editDoneEventSchema = obj({
  type: literal('edit.done'),
  jobId: jobIdSchema,
  candidates: arr(candidateSchema, { min: 1, max: EDIT_LIMITS.maxBatch }),
  /** Token maps of each candidate's region, [candidate][scale]. */
  tokens: arr(tokenPyramidSchema, { min: 1, max: EDIT_LIMITS.maxBatch }),
  timings: timingsSchema,
});

// ---------- the edit chain (what was done to a document; exported in the image's metadata) ----------

export const sourceSchema = tagged('kind', {
  file: obj({ kind: literal('file'), fileName: str({ max: 500 }), width: int(1, EDIT_LIMITS.maxSide), height: int(1, EDIT_LIMITS.maxSide) }),
  /** A generated image from the history; its generation settings as the contract's settings JSON. */
  generated: obj({ kind: literal('generated'), settingsJson: str({ max: 200_000 }), width: int(1, EDIT_LIMITS.maxSide), height: int(1, EDIT_LIMITS.maxSide) }),
});
export type DocSource = Infer<typeof sourceSchema>;

export const editStepSchema = obj({
  op: operationSchema,
  model: obj({ id: idSchema, name: str({ max: 200 }), resolution: int(1, EDIT_LIMITS.maxSide) }),
  classIndex: nullable(classIndex),
  /** The class of the accepted candidate (-1 = the null class). */
  resolvedClassIndex: int(-1, LIMITS.maxClasses - 1),
  className: str({ max: 500 }),
  seed: seedSchema,
  sampling: samplingSchema,
  fromScale: optional(int(1, LIMITS.maxScales)),
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
  /** 2: each step's sampling nested; version 1 chains (flat) are upgraded by upgradeEditChain. */
  version: literal(2),
  source: sourceSchema,
  steps: arr(editStepSchema, { max: EDIT_LIMITS.maxChain }),
});
export type EditChain = Infer<typeof editChainSchema>;

/** PNG tEXt keyword / XMP element holding the edit chain JSON. */
export const EDIT_CHAIN_KEY = 'var-studio-edit';

export function editChainToJson(chain: EditChain): string {
  return JSON.stringify(chain);
}

/** A version 1 chain (sampling flat in each step) as version 2; anything else is returned as it is. */
export function upgradeEditChain(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const rec = raw as Record<string, unknown>;
  if (rec.version !== 1 || !Array.isArray(rec.steps)) return raw;
  return { ...rec, version: 2, steps: rec.steps.map(nestLegacySampling) };
}

export function editChainFromJson(text: string): EditChain {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ContractError('editChain', 'JSON text', text);
  }
  return editChainSchema.parse(upgradeEditChain(raw), 'editChain');
}

// ---------- opening an image into the canvas ----------

export const canvasOpenParamsSchema = obj({ fileName: str({ max: 500 }), bytes: bytes(EDIT_LIMITS.maxFileBytes) });
export const canvasOpenResultSchema = obj({
  image: rgbImageSchema,
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

export const docIdSchema = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ });

export const documentMetaSchema = obj({
  format: literal('var-studio-canvas'),
  version: literal(1),
  /** Changes whenever a new document is opened; each docId has its own autosave. */
  docId: docIdSchema,
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

/** An autosave written before the chain's sampling was nested: its chain is upgraded (upgradeEditChain). */
export function upgradeDocumentMeta(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const rec = raw as Record<string, unknown>;
  return 'chain' in rec ? { ...rec, chain: upgradeEditChain(rec.chain) } : raw;
}

export const documentSaveParamsSchema = obj({
  meta: documentMetaSchema,
  /** Absent when the host already holds this docId's image at meta.imageRev. */
  image: optional(packedSchema),
  mask: packedSchema,
  /**
   * The savedAt of this document's save that the client last made or restored (null: never saved). When the
   * host holds a newer save of the same docId (another window changed it), nothing is written: `conflict`.
   */
  baseSavedAt: optional(nullable(str({ max: 40 }))),
});
export type DocumentSaveParams = Infer<typeof documentSaveParamsSchema>;

export const documentSaveResultSchema = obj({
  /** false when the image was missing and the host holds another revision: send it again with the image. */
  saved: bool,
  imageRev: int(0, Number.MAX_SAFE_INTEGER),
  bytes: int(0, 4 * EDIT_LIMITS.maxPackedBytes),
  /** Set when another window saved this document after `baseSavedAt`: its save is kept, this one was not written. */
  conflict: optional(obj({ savedAt: str({ max: 40 }), name: str({ max: 500 }) })),
});

export const documentRestoreResultSchema = obj({
  document: nullable(obj({ meta: documentMetaSchema, image: packedSchema, mask: packedSchema })),
  /** Why an autosave was found but could not be restored (it is kept on disk as a .broken copy). */
  problem: nullable(str({ max: 2000 })),
});
export type DocumentRestoreResult = Infer<typeof documentRestoreResultSchema>;

/** One autosaved document, for the list of documents a window can switch to. */
export const documentSummarySchema = obj({
  docId: docIdSchema,
  name: str({ max: 500 }),
  width: int(1, EDIT_LIMITS.maxSide),
  height: int(1, EDIT_LIMITS.maxSide),
  steps: int(0, 100_000),
  savedAt: str({ max: 40 }),
});
export type DocumentSummary = Infer<typeof documentSummarySchema>;

/** Documents a window keeps open as tabs at once (each has an autosave, which the host never prunes while it is a tab). */
export const MAX_OPEN_DOCUMENTS = 12;

/** One tab of the canvas: enough to show it in the tab strip before its document is read back. */
export const documentTabSchema = obj({
  docId: docIdSchema,
  name: str({ max: 500 }),
  width: int(1, EDIT_LIMITS.maxSide),
  height: int(1, EDIT_LIMITS.maxSide),
  /** It had edits or paint no export holds when the list was written. */
  unexported: bool,
});
export type DocumentTab = Infer<typeof documentTabSchema>;

/** The canvas's open tabs in strip order and the active one: they come back after a reload or restart. */
export const documentTabsSchema = obj({
  tabs: arr(documentTabSchema, { max: MAX_OPEN_DOCUMENTS }),
  activeDocId: nullable(docIdSchema),
});
export type DocumentTabs = Infer<typeof documentTabsSchema>;

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


/** Merged into contract.ts `requests`. */
export const editRequests = {
  /** Resolves when the job is accepted; progress arrives as job.start / job.scale, then edit.done (or job.cancelled / job.error). */
  'edit.start': { params: editStartParamsSchema, result: obj({ jobId: jobIdSchema }) },
  'edit.cancel': { params: obj({ jobId: jobIdSchema }), result: obj({ cancelled: bool }) },
  'canvas.open': { params: canvasOpenParamsSchema, result: canvasOpenResultSchema },
  'document.save': { params: documentSaveParamsSchema, result: documentSaveResultSchema },
  /** Restores `docId`'s autosave, or (no docId) the most recently saved document. */
  'document.restore': { params: obj({ docId: optional(docIdSchema) }), result: documentRestoreResultSchema },
  /** The autosaved documents, newest save first. */
  'document.list': { params: obj({}), result: obj({ documents: arr(documentSummarySchema, { max: 64 }) }) },
  /** Deletes one document's autosave (every other document's autosave stays). */
  'document.discard': { params: obj({ docId: docIdSchema }), result: obj({ discarded: bool }) },
  'document.export': { params: documentExportParamsSchema, result: exportResultSchema },
  /** The canvas's tab list as last written (empty when none was). */
  'document.tabs': { params: obj({}), result: documentTabsSchema },
  /** Replaces the tab list (written safely; the documents it names are kept by the autosave's pruning). */
  'document.setTabs': { params: documentTabsSchema, result: obj({ saved: bool }) },
} as const satisfies Record<string, { params: Schema<unknown>; result: Schema<unknown> }>;

/** Merged into contract.ts `eventSchema`. */
export const editEvents = { 'edit.done': editDoneEventSchema } as const;
