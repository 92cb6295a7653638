// A real in-process `Studio` for the renderer's sessions: the StudioHost both hosts use, on the tiny
// fixture bundle, with results and events checked against the contract as the two adapters do, and
// events delivered after the call that caused them returns (as over IPC or a socket), in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseEvent, parseResult, type ErrorInfo, type ParamsOf, type RequestKind, type ResultOf, type StudioEvent } from '../../../src/shared/contract';
import { toErrorInfo } from '../../../src/shared/errors';
import { StudioHost, type StudioSession } from '../../../src/host/service';
import { ModelCatalog } from '../../../src/host/models';
import { Listeners, StudioCallError, type Studio } from '../../../src/renderer/lib/studio/studio';
import { StudioApp } from '../../../src/renderer/lib/state/app.svelte';

const REPO = resolve(__dirname, '../../..');
export const TINY_BUNDLE = join(REPO, 'tests/fixtures/tiny/bundle');
export const PHOTO = join(REPO, 'tests/fixtures/engine/fashion-72x56.png');

export interface InProcessStudio extends Studio {
  readonly host: 'browser';
  /** Every call made, in order (kind and the jobId it named, if any). */
  readonly calls: { kind: RequestKind; jobId?: string }[];
  /** Every event delivered, in order. */
  readonly events: StudioEvent[];
  /** Exported files, as the desktop host's save dialog would have written them. */
  readonly exported: { fileName: string; mime: string; bytes: Uint8Array }[];
  close(): Promise<void>;
}

export function inProcessStudio(): InProcessStudio {
  const dir = mkdtempSync(join(tmpdir(), 'var-renderer-'));
  const host = new StudioHost({
    version: 'test', host: 'browser', catalog: new ModelCatalog(TINY_BUNDLE, join(dir, 'models')), threads: 1, dataDir: join(dir, 'data'),
    deliverExport: async (file) => {
      exported.push(file);
      return { kind: 'saved', path: join(dir, file.fileName), bytes: file.bytes.length };
    },
  });
  const exported: { fileName: string; mime: string; bytes: Uint8Array }[] = [];
  const listeners = new Listeners<StudioEvent>();
  const problems = new Listeners<ErrorInfo>();
  const events: StudioEvent[] = [];
  const calls: { kind: RequestKind; jobId?: string }[] = [];
  let delivery = Promise.resolve();
  const session: StudioSession = {
    id: 'window-1',
    emit: (e) => {
      const event = parseEvent(e);
      delivery = delivery.then(() => new Promise<void>((r) => setImmediate(r))).then(() => {
        events.push(event);
        listeners.emit(event);
      });
    },
  };
  return {
    host: 'browser',
    calls,
    events,
    exported,
    async call<K extends RequestKind>(kind: K, params: ParamsOf<K>): Promise<ResultOf<K>> {
      calls.push({ kind, ...(params && typeof params === 'object' && 'jobId' in params ? { jobId: String((params as { jobId: unknown }).jobId) } : {}) });
      try {
        return parseResult(kind, await host.handle(kind, params, session));
      } catch (e) {
        throw new StudioCallError(toErrorInfo(e));
      }
    },
    onEvent: (fn) => listeners.add(fn),
    onProblem: (fn) => problems.add(fn),
    async close() {
      await host.dispose();
      await delivery;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves when `check` holds (polled), or fails naming what was awaited. */
export async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A started StudioApp on a fresh in-process studio, its seed locked (runs repeat) and the given settings applied. */
export async function startedApp(settings: { seed: number; batch?: number; classIndex?: number }): Promise<{ studio: InProcessStudio; app: StudioApp }> {
  const studio = inProcessStudio();
  const app = new StudioApp(studio);
  await app.start();
  app.settings.seed = settings.seed;
  app.settings.seedLocked = true;
  if (settings.batch !== undefined) app.settings.batch = settings.batch;
  if (settings.classIndex !== undefined) app.settings.classIndex = settings.classIndex;
  return { studio, app };
}
