// The electron-vite build both packaging-level tests run against: rebuilt when any source is newer than out/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BUILT_MAIN = path.join(ROOT, 'out', 'main', 'index.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function isStale(): boolean {
  const outputs = [BUILT_MAIN, path.join(ROOT, 'out', 'preload', 'index.cjs'), path.join(ROOT, 'out', 'renderer', 'index.html')];
  return outputs.some((f) => !existsSync(f)) || statSync(BUILT_MAIN).mtimeMs < newestMtime(path.join(ROOT, 'src'));
}

const LOCK = path.join(ROOT, 'node_modules', '.var-studio-build-lock');

/** Builds out/ when stale; test files in parallel workers take turns (mkdir is atomic), so no two builds overlap. */
export function ensureBuilt(): void {
  const giveUp = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (Date.now() > giveUp) throw new Error(`${LOCK} is held for 3 minutes; remove it if no build is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (isStale()) execFileSync(path.join(ROOT, 'node_modules', '.bin', 'electron-vite'), ['build'], { cwd: ROOT, stdio: 'pipe' });
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
