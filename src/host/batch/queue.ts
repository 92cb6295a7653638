// A sampling run over many machines on Redis + BullMQ. Results travel through a shared folder (the run's
// output folder, mounted on every worker): each item's PNGs and records land there by temp + rename, and
// Redis carries only the items and the run's description. A worker killed mid-item holds a lock that
// expires; BullMQ's stalled-job check then puts the item back for another worker, and since the seeds come
// from the run, the retried item writes the same pixels.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { VarEngine } from '../../engine/index';
import { StudioError } from '../../shared/errors';
import { type SampleSpec, type WorkItem, specDifference, totalImages, workItems } from './plan';
import { collectNpz, remainingItems, runItem } from './run';
import { RecordLog, modelSha256, openRunFolder } from './store';

export const DEFAULT_QUEUE = 'var-studio-sample';

/** What Redis keeps about the run besides its items. */
interface RunInfo { spec: SampleSpec; dir: string; items: number; images: number }

export interface QueueTimings {
  /** How long a worker's lock on an item lasts without renewal (BullMQ lockDuration). */
  lockMs?: number;
  /** How often workers look for items whose lock expired (BullMQ stalledInterval). */
  stalledMs?: number;
}

function connection(url: string) {
  return { url, maxRetriesPerRequest: null };
}

const infoKey = (name: string) => `var-studio:run:${name}`;

/** The run description sits in a plain key next to the queue's own keys. */
async function withRedis<T>(url: string, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true, retryStrategy: () => null });
  let lastError: Error | undefined;
  r.on('error', (e: Error) => { lastError = e; }); // a failed connect rejects connect() below, where it is reported
  try {
    try {
      await r.connect();
    } catch (e) {
      throw new StudioError('redis-unreachable', `cannot reach Redis at ${url} (${(lastError ?? (e as Error)).message})`, 'Check the URL and that redis-server is running and reachable from this machine.');
    }
    return await f(r);
  } finally {
    r.disconnect();
  }
}

async function readInfo(url: string, name: string): Promise<RunInfo | null> {
  const text = await withRedis(url, (r) => r.get(infoKey(name)));
  return text ? (JSON.parse(text) as RunInfo) : null;
}

function itemId(it: WorkItem): string {
  return `c${it.classIndex}-i${it.start}-n${it.count}`;
}

/**
 * Puts the run's items on the queue (those already done in the shared folder are left out). Submitting the
 * same run again adds nothing twice: item ids are fixed by class and range.
 */
export async function submitRun(url: string, name: string, spec: SampleSpec, dir: string, batch: number): Promise<RunInfo & { queued: number }> {
  const old = await readInfo(url, name);
  const queue = new Queue(name, { connection: connection(url) });
  try {
    if (old) {
      const diff = specDifference(old.spec, spec);
      if (diff || old.dir !== dir) throw new StudioError('queue-busy', `queue "${name}" holds another run (${diff ?? `folder ${old.dir}`})`, 'Collect it and run "var-studio queue clear", or pass another --queue NAME.');
    }
    await openRunFolder(dir, spec, true);
    const { items } = await remainingItems(dir, spec, workItems(spec, 0, totalImages(spec), batch));
    const info: RunInfo = { spec, dir, items: items.length, images: totalImages(spec) };
    await withRedis(url, (r) => r.set(infoKey(name), JSON.stringify(info)));
    await queue.addBulk(items.map((it) => ({
      name: 'sample', data: it,
      opts: { jobId: itemId(it), attempts: 5, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
    })));
    return { ...info, queued: items.length };
  } finally {
    await queue.close();
  }
}

export interface QueueStatus { spec: SampleSpec | null; dir: string | null; items: number; waiting: number; active: number; completed: number; failed: number; delayed: number }

export async function queueStatus(url: string, name: string): Promise<QueueStatus> {
  const info = await readInfo(url, name);
  const queue = new Queue(name, { connection: connection(url) });
  try {
    const c = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'waiting-children');
    return {
      spec: info?.spec ?? null, dir: info?.dir ?? null, items: info?.items ?? 0,
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0, delayed: c.delayed ?? 0,
    };
  } finally {
    await queue.close();
  }
}

/** Writes the npz of the queue's run from the shared folder, after checking every image is there once. */
export async function collectRun(url: string, name: string, out: string, onImage?: (i: number, n: number) => void): Promise<{ count: number }> {
  const s = await queueStatus(url, name);
  if (!s.spec || !s.dir) throw new StudioError('no-run', `queue "${name}" has no run`, 'Submit one with "var-studio queue submit".');
  if (s.failed > 0) throw new StudioError('items-failed', `${s.failed} items of queue "${name}" failed for good`, 'See the workers\' output; resubmit the run to queue them again.');
  if (s.waiting + s.active + s.delayed > 0) throw new StudioError('run-unfinished', `queue "${name}" still has ${s.waiting} waiting, ${s.active} active and ${s.delayed} delayed items`, 'Wait for the workers (var-studio queue status), then collect.');
  return collectNpz([s.dir], out, onImage);
}

/** Removes the queue's items and run description (after collecting). */
export async function clearRun(url: string, name: string): Promise<void> {
  await readInfo(url, name);
  const queue = new Queue(name, { connection: connection(url) });
  try {
    await queue.obliterate({ force: true });
    await withRedis(url, (r) => r.del(infoKey(name)));
  } finally {
    await queue.close();
  }
}

export interface WorkerOptions extends QueueTimings {
  engine: Pick<VarEngine, 'generate' | 'manifest'> & Partial<Pick<VarEngine, 'precision'>>;
  modelDir: string;
  modelId: string;
  createdAt: string;
  onStart?: (item: WorkItem, id: string) => void;
  onItem?: (item: WorkItem, ms: number) => void;
}

/**
 * Takes items until stopped (or, with exitWhenDone, until the queue has nothing waiting or active).
 * Refuses a run made with another model than the worker's.
 */
export async function runWorker(url: string, name: string, o: WorkerOptions, exitWhenDone: boolean): Promise<{ items: number }> {
  const info = await readInfo(url, name);
  const queue = new Queue(name, { connection: connection(url) });
  if (!info) {
    await queue.close();
    throw new StudioError('no-run', `queue "${name}" has no run`, 'Submit one with "var-studio queue submit" first.');
  }
  const sha = await modelSha256(o.modelDir);
  if (sha !== info.spec.model.sha256) {
    await queue.close();
    throw new StudioError('wrong-model', `this worker's model (${o.modelDir}, sha256 ${sha.slice(0, 12)}…) is not the run's (${info.spec.model.name}, ${info.spec.model.sha256.slice(0, 12)}…)`, 'Pass --model with the same bundle the run was submitted with.');
  }
  const log = new RecordLog(join(info.dir, `samples.${hostname().replace(/[^\w.-]/g, '_')}-${process.pid}.jsonl`));
  const ctx = { engine: o.engine, spec: info.spec, dir: info.dir, log, modelId: o.modelId, createdAt: o.createdAt };
  let items = 0;
  const lockMs = o.lockMs ?? 60_000;
  const worker = new Worker(name, async (job) => {
    const t0 = Date.now();
    o.onStart?.(job.data as WorkItem, String(job.id));
    await runItem(ctx, job.data as WorkItem);
    items++;
    o.onItem?.(job.data as WorkItem, Date.now() - t0);
  }, { connection: connection(url), concurrency: 1, lockDuration: lockMs, stalledInterval: o.stalledMs ?? Math.max(1000, lockMs / 2), maxStalledCount: 5 });
  const stop = () => { void worker.close(); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    if (exitWhenDone) {
      for (;;) {
        await new Promise((r) => setTimeout(r, 500));
        if (!worker.isRunning()) break;
        const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if ((c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) === 0) break;
      }
      await worker.close();
    } else {
      await new Promise<void>((r) => worker.on('closed', () => r()));
    }
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await queue.close();
  }
  return { items };
}
