/**
 * The protobuf wire format, just enough to edit an ONNX graph without a schema compiler: a message is a list
 * of fields in file order; a field keeps its raw bytes, so anything not edited is written back unchanged.
 */

export type WireType = 0 | 1 | 2 | 5;
export interface Field { no: number; wire: WireType; value: bigint | Uint8Array }
export type Message = Field[];

const enc = new TextEncoder();
const dec = new TextDecoder();

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let x = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('protobuf: truncated varint');
    const b = buf[pos++];
    x |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [x, pos];
    shift += 7n;
  }
}

function writeVarint(out: number[], x: bigint): void {
  let v = BigInt.asUintN(64, x);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

export function parseMessage(bytes: Uint8Array): Message {
  // a plain view: a Node Buffer's slice() would share memory where callers expect a copy
  const buf = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Message = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos);
    pos = p1;
    const no = Number(key >> 3n);
    const wire = Number(key & 7n) as WireType;
    if (wire === 0) {
      const [v, p2] = readVarint(buf, pos);
      fields.push({ no, wire, value: v });
      pos = p2;
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos);
      const end = p2 + Number(len);
      if (end > buf.length) throw new Error('protobuf: truncated field');
      fields.push({ no, wire, value: buf.subarray(p2, end) });
      pos = end;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      fields.push({ no, wire, value: buf.subarray(pos, pos + n) });
      pos += n;
    } else {
      throw new Error(`protobuf: unsupported wire type ${wire}`);
    }
  }
  return fields;
}

export function serializeMessage(msg: Message): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const f of msg) {
    const head: number[] = [];
    writeVarint(head, (BigInt(f.no) << 3n) | BigInt(f.wire));
    if (f.wire === 0) writeVarint(head, f.value as bigint);
    else if (f.wire === 2) writeVarint(head, BigInt((f.value as Uint8Array).length));
    const h = Uint8Array.from(head);
    parts.push(h);
    total += h.length;
    if (f.wire !== 0) {
      parts.push(f.value as Uint8Array);
      total += (f.value as Uint8Array).length;
    }
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const strField = (no: number, s: string): Field => ({ no, wire: 2, value: enc.encode(s) });
export const intField = (no: number, x: number | bigint): Field => ({ no, wire: 0, value: BigInt(x) });
export const msgField = (no: number, m: Message): Field => ({ no, wire: 2, value: serializeMessage(m) });

/** The string of the first field `no` ('' when absent). */
export function getString(m: Message, no: number): string {
  const f = m.find((x) => x.no === no);
  return f ? dec.decode(f.value as Uint8Array) : '';
}
export function getStrings(m: Message, no: number): string[] {
  return m.filter((x) => x.no === no).map((x) => dec.decode(x.value as Uint8Array));
}
/** Varint fields `no`, packed or not (int64 as Number: ONNX dims and enums fit). */
export function getInts(m: Message, no: number): number[] {
  const out: number[] = [];
  for (const f of m) {
    if (f.no !== no) continue;
    if (f.wire === 0) out.push(Number(BigInt.asIntN(64, f.value as bigint)));
    else {
      const b = f.value as Uint8Array;
      for (let p = 0; p < b.length;) {
        const [v, q] = readVarint(b, p);
        out.push(Number(BigInt.asIntN(64, v)));
        p = q;
      }
    }
  }
  return out;
}
export function getMessages(m: Message, no: number): Message[] {
  return m.filter((x) => x.no === no).map((x) => parseMessage(x.value as Uint8Array));
}
