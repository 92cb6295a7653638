// Review finding 7: the CLI reads numbers strictly and says which flag and which range.
import { describe, expect, it } from 'vitest';
import { parseFloatArg, parseIntArg, parseRegion } from '../../src/cli/args';

function refusal(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('finding 7: CLI numbers', () => {
  it('hex, exponent overflow, Infinity, empty and non-numbers are usage errors naming the flag and its range', () => {
    for (const bad of ['0x10', '1e308', 'Infinity', '-Infinity', '', ' ', '0b1', '16abc', '1,5']) {
      expect(refusal(() => parseFloatArg('cfg', bad)), JSON.stringify(bad)).toMatch(/^--cfg must be a number in 0\.\.50, got /);
    }
    expect(refusal(() => parseFloatArg('top-p', '7'))).toMatch(/--top-p must be a number in 0\.\.1/);
    expect(parseFloatArg('cfg', '2.5')).toBe(2.5);
    expect(parseFloatArg('cfg', '1e1')).toBe(10);
  });

  it('integer flags refuse fractions, hex and exponents', () => {
    for (const bad of ['1.5', '0x10', '1e3', '', 'Infinity']) {
      expect(refusal(() => parseIntArg('batch', bad, 1, 64)), JSON.stringify(bad)).toMatch(/^--batch must be a whole number in 1\.\.64, got /);
    }
    expect(parseIntArg('batch', '8', 1, 64)).toBe(8);
  });

  it('a region larger than an edit may use is refused before anything is allocated', () => {
    expect(refusal(() => parseRegion('0,0,16384'))).toMatch(/--region .*size in 1\.\.2048/);
    expect(parseRegion('-8,-8,64')).toEqual({ x: -8, y: -8, size: 64 });
  });
});
