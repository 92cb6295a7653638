/**
 * Execution providers. onnxruntime-node never falls back between providers on its own: `['cuda', 'cpu']`
 * throws where the CUDA libraries are missing, `['webgpu', 'cpu']` without Vulkan. So the engine walks a chain,
 * creating the sessions with one provider at a time inside try/catch, and reports what it used and why
 * it skipped the others.
 */
import * as ort from 'onnxruntime-node';

export type ProviderName = 'cuda' | 'dml' | 'coreml' | 'webgpu' | 'cpu';
export const PROVIDER_NAMES: readonly ProviderName[] = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];

export interface ProviderReport {
  inUse: ProviderName;
  requested: ProviderName | 'auto';
  skipped: { provider: ProviderName; reason: string }[];
}

export { providerChain } from './provider-chain';

export function isProviderName(s: string): s is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(s);
}

/** Session options chosen by measurement (bench/RESULTS.md). */
export interface SessionTuning {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  executionMode?: 'sequential' | 'parallel';
  /**
   * Let idle intra-op threads spin-wait (ORT's own default is true). Default here: false. Each of the five
   * sessions has its own thread pool, and spinning pools starve the JS thread that samples between runs
   * (measured: tiny bundle 37.6 → 3.8 ms per image with 2 threads; bench/RESULTS.md).
   */
  spinning?: boolean;
  /** Which GPU the CUDA or DirectML provider uses (default 0); ignored by the other providers (docs/gpu.md). */
  deviceId?: number;
  /**
   * Graphs whose sessions run without onnxruntime's CPU memory arena (default: none). Freed activations then go
   * back to the C allocator instead of staying in the session's arena: a lower peak RSS for a slower first run
   * (measured in bench/RESULTS.md "Memory"; bench/memory_phases.ts --arena-off).
   */
  cpuMemArenaOff?: readonly string[];
}

/**
 * CoreML flag bit that builds an ML Program (the current Core ML model format, with fp16 and more operators)
 * instead of a NeuralNetwork (the flag value of onnxruntime's CoreML provider factory, docs/gpu.md).
 */
export const COREML_FLAG_CREATE_MLPROGRAM = 0x010;

/**
 * The `executionProviders` entry per provider, with only the options onnxruntime-node 1.30 parses for it
 * (its session-option parser, docs/gpu.md): CUDA and DirectML take deviceId only, CoreML takes
 * coreMlFlags only, WebGPU rejects any key it does not know (deviceId included), CPU takes none.
 */
export function executionProviderEntry(provider: ProviderName, deviceId = 0): ort.InferenceSession.ExecutionProviderConfig {
  switch (provider) {
    case 'cuda': return { name: 'cuda', deviceId };
    case 'dml': return { name: 'dml', deviceId };
    case 'coreml': return { name: 'coreml', coreMlFlags: COREML_FLAG_CREATE_MLPROGRAM };
    case 'webgpu': return 'webgpu';
    case 'cpu': return 'cpu';
  }
}

let ortLogConfigured = false;

/**
 * ORT logs a failed provider load at error level before throwing; the engine reports that failure itself
 * (ProviderReport.skipped), so ORT's own log is limited to fatal unless VAR_STUDIO_ORT_LOG asks otherwise.
 */
export function configureOrtLogging(): void {
  if (ortLogConfigured) return;
  ortLogConfigured = true;
  const level = process.env.VAR_STUDIO_ORT_LOG;
  ort.env.logLevel = level === 'verbose' || level === 'info' || level === 'warning' || level === 'error' ? level : 'fatal';
}

export function sessionOptions(provider: ProviderName, tuning: SessionTuning, graph?: string): ort.InferenceSession.SessionOptions {
  configureOrtLogging();
  return {
    executionProviders: [executionProviderEntry(provider, tuning.deviceId)],
    graphOptimizationLevel: tuning.graphOptimizationLevel ?? 'all',
    executionMode: tuning.executionMode ?? 'sequential',
    ...(tuning.intraOpNumThreads ? { intraOpNumThreads: tuning.intraOpNumThreads } : {}),
    ...(tuning.interOpNumThreads ? { interOpNumThreads: tuning.interOpNumThreads } : {}),
    // DirectML cannot run with memory patterns (ORT turns them off with a warning; say it here instead).
    ...(provider === 'dml' ? { enableMemPattern: false } : {}),
    logSeverityLevel: 3,
    ...(graph !== undefined && tuning.cpuMemArenaOff?.includes(graph) ? { enableCpuMemArena: false } : {}),
    ...(tuning.spinning !== true ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
  };
}

/** One line from an ORT error (its messages can span many lines with stack-like detail). */
export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = msg.split('\n').find((l) => l.trim().length > 0) ?? msg;
  return line.length > 300 ? line.slice(0, 297) + '...' : line;
}
