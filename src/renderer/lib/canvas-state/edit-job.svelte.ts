// The canvas's edit job: started through the shared job runner (it waits for the host's job slot like a
// generation does), its progress and live preview, then the candidates staged for accept/discard.
import type { RgbImageMsg, Sampling, StudioEvent } from '../../../shared/contract';
import type { Candidate, EditOperation, EditStartParams, Region } from '../../../shared/edit';
import { asCallError, isActive, type Job, type JobRunner, type RunStatus } from '../studio/jobs';

/** What the accepted candidate's edit step records besides the candidate itself. */
export interface EditRunParams {
  region: Region;
  op: EditOperation;
  classIndex: number | null;
  fromScale: number | undefined;
  feather: number;
  maskedPixels: number;
  sampling: Sampling;
  /** One byte per region pixel: where the edit may change pixels (the live preview shows only there). */
  alpha: Uint8Array;
}

export interface Staged extends EditRunParams { jobId: string; candidates: Candidate[] }

export interface EditJobEvents {
  problem(message: string, hint: string): void;
  notice(text: string): void;
}

export class EditJob {
  status = $state<RunStatus>('idle');
  jobId = $state<string | null>(null);
  scalesDone = $state(0);
  scales = $state(0);
  /** The running edit's latest scale, shown stretched over the region box. */
  preview = $state.raw<{ region: Region; image: RgbImageMsg; scale: number; alpha: Uint8Array } | null>(null);
  /** Candidates waiting for accept/discard. */
  staged = $state.raw<Staged | null>(null);
  candidateIndex = $state(0);
  private job: Job | null = null;
  private params: EditRunParams | null = null;

  constructor(private readonly jobs: JobRunner, private readonly events: EditJobEvents) {}

  get running(): boolean {
    return isActive(this.status);
  }

  /** The candidate on show, or null when nothing is staged. */
  get shownCandidate(): { region: Region; image: RgbImageMsg; index: number; count: number } | null {
    const st = this.staged;
    return st ? { region: st.region, image: st.candidates[this.candidateIndex].image, index: this.candidateIndex, count: st.candidates.length } : null;
  }

  /** Starts an edit (after the host's slot is free); problems are reported, never thrown. */
  async start(request: Omit<EditStartParams, 'jobId'>, params: EditRunParams, scales: number): Promise<void> {
    const job = this.jobs.create('edit', (e) => this.onEvent(e));
    this.job = job;
    this.jobId = job.id;
    this.status = 'starting';
    this.scalesDone = 0;
    this.scales = scales;
    this.params = params;
    this.preview = null;
    try {
      const started = await this.jobs.start(job, request);
      if (started && this.jobId === job.id && this.status === 'starting') this.status = 'running';
    } catch (e) {
      if (this.jobId !== job.id) return;
      this.status = 'error';
      const { info } = asCallError(e);
      this.events.problem(info.message, info.hint || 'Check the settings and try again.');
    }
  }

  /** Stops at once: the preview goes away now; the host stops before its next scale. */
  cancel(): Promise<void> | null {
    const job = this.job;
    if (!job || !this.running) return null;
    this.status = 'cancelled';
    this.preview = null;
    this.events.notice('Cancelled.');
    return this.jobs.cancel(job);
  }

  cycle(delta: number): void {
    const st = this.staged;
    if (!st) return;
    this.candidateIndex = (this.candidateIndex + delta + st.candidates.length) % st.candidates.length;
  }

  /** Takes the staged candidates away (accepted or discarded). */
  unstage(): Staged | null {
    const st = this.staged;
    this.staged = null;
    return st;
  }

  private onEvent(e: StudioEvent): void {
    if (!('jobId' in e) || e.jobId !== this.jobId) return; // model-manager events carry no job
    if (e.type === 'job.error') {
      if (this.status !== 'cancelled') {
        this.status = 'error';
        this.preview = null;
        this.events.problem(e.error.message, e.error.hint);
      }
      return;
    }
    if (!this.running) return;
    switch (e.type) {
      case 'job.start':
        this.status = 'running';
        this.scales = e.scales;
        break;
      case 'job.scale':
        this.scalesDone = Math.max(this.scalesDone, e.index + 1);
        if (this.params) this.preview = { region: this.params.region, image: e.previews[0], scale: e.index, alpha: this.params.alpha };
        break;
      case 'edit.done': {
        this.status = 'idle';
        this.preview = null;
        this.staged = { jobId: e.jobId, candidates: e.candidates, ...this.params! };
        this.candidateIndex = 0;
        this.events.notice(`${e.candidates.length} candidate${e.candidates.length > 1 ? 's' : ''} in ${(e.timings.totalMs / 1000).toFixed(1)} s: cycle with ← →, accept with Enter, discard with Esc.`);
        break;
      }
      case 'job.cancelled':
        this.status = 'cancelled';
        this.preview = null;
        break;
    }
  }
}
