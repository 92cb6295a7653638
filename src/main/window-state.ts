// The window's size, position and maximized state across restarts (<userData>/window-state.json, written by
// temp + rename). A saved position that no longer lies on any display (a monitor was unplugged) is dropped.
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileSafely } from '../host/safe-write';

export interface Rect { x: number; y: number; width: number; height: number }
export interface WindowState { bounds: Rect; maximized: boolean }

export const DEFAULT_SIZE = { width: 1440, height: 900 };
export const MIN_SIZE = { width: 1100, height: 640 };

function isRect(r: unknown): r is Rect {
  const o = r as Record<string, unknown> | null;
  return !!o && ['x', 'y', 'width', 'height'].every((k) => Number.isInteger(o[k]));
}

/** Enough of the window (100 × 50 px of its top edge) must be on some display to be reachable; else only the size is kept. */
export function placeOnDisplays(saved: WindowState | null, workAreas: Rect[]): { bounds: Partial<Rect> & { width: number; height: number }; maximized: boolean } {
  if (!saved) return { bounds: { ...DEFAULT_SIZE }, maximized: false };
  const largest = workAreas.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a), workAreas[0] ?? { x: 0, y: 0, ...DEFAULT_SIZE });
  const width = Math.max(MIN_SIZE.width, Math.min(saved.bounds.width, largest.width));
  const height = Math.max(MIN_SIZE.height, Math.min(saved.bounds.height, largest.height));
  const { x, y } = saved.bounds;
  const visible = workAreas.some((a) => Math.min(x + width, a.x + a.width) - Math.max(x, a.x) >= 100 && y >= a.y && y + 50 <= a.y + a.height);
  return { bounds: visible ? { x, y, width, height } : { width, height }, maximized: saved.maximized };
}

export function readWindowState(file: string): WindowState | null {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { bounds?: unknown; maximized?: unknown };
    if (!isRect(raw.bounds) || raw.bounds.width <= 0 || raw.bounds.height <= 0) return null;
    return { bounds: raw.bounds, maximized: raw.maximized === true };
  } catch {
    return null;
  }
}

export async function writeWindowState(file: string, state: WindowState): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileSafely(file, JSON.stringify(state) + '\n');
}
