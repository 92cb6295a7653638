// The generation in flight: per-scale previews as they stream in, progress, and how it ended.
import type { ErrorInfo, GenerateSettings, RgbImageMsg } from '../../../shared/contract';
import { isActive, type RunStatus } from '../studio/jobs';

export class Run {
  jobId = $state<string | null>(null);
  status = $state<RunStatus>('idle');
  patchNums = $state.raw<number[]>([]);
  batch = $state(1);
  seeds = $state.raw<number[]>([]);
  classIndices = $state.raw<number[]>([]);
  /** [scale][image] */
  previews = $state.raw<RgbImageMsg[][]>([]);
  /** [scale][image], kept to build gallery entries */
  tokens: Int32Array[][] = [];
  scalesDone = $state(0);
  elapsedMs = $state(0);
  /** performance.now() when the host started the run (the elapsed time ticks from it). */
  startedAt = $state<number | null>(null);
  error = $state<ErrorInfo | null>(null);
  settings: GenerateSettings | null = null;
  /** "Vary from a scale" origin, for the status line. */
  variedFrom = $state<{ entryId: string; fromScale: number } | null>(null);

  get scales(): number {
    return this.patchNums.length;
  }

  get active(): boolean {
    return isActive(this.status);
  }

  reset(jobId: string, settings: GenerateSettings, variedFrom: Run['variedFrom']): void {
    this.jobId = jobId;
    this.status = 'starting';
    this.patchNums = [];
    this.batch = settings.batch;
    this.seeds = [];
    this.classIndices = [];
    this.previews = [];
    this.tokens = [];
    this.scalesDone = 0;
    this.elapsedMs = 0;
    this.startedAt = null;
    this.error = null;
    this.settings = settings;
    this.variedFrom = variedFrom;
  }
}
