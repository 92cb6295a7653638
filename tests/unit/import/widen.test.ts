/** float16 / bfloat16 → float32 widening, for every one of the 65536 bit patterns, against numpy and torch. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { widenBFloat16, widenFloat16 } from '../../../src/engine/import/tensor-file';
import { type TestCheckpoints, writeTestCheckpoints } from './fixtures';

let ck: TestCheckpoints;
beforeAll(() => {
  ck = writeTestCheckpoints('--tables');
}, 120_000);
afterAll(() => ck?.cleanup());

const allPatterns = () => Uint16Array.from({ length: 65536 }, (_, i) => i);

function table(name: string): Uint32Array {
  const b = readFileSync(ck.path(name));
  return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

describe('half-float widening', () => {
  it('float16: bit-identical to numpy for all 65536 patterns (±0, subnormals, ±inf); NaN stays NaN', () => {
    const want = table('f16_to_f32.bin');
    const got = widenFloat16(allPatterns());
    const bits = new Uint32Array(got.buffer);
    let nans = 0;
    const wrong: string[] = [];
    for (let h = 0; h < 65536; h++) {
      const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN16) {
        nans++;
        if (!Number.isNaN(got[h])) wrong.push(`0x${h.toString(16)} → ${got[h]}`);
      } else if (bits[h] !== want[h]) {
        wrong.push(`0x${h.toString(16)}: 0x${bits[h].toString(16)} vs numpy 0x${want[h].toString(16)}`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(nans).toBe(2046);
    // Spot values a reader can check by hand: smallest subnormal, largest normal, -0, -inf.
    expect(widenFloat16(Uint16Array.of(0x0001, 0x7bff, 0x8000, 0xfc00))).toEqual(Float32Array.of(2 ** -24, 65504, -0, -Infinity));
  });

  it('bfloat16: bit-identical to torch for all 65536 patterns, NaN payloads included', () => {
    const want = table('bf16_to_f32.bin');
    const got = new Uint32Array(widenBFloat16(allPatterns()).buffer);
    expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
  });
});
