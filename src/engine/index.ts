/** The engine's public API (its table is in ./README.md). Code outside src/engine imports from here only. */
export { VarEngine, defaultModelDir, setAppRoot } from './engine';
export type { GenerateRequest, EditRequest, EngineEvent, EngineOptions } from './engine';
export { BundleError, EngineError, isAbortError } from './errors';
export type { Manifest, Precision } from './manifest';
export { PRECISIONS, SAMPLING_BOUNDS, isPlainFileName } from './manifest';
export { availablePrecisions } from './graphs';
export type { ProviderName, ProviderReport } from './providers';
export { currentEnvironment, loaderAnswer, ortBinaryDir, probeEnvironment, probeProvider } from './provider-probe';
export type { ProbeEnvironment, ProviderProbe } from './provider-probe';
export type { RgbImage } from './image';
export type { SamplingSettings } from './sampler';
export { resolveClass } from './requests';
export { MAX_REGION, defaultRegion } from './edit';
export { readManifest } from './bundle';
export { importCheckpoints, ImportError, OFFICIAL_DEMO_SAMPLING, defaultTemplatesDir } from './import';
export type { ImportOptions, ImportProgress, ImportPhase, AssembleResult as ImportResult } from './import';
