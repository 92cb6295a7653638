// A brush/eraser stroke painted live into the document's mask. Before a 64×64 tile is first touched its
// old bytes are kept, so the finished stroke becomes an undo entry holding only its bounding rectangle
// (before and after) without copying the whole mask at every pointer-down.
import type { CanvasDocument, Change } from './document';
import { cropBytes, strokeSegment, union, type BrushMode, type Rect } from './raster';

const TILE = 64;

export interface BrushSettings { size: number; hardness: number; mode: BrushMode }

export class Stroke {
  private readonly before = new Map<number, Uint8Array>();
  private readonly tilesX: number;
  private last: { x: number; y: number } | null = null;
  dirty: Rect | null = null;

  constructor(private readonly doc: CanvasDocument, readonly brush: BrushSettings) {
    this.tilesX = Math.ceil(doc.width / TILE);
  }

  private keepTiles(r: Rect): void {
    const { width: w, height: h } = this.doc;
    for (let ty = Math.floor(r.y / TILE); ty <= Math.floor((r.y + r.height - 1) / TILE); ty++) {
      for (let tx = Math.floor(r.x / TILE); tx <= Math.floor((r.x + r.width - 1) / TILE); tx++) {
        const key = ty * this.tilesX + tx;
        if (this.before.has(key)) continue;
        const tile = { x: tx * TILE, y: ty * TILE, width: Math.min(TILE, w - tx * TILE), height: Math.min(TILE, h - ty * TILE) };
        this.before.set(key, cropBytes(this.doc.mask, w, 1, tile));
      }
    }
  }

  /** Extends the stroke to document point (x, y); returns the mask rectangle that changed (for redraw). */
  to(x: number, y: number): Rect | null {
    const { width: w, height: h } = this.doc;
    const r = this.brush.size / 2;
    const from = this.last ?? { x, y };
    this.last = { x, y };
    // Keep the tiles the segment can touch before painting it.
    const bx0 = Math.max(0, Math.floor(Math.min(from.x, x) - r)), by0 = Math.max(0, Math.floor(Math.min(from.y, y) - r));
    const bx1 = Math.min(w, Math.ceil(Math.max(from.x, x) + r)), by1 = Math.min(h, Math.ceil(Math.max(from.y, y) + r));
    if (bx1 <= bx0 || by1 <= by0) return null;
    this.keepTiles({ x: bx0, y: by0, width: bx1 - bx0, height: by1 - by0 });
    const touched = strokeSegment(this.doc.mask, w, h, from.x, from.y, x, y, r, this.brush.hardness, this.brush.mode);
    if (touched) this.dirty = union(this.dirty, touched);
    return touched;
  }

  /** The finished stroke as (forward, inverse) changes of its bounding rectangle, or null if it changed nothing. */
  finish(): { forward: Change; inverse: Change } | null {
    const d = this.dirty;
    if (!d) return null;
    const { width: w } = this.doc;
    const after = cropBytes(this.doc.mask, w, 1, d);
    const before = after.slice();
    for (const [key, tile] of this.before) {
      const tx = (key % this.tilesX) * TILE, ty = Math.floor(key / this.tilesX) * TILE;
      const tw = Math.min(TILE, w - tx);
      const th = tile.length / tw;
      for (let y = Math.max(ty, d.y); y < Math.min(ty + th, d.y + d.height); y++) {
        for (let x = Math.max(tx, d.x); x < Math.min(tx + tw, d.x + d.width); x++) {
          before[(y - d.y) * d.width + (x - d.x)] = tile[(y - ty) * tw + (x - tx)];
        }
      }
    }
    let same = true;
    for (let i = 0; i < after.length && same; i++) if (after[i] !== before[i]) same = false;
    if (same) return null;
    return { forward: { patches: [{ ...d, mask: after }] }, inverse: { patches: [{ ...d, mask: before }] } };
  }
}
