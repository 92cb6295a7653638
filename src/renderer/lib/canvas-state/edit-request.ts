// From the document to an edit.start request: only the pixels the region box covers are sent, with the
// region relative to that crop (x, y ≤ 0 where the box reaches past the image edge).
import type { RgbImageMsg } from '../../../shared/contract';
import type { MaskMsg, Region } from '../../../shared/edit';
import type { CanvasDocument } from './document';
import { regionCrop, regionProblem } from './geometry';
import { countAtLeast, cropBytes } from './raster';

export interface EditPayload {
  image: RgbImageMsg;
  mask: MaskMsg;
  /** Relative to `image`'s top-left corner. */
  region: Region;
  /** Where the crop sits in the document. */
  origin: { x: number; y: number };
  /** Masked (≥ 128) pixels inside the crop, and region pixels outside the image. */
  masked: number;
  outside: number;
}

export class EditInputError extends Error {
  constructor(readonly code: string, message: string, readonly hint: string) {
    super(message);
    this.name = 'EditInputError';
  }
}

/**
 * `stripOnly` (outpaint): only the region's pixels past the image edge are regenerated; what is painted
 * inside the image is left as it is.
 */
export function buildEditPayload(doc: CanvasDocument, region: Region, opts: { stripOnly?: boolean } = {}): EditPayload {
  const problem = regionProblem(region, doc.width, doc.height);
  if (problem) throw new EditInputError('bad-region', problem, 'Move or resize the region box.');
  const crop = regionCrop(region, doc.width, doc.height)!;
  const image = { width: crop.width, height: crop.height, data: cropBytes(doc.image, doc.width, 3, crop) };
  const mask = { width: crop.width, height: crop.height, data: opts.stripOnly ? new Uint8Array(crop.width * crop.height) : cropBytes(doc.mask, doc.width, 1, crop) };
  return {
    image, mask,
    region: { x: region.x - crop.x, y: region.y - crop.y, size: region.size },
    origin: { x: crop.x, y: crop.y },
    masked: countAtLeast(mask.data, 128),
    outside: region.size * region.size - crop.width * crop.height,
  };
}

/** Per region pixel, where the edit may change it: the sent mask inside the image, everything past its edge. */
export function regionAlpha(payload: EditPayload): Uint8Array {
  const { size } = payload.region;
  const alpha = new Uint8Array(size * size).fill(255);
  const { width, height, data } = payload.mask;
  for (let y = 0; y < height; y++) {
    const ry = y - payload.region.y;
    if (ry < 0 || ry >= size) continue;
    for (let x = 0; x < width; x++) {
      const rx = x - payload.region.x;
      if (rx >= 0 && rx < size) alpha[ry * size + rx] = data[y * width + x];
    }
  }
  return alpha;
}
