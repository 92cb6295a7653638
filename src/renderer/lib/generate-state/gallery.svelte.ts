// The gallery: every finished image (and every opened file) with its settings, per-scale previews and tokens.
import type { ImageSettings, RgbImageMsg } from '../../../shared/contract';

export interface GalleryEntry {
  id: string;
  /** Images of one run share a jobId (shown together as a batch). */
  jobId: string;
  indexInBatch: number;
  origin: 'generated' | 'opened';
  image: RgbImageMsg;
  /** Preview after each scale (generated entries); empty for opened files. */
  scalePreviews: RgbImageMsg[];
  /** Token map per scale (generated entries): what "vary from a scale" keeps. */
  tokens: Int32Array[];
  patchNums: number[];
  settings: ImageSettings | null;
  fileName?: string;
  totalMs?: number;
  /** Set when this image was re-generated from an opened file's settings: did it come out identical? */
  matchesOpened?: boolean;
}

const LIMIT = 300;

export class Gallery {
  entries = $state.raw<GalleryEntry[]>([]);
  /** Ids ticked for side-by-side comparison (at most two). */
  compare = $state.raw<string[]>([]);

  add(items: GalleryEntry[]): void {
    this.entries = [...items, ...this.entries].slice(0, LIMIT);
  }

  get(id: string | null): GalleryEntry | undefined {
    return id ? this.entries.find((e) => e.id === id) : undefined;
  }

  batchOf(jobId: string): GalleryEntry[] {
    return this.entries.filter((e) => e.jobId === jobId).sort((a, b) => a.indexInBatch - b.indexInBatch);
  }

  /** Removes an entry; returns a function that puts it back where it was (for undo). */
  remove(id: string): (() => void) | null {
    const index = this.entries.findIndex((e) => e.id === id);
    if (index < 0) return null;
    const entry = this.entries[index];
    const wasCompared = this.compare.includes(id);
    this.entries = this.entries.filter((e) => e.id !== id);
    this.compare = this.compare.filter((c) => c !== id);
    return () => {
      const next = [...this.entries];
      next.splice(Math.min(index, next.length), 0, entry);
      this.entries = next;
      if (wasCompared && this.compare.length < 2) this.compare = [...this.compare, id];
    };
  }

  toggleCompare(id: string): void {
    if (this.compare.includes(id)) this.compare = this.compare.filter((c) => c !== id);
    else this.compare = [...this.compare.slice(-1), id];
  }
}
