// The gallery on the host: every finished or opened image with its settings, per-scale previews and
// tokens, one file per entry in <dataDir>/gallery, so the page can reload and the app restart without
// losing anything. File names sort by creation time (newest-first listing needs no file reads); the
// entry id is hex in the name, so any id is a safe file name.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GALLERY_LIMITS, galleryEntrySchema, type GalleryEntryMsg } from '../shared/contract';
import { decodeWire, encodeWire } from '../shared/wire';
import { writeFileSafely } from './safe-write';

const FILE = /^(\d{14})-([0-9a-f]+)\.json$/;

interface StoredName { file: string; id: string; createdMs: number }

function parseName(file: string): StoredName | null {
  const m = FILE.exec(file);
  return m ? { file, id: Buffer.from(m[2], 'hex').toString('utf8'), createdMs: Number(m[1]) } : null;
}

export class GalleryStore {
  readonly dir: string;
  /** Calls are serialised: an add, delete and list never see each other half done. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string, private readonly maxEntries: number = GALLERY_LIMITS.maxEntries) {
    this.dir = path.join(dataDir, 'gallery');
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stored entries, newest first. */
  private async names(): Promise<StoredName[]> {
    let files: string[];
    try {
      files = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    return files.map(parseName).filter((n): n is StoredName => n !== null).sort((a, b) => (a.file < b.file ? 1 : a.file > b.file ? -1 : 0));
  }

  add(entries: GalleryEntryMsg[]): Promise<{ stored: number }> {
    return this.serial(async () => {
      await fs.mkdir(this.dir, { recursive: true });
      const existing = await this.names();
      for (const entry of entries) {
        const parsed = Date.parse(entry.createdAt);
        const ms = Number.isFinite(parsed) ? Math.max(0, parsed) : Date.now();
        const file = `${String(ms).padStart(14, '0')}-${Buffer.from(entry.id, 'utf8').toString('hex')}.json`;
        await writeFileSafely(path.join(this.dir, file), encodeWire(entry));
        for (const old of existing) if (old.id === entry.id && old.file !== file) await fs.rm(path.join(this.dir, old.file), { force: true });
      }
      const all = await this.names();
      for (const old of all.slice(this.maxEntries)) await fs.rm(path.join(this.dir, old.file), { force: true });
      return { stored: entries.length };
    });
  }

  /** One page, newest first; a file that cannot be read is left out (and left on disk, untouched). */
  list(offset: number, limit: number): Promise<{ entries: GalleryEntryMsg[]; total: number }> {
    return this.serial(async () => {
      const names = await this.names();
      const entries: GalleryEntryMsg[] = [];
      for (const n of names.slice(offset, offset + limit)) {
        try {
          const entry = galleryEntrySchema.parse(decodeWire(await fs.readFile(path.join(this.dir, n.file), 'utf8')), n.file);
          entries.push(entry);
        } catch {
          // A damaged entry must not hide the others.
        }
      }
      return { entries, total: Math.min(names.length, GALLERY_LIMITS.maxEntries) };
    });
  }

  delete(ids: string[]): Promise<{ deleted: number }> {
    return this.serial(async () => {
      const wanted = new Set(ids);
      let deleted = 0;
      for (const n of await this.names()) {
        if (!wanted.has(n.id)) continue;
        await fs.rm(path.join(this.dir, n.file), { force: true });
        deleted += 1;
      }
      return { deleted };
    });
  }

  clear(): Promise<{ deleted: number }> {
    return this.serial(async () => {
      const names = await this.names();
      for (const n of names) await fs.rm(path.join(this.dir, n.file), { force: true });
      return { deleted: names.length };
    });
  }
}
