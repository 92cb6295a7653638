// Host side of a canvas edit: checks an edit.start request against the loaded model, runs the
// engine's edit on the cropped region and streams job.start / job.scale / edit.done to the session.
// The renderer sends only the pixels the region covers; the engine's result for that crop is exactly the
// region square (pasted back with the feather), which the renderer composites at the region's place —
// every document pixel outside the region is never touched, so it stays byte-identical.
import type { EditRequest, VarEngine } from '../engine/index';
import type { LoadedModel, StudioEvent } from '../shared/contract';
import type { EditStartParams } from '../shared/edit';
import { StudioError } from '../shared/errors';
import { compact, pumpJob } from './jobs';

/** Pixels the model will regenerate: masked pixels inside the image plus the region's part outside it. */
export function countRegenerated(p: Pick<EditStartParams, 'image' | 'mask' | 'region'>): { masked: number; outside: number } {
  let masked = 0;
  for (let i = 0; i < p.mask.data.length; i++) if (p.mask.data[i] >= 128) masked++;
  const outside = p.region.size * p.region.size - p.image.width * p.image.height;
  return { masked, outside };
}

/** Refusals a user can act on, before the job takes the engine. */
export function checkEditParams(p: EditStartParams, model: LoadedModel): void {
  const K = model.patchNums.length;
  if (p.classIndex !== null && p.classIndex >= model.classes.length)
    throw new StudioError('bad-class', `Class ${p.classIndex} does not exist; this model has ${model.classes.length} classes.`, 'Pick a class from the class list.');
  if (p.fromScale !== undefined && p.fromScale >= K)
    throw new StudioError('bad-from-scale', `Keeping scales 1..${p.fromScale} leaves nothing to regenerate: the model has ${K} scales.`, `Pick a scale from 1 to ${K - 1}.`);
  const { masked, outside } = countRegenerated(p);
  if (p.operation === 'outpaint' && outside === 0)
    throw new StudioError('nothing-to-outpaint', 'The region box lies inside the image, so there is nothing to outpaint.', 'Drag the region box past the image edge, or use "Extend canvas" to place it there in one step.');
  // Also for a scale-locked edit: only masked pixels are pasted back, so an empty mask would change nothing.
  if (masked === 0 && outside === 0)
    throw new StudioError('empty-mask', 'The mask is empty inside the region box: nothing would change.', 'Paint over what should change with the brush (B), move the region box onto the painted area, or use "Fill" to regenerate the whole region.');
}

/** The engine request for a checked edit.start (the region is relative to the cropped image). */
export function toEngineRequest(p: EditStartParams): EditRequest {
  return {
    image: { width: p.image.width, height: p.image.height, data: p.image.data },
    mask: { width: p.mask.width, height: p.mask.height, data: p.mask.data },
    region: { x: p.region.x, y: p.region.y, size: p.region.size },
    classIndex: p.classIndex,
    ...(p.fromScale !== undefined ? { fromScale: p.fromScale } : {}),
    seed: p.seed, batch: p.batch, feather: p.feather, sampling: p.sampling,
  };
}

/** Runs one edit job to its end; every outcome is an event (never throws). */
export function runEditJob(
  engine: Pick<VarEngine, 'edit'>, p: EditStartParams, signal: AbortSignal, emit: (e: StudioEvent) => void,
): Promise<void> {
  return pumpJob(engine.edit(toEngineRequest(p), signal), p.jobId, signal, emit, (done, { seeds, tokens, timings }) => ({
    type: 'edit.done', jobId: p.jobId,
    candidates: done.images.map((image, b) => {
      if (image.width !== p.region.size || image.height !== p.region.size)
        throw new StudioError('internal', `The engine returned a ${image.width}×${image.height} result for a ${p.region.size}-pixel region.`, 'This is a bug; please report it with the image size and region.');
      return { image: compact(image), offset: { x: p.region.x, y: p.region.y }, classIndex: done.classIndices[b], seed: seeds[b] };
    }),
    tokens, timings,
  }), 'Check the mask, the region box and the settings, then try again.');
}
