// The app's own settings (execution provider, GPU, CPU threads), kept in <dataDir>/settings.json.
// Unknown or invalid values fall back to defaults one by one, so an old or hand-edited file never blocks start.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ProviderName } from '../engine/index';
import { writeFileSafely } from './safe-write';
import { PROVIDER_NAMES } from '../shared/contract';

export interface HostSettings {
  provider: ProviderName | 'auto';
  /** onnxruntime intra-op threads; null = chosen by onnxruntime (one per physical core). */
  threads: number | null;
  /**
   * Which GPU CUDA or DirectML uses (their device id; 0 = the first adapter). On a laptop with two GPUs, DirectML's
   * adapter 0 is usually the integrated one, so this is how the user reaches the faster one.
   */
  gpu: number;
}

export const DEFAULT_SETTINGS: HostSettings = { provider: 'auto', threads: null, gpu: 0 };
export const MAX_THREADS = 256;
/** Highest GPU index offered (the menu lists 0..MAX_GPU_INDEX). */
export const MAX_GPU_INDEX = 3;
export const SETTINGS_FILE = 'settings.json';

/** Keeps each valid field of `raw` and the default for every other one. */
export function sanitizeSettings(raw: unknown): HostSettings {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const provider = r.provider === 'auto' || (PROVIDER_NAMES as readonly unknown[]).includes(r.provider) ? (r.provider as HostSettings['provider']) : DEFAULT_SETTINGS.provider;
  const threads = Number.isInteger(r.threads) && (r.threads as number) >= 1 && (r.threads as number) <= MAX_THREADS ? (r.threads as number) : null;
  const gpu = Number.isInteger(r.gpu) && (r.gpu as number) >= 0 && (r.gpu as number) <= MAX_GPU_INDEX ? (r.gpu as number) : DEFAULT_SETTINGS.gpu;
  return { provider, threads, gpu };
}

export class HostSettingsFile {
  readonly file: string;
  private writing: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.file = path.join(dataDir, SETTINGS_FILE);
  }

  async read(): Promise<HostSettings> {
    try {
      return sanitizeSettings(JSON.parse(await fs.readFile(this.file, 'utf8')));
    } catch {
      return { ...DEFAULT_SETTINGS };
    }
  }

  /** Merges `change` into the stored settings; written by the one safe-write helper (temp file, fsync, rename). */
  async update(change: Partial<HostSettings>): Promise<HostSettings> {
    const task = this.writing.then(async () => {
      const next = sanitizeSettings({ ...(await this.read()), ...change });
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await writeFileSafely(this.file, JSON.stringify(next, null, 2) + '\n');
      return next;
    });
    this.writing = task.catch(() => undefined);
    return task;
  }
}
