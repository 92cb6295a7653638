// One job runner for both workspaces: job ids, start and cancel, events routed by jobId, and the host's
// single job slot. A job asked for while another holds the slot waits for that job's last event instead
// of being refused; errors come out as StudioCallError.
import type { ParamsOf, StudioEvent } from '../../../shared/contract';
import { toErrorInfo } from '../../../shared/errors';
import { StudioCallError, type Studio } from './studio';

export type JobKind = 'generate' | 'edit';

/** Where a workspace's run stands (a finished canvas edit goes back to idle: its candidates are staged). */
export type RunStatus = 'idle' | 'starting' | 'running' | 'done' | 'cancelled' | 'error';

/** Starting (waiting for the slot or the host's answer) or running. */
export function isActive(status: RunStatus): boolean {
  return status === 'starting' || status === 'running';
}
export type JobParams<K extends JobKind> = Omit<ParamsOf<`${K}.start`>, 'jobId'>;

/** The last event of a job: after it the host's job slot is free. */
export function isFinalEvent(e: StudioEvent): boolean {
  return e.type === 'job.done' || e.type === 'edit.done' || e.type === 'job.cancelled' || e.type === 'job.error';
}

/** Any failure of a call as the contract's error (what went wrong and what to do). */
export function asCallError(e: unknown, fallbackHint?: string): StudioCallError {
  return e instanceof StudioCallError ? e : new StudioCallError(toErrorInfo(e, fallbackHint));
}

/**
 * After a Cancel the host may still be finishing the scale it was on; a job waiting for the slot asks
 * anyway once the cancelled job has not ended within this time (the host then answers "busy" if it is still taken).
 */
export const CANCELLED_SLOT_WAIT_MS = 15_000;

export interface Job {
  readonly id: string;
  readonly kind: JobKind;
  /** waiting: for the slot; started: the host runs it; cancelled: before or after it started; ended: its last event came. */
  readonly state: 'waiting' | 'started' | 'cancelled' | 'ended';
}

interface JobRecord extends Job {
  state: Job['state'];
  onEvent(e: StudioEvent): void;
  wake: () => void;
}

interface Slot { jobId: string; free: Promise<void>; release(): void; stale: Promise<void>; giveUp(): void; staleTimer?: ReturnType<typeof setTimeout> }

export interface JobRunnerOptions {
  /** Told whenever "a job is waiting or running (not cancelled)" changes. */
  onActivity?(active: boolean): void;
  cancelledSlotWaitMs?: number;
}

const ID_PREFIX: Record<JobKind, string> = { generate: 'job', edit: 'edit' };
let counter = 0;

export class JobRunner {
  private readonly jobs = new Map<string, JobRecord>();
  private slot: Slot | null = null;
  private readonly unsubscribe: () => void;
  private readonly cancelledSlotWaitMs: number;
  private active = false;

  constructor(private readonly studio: Studio, private readonly opts: JobRunnerOptions = {}) {
    this.cancelledSlotWaitMs = opts.cancelledSlotWaitMs ?? CANCELLED_SLOT_WAIT_MS;
    this.unsubscribe = studio.onEvent((e) => this.route(e));
  }

  /** A job is waiting for the slot or running, and was not cancelled. */
  get hasActiveJob(): boolean {
    for (const j of this.jobs.values()) if (j.state === 'waiting' || j.state === 'started') return true;
    return false;
  }

  private changed(): void {
    const active = this.hasActiveJob;
    if (active === this.active) return;
    this.active = active;
    this.opts.onActivity?.(active);
  }

  /** A new job with its id; its events go to `onEvent` from now until its last event. */
  create(kind: JobKind, onEvent: (e: StudioEvent) => void): Job {
    counter += 1;
    const job: JobRecord = { id: `${ID_PREFIX[kind]}-${Date.now().toString(36)}-${counter}`, kind, state: 'waiting', onEvent, wake: () => {} };
    this.jobs.set(job.id, job);
    this.changed();
    return job;
  }

  /** True while a job holds the host's slot (started and its last event not yet in). */
  get busy(): boolean {
    return this.slot !== null;
  }

  /**
   * Waits for the slot, then asks the host to start the job. Resolves true once started, false when the
   * job was cancelled while it waited; rejects with a StudioCallError when the host refuses.
   */
  async start<K extends JobKind>(job: Job, params: JobParams<K>): Promise<boolean> {
    const rec = this.record(job);
    // Checked and taken in one continuation, so two waiting jobs never both see the slot free.
    while (this.slot && rec.state === 'waiting') {
      const slot = this.slot;
      const woken = new Promise<void>((resolve) => (rec.wake = resolve));
      const outcome = await Promise.race([slot.free.then(() => 'free' as const), slot.stale.then(() => 'stale' as const), woken.then(() => 'woken' as const)]);
      // The cancelled job never said it ended: ask the host anyway rather than wait for ever.
      if (outcome === 'stale' && this.slot === slot) this.freeSlot(slot);
    }
    if (rec.state === 'cancelled') {
      this.jobs.delete(rec.id);
      this.changed();
      return false;
    }
    const slot = this.takeSlot(rec.id);
    try {
      if (rec.kind === 'generate') await this.studio.call('generate.start', { jobId: rec.id, ...(params as JobParams<'generate'>) });
      else await this.studio.call('edit.start', { jobId: rec.id, ...(params as JobParams<'edit'>) });
    } catch (e) {
      this.freeSlot(slot);
      this.jobs.delete(rec.id);
      rec.state = 'ended';
      this.changed();
      throw asCallError(e);
    }
    // The host may have cancelled or ended it while the start was in flight.
    if (rec.state === 'waiting') rec.state = 'started';
    return true;
  }

  /** Cancels a job: a waiting one never starts; a started one stops before its next scale (its last event follows). */
  async cancel(job: Job): Promise<void> {
    const rec = this.jobs.get(job.id);
    if (!rec || rec.state === 'ended' || rec.state === 'cancelled') return;
    const wasStarted = rec.state === 'started' || this.slot?.jobId === rec.id;
    rec.state = 'cancelled';
    rec.wake();
    this.changed();
    if (!wasStarted) return;
    const slot = this.slot;
    if (slot && slot.jobId === rec.id && !slot.staleTimer) slot.staleTimer = setTimeout(() => slot.giveUp(), this.cancelledSlotWaitMs);
    try {
      if (rec.kind === 'generate') await this.studio.call('generate.cancel', { jobId: rec.id });
      else await this.studio.call('edit.cancel', { jobId: rec.id });
    } catch (e) {
      throw asCallError(e);
    }
  }

  /** The host went away: its jobs will send no last event, so each ends here with a 'disconnected' error. */
  connectionLost(): void {
    for (const rec of [...this.jobs.values()]) {
      if (rec.state !== 'started') continue;
      this.route({ type: 'job.error', jobId: rec.id, error: { code: 'disconnected', message: 'The connection to the host was lost while this ran.', hint: 'It reconnects by itself; start the run again then.' } });
    }
    if (this.slot) this.freeSlot(this.slot);
  }

  dispose(): void {
    this.unsubscribe();
    this.jobs.clear();
    this.changed();
    if (this.slot) this.freeSlot(this.slot);
  }

  private record(job: Job): JobRecord {
    const rec = this.jobs.get(job.id);
    if (!rec) throw new Error(`job ${job.id} was not created by this runner or has ended`);
    return rec;
  }

  private route(e: StudioEvent): void {
    if (!('jobId' in e)) return; // model-manager events are not job events
    const rec = this.jobs.get(e.jobId);
    if (isFinalEvent(e)) {
      if (this.slot?.jobId === e.jobId) this.freeSlot(this.slot);
      if (rec) {
        this.jobs.delete(rec.id);
        rec.state = 'ended';
        this.changed();
      }
    }
    rec?.onEvent(e);
  }

  private takeSlot(jobId: string): Slot {
    let release = () => {};
    let giveUp = () => {};
    const free = new Promise<void>((resolve) => (release = resolve));
    const stale = new Promise<void>((resolve) => (giveUp = resolve));
    this.slot = { jobId, free, release, stale, giveUp };
    return this.slot;
  }

  private freeSlot(slot: Slot): void {
    if (slot.staleTimer) clearTimeout(slot.staleTimer);
    if (this.slot === slot) this.slot = null;
    slot.release();
  }
}
