// Undo (Ctrl+Z) and redo (Ctrl+Shift+Z / Ctrl+Y) over settings changes and gallery deletions. Each
// entry knows how to put things back and how to do them again.
export interface UndoEntry { label: string; undo(): void; redo?(): void }

const LIMIT = 200;

export class UndoStack {
  entries = $state<UndoEntry[]>([]);
  /** Undone entries that can be redone (emptied by any new change). */
  undone = $state<UndoEntry[]>([]);

  push(entry: UndoEntry): void {
    this.entries = [...this.entries.slice(-(LIMIT - 1)), entry];
    this.undone = [];
  }

  undo(): string | null {
    const entry = this.entries.at(-1);
    if (!entry) return null;
    this.entries = this.entries.slice(0, -1);
    entry.undo();
    if (entry.redo) this.undone = [...this.undone, entry];
    return entry.label;
  }

  redo(): string | null {
    const entry = this.undone.at(-1);
    if (!entry?.redo) return null;
    this.undone = this.undone.slice(0, -1);
    entry.redo();
    this.entries = [...this.entries, entry];
    return entry.label;
  }

  clear(): void {
    this.entries = [];
    this.undone = [];
  }
}
