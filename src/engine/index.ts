/** The engine's public API (its table is in ./README.md). Code outside src/engine imports from here or from ./api (the same without onnxruntime). */
export * from './api';
export { VarEngine } from './engine';
export { importCheckpoints, OFFICIAL_DEMO_SAMPLING, defaultTemplatesDir } from './import';
export type { ImportOptions, ImportProgress, ImportPhase, AssembleResult as ImportResult } from './import';
