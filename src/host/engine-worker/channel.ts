// The transport between the host and the engine worker: a worker thread (browser-mode server, CLI, tests)
// or, injected by Electron's main, a separate process. EngineWorker speaks to either through this interface.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EngineError } from '../../engine/api';
import type { FromWorker, ToWorker } from './protocol';

/** What the engine worker's two sides need of the connection between them. */
export interface EngineChannel {
  /** Sends one message; `transfer` lists buffers a thread may move instead of copy (a process copies them). */
  post(msg: ToWorker, transfer: ArrayBuffer[]): void;
  onMessage(listener: (msg: FromWorker) => void): void;
  /** Called once when the other side is gone on its own (crash, out of memory, killed), with why. */
  onExit(listener: (why: string) => void): void;
  /** Stops the other side; resolves once it is gone. */
  kill(): Promise<void>;
}

/** Which worker a channel serves: the engine's jobs, image decode/encode, or checkpoint import. */
export type WorkerRole = 'engine' | 'image-codecs' | 'importer';

/** Opens a new channel (a fresh thread or process) for one role. */
export type OpenChannel = (role: WorkerRole) => EngineChannel;

/** The worker's script: entry.ts beside this file under tsx/vitest, engine-worker.js in the electron-vite build. */
export function workerScript(): { url: URL | string; eval?: boolean } {
  const here = import.meta.url;
  // tsx's loader hooks are per thread: the worker registers them itself, then imports the TypeScript entry
  if (here.endsWith('.ts')) return { url: `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(new URL('./entry.ts', here).href)}); });`, eval: true };
  const dir = path.dirname(fileURLToPath(here));
  // the bundle's code may sit in out/main or in a chunk folder below it
  for (const candidate of [path.join(dir, 'engine-worker.js'), path.join(dir, '..', 'engine-worker.js')])
    if (existsSync(candidate)) return { url: new URL(`file://${candidate}`) };
  throw new EngineError('worker-missing', `The engine worker script engine-worker.js is missing next to ${dir}; reinstall the app.`);
}

/** A worker thread of this process. */
export function threadChannel(): EngineChannel {
  const script = workerScript();
  const worker = new Worker(script.url, { eval: script.eval ?? false });
  worker.unref();
  let gone = false;
  const exitListeners: ((why: string) => void)[] = [];
  const exited = (why: string) => {
    if (gone) return;
    gone = true;
    for (const l of exitListeners) l(why);
  };
  worker.on('error', (e) => exited(e.message));
  worker.on('exit', (code) => exited(`exit code ${code}`));
  return {
    post: (msg, transfer) => worker.postMessage(msg, transfer),
    onMessage: (listener) => void worker.on('message', listener),
    onExit: (listener) => void exitListeners.push(listener),
    async kill() {
      await worker.terminate();
    },
  };
}
