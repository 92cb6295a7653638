// The engine worker: runs VarEngine, the image decoders/encoders and the checkpoint importer off the host's main
// thread, so a long job, decode or import never stalls the event loop that answers cancel and other windows. It
// runs as a worker thread (worker_threads' parentPort) or as an Electron utility process (process.parentPort).
import { parentPort } from 'node:worker_threads';
import { setAppRoot } from '../../engine/api';
import { VarEngine, type EditRequest, type GenerateRequest, type Precision, type ProviderName, type RgbImage } from '../../engine/index';
import { loadImporter } from '../catalog/importer';
import { encodeDocumentExport, encodeExport, inspectImage, openCanvasImage } from '../image-io';
import { serializeError, transferables, type FromWorker, type IoFunction, type ToWorker } from './protocol';

/** The one side of the channel this worker has, whichever kind of worker it is. */
interface HostPort {
  post(msg: FromWorker, transfer: ArrayBuffer[]): void;
  onMessage(listener: (msg: ToWorker) => void): void;
}

/** Electron's parentPort in a utility process: structured clone, only MessagePorts can be transferred. */
interface UtilityParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

function hostPort(): HostPort {
  if (parentPort) {
    const thread = parentPort;
    return { post: (msg, transfer) => thread.postMessage(msg, transfer), onMessage: (l) => void thread.on('message', l) };
  }
  const utility = (process as unknown as { parentPort?: UtilityParentPort }).parentPort;
  if (utility) return { post: (msg) => utility.postMessage(msg), onMessage: (l) => utility.on('message', (e) => l(e.data as ToWorker)) };
  throw new Error('engine-worker/entry runs only as a worker thread or an Electron utility process');
}

const port = hostPort();

const engines = new Map<number, VarEngine>();
const runs = new Map<number, AbortController>();

const IO: Record<IoFunction, (...args: never[]) => Promise<unknown>> = { encodeExport, encodeDocumentExport, inspectImage, openCanvasImage };

/** A copy where every typed array owns its whole buffer (engine buffers are views and get reused), ready to transfer. */
function ownBuffers<T>(value: T): T {
  if (ArrayBuffer.isView(value)) return (value as unknown as Uint8Array).slice() as T;
  if (Array.isArray(value)) return value.map(ownBuffers) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, ownBuffers(v)])) as T;
  return value;
}

function post(msg: FromWorker, transfer = false): void {
  port.post(msg, transfer ? transferables(msg) : []);
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.op) {
    case 'create': {
      const engine = await VarEngine.create(msg.dir, { provider: msg.options.provider as ProviderName | 'auto' | undefined, threads: msg.options.threads, precision: msg.options.precision as Precision | 'auto' | undefined, deviceId: msg.options.deviceId });
      engines.set(msg.id, engine);
      const { manifest, provider, precision } = engine;
      post({ id: msg.id, type: 'result', value: { manifest, precision: { ...precision }, provider: { inUse: provider.inUse, requested: provider.requested, skipped: provider.skipped.map((s) => ({ ...s })) } } });
      return;
    }
    case 'encode': {
      const engine = engines.get(msg.engine);
      if (!engine) throw new Error(`engine ${msg.engine} is not open in the worker`);
      post({ id: msg.id, type: 'result', value: ownBuffers(await engine.encode(msg.image as RgbImage)) }, true);
      return;
    }
    case 'run': {
      const engine = engines.get(msg.engine);
      if (!engine) throw new Error(`engine ${msg.engine} is not open in the worker`);
      const controller = new AbortController();
      runs.set(msg.id, controller);
      try {
        const events = msg.kind === 'generate'
          ? engine.generate(msg.request as GenerateRequest, controller.signal)
          : engine.edit(msg.request as EditRequest, controller.signal);
        for await (const event of events) post({ id: msg.id, type: 'event', event: ownBuffers(event) }, true);
        post({ id: msg.id, type: 'end' });
      } finally {
        runs.delete(msg.id);
      }
      return;
    }
    case 'import': {
      const controller = new AbortController();
      runs.set(msg.id, controller);
      try {
        if (msg.appRoot) setAppRoot(msg.appRoot);
        const importCheckpoints = await loadImporter();
        const value = await importCheckpoints({ ...msg.options, signal: controller.signal, onProgress: (event) => post({ id: msg.id, type: 'event', event: { ...event } }) });
        post({ id: msg.id, type: 'result', value });
      } finally {
        runs.delete(msg.id);
      }
      return;
    }
    case 'cancel':
      runs.get(msg.id)?.abort();
      return;
    case 'dispose': {
      const engine = engines.get(msg.engine);
      engines.delete(msg.engine);
      await engine?.dispose();
      post({ id: msg.id, type: 'result', value: null });
      return;
    }
    case 'io': {
      const value = await (IO[msg.fn] as (...a: unknown[]) => Promise<unknown>)(...msg.args);
      post({ id: msg.id, type: 'result', value: ownBuffers(value) }, true);
      return;
    }
  }
}

port.onMessage((msg) => {
  handle(msg).catch((e: unknown) => post({ id: msg.id, type: 'error', error: serializeError(e) }));
});
