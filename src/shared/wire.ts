// The WebSocket framing of the contract (browser mode). JSON cannot carry typed arrays, so the codec
// writes Uint8Array as {"$u8": base64} and Int32Array as {"$i32": base64} (little-endian) and turns them
// back before validation. Electron IPC and MessagePorts carry typed arrays natively and skip this codec.
import { ContractError, int, keyPath, obj, literal, tagged, type Infer } from './schema';
import { LIMITS, errorInfoSchema, isRequestKind, parseEvent, parseParams, parseResult, type ErrorInfo, type ParamsOf, type RequestKind, type ResultOf, type StudioEvent } from './contract';

// The fastest base64 the running side has: the ES2025 Uint8Array methods (browsers, Electron's renderer),
// Node's Buffer (the server), else atob/btoa. A hand-written JS loop was ~77x slower on 20 MiB.
interface NativeBase64 {
  toBase64?: (this: Uint8Array) => string;
}
interface NativeFromBase64 {
  fromBase64?: (text: string) => Uint8Array;
}
interface NodeBufferLike {
  from(data: ArrayBufferLike, offset: number, length: number): { toString(enc: 'base64'): string };
  from(text: string, enc: 'base64'): Uint8Array;
}
const nativeTo = (Uint8Array.prototype as NativeBase64).toBase64;
const nativeFrom = (Uint8Array as unknown as NativeFromBase64).fromBase64;
const nodeBuffer = (globalThis as { Buffer?: NodeBufferLike }).Buffer;
const BTOA_CHUNK = 0x8000;
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;

export function toBase64(data: Uint8Array): string {
  if (nativeTo) return nativeTo.call(data);
  if (nodeBuffer) return nodeBuffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  const parts: string[] = [];
  for (let i = 0; i < data.length; i += BTOA_CHUNK) parts.push(String.fromCharCode(...data.subarray(i, i + BTOA_CHUNK)));
  return btoa(parts.join(''));
}

export function fromBase64(text: string, path: string): Uint8Array {
  if (text.length % 4 !== 0) throw new ContractError(path, 'base64 text whose length is a multiple of 4', text);
  if (nativeFrom) {
    try {
      return nativeFrom(text);
    } catch {
      throw new ContractError(path, 'base64 text', text);
    }
  }
  if (!BASE64_TEXT.test(text)) throw new ContractError(path, 'base64 text', text);
  if (nodeBuffer) {
    const b = nodeBuffer.from(text, 'base64');
    // Copy out of Node's shared pool so the bytes own an aligned buffer of their own.
    return new Uint8Array(b);
  }
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function int32ToBytes(a: Int32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setInt32(i * 4, a[i], true);
  return out;
}

function bytesToInt32(b: Uint8Array, path: string): Int32Array {
  if (b.length % 4 !== 0) throw new ContractError(path, 'a whole number of int32 values', b);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Int32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt32(i * 4, true);
  return out;
}

/** JSON text of a value that may hold Uint8Array / Int32Array anywhere. */
export function encodeWire(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // Read the raw value: JSON.stringify has already replaced a Node Buffer by its toJSON() form.
    const raw = key === '' ? v : this[key];
    if (raw instanceof Uint8Array) return { $u8: toBase64(raw) };
    if (raw instanceof Int32Array) return { $i32: toBase64(int32ToBytes(raw)) };
    if (ArrayBuffer.isView(raw)) throw new Error(`encodeWire: unsupported typed array ${raw.constructor.name}`);
    return v;
  });
}

const MAX_DEPTH = 32;

/** Parses JSON text and revives typed arrays; throws ContractError on anything that is not the codec's. */
export function decodeWire(text: string): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ContractError('message', 'JSON text', text);
  }
  return revive(raw, 'message', 0);
}

function revive(v: unknown, path: string, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new ContractError(path, `nesting of at most ${MAX_DEPTH} levels`, v);
  if (Array.isArray(v)) return v.map((x, i) => revive(x, `${path}[${i}]`, depth + 1));
  if (typeof v !== 'object' || v === null) return v;
  const rec = v as Record<string, unknown>;
  const keys = Object.keys(rec);
  if (keys.length === 1 && (keys[0] === '$u8' || keys[0] === '$i32')) {
    const text = rec[keys[0]];
    if (typeof text !== 'string') throw new ContractError(path, 'base64 text', text);
    const b = fromBase64(text, path);
    return keys[0] === '$u8' ? b : bytesToInt32(b, path);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') throw new ContractError(keyPath(path, k), 'no such key', rec[k]);
    out[k] = revive(rec[k], keyPath(path, k), depth + 1);
  }
  return out;
}

// ---------- envelopes ----------

/**
 * The largest message either side sends: the base64 of the largest image the contract allows
 * (maxSide² RGB) plus room for its envelope. The server checks every reply against it before sending.
 */
export const MAX_WIRE_MESSAGE_CHARS = Math.ceil((LIMITS.maxSide * LIMITS.maxSide * 3) / 3) * 4 + (1 << 20);

export const requestIdSchema = int(1, Number.MAX_SAFE_INTEGER);

/** Browser → server. */
export interface WireRequest<K extends RequestKind = RequestKind> { t: 'req'; id: number; kind: K; params: ParamsOf<K> }

/** Server → browser. */
export type WireMessage =
  | { t: 'res'; id: number; ok: true; result: unknown }
  | { t: 'res'; id: number; ok: false; error: ErrorInfo }
  | { t: 'evt'; event: StudioEvent }
  /** A message that could not be tied to a request (malformed): the connection stays open. */
  | { t: 'err'; error: ErrorInfo };

/**
 * Validates a decoded browser→server message. On failure throws ContractError; `idOf` recovers the
 * request id (when there is a usable one) so the server can answer that very request with the error.
 */
export function parseWireRequest(value: unknown): WireRequest {
  const env = value as Record<string, unknown>;
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw new ContractError('message', 'an object', value);
  for (const k of Object.keys(env)) if (!['t', 'id', 'kind', 'params'].includes(k)) throw new ContractError(keyPath('message', k), 'no such key', env[k]);
  literal('req').parse(env.t, 'message.t');
  const id = requestIdSchema.parse(env.id, 'message.id');
  if (!isRequestKind(env.kind)) throw new ContractError('message.kind', 'a known request kind', env.kind);
  const params = parseParams(env.kind, env.params);
  return { t: 'req', id, kind: env.kind, params };
}

export function idOf(value: unknown): number | null {
  if (typeof value !== 'object' || value === null) return null;
  const id = (value as Record<string, unknown>).id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 1 ? id : null;
}

const wireResponseHead = tagged('t', {
  res: obj({ t: literal('res'), id: requestIdSchema, ok: literal(true), result: { expected: 'a result', parse: (v: unknown) => v } }),
  evt: obj({ t: literal('evt'), event: { expected: 'an event', parse: (v: unknown) => v } }),
  err: obj({ t: literal('err'), error: errorInfoSchema }),
});
const wireFailure = obj({ t: literal('res'), id: requestIdSchema, ok: literal(false), error: errorInfoSchema });
export type WireHead = Infer<typeof wireResponseHead>;

/** Validates a decoded server→browser message; results are checked against the kind the caller asked. */
export function parseWireMessage(value: unknown, kindOfRequest: (id: number) => RequestKind | undefined): WireMessage {
  const rec = value as Record<string, unknown>;
  if (typeof rec === 'object' && rec !== null && rec.t === 'res' && rec.ok === false) return wireFailure.parse(value, 'message');
  const head = wireResponseHead.parse(value, 'message');
  if (head.t === 'evt') return { t: 'evt', event: parseEvent(head.event) };
  if (head.t === 'err') return head;
  const kind = kindOfRequest(head.id);
  if (!kind) throw new ContractError('message.id', 'the id of a pending request', head.id);
  return { t: 'res', id: head.id, ok: true, result: parseResult(kind, head.result) as ResultOf<typeof kind> };
}

