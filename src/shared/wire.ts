// The two encodings of contract values that hold typed arrays outside Electron's IPC:
// - the binary WebSocket wire of browser mode (encodeFrame / decodeFrame; framing in docs/wire.md): byte
//   arrays travel as raw bytes next to a small JSON header, so a 22 MB edit is never parsed as JSON text;
// - a JSON text form (encodeWire / decodeWire) for files such as the gallery's entries, where Uint8Array
//   becomes {"$u8": base64} and Int32Array {"$i32": base64} (little-endian).
// Electron IPC and MessagePorts carry typed arrays natively and use neither.
import { ContractError, int, keyPath, obj, literal, tagged, type Infer } from './schema';
import { LIMITS, errorInfoSchema, isRequestKind, parseEvent, parseResult, type ErrorInfo, type RequestKind, type ResultOf, type StudioEvent } from './contract';

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

type TypedArrayTag = '$u8' | '$i32';

/**
 * JSON.stringify with every Uint8Array / Int32Array replaced by `{[tag]: mark(array)}`. It reads the raw
 * member, because JSON.stringify has already replaced a Node Buffer by its toJSON() form.
 */
function stringifyMarking(value: unknown, mark: (tag: TypedArrayTag, array: Uint8Array | Int32Array) => unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = key === '' ? v : this[key];
    if (raw instanceof Uint8Array) return { $u8: mark('$u8', raw) };
    if (raw instanceof Int32Array) return { $i32: mark('$i32', raw) };
    if (ArrayBuffer.isView(raw)) throw new Error(`wire: unsupported typed array ${raw.constructor.name}`);
    return v;
  });
}

/** JSON text of a value that may hold Uint8Array / Int32Array anywhere (base64 inside the text). */
export function encodeWire(value: unknown): string {
  return stringifyMarking(value, (tag, a) => toBase64(tag === '$u8' ? (a as Uint8Array) : int32ToBytes(a as Int32Array)));
}

const MAX_DEPTH = 32;

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ContractError(path, 'JSON text', text);
  }
}

/** Parses JSON text and revives typed arrays; throws ContractError on anything that is not the codec's. */
export function decodeWire(text: string): unknown {
  return revive(parseJson(text, 'message'), 'message', 0, (tag, text, path) => {
    if (typeof text !== 'string') throw new ContractError(path, 'base64 text', text);
    const b = fromBase64(text, path);
    return tag === '$u8' ? b : bytesToInt32(b, path);
  });
}

/**
 * A copy of parsed JSON in which every `{"$u8": x}` / `{"$i32": x}` is replaced by `typedArray(tag, x)`;
 * refuses deep nesting and prototype keys.
 */
function revive(v: unknown, path: string, depth: number, typedArray: (tag: TypedArrayTag, inner: unknown, path: string) => unknown): unknown {
  if (depth > MAX_DEPTH) throw new ContractError(path, `nesting of at most ${MAX_DEPTH} levels`, v);
  if (Array.isArray(v)) return v.map((x, i) => revive(x, `${path}[${i}]`, depth + 1, typedArray));
  if (typeof v !== 'object' || v === null) return v;
  const rec = v as Record<string, unknown>;
  const keys = Object.keys(rec);
  if (keys.length === 1 && (keys[0] === '$u8' || keys[0] === '$i32')) return typedArray(keys[0], rec[keys[0]], path);
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') throw new ContractError(keyPath(path, k), 'no such key', rec[k]);
    out[k] = revive(rec[k], keyPath(path, k), depth + 1, typedArray);
  }
  return out;
}

// ---------- the binary WebSocket wire (browser mode; docs/wire.md) ----------
// A message travels as a head and then its payload bytes, all in binary WebSocket messages:
//   head      "VSB1", H (uint32 LE), P (uint32 LE), then H bytes of UTF-8 JSON: the message with each typed
//             array replaced by {"$u8":[offset,length]} or {"$i32":[offset,length]} (bytes; int32 LE)
//   payload   P bytes in messages of at most WIRE_CHUNK_BYTES each: the arrays in header order, each at
//             the next multiple of 8 (zero padding between), ending with the last array (P = 0: none)
// Small messages keep a receiver's event loop free: each chunk is unmasked and copied on its own turn.

const MAGIC = [0x56, 0x53, 0x42, 0x31]; // "VSB1"
const HEAD_PREFIX_BYTES = 12;
const ALIGN = 8;
/** The most payload bytes one WebSocket message carries. */
export const WIRE_CHUNK_BYTES = 512 * 1024;
/** Payloads smaller than this are copied into a shared part; larger ones are sent from their own memory. */
const OWN_PART_BYTES = 64 * 1024;
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
const ZEROS = new Uint8Array(ALIGN);

const aligned = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
const sizeOf = (n: number) => `${n} bytes`;

/**
 * The largest message the server sends: the largest image the contract allows (maxSide² RGB) plus room
 * for its JSON header. The server checks every reply and event against it before sending.
 */
export const MAX_WIRE_MESSAGE_BYTES = LIMITS.maxSide * LIMITS.maxSide * 3 + (1 << 20);

/** The largest request the server takes: one opened file (the largest byte array a request carries) plus its JSON. */
export const MAX_REQUEST_BYTES = LIMITS.maxFileBytes + LIMITS.maxRequestJsonBytes + 1024;

/** The largest single WebSocket message a client may send (a head, or one payload chunk). */
export const MAX_REQUEST_PIECE_BYTES = Math.max(WIRE_CHUNK_BYTES, HEAD_PREFIX_BYTES + LIMITS.maxRequestJsonBytes);

/** What one side accepts: the whole message, and its JSON header. */
export interface WireLimits { maxBytes: number; maxJsonBytes: number }
/** The server reading a request. */
export const REQUEST_LIMITS: WireLimits = { maxBytes: MAX_REQUEST_BYTES, maxJsonBytes: LIMITS.maxRequestJsonBytes };
/** The page reading a reply or an event. */
export const REPLY_LIMITS: WireLimits = { maxBytes: MAX_WIRE_MESSAGE_BYTES, maxJsonBytes: MAX_WIRE_MESSAGE_BYTES };

/**
 * One encoded message: `messages` are the WebSocket messages to send in order, back to back (nothing
 * else in between on that socket); each is a list of parts to send as one message (ws fragments, a Blob).
 */
export interface WireFrame { messages: Uint8Array[][]; byteLength: number }

function int32Bytes(a: Int32Array): Uint8Array {
  return LITTLE_ENDIAN ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength) : int32ToBytes(a);
}

/** Splits a list of parts into messages of at most `size` bytes, by views (no copy). */
function chunked(parts: Uint8Array[], size: number): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let room = size;
  for (const part of parts) {
    for (let at = 0; at < part.byteLength; ) {
      const take = Math.min(room, part.byteLength - at);
      current.push(part.subarray(at, at + take));
      at += take;
      room -= take;
      if (room === 0) {
        out.push(current);
        current = [];
        room = size;
      }
    }
  }
  if (current.length) out.push(current);
  return out;
}

/** Joins small parts into one array, so a message with many token maps is a few parts, not thousands. */
function coalesced(pieces: Uint8Array[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = () => {
    if (!pendingBytes) return;
    const joined = new Uint8Array(pendingBytes);
    let at = 0;
    for (const p of pending) {
      joined.set(p, at);
      at += p.byteLength;
    }
    parts.push(joined);
    pending = [];
    pendingBytes = 0;
  };
  for (const p of pieces) {
    if (p.byteLength >= OWN_PART_BYTES) {
      flush();
      parts.push(p);
    } else if (p.byteLength) {
      pending.push(p);
      pendingBytes += p.byteLength;
    }
  }
  flush();
  return parts;
}

/** Encodes a message (a value that may hold Uint8Array / Int32Array anywhere) for the WebSocket. */
export function encodeFrame(value: unknown): WireFrame {
  const pieces: Uint8Array[] = [];
  let end = 0;
  const header = new TextEncoder().encode(stringifyMarking(value, (tag, a) => {
    const bytes = tag === '$u8' ? (a as Uint8Array) : int32Bytes(a as Int32Array);
    const offset = aligned(end);
    pieces.push(ZEROS.subarray(0, offset - end), bytes);
    end = offset + bytes.byteLength;
    return [offset, bytes.byteLength];
  }));
  const head = new Uint8Array(HEAD_PREFIX_BYTES + header.byteLength);
  head.set(MAGIC);
  const view = new DataView(head.buffer);
  view.setUint32(4, header.byteLength, true);
  view.setUint32(8, end, true);
  head.set(header, HEAD_PREFIX_BYTES);
  return { messages: [[head], ...chunked(coalesced(pieces), WIRE_CHUNK_BYTES)], byteLength: head.byteLength + end };
}

/** One WebSocket message of a frame as a single array (tests, and senders that cannot send parts). */
export function joinParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

interface Destination { offset: number; bytes: Uint8Array; int32: boolean }

/**
 * Reads the WebSocket messages of one connection, in order, into contract values. A head is checked
 * (caps, framing, references) and its arrays allocated at once; payload chunks are copied straight into
 * them, one message at a time. Anything malformed throws ContractError and the reader starts over at
 * the next message; `header` keeps the parsed header of the failing message, to tie the error to it.
 */
export class WireReader {
  /** The parsed JSON header of the message being read (or that just failed); undefined before one. */
  header: unknown = undefined;
  private pending: { value: unknown; destinations: Destination[]; total: number; received: number; next: number } | null = null;

  /**
   * `sharedMemory`: the arrays live in SharedArrayBuffers, so handing a request to a worker thread shares
   * its bytes instead of copying them on this thread (the server; a page without cross-origin isolation has none).
   */
  constructor(private readonly limits: WireLimits, private readonly opts: { sharedMemory?: boolean } = {}) {}

  /** Feeds one WebSocket message (null: a text message); returns the message once it is complete. */
  push(data: Uint8Array | null): { done: true; value: unknown } | { done: false } {
    // a message that is not a chunk of the pending one starts anew: an error in it is not the last request's
    if (!this.pending) this.header = undefined;
    try {
      if (data === null) throw new ContractError('message', 'a binary WebSocket message (the VAR Studio wire format)', 'a text message');
      if (this.pending) return this.chunk(this.pending, data);
      return this.head(data);
    } catch (e) {
      this.pending = null;
      throw e;
    }
  }

  private head(data: Uint8Array): { done: true; value: unknown } | { done: false } {
    const n = data.byteLength;
    if (n < HEAD_PREFIX_BYTES || MAGIC.some((b, i) => data[i] !== b))
      throw new ContractError('message', 'a VAR Studio wire head (starting with "VSB1", the header and payload lengths)', sizeOf(n));
    const view = new DataView(data.buffer, data.byteOffset, n);
    const headerBytes = view.getUint32(4, true);
    const total = view.getUint32(8, true);
    if (headerBytes > this.limits.maxJsonBytes) throw new ContractError('message.header', `a JSON header of at most ${this.limits.maxJsonBytes} bytes`, sizeOf(headerBytes));
    if (HEAD_PREFIX_BYTES + headerBytes + total > this.limits.maxBytes)
      throw new ContractError('message', `a message of at most ${this.limits.maxBytes} bytes`, sizeOf(HEAD_PREFIX_BYTES + headerBytes + total));
    if (HEAD_PREFIX_BYTES + headerBytes !== n) throw new ContractError('message.header', `a header length that matches the head (${n - HEAD_PREFIX_BYTES} bytes after the prefix)`, headerBytes);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(HEAD_PREFIX_BYTES));
    } catch {
      throw new ContractError('message.header', 'UTF-8 text', sizeOf(headerBytes));
    }
    this.header = parseJson(text, 'message.header');
    const destinations: Destination[] = [];
    let next = 0;
    const value = revive(this.header, 'message', 0, (tag, ref, path) => {
      if (!Array.isArray(ref) || ref.length !== 2 || !ref.every((x) => Number.isSafeInteger(x) && x >= 0))
        throw new ContractError(path, 'a payload reference [offset, length] of two non-negative integers', ref);
      const [offset, length] = ref as [number, number];
      if (offset < next) throw new ContractError(path, `a payload range that does not overlap the previous one (the next free offset is ${next})`, offset);
      if (offset !== next) throw new ContractError(path, `a payload at offset ${next} (arrays follow one another in header order, each at the next multiple of ${ALIGN})`, offset);
      if (offset + length > total) throw new ContractError(path, `a payload range inside the ${total} payload bytes the head declares (this one ends at ${offset + length})`, sizeOf(length));
      if (tag === '$i32' && length % 4 !== 0) throw new ContractError(path, 'a whole number of int32 values', sizeOf(length));
      const buffer = this.opts.sharedMemory ? new SharedArrayBuffer(length) : new ArrayBuffer(length);
      const array = tag === '$u8' ? new Uint8Array(buffer) : new Int32Array(buffer);
      destinations.push({ offset, bytes: new Uint8Array(array.buffer), int32: tag === '$i32' });
      next = aligned(offset + length);
      return array;
    });
    const last = destinations.at(-1);
    const end = last ? last.offset + last.bytes.byteLength : 0;
    if (end !== total) throw new ContractError('message', `a payload length that ends with the last array (${end} bytes)`, sizeOf(total));
    if (total === 0) return { done: true, value };
    this.pending = { value, destinations, total, received: 0, next: 0 };
    return { done: false };
  }

  private chunk(p: NonNullable<WireReader['pending']>, data: Uint8Array): { done: true; value: unknown } | { done: false } {
    const left = p.total - p.received;
    if (data.byteLength === 0 || data.byteLength > Math.min(left, WIRE_CHUNK_BYTES))
      throw new ContractError('message', `a payload chunk of 1..${Math.min(left, WIRE_CHUNK_BYTES)} bytes (${left} of the ${p.total} declared bytes are still due)`, sizeOf(data.byteLength));
    const from = p.received;
    const to = from + data.byteLength;
    for (; p.next < p.destinations.length; p.next++) {
      const d = p.destinations[p.next];
      const a = Math.max(from, d.offset);
      const b = Math.min(to, d.offset + d.bytes.byteLength);
      if (b > a) d.bytes.set(data.subarray(a - from, b - from), a - d.offset);
      if (d.offset + d.bytes.byteLength > to) break; // this array continues in the next chunk
    }
    p.received = to;
    if (p.received < p.total) return { done: false };
    this.pending = null;
    if (!LITTLE_ENDIAN) for (const d of p.destinations) if (d.int32) swapInt32InPlace(d.bytes);
    return { done: true, value: p.value };
  }
}

/** Little-endian int32 bytes into the host's order, in place (big-endian hosts only). */
function swapInt32InPlace(b: Uint8Array): void {
  for (let i = 0; i < b.length; i += 4) {
    const [b0, b1] = [b[i], b[i + 1]];
    b[i] = b[i + 3];
    b[i + 1] = b[i + 2];
    b[i + 2] = b1;
    b[i + 3] = b0;
  }
}

/** Decodes a whole encoded message given as its WebSocket messages (tests, the bench). */
export function decodeFrame(messages: Uint8Array[], limits: WireLimits): unknown {
  const reader = new WireReader(limits);
  for (let i = 0; i < messages.length; i++) {
    const step = reader.push(messages[i]);
    if (step.done) {
      if (i !== messages.length - 1) throw new ContractError('message', 'no bytes after the last payload', sizeOf(messages.slice(i + 1).reduce((n, m) => n + m.byteLength, 0)));
      return step.value;
    }
  }
  throw new ContractError('message', 'all the payload bytes the head declares', 'the end of the messages');
}

// ---------- envelopes ----------

export const requestIdSchema = int(1, Number.MAX_SAFE_INTEGER);

/** Browser → server; params are still unchecked (the host validates them against the request kind, once). */
export interface WireRequest { t: 'req'; id: number; kind: RequestKind; params: unknown }

/** Server → browser. */
export type WireMessage =
  | { t: 'res'; id: number; ok: true; result: unknown }
  | { t: 'res'; id: number; ok: false; error: ErrorInfo }
  | { t: 'evt'; event: StudioEvent }
  /** A message that could not be tied to a request (malformed): the connection stays open. */
  | { t: 'err'; error: ErrorInfo };

/**
 * Checks the envelope of a decoded browser→server message (t, id, a known kind); the params are left to
 * the host, which validates them once. Throws ContractError; `idOf` recovers the request id (when there
 * is a usable one) so the server can answer that very request with the error.
 */
export function parseWireRequest(value: unknown): WireRequest {
  const env = value as Record<string, unknown>;
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw new ContractError('message', 'an object', value);
  for (const k of Object.keys(env)) if (!['t', 'id', 'kind', 'params'].includes(k)) throw new ContractError(keyPath('message', k), 'no such key', env[k]);
  literal('req').parse(env.t, 'message.t');
  const id = requestIdSchema.parse(env.id, 'message.id');
  if (!isRequestKind(env.kind)) throw new ContractError('message.kind', 'a known request kind', env.kind);
  return { t: 'req', id, kind: env.kind, params: env.params };
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

