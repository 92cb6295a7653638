// The gallery: every finished image (and every opened file) with its settings, per-scale previews and
// tokens, as the host keeps it (gallery.* requests); this holds the newest of them for the page.
import type { GalleryEntryMsg } from '../../../shared/contract';

export interface GalleryEntry extends GalleryEntryMsg {
  /** Set when this image was re-generated from an opened file's settings: did it come out identical? */
  matchesOpened?: boolean;
}

/** Entries the page holds (the host keeps more; pruning and search work on these). */
export const PAGE_LIMIT = 300;

/** Newest run first; images of one run in batch order. */
export function galleryOrder(a: GalleryEntryMsg, b: GalleryEntryMsg): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  if (a.jobId !== b.jobId) return a.jobId < b.jobId ? 1 : -1;
  return a.indexInBatch - b.indexInBatch;
}

/** Day label for browsing by date ("2026-12-01"), in the user's time zone. */
export function dayOf(createdAt: string): string {
  const d = new Date(createdAt);
  if (Number.isNaN(d.getTime())) return 'unknown date';
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The name an entry is listed and searched under. */
export function entryName(e: GalleryEntryMsg): string {
  return e.settings?.className ?? e.fileName ?? 'opened image';
}

/** Entries whose class, file name or seed contain the query (case-insensitive), optionally of one class name. */
export function filterEntries<T extends GalleryEntryMsg>(entries: T[], query: string, className: string | null): T[] {
  const q = query.trim().toLowerCase();
  return entries.filter((e) => {
    if (className !== null && entryName(e) !== className) return false;
    if (!q) return true;
    return [entryName(e), e.fileName ?? '', e.settings ? String(e.settings.seed) : ''].some((s) => s.toLowerCase().includes(q));
  });
}

export class Gallery {
  entries = $state.raw<GalleryEntry[]>([]);
  /** Ids ticked for side-by-side comparison (at most two). */
  compare = $state.raw<string[]>([]);

  add(items: GalleryEntry[]): void {
    this.entries = [...items, ...this.entries.filter((e) => !items.some((i) => i.id === e.id))].sort(galleryOrder).slice(0, PAGE_LIMIT);
  }

  /** Replaces everything (loaded from the host). */
  setAll(items: GalleryEntry[]): void {
    this.entries = [...items].sort(galleryOrder).slice(0, PAGE_LIMIT);
    this.compare = this.compare.filter((id) => this.entries.some((e) => e.id === id));
  }

  get(id: string | null): GalleryEntry | undefined {
    return id ? this.entries.find((e) => e.id === id) : undefined;
  }

  batchOf(jobId: string): GalleryEntry[] {
    return this.entries.filter((e) => e.jobId === jobId).sort((a, b) => a.indexInBatch - b.indexInBatch);
  }

  /** Removes entries; returns them (for undo). */
  removeMany(ids: string[]): GalleryEntry[] {
    const gone = this.entries.filter((e) => ids.includes(e.id));
    this.entries = this.entries.filter((e) => !ids.includes(e.id));
    this.compare = this.compare.filter((c) => !ids.includes(c));
    return gone;
  }

  /** Ticks or unticks an entry for comparison; false when two are ticked already (untick one first). */
  toggleCompare(id: string): boolean {
    if (this.compare.includes(id)) this.compare = this.compare.filter((c) => c !== id);
    else if (this.compare.length >= 2) return false;
    else this.compare = [...this.compare, id];
    return true;
  }
}
