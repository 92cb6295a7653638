// The canvas document: the full-size RGB image, the mask (one byte per pixel, 255 = regenerate), the region
// box and the edit chain. Every undoable change is a Change (a resize plus rectangle patches plus the chain
// after it); applying one returns its exact inverse, so undo/redo store only the pixels that changed.
import type { DocSource, EditChain, EditStep, Region } from '../../../shared/edit';
import { cropBytes, intersect, maskBounds, pasteBytes, resizeBytes, union, type Rect } from './raster';
import { grownCanvas } from './geometry';

export interface Patch extends Rect {
  /** RGB bytes of the rectangle (3 per pixel), when the image changes. */
  image?: Uint8Array;
  /** Mask bytes of the rectangle, when the mask changes. */
  mask?: Uint8Array;
}

export interface Change {
  /** New document size; the old content moves by (shiftX, shiftY), negative = cropped away. */
  resize?: { width: number; height: number; shiftX: number; shiftY: number; newAreaMask: number };
  /** Rectangles in the coordinates after the resize. */
  patches: Patch[];
  /** The edit chain after the change (absent: unchanged). */
  steps?: EditStep[];
}

export function changeBytes(c: Change): number {
  let n = 64;
  for (const p of c.patches) n += (p.image?.length ?? 0) + (p.mask?.length ?? 0) + 32;
  return n + (c.steps ? c.steps.length * 400 : 0);
}

let docCounter = 0;
export function newDocId(): string {
  docCounter += 1;
  return `doc-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}-${docCounter}`;
}

export class CanvasDocument {
  width: number;
  height: number;
  image: Uint8Array;
  mask: Uint8Array;
  region: Region;
  steps: EditStep[];
  /** Bumped on every image change (autosave re-sends the image only then). */
  imageRev = 0;

  constructor(
    readonly docId: string,
    readonly name: string,
    readonly source: DocSource,
    init: { width: number; height: number; image: Uint8Array; mask?: Uint8Array; region: Region; steps?: EditStep[]; imageRev?: number },
  ) {
    if (init.image.length !== init.width * init.height * 3) throw new Error(`image of ${init.width}×${init.height} needs ${init.width * init.height * 3} bytes, got ${init.image.length}`);
    if (init.mask && init.mask.length !== init.width * init.height) throw new Error(`mask of ${init.width}×${init.height} needs ${init.width * init.height} bytes, got ${init.mask.length}`);
    this.width = init.width;
    this.height = init.height;
    this.image = init.image;
    this.mask = init.mask ?? new Uint8Array(init.width * init.height);
    this.region = { ...init.region };
    this.steps = init.steps ? [...init.steps] : [];
    this.imageRev = init.imageRev ?? 0;
  }

  chain(): EditChain {
    return { format: 'var-studio-edit-chain', version: 2, source: this.source, steps: [...this.steps] };
  }

  /** Applies a change and returns the change that undoes it. */
  apply(c: Change): Change {
    const inverse: Change = { patches: [] };
    const shiftX = c.resize?.shiftX ?? 0, shiftY = c.resize?.shiftY ?? 0;
    const oldBounds: Rect = { x: 0, y: 0, width: this.width, height: this.height };
    // The inverse patches restore old pixels the forward patches overwrite (old coordinates).
    for (const p of c.patches) {
      const old = intersect({ x: p.x - shiftX, y: p.y - shiftY, width: p.width, height: p.height }, oldBounds);
      if (!old) continue;
      inverse.patches.push({
        ...old,
        ...(p.image ? { image: cropBytes(this.image, this.width, 3, old) } : {}),
        ...(p.mask ? { mask: cropBytes(this.mask, this.width, 1, old) } : {}),
      });
    }
    if (c.steps) inverse.steps = [...this.steps];
    if (c.resize) {
      const r = c.resize;
      inverse.resize = { width: this.width, height: this.height, shiftX: -r.shiftX, shiftY: -r.shiftY, newAreaMask: 0 };
      this.image = resizeBytes(this.image, this.width, this.height, 3, r.width, r.height, r.shiftX, r.shiftY);
      this.mask = resizeBytes(this.mask, this.width, this.height, 1, r.width, r.height, r.shiftX, r.shiftY, r.newAreaMask);
      this.width = r.width;
      this.height = r.height;
      this.region = { ...this.region, x: this.region.x + r.shiftX, y: this.region.y + r.shiftY };
      this.imageRev += 1;
    }
    for (const p of c.patches) {
      if (p.image) pasteBytes(this.image, this.width, 3, p, p.image);
      if (p.mask) pasteBytes(this.mask, this.width, 1, p, p.mask);
      if (p.image) this.imageRev += 1;
    }
    if (c.steps) this.steps = [...c.steps];
    return inverse;
  }
}

/** A whole-mask change (invert, clear, fill). */
export function wholeMaskChange(doc: CanvasDocument, f: (v: number) => number): Change {
  const mask = new Uint8Array(doc.mask.length);
  for (let i = 0; i < mask.length; i++) mask[i] = f(doc.mask[i]);
  return { patches: [{ x: 0, y: 0, width: doc.width, height: doc.height, mask }] };
}

/**
 * Accepting a candidate: the document grows to hold the region (outpainting), the region square takes the
 * candidate's pixels (which the engine already feathered over the source: outside the feathered mask they
 * are the source bytes), pixels outside the region are untouched. The mask is used up: it is cleared, so
 * the result shows without the overlay and the next operation starts from nothing painted. New canvas area
 * outside both the old document and the region (only when the region passes two edges) is black and
 * masked, ready to fill.
 */
export function acceptChange(doc: CanvasDocument, region: Region, candidate: Uint8Array, step: EditStep): Change {
  if (candidate.length !== region.size * region.size * 3) throw new Error(`candidate of ${candidate.length} bytes for a ${region.size}-pixel region`);
  const g = grownCanvas(region, doc.width, doc.height);
  const grows = g.width !== doc.width || g.height !== doc.height;
  const rect: Rect = { x: region.x + g.shiftX, y: region.y + g.shiftY, width: region.size, height: region.size };
  const patches: Patch[] = [{ ...rect, image: candidate }];
  const painted = maskBounds(doc.mask, doc.width, doc.height);
  const oldArea: Rect = { x: g.shiftX, y: g.shiftY, width: doc.width, height: doc.height };
  const cleared = union(grows ? rect : null, painted ? { ...painted, x: painted.x + g.shiftX, y: painted.y + g.shiftY } : null);
  if (cleared) {
    const mask = new Uint8Array(cleared.width * cleared.height);
    for (let y = 0; y < cleared.height; y++) {
      for (let x = 0; x < cleared.width; x++) {
        const X = cleared.x + x, Y = cleared.y + y;
        const inside = (r: Rect) => X >= r.x && Y >= r.y && X < r.x + r.width && Y < r.y + r.height;
        if (!inside(oldArea) && !inside(rect)) mask[y * cleared.width + x] = 255;
      }
    }
    patches.push({ ...cleared, mask });
  }
  return {
    ...(grows ? { resize: { ...g, newAreaMask: 255 } } : {}),
    patches,
    steps: [...doc.steps, step],
  };
}

/** The mask as it is now, as a change that paints it back (merged with what is painted then) after `shift`. */
export function maskSnapshot(doc: CanvasDocument): { bounds: Rect; mask: Uint8Array } | null {
  const bounds = maskBounds(doc.mask, doc.width, doc.height);
  return bounds ? { bounds, mask: cropBytes(doc.mask, doc.width, 1, bounds) } : null;
}

/** Paints a saved mask back at its place moved by (shiftX, shiftY), keeping whatever is painted now. */
export function restoreMaskChange(doc: CanvasDocument, saved: { bounds: Rect; mask: Uint8Array }, shiftX: number, shiftY: number): Change | null {
  const at = intersect({ ...saved.bounds, x: saved.bounds.x + shiftX, y: saved.bounds.y + shiftY }, { x: 0, y: 0, width: doc.width, height: doc.height });
  if (!at) return null;
  const mask = cropBytes(doc.mask, doc.width, 1, at);
  for (let y = 0; y < at.height; y++) {
    for (let x = 0; x < at.width; x++) {
      const v = saved.mask[(at.y - shiftY - saved.bounds.y + y) * saved.bounds.width + (at.x - shiftX - saved.bounds.x + x)];
      const i = y * at.width + x;
      if (v > mask[i]) mask[i] = v;
    }
  }
  return { patches: [{ ...at, mask }] };
}
