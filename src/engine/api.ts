/**
 * The part of the engine's public API that loads no native code (no onnxruntime): errors, manifest facts and
 * paths. A host whose engine runs in a worker imports only this, so its own process never loads onnxruntime.
 */
export { appRootSetting, defaultModelDir, setAppRoot } from './app-root';
export type { GenerateRequest, EditRequest, EngineEvent, EngineOptions } from './engine';
export { BundleError, EngineError, isAbortError } from './errors';
export type { Manifest, Precision } from './manifest';
export { PRECISIONS, SAMPLING_BOUNDS, availablePrecisions, isPlainFileName } from './manifest';
export type { ProviderName, ProviderReport } from './providers';
export { providerChain } from './provider-chain';
export { currentEnvironment, loaderAnswer, ortBinaryDir, probeEnvironment, probeProvider } from './provider-probe';
export type { ProbeEnvironment, ProviderProbe } from './provider-probe';
export type { RgbImage } from './image';
export type { SamplingSettings } from './sampler';
export { resolveClass } from './requests';
export { MAX_REGION, defaultRegion } from './edit';
export { readManifest } from './bundle';
export { ImportError } from './import/checkpoint';
