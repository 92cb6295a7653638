// Browser-mode wire codec on 20 MiB of bytes, as ratios to Node's own base64 (the floor): the codec's
// base64 should sit near 1×, and encodeWire/decodeWire add only the JSON framing of one long string.
// Run: npx tsx bench/wire-codec.ts
import { decodeWire, encodeWire, fromBase64, toBase64 } from '../src/shared/wire';

const n = 20 * 1024 * 1024;
const data = new Uint8Array(n);
for (let i = 0; i < n; i++) data[i] = (i * 2654435761) >>> 24;
const buffer = Buffer.from(data.buffer);

function best(f: () => unknown): number {
  let ms = Infinity;
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    f();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

const text = buffer.toString('base64');
const wire = encodeWire({ t: 'res', id: 1, ok: true, result: { bytes: data } });
const floorEncode = best(() => buffer.toString('base64'));
const floorDecode = best(() => Buffer.from(text, 'base64'));
const rows = {
  toBase64: best(() => toBase64(data)) / floorEncode,
  fromBase64: best(() => fromBase64(text, 'x')) / floorDecode,
  encodeWire: best(() => encodeWire({ t: 'res', id: 1, ok: true, result: { bytes: data } })) / floorEncode,
  decodeWire: best(() => decodeWire(wire)) / floorDecode,
};
console.log(`20 MiB, ratio to Buffer base64 (encode ${floorEncode.toFixed(0)} ms, decode ${floorDecode.toFixed(0)} ms):`);
for (const [name, ratio] of Object.entries(rows)) console.log(`  ${name.padEnd(10)} ${ratio.toFixed(2)}×`);
