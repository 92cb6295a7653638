// What the Models page says about sizes, rates, time left and each status.
import { describe, expect, it } from 'vitest';
import { failureHint, formatBytes, formatEta, isActive, statusFraction, statusText } from '../../../src/renderer/workspaces/models/format';

describe('Models page wording', () => {
  it('sizes in decimal units with three significant digits', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(436_000_000)).toBe('436 MB');
    expect(formatBytes(1_243_116_346)).toBe('1.24 GB');
    expect(formatBytes(9_436_153_085)).toBe('9.44 GB');
    expect(formatBytes(12_345)).toBe('12.3 KB');
    expect(formatBytes(-1)).toBe('–');
  });

  it('time left in seconds, minutes or hours; unknown while the rate is not measured', () => {
    expect(formatEta(null)).toBe('estimating…');
    expect(formatEta(44.6)).toBe('45 s');
    expect(formatEta(185)).toBe('3 min 05 s');
    expect(formatEta(4320)).toBe('1 h 12 min');
  });

  it('a download says percent, bytes, rate and time left; before the first rate it says connecting', () => {
    const s = { state: 'downloading', file: 'var_d16.pth', received: 420_000_000, total: 1_679_000_000, percent: 25.01, rate: 12_500_000, eta: 100.7 } as const;
    expect(statusText(s)).toBe('Downloading 25 % · 420 MB of 1.68 GB · 12.5 MB/s · 1 min 41 s left');
    expect(statusText({ ...s, rate: 0, eta: null })).toBe('Downloading 25 % · 420 MB of 1.68 GB · connecting…');
    expect(statusText({ ...s, percent: 0.42 })).toContain('Downloading 0.4 %');
    expect(statusFraction(s)).toBeCloseTo(0.2501);
    expect(isActive(s)).toBe(true);
  });

  it('paused, verifying, importing, ready and failed in words, with a progress fraction where one exists', () => {
    expect(statusText({ state: 'paused', received: 1_000_000, total: 4_000_000, percent: 25 })).toBe('Paused at 25 % (1.00 MB of 4.00 MB on disk)');
    expect(statusText({ state: 'verifying', file: 'vae.pth', checked: 50, total: 200 })).toBe('Verifying vae.pth (sha256) 25 %');
    expect(statusText({ state: 'importing', phase: 'weights', fraction: 0.5 })).toBe('Importing: writing the weights 50 %');
    expect(statusFraction({ state: 'importing', phase: null, fraction: null })).toBeNull();
    expect(statusText({ state: 'ready', dir: '/m/var-d16' })).toBe('Ready');
    expect(isActive({ state: 'ready', dir: '/m/var-d16' })).toBe(false);
    expect(statusText({ state: 'failed', code: 'offline', message: 'Cannot reach huggingface.co (ENOTFOUND).' })).toBe('Failed: Cannot reach huggingface.co (ENOTFOUND).');
  });

  it('a failure says what to do, by its code', () => {
    expect(failureHint('offline')).toMatch(/internet connection.*Retry/);
    expect(failureHint('disk-full')).toMatch(/Free some disk space/);
    expect(failureHint('hash-mismatch')).toMatch(/deleted.*Retry/);
    expect(failureHint('something-new')).toMatch(/Retry/);
  });
});
