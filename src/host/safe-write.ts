// Every file the app writes (CLI outputs, exports, the canvas autosave) goes through writeFileSafely:
// a temp file with a unique name (pid + random) in the target's folder, fsync, rename over the target,
// fsync the folder. A crash or a kill at any moment leaves either the old file or the new one, never a
// torn one; a failed write removes its temp file, so a full disk does not poison later saves.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { StudioError } from '../shared/errors';

const TEMP_NAME = /^\.(.+)\.(\d+)\.([0-9a-f]{12})\.tmp$/;
const inFlight = new Set<string>();

/** `.NAME.PID.RANDOM.tmp` next to the target: the same folder, so the rename cannot cross file systems. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The pid that made a temp file of ours, or null when the name is not one. */
export function tempOwner(name: string): number | null {
  const m = TEMP_NAME.exec(name);
  return m ? Number(m[2]) : null;
}

function diskFull(target: string): StudioError {
  return new StudioError('disk-full', `The disk holding ${path.dirname(target)} is full: ${path.basename(target)} was not written, and the previous version is kept.`,
    'Free some disk space, then save again.');
}

/** Flushes a folder's entry list, so a rename survives a power cut; not all systems can open a folder. */
async function syncFolder(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw e;
  } finally {
    await handle?.close();
  }
}

export interface FileToWrite { path: string; data: Uint8Array | string }

async function stage(file: FileToWrite, mode: number): Promise<string> {
  const temp = tempPathFor(file.path);
  inFlight.add(temp);
  try {
    const handle = await fs.open(temp, 'wx', mode);
    try {
      await handle.writeFile(file.data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return temp;
  } catch (e) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    inFlight.delete(temp);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw diskFull(file.path);
    throw e;
  }
}

/**
 * Writes several files as one batch: all are staged as synced temp files first, and only when every one
 * is complete are they renamed into place. A failure leaves every target as it was and no temp behind.
 */
export async function writeFilesSafely(files: readonly FileToWrite[], opts: { mode?: number } = {}): Promise<void> {
  const temps: string[] = [];
  // Hard links to the files being replaced, so a rename that fails half-way through can be undone.
  const backups: (string | null)[] = [];
  try {
    for (const f of files) temps.push(await stage(f, opts.mode ?? 0o644));
    for (const f of files) {
      const backup = tempPathFor(f.path);
      inFlight.add(backup);
      const linked = await fs.link(f.path, backup).then(() => true, () => false);
      if (!linked) inFlight.delete(backup);
      backups.push(linked ? backup : null);
    }
    const renamed: number[] = [];
    try {
      for (let i = 0; i < files.length; i++) {
        await fs.rename(temps[i], files[i].path);
        renamed.push(i);
      }
    } catch (e) {
      for (const i of renamed.reverse()) {
        const backup = backups[i];
        await (backup ? fs.rename(backup, files[i].path) : fs.rm(files[i].path, { force: true })).catch(() => undefined);
      }
      throw e;
    }
    for (const dir of new Set(files.map((f) => path.dirname(f.path)))) await syncFolder(dir);
  } finally {
    for (const t of [...temps, ...backups]) {
      if (!t) continue;
      await fs.rm(t, { force: true }).catch(() => undefined); // no-op once renamed
      inFlight.delete(t);
    }
  }
}

export async function writeFileSafely(target: string, data: Uint8Array | string, opts: { mode?: number } = {}): Promise<void> {
  await writeFilesSafely([{ path: target, data }], opts);
}

/** Whether a process of this machine still runs (EPERM: it does, as another user). */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files left in `dir` by a crash: those of processes that are gone, and this process's own
 * that no write is using. Returns the names removed.
 */
export async function sweepTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = tempOwner(name);
    const full = path.join(dir, name);
    if (owner === null || inFlight.has(full)) continue;
    if (owner !== process.pid && isProcessAlive(owner)) continue;
    await fs.rm(full, { force: true });
    removed.push(name);
  }
  return removed;
}
