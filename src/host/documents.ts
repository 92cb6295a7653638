// The canvas document on the host: autosave to the app's data folder and restore after a reload, crash
// or restart (opening files and export are image-io.ts'). Images travel gzip-packed (raw RGB / one byte
// per mask pixel): exact and small on the wire.
// Writes are crash-safe: data files get fresh names, every file is written by writeFileSafely, and
// document.json is replaced last. Each document has its own folder under canvas/; a save based on an older
// save of the same document is refused. Debris of a crash (temp files, data files no index names) is swept
// when the store is first used and after every save, so it cannot grow without bound.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  docIdSchema, documentMetaSchema, documentTabsSchema, upgradeDocumentMeta, type DocumentMeta, type DocumentRestoreResult, type DocumentSummary, type DocumentSaveParams,
  type DocumentTabs,
} from '../shared/edit';
import { StudioError } from '../shared/errors';
import { sweepTempFiles, tempOwner, writeFileSafely } from './safe-write';

/** Browser mode's data folder (Electron passes its userData folder). VAR_STUDIO_DATA_DIR overrides it (tests). */
export function defaultDataDir(): string {
  return process.env.VAR_STUDIO_DATA_DIR ? path.resolve(process.env.VAR_STUDIO_DATA_DIR) : path.join(os.homedir(), '.var-studio');
}

/** Inflates a packed buffer and checks it holds exactly `expected` bytes. */
export function unpack(packed: Uint8Array, expected: number, what: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = gunzipSync(packed, { maxOutputLength: expected + 1 });
  } catch (e) {
    throw new StudioError('bad-document', `The ${what} is not a valid gzip stream of ${expected} bytes (${(e as Error).message}).`, 'Reload the page; if it persists, open the image again.');
  }
  if (raw.length !== expected) throw new StudioError('bad-document', `The ${what} holds ${raw.length} bytes; ${expected} were expected.`, 'Reload the page; if it persists, open the image again.');
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

interface StoredDocument { meta: DocumentMeta; imageFile: string; maskFile: string }

const INDEX = 'document.json';
/** The canvas's open tabs (in canvas/ beside the document folders). */
const TABS = 'tabs.json';
/** Autosaves kept: the most recently saved documents; older ones are removed when a new one is saved. */
export const MAX_DOCUMENTS = 12;
const DATA_FILE = /^(image|mask)-[A-Za-z0-9_-]+\.gz$/;
/** Temp names of versions before writeFileSafely (no pid in them): always debris now. */
const LEGACY_TEMP = /^\.(document\.json|(image|mask)-[A-Za-z0-9_-]+\.gz)\.tmp$/;

export class DocumentStore {
  readonly dir: string;
  private saving: Promise<unknown> = Promise.resolve();
  private counter = 0;
  private swept = false;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'canvas');
  }

  /** Each document has its own folder, so two windows with different documents never overwrite each other. */
  docDir(docId: string): string {
    return path.join(this.dir, docIdSchema.parse(docId, 'docId'));
  }

  private async readIndex(dir: string): Promise<StoredDocument | null> {
    let text: string;
    try {
      text = await fs.readFile(path.join(dir, INDEX), 'utf8');
    } catch {
      return null;
    }
    const raw = JSON.parse(text) as { meta?: unknown; imageFile?: unknown; maskFile?: unknown };
    const meta = documentMetaSchema.parse(upgradeDocumentMeta(raw.meta), 'document.json meta');
    const fileName = /^[a-z]+-[A-Za-z0-9_-]+\.gz$/;
    if (typeof raw.imageFile !== 'string' || !fileName.test(raw.imageFile) || typeof raw.maskFile !== 'string' || !fileName.test(raw.maskFile))
      throw new Error('document.json names no valid data files');
    return { meta, imageFile: raw.imageFile, maskFile: raw.maskFile };
  }

  /** The saved documents' folders, newest save first (a folder whose index cannot be read sorts last). */
  private async savedDirs(): Promise<string[]> {
    let names: string[];
    try {
      names = (await fs.readdir(this.dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return [];
    }
    const dated = await Promise.all(names.map(async (n) => {
      const dir = path.join(this.dir, n);
      const stat = await fs.stat(path.join(dir, INDEX)).catch(() => null);
      return { dir, at: stat?.mtimeMs ?? -1 };
    }));
    return dated.filter((d) => d.at >= 0).sort((a, b) => b.at - a.at).map((d) => d.dir);
  }

  /** Saves one autosave; calls are serialised so an older save never lands after a newer one. */
  save(p: DocumentSaveParams): Promise<{ saved: boolean; imageRev: number; bytes: number; conflict?: { savedAt: string; name: string } }> {
    const run = this.saving.then(() => this.saveNow(p));
    this.saving = run.catch(() => undefined);
    return run;
  }

  /**
   * Removes crash debris in one document folder (or canvas/ itself): temp files of processes that are gone,
   * legacy temp names, and data files the folder's index does not name. Returns the names removed.
   */
  async sweep(dir: string = this.dir): Promise<string[]> {
    const removed = await sweepTempFiles(dir);
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return removed;
    }
    let index: StoredDocument | null;
    try {
      index = await this.readIndex(dir);
    } catch {
      return removed; // a damaged index: leave its files for restore to quarantine
    }
    const keep = new Set(index ? [index.imageFile, index.maskFile] : []);
    for (const name of names) {
      const legacyTemp = LEGACY_TEMP.test(name) && tempOwner(name) === null;
      if (legacyTemp || (DATA_FILE.test(name) && !keep.has(name))) {
        await fs.rm(path.join(dir, name), { force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  /** Sweeps canvas/ and every document folder once per store (saves are serialised, none in flight). */
  private async sweepOnce(): Promise<void> {
    if (this.swept) return;
    this.swept = true;
    let subdirs: string[] = [];
    try {
      subdirs = (await fs.readdir(this.dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => path.join(this.dir, e.name));
    } catch {
      return;
    }
    for (const dir of [this.dir, ...subdirs]) await this.sweep(dir).catch(() => undefined);
  }

  private async saveNow(p: DocumentSaveParams): Promise<{ saved: boolean; imageRev: number; bytes: number; conflict?: { savedAt: string; name: string } }> {
    await this.sweepOnce();
    const { meta } = p;
    const pixels = meta.width * meta.height;
    unpack(p.mask, pixels, 'autosaved mask');
    if (p.image) unpack(p.image, pixels * 3, 'autosaved image');
    const dir = this.docDir(meta.docId);
    await fs.mkdir(dir, { recursive: true });
    let old: StoredDocument | null = null;
    try {
      old = await this.readIndex(dir);
    } catch {
      old = null; // a damaged index is replaced by this save
    }
    // Another window saved this document since this client's last save: keep theirs, tell this one.
    if (old && p.baseSavedAt !== undefined && old.meta.savedAt !== p.baseSavedAt)
      return { saved: false, imageRev: old.meta.imageRev, bytes: 0, conflict: { savedAt: old.meta.savedAt, name: old.meta.name } };
    let imageFile: string;
    if (p.image) {
      imageFile = `image-${this.uniqueName()}.gz`;
      await this.writeFile(dir, imageFile, p.image);
    } else if (old && old.meta.imageRev === meta.imageRev && old.meta.width === meta.width && old.meta.height === meta.height) {
      imageFile = old.imageFile;
    } else {
      return { saved: false, imageRev: old ? old.meta.imageRev : 0, bytes: 0 };
    }
    const maskFile = `mask-${this.uniqueName()}.gz`;
    await this.writeFile(dir, maskFile, p.mask);
    const index: StoredDocument = { meta, imageFile, maskFile };
    await this.writeFile(dir, INDEX, Buffer.from(JSON.stringify(index)));
    // The index now names the new files; the old ones and any earlier debris can go (best effort).
    await this.sweep(dir).catch(() => undefined);
    if (!old) await this.prune();
    return { saved: true, imageRev: meta.imageRev, bytes: (p.image?.length ?? 0) + p.mask.length };
  }

  /** Removes the oldest autosaves past MAX_DOCUMENTS; a document open in a tab is never removed. */
  private async prune(): Promise<void> {
    const open = new Set((await this.tabs()).tabs.map((t) => t.docId));
    const closed = (await this.savedDirs()).filter((dir) => !open.has(path.basename(dir)));
    for (const dir of closed.slice(Math.max(0, MAX_DOCUMENTS - open.size))) await fs.rm(dir, { recursive: true, force: true });
  }

  /** The tab list as last written; an absent or unreadable one is an empty list (the documents themselves are untouched). */
  async tabs(): Promise<DocumentTabs> {
    try {
      return documentTabsSchema.parse(JSON.parse(await fs.readFile(path.join(this.dir, TABS), 'utf8')), 'tabs.json');
    } catch {
      return { tabs: [], activeDocId: null };
    }
  }

  /** Replaces the tab list (serialised with the saves, written by temp + rename). */
  setTabs(tabs: DocumentTabs): Promise<boolean> {
    const run = this.saving.then(async () => {
      await fs.mkdir(this.dir, { recursive: true });
      await writeFileSafely(path.join(this.dir, TABS), Buffer.from(JSON.stringify(tabs)));
      return true;
    });
    this.saving = run.catch(() => undefined);
    return run;
  }

  private uniqueName(): string {
    this.counter += 1;
    return `${Date.now().toString(36)}-${process.pid}-${this.counter}`;
  }

  private async writeFile(dir: string, name: string, data: Uint8Array): Promise<void> {
    await writeFileSafely(path.join(dir, name), data);
  }

  /** Restores `docId`'s autosave, or the most recently saved document. */
  async restore(docId?: string): Promise<DocumentRestoreResult> {
    await this.saving;
    await this.sweepOnce();
    // An autosave from before documents had folders lies in canvas/ itself.
    const dir = docId ? this.docDir(docId) : (await this.savedDirs())[0] ?? this.dir;
    if (!dir) return { document: null, problem: null };
    let stored: StoredDocument | null;
    try {
      stored = await this.readIndex(dir);
    } catch (e) {
      return { document: null, problem: await this.quarantine(dir, `The autosaved canvas could not be read (${(e as Error).message}).`) };
    }
    if (!stored) return { document: null, problem: null };
    try {
      const image = new Uint8Array(await fs.readFile(path.join(dir, stored.imageFile)));
      const mask = new Uint8Array(await fs.readFile(path.join(dir, stored.maskFile)));
      const pixels = stored.meta.width * stored.meta.height;
      unpack(image, pixels * 3, 'autosaved image');
      unpack(mask, pixels, 'autosaved mask');
      return { document: { meta: stored.meta, image, mask }, problem: null };
    } catch (e) {
      return { document: null, problem: await this.quarantine(dir, `The autosaved canvas is damaged (${(e as Error).message}).`) };
    }
  }

  /** Moves a damaged autosave aside (nothing is deleted) and says where it went. */
  private async quarantine(dir: string, message: string): Promise<string> {
    const broken = `${this.dir}.broken-${path.basename(dir)}-${Date.now().toString(36)}`;
    try {
      await fs.rename(dir, broken);
      return `${message} It was moved to ${broken}; the canvas starts empty.`;
    } catch {
      return message;
    }
  }

  /** The autosaved documents, newest save first (unreadable ones are left out; restore reports them). */
  async list(): Promise<DocumentSummary[]> {
    await this.saving;
    const out: DocumentSummary[] = [];
    for (const dir of await this.savedDirs()) {
      const stored = await this.readIndex(dir).catch(() => null);
      if (!stored) continue;
      const { docId, name, width, height, savedAt, chain } = stored.meta;
      out.push({ docId, name, width, height, savedAt, steps: chain.steps.length });
    }
    return out;
  }

  /** Deletes one document's autosave. */
  async discard(docId: string): Promise<boolean> {
    await this.saving;
    const dir = this.docDir(docId);
    let existed = true;
    try {
      await fs.access(path.join(dir, INDEX));
    } catch {
      existed = false;
    }
    await fs.rm(dir, { recursive: true, force: true });
    return existed;
  }
}
