// WorkerEngine: the engine and image codecs behind a worker thread give the same results and the same
// typed errors as in this thread, and a cancel reaches the run.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { OpenChannel } from '../../../src/host/engine-worker/channel';
import sharp from 'sharp';
import { BundleError, EngineError, VarEngine, type EngineEvent } from '../../../src/engine/index';
import { StudioError } from '../../../src/shared/errors';
import { EngineWorker, WorkerEngine } from '../../../src/host/engine-worker/worker-engine';
import { inspectImage } from '../../../src/host/image-io';
import { TINY_BUNDLE } from '../engine/helpers';

const worker = new EngineWorker();
afterAll(() => worker.terminate());

const request = { classIndex: 1, seed: 7, batch: 2, sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false } };

async function collect(events: AsyncGenerator<EngineEvent>): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('WorkerEngine', () => {
  it('a generation in the worker equals the same generation in this thread, event by event', async () => {
    const local = await VarEngine.create(TINY_BUNDLE, { threads: 1 });
    const remote = await WorkerEngine.create(worker, TINY_BUNDLE, { threads: 1 });
    expect(remote.manifest).toEqual(local.manifest);
    expect(remote.provider.inUse).toBe(local.provider.inUse);
    const [a, b] = [await collect(local.generate(request)), await collect(remote.generate(request))];
    expect(b.map((e) => e.type)).toEqual(a.map((e) => e.type));
    const doneA = a.at(-1) as Extract<EngineEvent, { type: 'done' }>;
    const doneB = b.at(-1) as Extract<EngineEvent, { type: 'done' }>;
    expect(doneB.images.map((i) => [i.width, i.height, Buffer.from(i.data).toString('base64')])).toEqual(doneA.images.map((i) => [i.width, i.height, Buffer.from(i.data).toString('base64')]));
    await local.dispose();
    await remote.dispose();
  });

  it('errors come back as the same typed errors with code and message', async () => {
    const err = await WorkerEngine.create(worker, '/nonexistent-bundle').catch((e: unknown) => e);
    const local = await VarEngine.create('/nonexistent-bundle').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).code).toBe((local as BundleError).code);
    expect((err as Error).message).toBe((local as Error).message);
    const engine = await WorkerEngine.create(worker, TINY_BUNDLE, { threads: 1 });
    const bad = await collect(engine.generate({ ...request, sampling: undefined } as never)).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(EngineError);
    expect((bad as EngineError).code).toBe('bad-sampling');
    const io = worker.imageIo();
    const notImage = await io.inspectImage(new Uint8Array([1, 2, 3])).catch((e: unknown) => e);
    expect(notImage).toBeInstanceOf(StudioError);
    expect((notImage as StudioError).code).toBe('unreadable-image');
    expect((notImage as StudioError).hint).toMatch(/PNG/);
    await engine.dispose();
  });

  /** Runs a generation in the worker, calling `onEvent` with each event and an abort; returns what it threw and saw. */
  async function abortedRun(onEvent: (e: EngineEvent, abort: () => void) => Promise<void> | void): Promise<{ err: unknown; seen: string[] }> {
    const engine = await WorkerEngine.create(worker, TINY_BUNDLE, { threads: 1 });
    const controller = new AbortController();
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of engine.generate(request, controller.signal)) {
        seen.push(e.type);
        await onEvent(e, () => controller.abort());
      }
    })().catch((e: unknown) => e);
    await engine.dispose();
    return { err, seen };
  }

  it('an abort stops the run in the worker with the engine\'s aborted error', async () => {
    const { err, seen } = await abortedRun((e, abort) => { if (e.type === 'scale' && e.index === 0) abort(); });
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('aborted');
    expect(seen).not.toContain('done');
  });

  it('an abort after the worker already finished still ends the run with the aborted error (no late done)', async () => {
    const { err, seen } = await abortedRun(async (e, abort) => {
      if (e.type !== 'start') return;
      // let the worker run to the end, so every event up to 'done' is already waiting on this side
      await new Promise((r) => setTimeout(r, 1500));
      abort();
    });
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('aborted');
    expect(seen).toEqual(['start']);
  });

  it('image decoding in the worker gives the same pixels as in this thread', async () => {
    const png = new Uint8Array(await sharp({ create: { width: 9, height: 5, channels: 3, background: { r: 200, g: 10, b: 60 } } }).png().toBuffer());
    const [mine, theirs] = [await inspectImage(png), await worker.imageIo().inspectImage(png)];
    expect(theirs.image.width).toBe(9);
    expect(Buffer.from(theirs.image.data).equals(Buffer.from(mine.image.data))).toBe(true);
  });
});

/** Worker processes as Electron's utility processes run them: a forked Node with the parentPort shim, under tsx. */
const processWorkers: OpenChannel = () => {
  const shim = fileURLToPath(new URL('../../electron-standin/utility-child.mjs', import.meta.url));
  const entry = fileURLToPath(new URL('../../../src/host/engine-worker/entry.ts', import.meta.url));
  const child = fork(shim, [entry], { serialization: 'advanced', execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    post: (msg) => void (child.connected && child.send(msg as never)),
    onMessage: (listener) => void child.on('message', listener as never),
    onExit: (listener) => void child.once('exit', (code, signal) => listener(`exit code ${code ?? signal}`)),
    kill: () => (child.kill(), gone),
  };
};
const children: ChildProcess[] = [];

async function hostWith(openWorker?: OpenChannel) {
  const { StudioHost } = await import('../../../src/host/service');
  const { ModelCatalog } = await import('../../../src/host/models');
  const host = new StudioHost({ version: 't', host: 'browser', catalog: new ModelCatalog(TINY_BUNDLE, mkdtempSync(join(tmpdir(), 'var-w-'))), threads: 1, engineInWorker: true, openWorker, deliverExport: async () => ({ kind: 'cancelled' }) });
  const events: { type: string; jobId?: string; error?: { code: string; message: string; hint: string } }[] = [];
  const session = { id: 's', emit: (e: unknown) => events.push(e as never) };
  const generate = (jobId: string, batch: number) => host.handle('generate.start', { jobId, settings: { modelId: 'embedded', classIndex: 0, seed: 1, batch, sampling: request.sampling } }, session);
  return { host, events, session, generate };
}

describe('StudioHost with engineInWorker', () => {
  it('when the engine process is killed mid-job, the job ends with a clear error and the next Generate works without loading the model again', async () => {
    const { host, events, session, generate } = await hostWith(processWorkers);
    await host.handle('models.load', { modelId: 'embedded' }, session);
    await generate('j', 8);
    const deadline = Date.now() + 60_000;
    while (!events.some((e) => e.jobId === 'j' && e.type === 'job.scale') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const engineChild = children.find((c) => c.exitCode === null && c.signalCode === null && c.pid !== undefined)!;
    expect(engineChild.pid).not.toBe(process.pid);
    engineChild.kill('SIGKILL');
    await host.idle();
    const last = events.filter((e) => e.jobId === 'j').at(-1)!;
    expect(last.type).toBe('job.error');
    expect(last.error?.code).toBe('worker-exited');
    expect(last.error?.message).toMatch(/engine worker stopped \(exit code SIGKILL\)/);
    expect(last.error?.hint).toMatch(/started it again and reloaded the model; press Generate again/);
    await generate('k', 1);
    await host.idle();
    expect(events.filter((e) => e.jobId === 'k').at(-1)!.type).toBe('job.done');
    await host.dispose();
    expect(children.every((c) => c.exitCode !== null || c.signalCode !== null)).toBe(true);
  }, 120_000);

  it('when the engine thread dies, the model is loaded again in a new thread without asking', async () => {
    const { host, events, session, generate } = await hostWith();
    await host.handle('models.load', { modelId: 'embedded' }, session);
    // between jobs: ending a thread while onnxruntime runs in it can abort the whole process (its native callback)
    await (host as unknown as { workers: { engine: { channel: { kill(): Promise<void> } } } }).workers.engine.channel.kill();
    await generate('k', 1);
    await host.idle();
    expect(events.filter((e) => e.jobId === 'k').at(-1)!.type).toBe('job.done');
    await host.dispose();
  });
});
