// Which execution provider can run here, and why the others cannot, in words a person can act on: the
// engine's provider report (what ran, what was skipped) joined with its static probes and what to install.
import { probeProvider, providerChain, type ProbeEnvironment, type ProviderName, type ProviderReport } from '../engine/api';

export { currentEnvironment, loaderAnswer, probeEnvironment, probeProvider } from '../engine/api';
export type { ProbeEnvironment, ProviderProbe } from '../engine/api';

/** The advice for a provider the engine skipped, from the static probe or, where that found nothing, the engine's error. */
export function adviceFor(provider: ProviderName, engineReason: string, env: ProbeEnvironment): string {
  const probe = probeProvider(provider, env);
  if (!probe.usable) return `${probe.reason}${probe.fix ? ` What to do: ${probe.fix}` : ''}`;
  if (provider === 'dml') return `${engineReason} What to do: update the graphics driver; DirectML needs a DirectX 12 capable GPU (no adapter was usable).`;
  if (provider === 'cuda') return `${engineReason} What to do: check that the CUDA 12 and cuDNN 9 versions match onnxruntime 1.30 and that the GPU has free memory.`;
  return engineReason;
}

export interface ProviderLine {
  provider: ProviderName;
  state: 'in use' | 'skipped' | 'not tried';
  reason: string | null;
}

export interface DoctorReport {
  platform: string;
  arch: string;
  requested: ProviderName | 'auto';
  inUse: ProviderName | null;
  threads: number | null;
  providers: ProviderLine[];
  /** The precision of each graph of the loaded model, as describePrecisions writes it (absent when none loaded). */
  precision?: string;
  /** The GPU index CUDA and DirectML use (the desktop app's Settings → GPU; absent where it cannot be chosen). */
  gpu?: number;
}

/** Combines the engine's provider report (what ran, what was tried) with the probes of every provider. */
export function doctorReport(report: ProviderReport | null, requested: ProviderName | 'auto', threads: number | null, env: ProbeEnvironment, all: readonly ProviderName[]): DoctorReport {
  const providers = all.map((p): ProviderLine => {
    if (report?.inUse === p) return { provider: p, state: 'in use', reason: null };
    const skipped = report?.skipped.find((s) => s.provider === p);
    if (skipped) return { provider: p, state: 'skipped', reason: adviceFor(p, skipped.reason, env) };
    const probe = probeProvider(p, env);
    return { provider: p, state: 'not tried', reason: probe.usable ? (probe.reason ?? 'Available; not in the chain for this setting.') : `${probe.reason}${probe.fix ? ` What to do: ${probe.fix}` : ''}` };
  });
  return { platform: env.platform, arch: env.arch, requested, inUse: report?.inUse ?? null, threads, providers };
}

export function formatDoctor(r: DoctorReport): string {
  const lines = [`platform: ${r.platform} ${r.arch}`, `requested provider: ${r.requested}`, `provider in use: ${r.inUse ?? 'none (the model did not load)'}`, `CPU threads: ${r.threads ?? 'onnxruntime default (one per physical core)'}`];
  if (r.gpu !== undefined) lines.push(`GPU (CUDA, DirectML): ${r.gpu}${r.gpu === 0 ? ' (first adapter)' : ''}`);
  if (r.precision) lines.push(`precision in use: ${r.precision}`);
  lines.push('');
  for (const p of r.providers) lines.push(`${p.provider.padEnd(7)} ${p.state.padEnd(9)} ${p.reason ?? ''}`.trimEnd());
  return lines.join('\n');
}

/**
 * Whether models will run on the CPU here: the CPU was asked for, or no GPU provider of the automatic chain
 * passes its probe (a GPU that passes and fails later still falls back to the CPU, which this cannot foresee).
 */
export function runsOnCpu(requested: ProviderName | 'auto', env: ProbeEnvironment): boolean {
  return providerChain(requested, env.platform).every((p) => p === 'cpu' || !probeProvider(p, env).usable);
}

