// The region box and the canvas geometry of an edit: what part of the document is sent, how the document
// grows when the region reaches past its edge (outpainting), and "Extend canvas" placement.
import { EDIT_LIMITS, type Region } from '../../../shared/edit';
import { intersect, type Rect } from './raster';

export type Direction = 'left' | 'right' | 'up' | 'down';

export const MIN_REGION = 8;

/** The document pixels a region covers (null when it lies wholly outside). */
export function regionCrop(region: Region, width: number, height: number): Rect | null {
  return intersect({ x: region.x, y: region.y, width: region.size, height: region.size }, { x: 0, y: 0, width, height });
}

/** Size of the document after accepting an edit of `region`, and where the old origin moves (outpainting left/up). */
export function grownCanvas(region: Region, width: number, height: number): { width: number; height: number; shiftX: number; shiftY: number } {
  const shiftX = Math.max(0, -region.x), shiftY = Math.max(0, -region.y);
  return {
    width: Math.max(width, region.x + region.size) + shiftX,
    height: Math.max(height, region.y + region.size) + shiftY,
    shiftX, shiftY,
  };
}

export function reachesPastEdge(region: Region, width: number, height: number): boolean {
  return region.x < 0 || region.y < 0 || region.x + region.size > width || region.y + region.size > height;
}

/**
 * Why a region cannot be edited, or null: it must overlap the document, be at most maxRegion pixels, and the
 * grown document must stay within maxSide.
 */
export function regionProblem(region: Region, width: number, height: number): string | null {
  if (region.size < MIN_REGION) return `The region box must be at least ${MIN_REGION} pixels.`;
  if (region.size > EDIT_LIMITS.maxRegion) return `The region box is ${region.size} pixels; at most ${EDIT_LIMITS.maxRegion} can be sent to the model. Make it smaller.`;
  if (!regionCrop(region, width, height)) return 'The region box does not overlap the image. Drag it onto the image (it may reach past the edge).';
  const g = grownCanvas(region, width, height);
  if (g.width > EDIT_LIMITS.maxSide || g.height > EDIT_LIMITS.maxSide)
    return `Outpainting here would make the image ${g.width}×${g.height}; at most ${EDIT_LIMITS.maxSide}×${EDIT_LIMITS.maxSide} is possible.`;
  return null;
}

/** A first region for a document: the largest square that fits, at most maxRegion, centred. */
export function defaultRegion(width: number, height: number): Region {
  const size = Math.max(Math.min(width, height, EDIT_LIMITS.maxRegion), 1);
  return { x: Math.floor((width - size) / 2), y: Math.floor((height - size) / 2), size };
}

/**
 * "Extend canvas by n pixels towards dir": a square region whose outer side lies n pixels past that edge,
 * with as much of the image as context as it can hold (side ≤ the image's side across the direction, so
 * only the one edge grows; at least n + n/2 so there is context at all), centred across on the current box.
 */
export function extendRegion(width: number, height: number, current: Region, dir: Direction, n: number): Region {
  const along = dir === 'left' || dir === 'right' ? width : height;
  const across = dir === 'left' || dir === 'right' ? height : width;
  const want = Math.max(current.size, 2 * n);
  let size = Math.min(want, across, along + n, EDIT_LIMITS.maxRegion);
  if (size <= n) size = Math.min(n + Math.max(1, Math.ceil(n / 2)), EDIT_LIMITS.maxRegion);
  // Across the direction: keep the current box's centre, clamped inside the image when the box fits.
  const currentCentre = (dir === 'left' || dir === 'right' ? current.y : current.x) + current.size / 2;
  const acrossPos = size <= across ? Math.min(Math.max(Math.round(currentCentre - size / 2), 0), across - size) : Math.round((across - size) / 2);
  const alongPos = dir === 'left' || dir === 'up' ? -n : along + n - size;
  return dir === 'left' || dir === 'right' ? { x: alongPos, y: acrossPos, size } : { x: acrossPos, y: alongPos, size };
}

/** Past this many document pixels per model pixel, a region's result is visibly softer than its surroundings. */
export const MAX_REGION_SCALE = 4;

/** The brush a new document starts with: about a tenth of its shorter side (one dab never covers most of a small image). */
export function defaultBrushSize(width: number, height: number): number {
  return Math.min(Math.max(Math.round(Math.min(width, height) / 10), 1), 512);
}

/** How the region box maps onto the model's grid: the factor, and a suggested box when it is too coarse. */
export function regionScale(region: Region, modelResolution: number, width: number, height: number, painted: Rect | null): { factor: number; text: string; suggested: Region | null } {
  const factor = region.size / modelResolution;
  const text = factor > 1
    ? `${region.size} px → ${modelResolution} px model: ${+factor.toFixed(1)}× softer`
    : `${region.size} px → ${modelResolution} px model: ${factor < 1 ? `${+(1 / factor).toFixed(1)}× sharper than needed` : 'pixel for pixel'}`;
  if (factor <= MAX_REGION_SCALE) return { factor, text, suggested: null };
  const size = Math.max(MAX_REGION_SCALE * modelResolution, MIN_REGION);
  const focus = painted ?? { x: region.x, y: region.y, width: region.size, height: region.size };
  const centre = (pos: number, extent: number, side: number) => {
    const at = Math.round(pos + extent / 2 - size / 2);
    return size <= side ? Math.min(Math.max(at, 0), side - size) : at;
  };
  return { factor, text, suggested: { x: centre(focus.x, focus.width, width), y: centre(focus.y, focus.height, height), size } };
}
