// Pure rules of the canvas's document tabs: which tab follows a closed one, cycling, and which inactive
// tabs give their memory back (read again from their autosave when shown) so many open documents stay bounded.

/** Bytes the canvas keeps in memory for all open documents together (images, masks, undo histories). */
export const TAB_MEMORY_BUDGET = 768 * 1024 * 1024;

/** What the memory rule needs to know of one tab. */
export interface TabUse {
  key: number;
  /** Bytes held in memory now (0 when unloaded). */
  bytes: number;
  active: boolean;
  /** Running an edit or holding candidates: its state exists only in memory, so it is never unloaded. */
  busy: boolean;
  /** Larger: shown more recently. */
  lastShown: number;
}

/** The inactive, idle tabs to unload, least recently shown first, until the total fits the budget. */
export function tabsToUnload(tabs: TabUse[], budget = TAB_MEMORY_BUDGET): number[] {
  let total = tabs.reduce((n, t) => n + t.bytes, 0);
  const out: number[] = [];
  const candidates = tabs.filter((t) => !t.active && !t.busy && t.bytes > 0).sort((a, b) => a.lastShown - b.lastShown);
  for (const t of candidates) {
    if (total <= budget) break;
    out.push(t.key);
    total -= t.bytes;
  }
  return out;
}

/** The index shown after closing the tab at `closed` of `count` tabs: its right neighbour, else its left one; -1 when none is left. */
export function indexAfterClose(closed: number, count: number): number {
  if (count <= 1) return -1;
  return closed < count - 1 ? closed : closed - 1;
}

/** The index `delta` tabs away from `index`, wrapping around (Ctrl+Tab past the last tab shows the first). */
export function cycleIndex(index: number, delta: number, count: number): number {
  if (count === 0) return -1;
  return (((index + delta) % count) + count) % count;
}

/** The least recently shown tab that can close without losing anything (no unexported edits, idle, inactive), or null. */
export function closableTab<T extends TabUse & { dirty: boolean }>(tabs: T[]): T | null {
  return tabs.filter((t) => !t.active && !t.busy && !t.dirty).sort((a, b) => a.lastShown - b.lastShown)[0] ?? null;
}
