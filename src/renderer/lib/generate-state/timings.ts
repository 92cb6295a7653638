// Measured run times per model (localStorage), for an ETA: per scale and per image, as the last runs of
// that model on this machine took them. Pure estimates; nothing depends on them being right.
import type { Infer } from '../../../shared/schema';
import type { timingsSchema } from '../../../shared/contract';

type Timings = Infer<typeof timingsSchema>;

/** Milliseconds per image for each scale, plus the final decode, of one model. */
export interface ModelTimings { perScaleMsPerImage: number[]; decodeMsPerImage: number }

const KEY = 'var-studio.timings';

/** Blends a new measurement into the old one (recent runs count more; the first run is taken as is). */
export function blendTimings(old: ModelTimings | undefined, batch: number, t: Timings): ModelTimings {
  const fresh: ModelTimings = { perScaleMsPerImage: t.perScaleMs.map((ms) => ms / batch), decodeMsPerImage: t.decodeMs / batch };
  if (!old || old.perScaleMsPerImage.length !== fresh.perScaleMsPerImage.length) return fresh;
  const mix = (a: number, b: number) => 0.5 * a + 0.5 * b;
  return { perScaleMsPerImage: fresh.perScaleMsPerImage.map((v, k) => mix(old.perScaleMsPerImage[k], v)), decodeMsPerImage: mix(old.decodeMsPerImage, fresh.decodeMsPerImage) };
}

/**
 * Milliseconds left in a run that has finished `scalesDone` scales, `sinceLastScaleMs` ago: the rest of
 * the current scale, the scales after it and the decode. null when this model has no measurement yet.
 */
export function remainingMs(m: ModelTimings | undefined, scales: number, scalesDone: number, batch: number, sinceLastScaleMs: number): number | null {
  if (!m || m.perScaleMsPerImage.length !== scales) return null;
  let left = m.decodeMsPerImage * batch;
  for (let k = scalesDone; k < scales; k++) left += m.perScaleMsPerImage[k] * batch;
  return Math.max(0, left - sinceLastScaleMs);
}

export class RunTimings {
  private byModel: Record<string, ModelTimings> = {};

  constructor(private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | null = globalThis.localStorage ?? null) {
    try {
      this.byModel = JSON.parse(storage?.getItem(KEY) ?? '{}') as Record<string, ModelTimings>;
    } catch {
      this.byModel = {};
    }
  }

  of(modelId: string): ModelTimings | undefined {
    return this.byModel[modelId];
  }

  record(modelId: string, batch: number, t: Timings): void {
    this.byModel = { ...this.byModel, [modelId]: blendTimings(this.byModel[modelId], batch, t) };
    try {
      this.storage?.setItem(KEY, JSON.stringify(this.byModel));
    } catch {
      // A full or blocked storage only costs the ETA.
    }
  }
}
