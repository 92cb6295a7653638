// Messages between the host and the engine worker thread, and the typed errors re-created on the host side.
import { BundleError, EngineError, ImportError } from '../../engine/api';
import type { ImportOptions } from '../../engine/import/index';
import { StudioError } from '../../shared/errors';

/** The image-io calls the worker runs (decoders and encoders of ./image-io). */
export type IoFunction = 'encodeExport' | 'encodeDocumentExport' | 'inspectImage' | 'openCanvasImage';

/** The importer's options as they cross to the worker: progress comes back as events, cancel as a message. */
export type WorkerImportOptions = Omit<ImportOptions, 'onProgress' | 'signal'>;

export type ToWorker =
  | { op: 'create'; id: number; dir: string; options: { provider?: string; threads?: number; precision?: string; deviceId?: number } }
  | { op: 'encode'; id: number; engine: number; image: unknown }
  | { op: 'run'; id: number; engine: number; kind: 'generate' | 'edit'; request: unknown }
  | { op: 'cancel'; id: number }
  | { op: 'dispose'; id: number; engine: number }
  | { op: 'io'; id: number; fn: IoFunction; args: unknown[] }
  /** `appRoot`: the host's setAppRoot folder, so the worker finds the same graph templates and class names. */
  | { op: 'import'; id: number; options: WorkerImportOptions; appRoot: string | null };

export type FromWorker =
  | { id: number; type: 'result'; value: unknown }
  | { id: number; type: 'event'; event: unknown }
  | { id: number; type: 'end' }
  | { id: number; type: 'error'; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  hint?: string;
  bundleDir?: string;
  file?: string;
  field?: string;
  key?: string;
  stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const f = e as Error & Partial<Record<'code' | 'hint' | 'bundleDir' | 'file' | 'field' | 'key', unknown>>;
  const out: SerializedError = { name: e.name, message: e.message, stack: e.stack };
  for (const k of ['code', 'hint', 'bundleDir', 'file', 'field', 'key'] as const) if (typeof f[k] === 'string') out[k] = f[k] as string;
  return out;
}

/** The same class, code and message as the error thrown in the worker, so the host's handling is unchanged. */
export function reviveError(s: SerializedError): Error {
  let e: Error;
  switch (s.name) {
    case 'BundleError': e = new BundleError(s.code ?? 'internal', s.message, s.bundleDir, s.file, s.field); break;
    case 'EngineError': e = new EngineError(s.code ?? 'internal', s.message); break;
    case 'ImportError': e = new ImportError(s.code ?? 'internal', s.message, s.file, s.key); break;
    case 'StudioError': e = new StudioError(s.code ?? 'internal', s.message, s.hint ?? ''); break;
    default: {
      e = new Error(s.message);
      if (s.name !== 'Error') Object.defineProperty(e, 'name', { value: s.name });
      if (s.code) Object.assign(e, { code: s.code });
    }
  }
  if (s.stack) e.stack = s.stack;
  return e;
}

/** The ArrayBuffers under every typed array in a value (each once), to transfer instead of copy. */
export function transferables(value: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) out.add(value.buffer);
  } else if (Array.isArray(value)) for (const v of value) transferables(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) transferables(v, out);
  return [...out];
}
