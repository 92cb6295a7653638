// The one pump from an engine run to contract events, shared by generation and editing: job.start and
// job.scale as they come, then the job's own done event, or job.cancelled / job.error. Never throws.
import { isAbortError, type EngineEvent, type RgbImage } from '../engine/api';
import type { RgbImageMsg, StudioEvent } from '../shared/contract';
import { toErrorInfo } from '../shared/errors';

type EngineDone = Extract<EngineEvent, { type: 'done' }>;

/** What every done event carries, copied out of the engine's buffers. */
export interface DoneParts {
  seeds: number[];
  tokens: Int32Array[][];
  timings: EngineDone['timings'];
}

export function compact(img: RgbImage): RgbImageMsg {
  // A view into a larger engine buffer would be cloned whole over IPC; send exactly this image.
  return { width: img.width, height: img.height, data: img.data.slice() };
}

/**
 * Streams one engine run as contract events. `finish` turns the engine's done event into the job's own
 * (job.done or edit.done); `errorHint` tells the user what to do when the run fails.
 */
export async function pumpJob(
  events: AsyncGenerator<EngineEvent>, jobId: string, signal: AbortSignal, emit: (e: StudioEvent) => void,
  finish: (done: EngineDone, parts: DoneParts) => StudioEvent, errorHint: string,
): Promise<void> {
  let completed = 0;
  let seeds: number[] = [];
  try {
    for await (const ev of events) {
      if (ev.type === 'start') {
        seeds = [...ev.seeds];
        emit({ type: 'job.start', jobId, scales: ev.scales, patchNums: [...ev.patchNums], batch: ev.batch, classIndices: [...ev.classIndices], seeds });
      } else if (ev.type === 'scale') {
        completed = ev.index + 1;
        emit({ type: 'job.scale', jobId, index: ev.index, patch: ev.patch, previews: ev.preview.map(compact), tokens: ev.tokens.map((t) => t.slice()), elapsedMs: ev.elapsedMs });
      } else {
        const tokens = ev.tokens.map((pyr) => pyr.map((t) => t.slice()));
        emit(finish(ev, { seeds, tokens, timings: { ...ev.timings, perScaleMs: [...ev.timings.perScaleMs] } }));
      }
    }
    if (signal.aborted) emit({ type: 'job.cancelled', jobId, completedScales: completed });
  } catch (e) {
    if (signal.aborted || isAbortError(e)) emit({ type: 'job.cancelled', jobId, completedScales: completed });
    else emit({ type: 'job.error', jobId, error: toErrorInfo(e, errorHint) });
  }
}
