// The WebSocket framing of the contract (browser mode). JSON cannot carry typed arrays, so the codec
// writes Uint8Array as {"$u8": base64} and Int32Array as {"$i32": base64} (little-endian) and turns them
// back before validation. Electron IPC and MessagePorts carry typed arrays natively and skip this codec.
import { ContractError, int, obj, literal, tagged, type Infer } from './schema';
import { errorInfoSchema, isRequestKind, parseEvent, parseParams, parseResult, type ErrorInfo, type ParamsOf, type RequestKind, type ResultOf, type StudioEvent } from './contract';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function toBase64(data: Uint8Array): string {
  let out = '';
  const chunk: string[] = [];
  let i = 0;
  for (; i + 2 < data.length; i += 3) {
    const n = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    chunk.push(B64[n >> 18], B64[(n >> 12) & 63], B64[(n >> 6) & 63], B64[n & 63]);
    if (chunk.length >= 8192) { out += chunk.join(''); chunk.length = 0; }
  }
  const rest = data.length - i;
  if (rest === 1) {
    const n = data[i] << 16;
    chunk.push(B64[n >> 18], B64[(n >> 12) & 63], '==');
  } else if (rest === 2) {
    const n = (data[i] << 16) | (data[i + 1] << 8);
    chunk.push(B64[n >> 18], B64[(n >> 12) & 63], B64[(n >> 6) & 63], '=');
  }
  return out + chunk.join('');
}

export function fromBase64(text: string, path: string): Uint8Array {
  if (text.length % 4 !== 0) throw new ContractError(path, 'base64 text whose length is a multiple of 4', text);
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const isPad = c === 61 && i + j >= text.length - pad;
      const v = isPad ? 0 : c < 128 ? B64_INDEX[c] : -1;
      if (v < 0) throw new ContractError(path, 'base64 text', text);
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
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
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') throw new ContractError(`${path}.${k}`, 'no such key', rec[k]);
    out[k] = revive(rec[k], `${path}.${k}`, depth + 1);
  }
  return out;
}

// ---------- envelopes ----------

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
  for (const k of Object.keys(env)) if (!['t', 'id', 'kind', 'params'].includes(k)) throw new ContractError(`message.${k}`, 'no such key', env[k]);
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

