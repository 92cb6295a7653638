// The open document with its undo history, and the counters the view follows: every change bumps `rev`
// (panels re-read the document), a change the view must redraw in full bumps `redraws`, and a change that
// should bring the whole document into view bumps `fits`. Each change is handed on (to the autosave).
import type { RgbImageMsg } from '../../../shared/contract';
import type { DocSource, EditStep, Region } from '../../../shared/edit';
import { CanvasDocument, newDocId, type Change } from './document';
import { EditHistory } from './history';
import { defaultRegion } from './geometry';

export class DocumentModel {
  /** The open document (mutated in place; `rev` changes whenever it does). */
  doc: CanvasDocument | null = null;
  rev = $state(0);
  /** Counts document changes the view redraws in full (open, undo/redo, accept, mask operations); strokes and region drags are drawn by the view as they happen. */
  redraws = $state(0);
  /** Counts requests to fit the document and its region box in the view (open, restore, extend). */
  fits = $state(0);
  readonly history = new EditHistory();
  /** True once the document has a change (paint, edit, undo) that no export holds yet. */
  unexported = $state(false);

  constructor(private readonly onChange: () => void) {}

  /** Records a change; `redraw: false` when the view already shows it, `fit` to bring it all into view. */
  changed(opts: { fit?: boolean; redraw?: boolean; edit?: boolean } = {}): void {
    this.rev += 1;
    if (opts.edit) this.unexported = true;
    if (opts.redraw !== false) this.redraws += 1;
    if (opts.fit) this.fits += 1;
    this.onChange();
  }

  /** A new document from an image (its undo history starts empty). */
  open(image: RgbImageMsg, name: string, source: DocSource, steps: EditStep[] = []): CanvasDocument {
    this.history.clear();
    this.doc = new CanvasDocument(newDocId(), name, source, { width: image.width, height: image.height, image: image.data.slice(), region: defaultRegion(image.width, image.height), steps });
    this.unexported = false;
    this.changed({ fit: true });
    return this.doc;
  }

  /** Shows a document read back from the autosave (it is saved already); `unexported` when the tab list knows it. */
  adopt(doc: CanvasDocument, unexported?: boolean): void {
    this.history.clear();
    this.doc = doc;
    // An autosave is not known to have been exported: its edits and its paint count as unexported.
    this.unexported = unexported ?? (doc.steps.length > 0 || doc.mask.some((v) => v > 0));
    this.rev += 1;
    this.redraws += 1;
    this.fits += 1;
  }

  /** The same pixels, mask and undo history under a new document id and name (a copy of this window's version). */
  fork(name: string): CanvasDocument | null {
    const d = this.doc;
    if (!d) return null;
    this.doc = new CanvasDocument(newDocId(), name, d.source, { width: d.width, height: d.height, image: d.image, mask: d.mask, region: d.region, steps: d.steps, imageRev: d.imageRev });
    this.unexported = true;
    this.changed({ redraw: false });
    return this.doc;
  }

  /** The document was exported as it is now. */
  exported(): void {
    this.unexported = false;
  }

  close(): void {
    this.doc = null;
    this.unexported = false;
    this.history.clear();
    this.rev += 1;
    this.redraws += 1;
  }

  /** The region box moved (the view already shows where). */
  setRegion(region: Region): void {
    if (!this.doc) return;
    this.doc.region = { ...region };
    this.rev += 1;
    this.onChange();
  }

  /** Applies a change to the document as one undo step. */
  apply(label: string, forward: Change): void {
    if (!this.doc) return;
    this.history.apply(this.doc, label, forward);
    this.changed({ edit: true });
  }

  /** Records a change already painted into the document and onto the view (a brush stroke). */
  record(label: string, forward: Change, inverse: Change): void {
    this.history.record(label, forward, inverse);
    this.changed({ redraw: false, edit: true });
  }

  /** Undoes the last step; returns its label, or null when there was none. */
  undo(): string | null {
    const label = this.doc ? this.history.undo(this.doc) : null;
    if (label) this.changed({ edit: true });
    return label;
  }

  redo(): string | null {
    const label = this.doc ? this.history.redo(this.doc) : null;
    if (label) this.changed({ edit: true });
    return label;
  }
}
