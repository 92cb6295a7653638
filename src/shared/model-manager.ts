// The model manager's part of the contract: the official catalogue with a status per model, and pull / pause
// / cancel / remove / import. A pull returns at once; its progress arrives as 'models.status' events.
// contract.ts merges these requests and events into its maps.
import { arr, bool, int, literal, nullable, num, obj, optional, str, tagged, type Infer } from './schema';

const MAX_BYTES = 2 ** 45;
export const modelNameSchema = str({ min: 1, max: 64, pattern: /^[a-z0-9][a-z0-9.-]{0,63}$/ });
/** A checkpoint file in the models folder, by name only (the host never takes a path from the page). */
export const localFileNameSchema = str({ min: 1, max: 255, pattern: /^[^/\\\0]+$/ });
const bytesSchema = int(0, MAX_BYTES);
const fileSchema = str({ min: 1, max: 128 });

export const modelStatusSchema = tagged('state', {
  'not-downloaded': obj({ state: literal('not-downloaded') }),
  queued: obj({ state: literal('queued') }),
  downloading: obj({
    state: literal('downloading'), file: fileSchema, received: bytesSchema, total: bytesSchema, percent: num(0, 100),
    /** Bytes per second over the last seconds. */
    rate: num(0, 1e12),
    /** Seconds left; null while the rate is unknown. */
    eta: nullable(num(0, 1e9)),
  }),
  paused: obj({ state: literal('paused'), received: bytesSchema, total: bytesSchema, percent: num(0, 100) }),
  verifying: obj({ state: literal('verifying'), file: fileSchema, checked: bytesSchema, total: bytesSchema }),
  importing: obj({ state: literal('importing'), phase: nullable(str({ max: 32 })), fraction: nullable(num(0, 1)) }),
  ready: obj({ state: literal('ready'), dir: str({ max: 4096 }) }),
  failed: obj({ state: literal('failed'), code: str({ max: 64 }), message: str({ max: 4000 }) }),
});
export type ModelStatusMsg = Infer<typeof modelStatusSchema>;

const samplingDefaults = obj({ cfg: num(0, 100), topK: int(0, 1 << 20), topP: num(0, 1), moreSmooth: bool });

export const managedModelSchema = obj({
  name: modelNameSchema,
  title: str({ max: 200 }),
  file: fileSchema,
  resolution: int(1, 8192),
  parameters: int(1, 1e13),
  paramsLabel: str({ max: 16 }),
  /** FID (50k samples) from the official README; null where it lists none. */
  fid: nullable(num(0, 1000)),
  licence: str({ max: 64 }),
  sampling: samplingDefaults,
  /** Bytes to download now (the shared VQVAE included until it is on disk). */
  downloadBytes: bytesSchema,
  /** Disk space a pull needs at its peak (checkpoints plus the bundle made from them). */
  diskNeeded: bytesSchema,
  /** The sizes are estimates (the catalogue has only a rounded size for a file). */
  approximate: bool,
  status: modelStatusSchema,
});
export type ManagedModel = Infer<typeof managedModelSchema>;

const empty = obj({});
const nameParams = obj({ name: modelNameSchema });
const statusResult = obj({ status: modelStatusSchema });

export const modelManagerRequests = {
  'models.catalog': {
    params: empty,
    result: obj({
      models: arr(managedModelSchema, { max: 200 }),
      modelsDir: str({ max: 4096 }),
      /** Where files are downloaded from. */
      source: str({ max: 2000 }),
      /** Checkpoint files placed in the models folder, offered by "Import checkpoint files…" in browser mode. */
      localFiles: arr(obj({ file: localFileNameSchema, bytes: bytesSchema }), { max: 1000 }),
      /** Free bytes on the models folder's disk; null when the system cannot tell. */
      freeBytes: nullable(bytesSchema),
    }),
  },
  /** Starts (or resumes) a pull and answers at once with the model's status. */
  'models.pull': { params: nameParams, result: statusResult },
  'models.pause': { params: nameParams, result: statusResult },
  'models.cancel': { params: nameParams, result: statusResult },
  'models.remove': {
    params: obj({ name: modelNameSchema, purgeShared: optional(bool) }),
    result: obj({ removed: arr(str({ max: 4096 }), { max: 10 }), keptShared: nullable(str({ max: 4096 })) }),
  },
  /** What models.remove would delete, with sizes (asked before deleting). */
  'models.removePlan': {
    params: nameParams,
    result: obj({
      items: arr(obj({ path: str({ max: 4096 }), what: str({ max: 100 }), bytes: bytesSchema }), { max: 10 }),
      bytes: bytesSchema,
      keptShared: nullable(str({ max: 4096 })),
    }),
  },
  /**
   * Electron only: main shows an open dialog, the user picks the VAR and VQVAE checkpoints, main imports them.
   * The page never sends a path. null = the dialog was closed.
   */
  'models.importDialog': { params: empty, result: obj({ imported: nullable(obj({ name: modelNameSchema, dir: str({ max: 4096 }) })) }) },
  /** Imports two checkpoint files of the models folder (names from models.catalog's localFiles). */
  'models.import': {
    params: obj({ varFile: localFileNameSchema, vaeFile: localFileNameSchema, name: optional(modelNameSchema), title: optional(str({ min: 1, max: 200 })) }),
    result: obj({ name: modelNameSchema, dir: str({ max: 4096 }) }),
  },
} as const;

export const modelManagerEvents = {
  'models.status': obj({ type: literal('models.status'), name: modelNameSchema, status: modelStatusSchema }),
  'models.import-progress': obj({
    type: literal('models.import-progress'), name: modelNameSchema, phase: nullable(str({ max: 32 })), fraction: nullable(num(0, 1)),
  }),
} as const;
