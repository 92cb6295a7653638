// WorkerEngine: a drop-in proxy for the parts of VarEngine and image-io the host uses, running them in a
// worker thread (./entry.ts). Pixel buffers travel as transferred ArrayBuffers; an AbortSignal becomes a
// cancel message; errors come back as the same typed errors (class, code and message kept).
import { EngineError, appRootSetting, type EngineEvent, type EditRequest, type GenerateRequest, type Precision, type ProviderName, type RgbImage } from '../../engine/api';
import type { ImportProgress } from '../../engine/import/index';
import type { ImportCheckpoints } from '../catalog/importer';
import type { VarEngine } from '../../engine/index';
import type { encodeDocumentExport, encodeExport, inspectImage, openCanvasImage } from '../image-io';
import { reviveError, type FromWorker, type IoFunction, type ToWorker } from './protocol';
import { threadChannel, type EngineChannel, type OpenChannel, type WorkerRole } from './channel';

/** What the host uses of an engine: VarEngine itself, or its proxy in a worker. */
export type HostEngine = Pick<VarEngine, 'manifest' | 'provider' | 'precision' | 'generate' | 'edit' | 'encode' | 'dispose'>;

/** The image-io calls the host makes; in a worker or in this thread. */
export interface ImageIo {
  encodeExport: typeof encodeExport;
  encodeDocumentExport: typeof encodeDocumentExport;
  inspectImage: typeof inspectImage;
  openCanvasImage: typeof openCanvasImage;
}

const ROLE_NAMES: Record<WorkerRole, string> = { engine: 'engine worker', 'image-codecs': 'engine image worker', importer: 'checkpoint importer' };

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  event?(event: unknown): void;
}

/** One engine worker (a thread, or a process in Electron) and the requests in flight on it. */
export class EngineWorker {
  private channel: EngineChannel | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly exitListeners: (() => void)[] = [];

  /** `open` starts the worker on first use: a thread of this process unless the host injects another transport. */
  constructor(private readonly role: WorkerRole = 'engine', private readonly open: OpenChannel = threadChannel) {}

  /** Called when the worker dies on its own (a crash, out of memory, killed): engines opened in it are gone. */
  onExit(listener: () => void): void {
    this.exitListeners.push(listener);
  }

  private connect(): EngineChannel {
    if (this.channel) return this.channel;
    const channel = this.open(this.role);
    channel.onMessage((m) => this.receive(m));
    channel.onExit((why) => {
      if (this.channel !== channel) return;
      this.channel = null;
      const error = new EngineError('worker-exited', `The ${ROLE_NAMES[this.role]} stopped (${why}); it is started again on the next request.`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
      for (const l of this.exitListeners) l();
    });
    this.channel = channel;
    return channel;
  }

  private receive(m: FromWorker): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'event') return p.event?.(m.event);
    this.pending.delete(m.id);
    if (m.type === 'error') p.reject(reviveError(m.error));
    else p.resolve(m.type === 'result' ? m.value : undefined);
  }

  /** Sends one request; resolves with its result (or at its end, for a run). */
  request(make: (id: number) => ToWorker, onEvent?: (event: unknown) => void, transfer: ArrayBuffer[] = []): { id: number; done: Promise<unknown> } {
    const channel = this.connect();
    const msg = make(this.nextId++);
    const done = new Promise<unknown>((resolve, reject) => this.pending.set(msg.id, { resolve, reject, event: onEvent }));
    channel.post(msg, transfer);
    return { id: msg.id, done };
  }

  send(msg: ToWorker): void {
    this.channel?.post(msg, []);
  }

  /** The image-io calls, run in this worker. */
  imageIo(): ImageIo {
    const call = (fn: IoFunction) => (...args: unknown[]) => this.request((id) => ({ op: 'io', id, fn, args })).done;
    return {
      encodeExport: call('encodeExport'), encodeDocumentExport: call('encodeDocumentExport'),
      inspectImage: call('inspectImage'), openCanvasImage: call('openCanvasImage'),
    } as ImageIo;
  }

  /**
   * importCheckpoints run in this worker: the options are copied across, progress comes back as events and
   * an abort of `signal` becomes a cancel message, so it fails with the importer's own aborted error.
   */
  importer(): ImportCheckpoints {
    return async ({ onProgress, signal, ...options }) => {
      const req = this.request((id) => ({ op: 'import', id, options, appRoot: appRootSetting() }), (e) => onProgress?.(e as ImportProgress));
      const onAbort = () => this.send({ op: 'cancel', id: req.id });
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        return await req.done;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    };
  }

  async terminate(): Promise<void> {
    const channel = this.channel;
    this.channel = null;
    for (const p of this.pending.values()) p.reject(new EngineError('disposed', 'the engine worker was closed'));
    this.pending.clear();
    await channel?.kill();
  }
}

/** VarEngine's host-facing surface, with the engine living in an EngineWorker. */
export class WorkerEngine implements HostEngine {
  private constructor(
    private readonly worker: EngineWorker,
    private readonly handle: number,
    readonly manifest: VarEngine['manifest'],
    readonly provider: VarEngine['provider'],
    readonly precision: VarEngine['precision'],
  ) {}

  static async create(worker: EngineWorker, bundleDir: string, opts: { provider?: ProviderName | 'auto'; threads?: number; precision?: Precision | 'auto'; deviceId?: number } = {}): Promise<WorkerEngine> {
    const req = worker.request((id) => ({ op: 'create', id, dir: bundleDir, options: { provider: opts.provider, threads: opts.threads, precision: opts.precision, deviceId: opts.deviceId } }));
    const info = (await req.done) as Pick<VarEngine, 'manifest' | 'provider' | 'precision'>;
    return new WorkerEngine(worker, req.id, info.manifest, info.provider, info.precision);
  }

  /** The image's token pyramid from the model's encoder, computed in the worker. */
  async encode(image: RgbImage): Promise<Int32Array[]> {
    return (await this.worker.request((id) => ({ op: 'encode', id, engine: this.handle, image })).done) as Int32Array[];
  }

  generate(req: GenerateRequest, signal?: AbortSignal): AsyncGenerator<EngineEvent> {
    return this.run('generate', req, signal);
  }

  edit(req: EditRequest, signal?: AbortSignal): AsyncGenerator<EngineEvent> {
    return this.run('edit', req, signal);
  }

  private async *run(kind: 'generate' | 'edit', request: GenerateRequest | EditRequest, signal?: AbortSignal): AsyncGenerator<EngineEvent> {
    if (signal?.aborted) throw new EngineError('aborted', 'the run was cancelled');
    const queue: EngineEvent[] = [];
    let wake: (() => void) | null = null;
    const nudge = () => { wake?.(); wake = null; };
    let finished = false;
    let failure: Error | null = null;
    // the inputs are copied (structured clone): they may be views into the caller's larger buffers
    const req = this.worker.request((id) => ({ op: 'run', id, engine: this.handle, kind, request }), (e) => { queue.push(e as EngineEvent); nudge(); });
    req.done.then(() => { finished = true; nudge(); }, (e: Error) => { failure = e; finished = true; nudge(); });
    const onAbort = () => this.worker.send({ op: 'cancel', id: req.id });
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        // Events the worker sent before the cancel reached it are not delivered after an abort: the caller sees
        // the aborted error the in-thread engine gives, however far ahead the worker ran.
        if (signal?.aborted) throw new EngineError('aborted', 'the run was cancelled');
        const next = queue.shift();
        if (next) { yield next; continue; }
        if (finished) break;
        await new Promise<void>((r) => { wake = r; });
      }
      if (failure) throw failure;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!finished) onAbort();
    }
  }

  async dispose(): Promise<void> {
    await this.worker.request((id) => ({ op: 'dispose', id, engine: this.handle })).done.catch(() => undefined);
  }
}

