// One open document of the canvas with everything that belongs to it: the document and its undo history,
// its edit job (the result lands here, whichever tab is shown when it ends), its autosave, the mask an
// Accept cleared, and the view's zoom/pan. An inactive tab may be unloaded to its autosave: then only
// what the tab strip shows stays in memory, and the document is read back when the tab is shown again.
import type { DocumentTab as DocumentTabInfo } from '../../../shared/edit';
import type { Studio } from '../studio/studio';
import type { JobRunner } from '../studio/jobs';
import type { Rect } from './raster';
import { DocumentModel } from './document-model.svelte';
import { EditJob } from './edit-job.svelte';
import { Autosave, type AutosaveConflict } from './autosave.svelte';

/** Zoom and pan of the view (stage scale and position), kept per tab. */
export interface ViewTransform { scale: number; x: number; y: number }

/** What a tab reports to the canvas session (which shows it, or toasts it when the tab is not shown). */
export interface TabEvents {
  problem(tab: DocumentTab, message: string, hint: string): void;
  notice(tab: DocumentTab, text: string): void;
  /** The document changed (paint, edit, undo, export). */
  changed(tab: DocumentTab): void;
  conflict(tab: DocumentTab, c: AutosaveConflict): void;
}

let tabCounter = 0;

export class DocumentTab {
  /** Stable for the tab's life (the document id changes when a conflicting save forks it). */
  readonly key = ++tabCounter;
  readonly document: DocumentModel;
  readonly job: EditJob;
  readonly autosave: Autosave;
  /** The mask an Accept cleared, and how far the document moved since (for "Restore mask"). */
  restorableMask = $state.raw<{ saved: { bounds: Rect; mask: Uint8Array }; shiftX: number; shiftY: number } | null>(null);
  /** Set while the document is not in memory (restored tab list, or unloaded): what the strip shows. */
  stored = $state.raw<DocumentTabInfo | null>(null);
  /** The view's zoom/pan when this tab was last shown (null: fit the document). */
  view: ViewTransform | null = null;
  /** When the tab was last shown (larger is later). */
  lastShown = 0;

  constructor(studio: Studio, jobs: JobRunner, private readonly events: TabEvents, stored: DocumentTabInfo | null = null) {
    this.stored = stored;
    this.document = new DocumentModel(() => {
      this.autosave.schedule();
      events.changed(this);
    });
    this.job = new EditJob(jobs, { problem: (m, h) => events.problem(this, m, h), notice: (t) => events.notice(this, t) });
    this.autosave = new Autosave(studio, () => this.document.doc, (c) => events.conflict(this, c));
  }

  get loaded(): boolean {
    void this.document.rev;
    return this.document.doc !== null;
  }

  get docId(): string {
    void this.document.rev;
    return this.document.doc?.docId ?? this.stored?.docId ?? '';
  }

  get name(): string {
    void this.document.rev;
    return this.document.doc?.name ?? this.stored?.name ?? '';
  }

  /** Edits or paint that no export holds. */
  get dirty(): boolean {
    void this.document.rev;
    return this.document.doc ? this.document.unexported : !!this.stored?.unexported;
  }

  /** Running an edit, or candidates waiting: state that exists only in memory. */
  get busy(): boolean {
    return this.job.running || this.job.staged !== null;
  }

  /** The entry of the persisted tab list. */
  get info(): DocumentTabInfo {
    const d = this.document.doc;
    return d ? { docId: d.docId, name: d.name, width: d.width, height: d.height, unexported: this.document.unexported } : this.stored!;
  }

  /** Bytes held in memory: image, mask and undo history (0 when unloaded). */
  get bytes(): number {
    const d = this.document.doc;
    return d ? d.image.length + d.mask.length + this.document.history.memoryBytes : 0;
  }

  /** Saves the document, then lets it go (the strip keeps its name and dirty dot). False when it is busy. */
  async unload(): Promise<boolean> {
    if (!this.document.doc || this.busy) return false;
    await this.autosave.flush();
    if (this.autosave.status.state !== 'saved' || this.busy) return false; // never drop what was not saved
    this.stored = this.info;
    this.restorableMask = null;
    this.document.close();
    return true;
  }

  /** Reads the document back from its autosave. Returns a problem to show, or null when it is loaded. */
  async load(): Promise<string | null> {
    if (this.document.doc) return null;
    const stored = this.stored;
    try {
      const r = await this.autosave.restore(stored?.docId);
      if (!r.document) return r.problem ?? `The autosave of "${stored?.name ?? 'the document'}" is gone (deleted in another window?).`;
      if (this.document.doc) return null; // loaded meanwhile
      this.document.adopt(r.document.doc, stored?.unexported);
      this.autosave.adopt(r.document.doc, r.document.savedAt);
      this.stored = null;
      return r.problem;
    } catch (e) {
      return `The autosave of "${stored?.name ?? 'the document'}" could not be read (${e instanceof Error ? e.message : String(e)}).`;
    }
  }

  dispose(): void {
    this.autosave.dispose();
  }
}
