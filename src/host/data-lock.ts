// One process per data folder: two servers (or a server and the desktop app) autosaving into the same
// folder would overwrite each other's documents. The lock is a file created exclusively, holding the
// owner's pid; a lock whose process is gone is taken over.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StudioError } from '../shared/errors';
import { isProcessAlive } from './safe-write';

export const LOCK_FILE = '.var-studio.lock';

interface LockRecord { pid: number; host: string; since: string }

const held = new Set<string>();

export interface DataLock {
  readonly file: string;
  release(): Promise<void>;
}

async function readRecord(file: string): Promise<LockRecord | null> {
  try {
    const rec = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<LockRecord>;
    return typeof rec.pid === 'number' && typeof rec.host === 'string' ? (rec as LockRecord) : null;
  } catch {
    return null;
  }
}

export async function lockDataFolder(dir: string): Promise<DataLock> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const record: LockRecord = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, JSON.stringify(record), { flag: 'wx', mode: 0o600 });
      held.add(file);
      return {
        file,
        release: async () => {
          held.delete(file);
          const now = await readRecord(file);
          if (now?.pid === process.pid && now.host === record.host) await fs.rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readRecord(file);
    // A lock from another machine (a shared home folder) cannot be checked: it is respected.
    const ours = holder?.pid === process.pid && held.has(file);
    if (holder && (holder.host !== record.host || ours || (holder.pid !== process.pid && isProcessAlive(holder.pid)))) {
      throw new StudioError('data-folder-in-use', `Another VAR Studio (pid ${holder.pid} on ${holder.host}, since ${holder.since}) is using the data folder ${dir}.`,
        `Close the other one first, or give this one its own folder (VAR_STUDIO_DATA_DIR). If no other copy runs, delete ${file}.`);
    }
    await fs.rm(file, { force: true }); // stale: its process is gone
  }
  throw new StudioError('data-folder-in-use', `Could not lock the data folder ${dir}.`, `Delete ${file} if no other VAR Studio is running.`);
}
