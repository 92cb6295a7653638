// The canvas autosave: the open document is saved to the host a moment after each change (the image
// only when it changed since the last save) and restored after a reload, crash or restart. It needs only
// the document and the studio.
import type { Studio } from '../studio/studio';
import { asCallError } from '../studio/jobs';
import { CanvasDocument } from './document';
import { checkPacked, pack, unpack } from './packing';

const AUTOSAVE_DELAY_MS = 800;

export interface AutosaveStatus { state: 'idle' | 'pending' | 'saving' | 'saved' | 'error' | 'conflict'; at: string | null; message: string }

/** Another window saved the same document after this one last did; nothing of this window's was written. */
export interface AutosaveConflict { docId: string; savedAt: string; name: string }

export class Autosave {
  status = $state<AutosaveStatus>({ state: 'idle', at: null, message: '' });
  private timer: ReturnType<typeof setTimeout> | null = null;
  private savedImage: { docId: string; rev: number } | null = null;
  private saving: Promise<void> | null = null;
  /** The savedAt of the save this window last made or restored, per document (the host refuses a save based on an older one). */
  private base: { docId: string; savedAt: string | null } | null = null;

  constructor(
    private readonly studio: Studio,
    private readonly getDoc: () => CanvasDocument | null,
    private readonly onConflict: (c: AutosaveConflict) => void = () => undefined,
    private readonly delayMs = AUTOSAVE_DELAY_MS,
  ) {}

  /** Saves a moment from now (changes in quick succession make one save). */
  schedule(): void {
    if (!this.getDoc()) return;
    this.status = { ...this.status, state: 'pending' };
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.saveNow();
    }, this.delayMs);
  }

  /** A new document: its image has never been saved. */
  forgetSavedImage(): void {
    this.savedImage = null;
    this.base = null;
  }

  /** Saves now, in place of a save scheduled for a moment later. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return this.saveNow();
  }

  /** Saves the document now (sends the image only when it changed since the last save). */
  async saveNow(): Promise<void> {
    if (this.saving) await this.saving;
    const doc = this.getDoc();
    if (!doc) return;
    const task = (async () => {
      this.status = { ...this.status, state: 'saving' };
      try {
        const savedAt = new Date().toISOString();
        const meta = { format: 'var-studio-canvas' as const, version: 1 as const, docId: doc.docId, name: doc.name, width: doc.width, height: doc.height, imageRev: doc.imageRev, region: { ...doc.region }, chain: doc.chain(), savedAt };
        const sendImage = !(this.savedImage && this.savedImage.docId === doc.docId && this.savedImage.rev === doc.imageRev);
        const mask = checkPacked(await pack(doc.mask), 'mask', 'autosave');
        const baseSavedAt = this.base?.docId === doc.docId ? this.base.savedAt : null;
        let r = await this.studio.call('document.save', { meta, mask, baseSavedAt, ...(sendImage ? { image: checkPacked(await pack(doc.image), 'image', 'autosave') } : {}) });
        if (!r.saved && !r.conflict) r = await this.studio.call('document.save', { meta, mask, baseSavedAt, image: checkPacked(await pack(doc.image), 'image', 'autosave') });
        if (r.conflict) {
          this.status = { state: 'conflict', at: this.status.at, message: `"${r.conflict.name}" was changed in another window` };
          this.onConflict({ docId: doc.docId, ...r.conflict });
          return;
        }
        this.savedImage = { docId: doc.docId, rev: meta.imageRev };
        this.base = { docId: doc.docId, savedAt };
        this.status = { state: this.timer ? 'pending' : 'saved', at: savedAt, message: '' };
      } catch (e) {
        this.status = { state: 'error', at: this.status.at, message: asCallError(e).message };
      }
    })();
    this.saving = task;
    await task;
    if (this.saving === task) this.saving = null;
  }

  /**
   * Reads the autosaved document back. `problem`: the host found a damaged autosave; `document`: null when
   * nothing was saved. Throws when the saved bytes do not unpack to the saved size.
   */
  async restore(docId?: string): Promise<{ problem: string | null; document: { doc: CanvasDocument; savedAt: string } | null }> {
    const r = await this.studio.call('document.restore', docId ? { docId } : {});
    if (!r.document) return { problem: r.problem ?? null, document: null };
    const { meta } = r.document;
    const image = await unpack(r.document.image, meta.width * meta.height * 3, 'autosaved image');
    const mask = await unpack(r.document.mask, meta.width * meta.height, 'autosaved mask');
    const doc = new CanvasDocument(meta.docId, meta.name, meta.chain.source, { width: meta.width, height: meta.height, image, mask, region: meta.region, steps: meta.chain.steps, imageRev: meta.imageRev });
    return { problem: r.problem ?? null, document: { doc, savedAt: meta.savedAt } };
  }

  /** The restored document is the one open now: its image is on the host already. */
  adopt(doc: CanvasDocument, savedAt: string): void {
    this.savedImage = { docId: doc.docId, rev: doc.imageRev };
    this.base = { docId: doc.docId, savedAt };
    this.status = { state: 'saved', at: savedAt, message: '' };
  }

  /** Stops any pending save and deletes this document's autosave. */
  async discard(docId: string): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.base = null;
    this.status = { state: 'idle', at: null, message: '' };
    await this.studio.call('document.discard', { docId });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
