// Host side of a generation: checks generate.start settings against the loaded model, then runs the
// engine and streams job.start / job.scale / job.done to the session through the shared pump.
import type { GenerateRequest, VarEngine } from '../engine/index';
import type { GenerateSettings, LoadedModel, StudioEvent } from '../shared/contract';
import { StudioError } from '../shared/errors';
import { compact, pumpJob } from './jobs';

/** Refusals a user can act on, before the job takes the engine. */
export function checkGenerateSettings(settings: GenerateSettings, model: LoadedModel): void {
  const K = model.patchNums.length;
  if (settings.classIndex !== null && settings.classIndex >= model.classes.length)
    throw new StudioError('bad-class', `Class ${settings.classIndex} does not exist; this model has ${model.classes.length} classes.`, 'Pick a class from the class list.');
  if (!settings.prefix) return;
  const { fromScale, tokens } = settings.prefix;
  if (fromScale >= K) throw new StudioError('bad-prefix', `Varying from scale ${fromScale} leaves nothing to regenerate: the model has ${K} scales.`, `Pick a scale from 1 to ${K - 1}.`);
  tokens.forEach((t, k) => {
    const p = model.patchNums[k];
    if (t.length !== p * p) throw new StudioError('bad-prefix', `Scale ${k + 1} of the kept tokens has ${t.length} tokens; this model needs ${p * p}.`, 'The image was made by another model: pick that model, or generate anew.');
    for (const v of t) if (v >= model.vocabSize) throw new StudioError('bad-prefix', `Token ${v} at scale ${k + 1} is outside this model's vocabulary of ${model.vocabSize}.`, 'The image was made by another model: pick that model, or generate anew.');
  });
}

/** The engine request for checked settings. */
export function toGenerateRequest(s: GenerateSettings): GenerateRequest {
  return { classIndex: s.classIndex, seed: s.seed, batch: s.batch, sampling: s.sampling, ...(s.prefix ? { prefix: [{ tokens: s.prefix.tokens }] } : {}) };
}

/** Runs one generation to its end; every outcome is an event (never throws). */
export function runGenerateJob(
  engine: Pick<VarEngine, 'generate'>, jobId: string, settings: GenerateSettings, signal: AbortSignal, emit: (e: StudioEvent) => void,
): Promise<void> {
  return pumpJob(engine.generate(toGenerateRequest(settings), signal), jobId, signal, emit,
    (done, parts) => ({ type: 'job.done', jobId, images: done.images.map(compact), classIndices: [...done.classIndices], ...parts }),
    'Check the settings (cfg, top-k, top-p) and try again; if the model keeps failing, reload it from the model picker.');
}
