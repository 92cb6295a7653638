// The binary WebSocket wire (src/shared/wire.ts, docs/wire.md): round trips, chunking, and every kind of
// malformed input a client could send, each refused with a ContractError that says what was expected.
import { describe, expect, it } from 'vitest';
import {
  MAX_REQUEST_BYTES, REPLY_LIMITS, REQUEST_LIMITS, WIRE_CHUNK_BYTES, WireReader, decodeFrame, encodeFrame, joinParts, type WireLimits,
} from '../../../src/shared/wire';
import { LIMITS } from '../../../src/shared/contract';
import { ContractError } from '../../../src/shared/schema';

const messagesOf = (value: unknown) => encodeFrame(value).messages.map(joinParts);
/** Byte equality of two typed arrays (deep equality of megabytes element by element is slow). */
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** A head built by hand: "VSB1", the header length, the payload length, the header bytes. */
function head(header: unknown, payloadBytes: number, opts: { headerBytes?: number; magic?: number[] } = {}): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(12 + json.length);
  out.set(opts.magic ?? [0x56, 0x53, 0x42, 0x31]);
  const view = new DataView(out.buffer);
  view.setUint32(4, opts.headerBytes ?? json.length, true);
  view.setUint32(8, payloadBytes, true);
  out.set(json, 12);
  return out;
}

function problem(messages: (Uint8Array | null)[], limits: WireLimits = REQUEST_LIMITS): string {
  const reader = new WireReader(limits);
  try {
    for (const m of messages) reader.push(m);
  } catch (e) {
    expect(e).toBeInstanceOf(ContractError);
    return (e as Error).message;
  }
  return 'accepted';
}

describe('binary wire: round trips', () => {
  it('returns every value and typed array exactly, each array owning its aligned buffer', () => {
    const value = {
      t: 'evt', n: 1.5, s: 'ü✓', list: [null, true, { deep: [1, 2] }],
      a: new Uint8Array([0, 1, 2, 255, 7]), empty: new Uint8Array(0), b: [Int32Array.of(-5, 0, 2 ** 31 - 1, -(2 ** 31)), new Int32Array(0)],
      view: new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5), node: Buffer.from([4, 5, 6]),
    };
    const back = decodeFrame(messagesOf(value), REPLY_LIMITS) as Record<string, any>;
    expect(back.a).toEqual(value.a);
    expect(back.empty).toEqual(new Uint8Array(0));
    expect(back.b[0]).toEqual(value.b[0]);
    expect(back.b[1]).toEqual(new Int32Array(0));
    expect([...back.view]).toEqual([1, 2, 3]);
    expect(back.node).toBeInstanceOf(Uint8Array);
    expect([...back.node]).toEqual([4, 5, 6]);
    expect(back).toMatchObject({ t: 'evt', n: 1.5, s: 'ü✓', list: [null, true, { deep: [1, 2] }] });
    for (const arr of [back.a, back.b[0], back.view]) {
      expect(arr.byteOffset).toBe(0);
      expect(arr.byteLength).toBe(arr.buffer.byteLength);
    }
  });

  it('a message without arrays is one head; a large one is a head and chunks of at most WIRE_CHUNK_BYTES', () => {
    expect(encodeFrame({ t: 'req', id: 1, kind: 'app.info', params: {} }).messages).toHaveLength(1);
    const image = Uint8Array.from({ length: 3 * WIRE_CHUNK_BYTES + 17 }, (_, i) => (i * 7) & 255);
    const tokens = Array.from({ length: 300 }, (_, k) => Int32Array.from({ length: 37 }, (_, i) => k * 100 + i));
    const frame = encodeFrame({ image, tokens });
    const messages = frame.messages.map(joinParts);
    expect(messages.length).toBe(1 + Math.ceil((frame.byteLength - messages[0].length) / WIRE_CHUNK_BYTES));
    for (const m of messages.slice(1)) expect(m.length).toBeLessThanOrEqual(WIRE_CHUNK_BYTES);
    expect(messages.reduce((n, m) => n + m.length, 0)).toBe(frame.byteLength);
    const back = decodeFrame(messages, REPLY_LIMITS) as { image: Uint8Array; tokens: Int32Array[] };
    expect(back.image).toBeInstanceOf(Uint8Array);
    expect(sameBytes(back.image, image)).toBe(true);
    expect(back.tokens).toEqual(tokens);
  });

  it('with sharedMemory the arrays live in SharedArrayBuffers (a worker thread reads them without a copy)', () => {
    const reader = new WireReader(REQUEST_LIMITS, { sharedMemory: true });
    const value = { image: Uint8Array.from({ length: WIRE_CHUNK_BYTES + 5 }, (_, i) => i & 255), tokens: [Int32Array.of(-1, 7)] };
    let back: any;
    for (const m of messagesOf(value)) {
      const step = reader.push(m);
      if (step.done) back = step.value;
    }
    expect(back.image.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(back.tokens[0].buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(sameBytes(back.image, value.image)).toBe(true);
    expect([...back.tokens[0]]).toEqual([-1, 7]);
  });

  it('one reader reads messages back to back (the state of one connection)', () => {
    const reader = new WireReader(REPLY_LIMITS);
    const big = Uint8Array.from({ length: WIRE_CHUNK_BYTES * 2 }, (_, i) => i & 255);
    const values = [{ x: big }, { y: 1 }, { z: Int32Array.of(1, 2) }];
    const out: any[] = [];
    for (const v of values) for (const m of messagesOf(v)) {
      const step = reader.push(m);
      if (step.done) out.push(step.value);
    }
    expect(out).toHaveLength(3);
    expect(sameBytes(out[0].x, big)).toBe(true);
    expect(out.slice(1)).toEqual(values.slice(1));
  });
});

describe('binary wire: malformed input is refused with a ContractError, and the reader reads the next message', () => {
  const payload = (n: number) => new Uint8Array(n);
  const cases: [string, (Uint8Array | null)[], RegExp][] = [
    ['a text message', [null], /binary WebSocket message/],
    ['random bytes', [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)], /VSB1/],
    ['a head shorter than its prefix', [Uint8Array.of(0x56, 0x53, 0x42)], /VSB1/],
    ['a header length that lies (longer than the head)', [head({ a: 1 }, 0, { headerBytes: 100 })], /header length that matches the head/],
    ['a header length that lies (shorter than the head)', [head({ a: 1 }, 0, { headerBytes: 3 })], /header length that matches the head/],
    ['a header over the JSON cap', [head({ a: 1 }, 0, { headerBytes: LIMITS.maxRequestJsonBytes + 1 })], /JSON header of at most/],
    ['a message over the request cap', [head({ a: 1 }, MAX_REQUEST_BYTES)], /message of at most/],
    ['a header that is not UTF-8', [head('\u0000', 0).map((b, i) => (i === 12 ? 0xff : b))], /UTF-8/],
    ['a header that is not JSON', [head('{"a":', 0)], /JSON text/],
    ['a prototype key', [head('{"__proto__":{"x":1}}', 0)], /__proto__/],
    ['deep nesting', [head('['.repeat(100) + ']'.repeat(100), 0)], /nesting/],
    ['a reference that is not [offset, length]', [head({ a: { $u8: 'AAAA' } }, 4)], /payload reference/],
    ['a negative length', [head({ a: { $u8: [0, -1] } }, 0)], /payload reference/],
    ['a range past the declared payload (truncated)', [head({ a: { $u8: [0, 100] } }, 10)], /inside the 10 payload bytes/],
    ['overlapping ranges', [head({ a: { $u8: [0, 16] }, b: { $u8: [8, 8] } }, 24)], /does not overlap/],
    ['a gap between ranges', [head({ a: { $u8: [0, 4] }, b: { $u8: [16, 4] } }, 20)], /payload at offset 8/],
    ['an int32 range that is not a whole number of values', [head({ a: { $i32: [0, 6] } }, 6)], /whole number of int32/],
    ['a declared payload longer than the arrays', [head({ a: { $u8: [0, 4] } }, 64)], /ends with the last array/],
    ['a chunk longer than what is still due', [head({ a: { $u8: [0, 4] } }, 4), payload(8)], /payload chunk of 1\.\.4 bytes/],
    ['a chunk larger than WIRE_CHUNK_BYTES', [head({ a: { $u8: [0, 2 * WIRE_CHUNK_BYTES] } }, 2 * WIRE_CHUNK_BYTES), payload(WIRE_CHUNK_BYTES + 1)], /payload chunk of 1\.\./],
    ['an empty chunk', [head({ a: { $u8: [0, 4] } }, 4), payload(0)], /payload chunk/],
    ['a text message where a chunk is due', [head({ a: { $u8: [0, 4] } }, 4), null], /binary WebSocket message/],
  ];
  for (const [name, messages, pattern] of cases) {
    it(name, () => {
      expect(problem(messages)).toMatch(pattern);
      // the reader starts over: a good message right after is read whole
      const reader = new WireReader(REQUEST_LIMITS);
      try {
        for (const m of messages) reader.push(m);
      } catch {
        // refused, as above
      }
      const good = messagesOf({ t: 'req', id: 3, kind: 'app.info', params: { bytes: Uint8Array.of(1, 2) } });
      let value: unknown;
      for (const m of good) {
        const step = reader.push(m);
        if (step.done) value = step.value;
      }
      expect(value).toEqual({ t: 'req', id: 3, kind: 'app.info', params: { bytes: Uint8Array.of(1, 2) } });
    });
  }

  it('keeps the header of a refused message, so the error can answer its request', () => {
    const reader = new WireReader(REQUEST_LIMITS);
    reader.push(head({ t: 'req', id: 42, kind: 'edit.start', params: { a: { $u8: [0, 4] } } }, 4));
    expect(() => reader.push(payload(9))).toThrow(ContractError);
    expect((reader.header as { id: number }).id).toBe(42);
  });

  it('an error after a complete message is not tied to that message', () => {
    const reader = new WireReader(REQUEST_LIMITS);
    expect(reader.push(messagesOf({ t: 'req', id: 7, kind: 'app.info', params: {} })[0]).done).toBe(true);
    expect(() => reader.push(null)).toThrow(ContractError);
    expect(reader.header).toBeUndefined();
    expect(() => reader.push(Uint8Array.of(1, 2, 3))).toThrow(/VSB1/);
    expect(reader.header).toBeUndefined();
  });

  it('a reply may be larger than a request; the page refuses one over the reply cap', () => {
    expect(problem([head({ a: 1 }, REPLY_LIMITS.maxBytes)], REPLY_LIMITS)).toMatch(/message of at most/);
    expect(REPLY_LIMITS.maxBytes).toBeGreaterThan(LIMITS.maxSide * LIMITS.maxSide * 3);
  });

  it('decodeFrame refuses bytes after the last payload and a message cut short', () => {
    const messages = messagesOf({ a: new Uint8Array(10) });
    expect(() => decodeFrame([...messages, Uint8Array.of(1)], REQUEST_LIMITS)).toThrow(/no bytes after the last payload/);
    expect(() => decodeFrame(messages.slice(0, 1), REQUEST_LIMITS)).toThrow(/all the payload bytes/);
  });
});
