// Undo (Ctrl+Z) over settings changes and gallery deletions. Each entry knows how to put things back.
export interface UndoEntry { label: string; undo(): void }

const LIMIT = 200;

export class UndoStack {
  entries = $state<UndoEntry[]>([]);

  push(entry: UndoEntry): void {
    this.entries = [...this.entries.slice(-(LIMIT - 1)), entry];
  }

  undo(): string | null {
    const entry = this.entries.at(-1);
    if (!entry) return null;
    this.entries = this.entries.slice(0, -1);
    entry.undo();
    return entry.label;
  }
}
