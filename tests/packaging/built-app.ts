// The electron-vite build both packaging-level tests run against: rebuilt when any source is newer than out/.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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

export function ensureBuilt(): void {
  const outputs = [BUILT_MAIN, path.join(ROOT, 'out', 'preload', 'index.cjs'), path.join(ROOT, 'out', 'renderer', 'index.html')];
  const stale = outputs.some((f) => !existsSync(f)) || statSync(BUILT_MAIN).mtimeMs < newestMtime(path.join(ROOT, 'src'));
  if (stale) execFileSync(path.join(ROOT, 'node_modules', '.bin', 'electron-vite'), ['build'], { cwd: ROOT, stdio: 'pipe' });
}
