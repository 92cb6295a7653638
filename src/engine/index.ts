/** The engine's public API (notes/engine-api.md). UI, server and CLI import from here only. */
export { VarEngine, defaultModelDir } from './engine';
export type { GenerateRequest, EditRequest, EngineEvent, EngineOptions } from './engine';
export { BundleError, EngineError, isAbortError } from './errors';
export type { Manifest, SamplingDefaults } from './manifest';
export { SAMPLING_BOUNDS, isPlainFileName } from './manifest';
export type { ProviderName, ProviderReport } from './providers';
export { PROVIDER_NAMES, providerChain, isProviderName } from './providers';
export type { RgbImage } from './image';
export { encodePng, decodeImage, decodeMask, readPngText } from './image';
export type { SamplingSettings } from './sampler';
export { resolveClass } from './requests';
export { readManifest } from './bundle';
