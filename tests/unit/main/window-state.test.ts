import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIZE, MIN_SIZE, placeOnDisplays, readWindowState, writeWindowState } from '../../../src/main/window-state';

const screenA = { x: 0, y: 0, width: 1920, height: 1080 };
const screenB = { x: 1920, y: 0, width: 2560, height: 1440 };

describe('window state', () => {
  it('opens at the default size the first time', () => {
    expect(placeOnDisplays(null, [screenA])).toEqual({ bounds: DEFAULT_SIZE, maximized: false });
  });

  it('restores position, size and maximized state on a display that is still there', () => {
    const saved = { bounds: { x: 2000, y: 100, width: 1500, height: 1000 }, maximized: true };
    expect(placeOnDisplays(saved, [screenA, screenB])).toEqual(saved);
  });

  it('drops a position on a display that was unplugged but keeps the size that fits', () => {
    const saved = { bounds: { x: 2000, y: 100, width: 2400, height: 1300 }, maximized: false };
    expect(placeOnDisplays(saved, [screenA])).toEqual({ bounds: { width: 1920, height: 1080 }, maximized: false });
  });

  it('never restores below the minimum size', () => {
    const saved = { bounds: { x: 10, y: 10, width: 300, height: 200 }, maximized: false };
    expect(placeOnDisplays(saved, [screenA]).bounds).toMatchObject({ width: MIN_SIZE.width, height: MIN_SIZE.height });
  });

  it('round-trips through its file and ignores a corrupt one', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'var-win-'));
    const file = path.join(dir, 'window-state.json');
    expect(readWindowState(file)).toBeNull();
    await writeWindowState(file, { bounds: { x: 5, y: 6, width: 1200, height: 800 }, maximized: false });
    expect(readWindowState(file)).toEqual({ bounds: { x: 5, y: 6, width: 1200, height: 800 }, maximized: false });
    expect(readdirSync(dir)).toEqual(['window-state.json']);
    await writeWindowState(file, { bounds: { x: 0, y: 0, width: -1, height: 5 }, maximized: false });
    expect(readWindowState(file)).toBeNull();
  });
});
