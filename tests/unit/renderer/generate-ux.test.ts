// Small pure parts of the Generate workspace: field clamping, the class filter, the ETA, reconnect backoff.
import { describe, expect, it } from 'vitest';
import { clampNote, fieldValue } from '../../../src/renderer/lib/state/fields';
import { filterClasses } from '../../../src/renderer/lib/state/class-filter';
import { blendTimings, remainingMs } from '../../../src/renderer/lib/generate-state/timings';
import { reconnectDelayMs } from '../../../src/renderer/lib/studio/ws-adapter';
import { LIMITS } from '../../../src/shared/contract';

describe('number fields', () => {
  const cfg = { min: 0, max: LIMITS.maxCfg, integer: false };
  const batch = { min: 1, max: LIMITS.maxBatch, integer: true };
  it('clamps out-of-range values to the contract limits and says so', () => {
    expect(fieldValue('99', cfg)).toBe(LIMITS.maxCfg);
    expect(clampNote('99', LIMITS.maxCfg, cfg)).toBe(`At most ${LIMITS.maxCfg}; set to ${LIMITS.maxCfg}.`);
    expect(fieldValue('64', batch)).toBe(LIMITS.maxBatch);
    expect(fieldValue('-5', { min: 0, max: 4096, integer: true })).toBe(0);
    expect(fieldValue('1.7', { min: 0, max: 1, integer: false })).toBe(1);
    expect(fieldValue('2.6', batch)).toBe(3);
  });
  it('keeps the old value for text that is no number, and passes valid values unchanged', () => {
    expect(fieldValue('', cfg)).toBeNull();
    expect(fieldValue('abc', cfg)).toBeNull();
    expect(clampNote('abc', 4, cfg)).toBe('Not a number; kept 4.');
    expect(fieldValue('3.5', cfg)).toBe(3.5);
    expect(clampNote('3.5', 3.5, cfg)).toBeNull();
  });
});

describe('class filter', () => {
  const names = Array.from({ length: 1000 }, (_, i) => (i === 770 ? 'running shoe' : i === 514 ? 'cowboy boot' : `class name ${i}`));
  it('finds by name (prefix matches first) and by number, and caps what is rendered', () => {
    expect(filterClasses(names, 'shoe', 100).shown.map((c) => c.index)).toEqual([770]);
    expect(filterClasses(names, 'boot', 100).shown[0]).toEqual({ name: 'cowboy boot', index: 514 });
    expect(filterClasses(names, '42', 100).shown[0].index).toBe(42);
    const all = filterClasses(names, '', 100);
    expect(all.shown).toHaveLength(100);
    expect(all.total).toBe(1000);
    expect(filterClasses(names, 'class', 100)).toMatchObject({ total: 998 });
  });
});

describe('ETA from measured times', () => {
  const t = { totalMs: 700, perScaleMs: [100, 200, 300], previewMs: 0, decodeMs: 100 };
  it('scales per image, counts the scales left and the decode', () => {
    const m = blendTimings(undefined, 2, t);
    expect(m.perScaleMsPerImage).toEqual([50, 100, 150]);
    expect(remainingMs(m, 3, 1, 2, 0)).toBe(200 + 300 + 100);
    expect(remainingMs(m, 3, 1, 2, 50)).toBe(550);
    expect(remainingMs(m, 4, 1, 2, 0)).toBeNull(); // another scale count: no estimate
    expect(remainingMs(undefined, 3, 0, 1, 0)).toBeNull();
    expect(blendTimings(m, 2, { ...t, perScaleMs: [300, 200, 100] }).perScaleMsPerImage).toEqual([100, 100, 100]);
  });
});

describe('reconnect backoff', () => {
  it('starts fast and grows to at most 4 s', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map(reconnectDelayMs)).toEqual([250, 500, 1000, 2000, 4000, 4000, 4000]);
  });
});
