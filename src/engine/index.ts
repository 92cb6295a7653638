/** The engine's public API (its table is in ./README.md). Code outside src/engine imports from here only. */
export { VarEngine, defaultModelDir } from './engine';
export type { GenerateRequest, EditRequest, EngineEvent, EngineOptions } from './engine';
export { BundleError, EngineError, isAbortError } from './errors';
export type { Manifest, Precision } from './manifest';
export { PRECISIONS } from './manifest';
export { availablePrecisions } from './graphs';
export type { ProviderName, ProviderReport } from './providers';
export type { RgbImage } from './image';
export type { SamplingSettings } from './sampler';
export { resolveClass } from './requests';
export { defaultRegion } from './edit';
export { readManifest } from './bundle';
