// Undo/redo over strokes, mask operations, accepted results and canvas extensions. Each entry holds the
// forward change and its inverse (only the changed rectangles), and the stack is bounded by both a count
// and a byte budget: the oldest entries are dropped first, the newest is always kept.
import { changeBytes, type CanvasDocument, type Change } from './document';

export interface HistoryEntry { label: string; forward: Change; inverse: Change; bytes: number }

export interface HistoryLimits { maxEntries: number; maxBytes: number }

export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { maxEntries: 200, maxBytes: 512 * 1024 * 1024 };

export class EditHistory {
  private undoStack: HistoryEntry[] = [];
  private redoStack: HistoryEntry[] = [];
  private bytes = 0;
  /** How many entries were dropped to stay within the limits (shown to the user). */
  dropped = 0;

  constructor(readonly limits: HistoryLimits = DEFAULT_HISTORY_LIMITS) {}

  /** Applies `forward` to the document and records it. */
  apply(doc: CanvasDocument, label: string, forward: Change): void {
    const inverse = doc.apply(forward);
    this.record(label, forward, inverse);
  }

  /** Records a change already applied (a brush stroke painted live), given its inverse. */
  record(label: string, forward: Change, inverse: Change): void {
    for (const e of this.redoStack) this.bytes -= e.bytes;
    this.redoStack = [];
    const entry: HistoryEntry = { label, forward, inverse, bytes: changeBytes(forward) + changeBytes(inverse) };
    this.undoStack.push(entry);
    this.bytes += entry.bytes;
    while (this.undoStack.length > 1 && (this.undoStack.length > this.limits.maxEntries || this.bytes > this.limits.maxBytes)) {
      const old = this.undoStack.shift()!;
      this.bytes -= old.bytes;
      this.dropped += 1;
    }
  }

  undo(doc: CanvasDocument): string | null {
    const e = this.undoStack.pop();
    if (!e) return null;
    doc.apply(e.inverse);
    this.redoStack.push(e);
    return e.label;
  }

  redo(doc: CanvasDocument): string | null {
    const e = this.redoStack.pop();
    if (!e) return null;
    doc.apply(e.forward);
    this.undoStack.push(e);
    return e.label;
  }

  clear(): void {
    this.undoStack = [];
    this.redoStack = [];
    this.bytes = 0;
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }
  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }
  get undoLabel(): string | null {
    return this.undoStack.at(-1)?.label ?? null;
  }
  get redoLabel(): string | null {
    return this.redoStack.at(-1)?.label ?? null;
  }
  get memoryBytes(): number {
    return this.bytes;
  }
  get size(): { undo: number; redo: number } {
    return { undo: this.undoStack.length, redo: this.redoStack.length };
  }
}
