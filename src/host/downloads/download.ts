/**
 * A resumable, verified download of one large file.
 *
 * Bytes go to `<dest>.part`; `<dest>.part.json` beside it records the expected sha256, the server's ETag and
 * size, so a later process can resume with an HTTP Range request. Resuming re-hashes the bytes already in
 * the .part file: Node's crypto cannot export a SHA-256 midstate, and re-reading at disk speed (seconds for
 * gigabytes) is cheaper and safer than trusting a stored state that could be out of step with the file.
 * The sha256 of everything written is computed while streaming; only a matching file is renamed to `dest`
 * (atomically), so a file at `dest` is always complete and verified. A mismatch deletes the .part.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm, stat, statfs, truncate } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Dispatcher } from 'undici';
import { DownloadError, errorCode, isNetworkError, offlineError } from './errors';
import { bareEtag, openWithRedirects, parseContentRange, proxyAwareDispatcher } from './http';
import { RateMeter, formatBytes } from './rate';
import { writeFileSafely } from '../safe-write';

export interface DownloadOptions {
  url: string;
  /** Final path; nothing is written there until the whole file has the right sha256. */
  dest: string;
  /** Expected sha256, lower-case hex. */
  sha256: string;
  /** Exact expected size, when known; a server announcing another size is refused before any byte is read. */
  bytes?: number;
  /** A size estimate for the free-space check when the server does not announce a length. */
  sizeHint?: number;
  /** Defaults to an undici EnvHttpProxyAgent (honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY). */
  dispatcher?: Dispatcher;
  maxRedirects?: number;
  /** Reconnections in a row without new bytes before giving up (the .part is kept). */
  retries?: number;
  /** First reconnection delay; doubles each time, at most 30 s. */
  retryDelayMs?: number;
  progressIntervalMs?: number;
  /** Free bytes of the disk holding `dir` (default: fs.statfs). */
  freeBytes?: (dir: string) => Promise<number>;
  onEvent?: (e: DownloadEvent) => void;
}

export type DownloadEvent =
  | { type: 'checking'; checked: number; total: number }
  | { type: 'connected'; url: string; redirects: number; total: number | null; resumeFrom: number; etag: string | null; etagIsSha256: boolean }
  | { type: 'progress'; received: number; total: number | null; rate: number; eta: number | null }
  | { type: 'retry'; attempt: number; received: number; reason: string; delayMs: number }
  | { type: 'verifying' }
  | { type: 'done'; path: string; bytes: number; sha256: string };

export type DownloadResult =
  | { status: 'complete'; path: string; bytes: number; sha256: string }
  | { status: 'paused'; received: number; total: number | null }
  | { status: 'cancelled' };

/** What `<dest>.part.json` holds. */
export interface PartState {
  version: 1;
  url: string;
  sha256: string;
  etag: string | null;
  total: number | null;
  updatedAt: string;
}

const SHA256 = /^[0-9a-f]{64}$/;
const FREE_SPACE_MARGIN = 64 * 1024 * 1024;
const WRITE_BATCH = 4 * 1024 * 1024;

export const partPath = (dest: string): string => `${dest}.part`;
export const partStatePath = (dest: string): string => `${dest}.part.json`;

/** Deletes a partial download (the .part file and its state). */
export async function discardPartial(dest: string): Promise<void> {
  await rm(partPath(dest), { force: true });
  await rm(partStatePath(dest), { force: true });
}

/** How far a partial download got, from the files alone (for a status shown after a restart). */
export async function partialProgress(dest: string): Promise<{ received: number; total: number | null; sha256: string } | null> {
  try {
    const state = JSON.parse(await readFile(partStatePath(dest), 'utf8')) as PartState;
    const { size } = await stat(partPath(dest));
    return { received: size, total: state.total, sha256: state.sha256 };
  } catch {
    return null;
  }
}

async function readState(dest: string): Promise<PartState | null> {
  try {
    const s = JSON.parse(await readFile(partStatePath(dest), 'utf8')) as PartState;
    return s.version === 1 && typeof s.sha256 === 'string' ? s : null;
  } catch {
    return null;
  }
}

async function writeState(dest: string, state: PartState): Promise<void> {
  await writeFileSafely(partStatePath(dest), JSON.stringify(state));
}

async function sizeOrZero(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function statfsFree(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

type Stop = 'pause' | 'cancel';

export class Download {
  private readonly controller = new AbortController();
  private stop: Stop | null = null;
  private running: Promise<DownloadResult> | null = null;
  /** sha256 of exactly the bytes in the .part file so far. */
  private hash: Hash = createHash('sha256');
  /** Whether a server answered in this run: until then a network error means offline, not a dropped transfer. */
  private connected = false;
  /** The file's size once a server announced it (or the catalogue's exact size). */
  private total: number | null = null;
  private readonly name: string;
  private readonly o: Required<Pick<DownloadOptions, 'maxRedirects' | 'retries' | 'retryDelayMs' | 'progressIntervalMs'>> & DownloadOptions;

  constructor(options: DownloadOptions) {
    if (!SHA256.test(options.sha256)) throw new TypeError(`sha256 must be 64 lower-case hex digits, got "${options.sha256}"`);
    this.o = { maxRedirects: 10, retries: 5, retryDelayMs: 1000, progressIntervalMs: 250, ...options };
    this.name = basename(options.dest);
  }

  /** Runs (or joins) the download. Resolves when complete, paused or cancelled; rejects with DownloadError. */
  start(): Promise<DownloadResult> {
    this.running ??= this.run();
    return this.running;
  }

  /** Stops and keeps the .part for a later resume. */
  pause(): void {
    this.stop ??= 'pause';
    this.controller.abort();
  }

  /** Stops and deletes the .part. */
  cancel(): void {
    this.stop = 'cancel';
    this.controller.abort();
  }

  private emit(e: DownloadEvent): void {
    this.o.onEvent?.(e);
  }

  private async stopped(received: number): Promise<DownloadResult> {
    if (this.stop === 'cancel') {
      await discardPartial(this.o.dest);
      return { status: 'cancelled' };
    }
    return { status: 'paused', received, total: this.total };
  }

  private async run(): Promise<DownloadResult> {
    const { dest, sha256 } = this.o;
    const part = partPath(dest);
    await mkdir(dirname(dest), { recursive: true });
    if (await this.existingIsComplete()) {
      const bytes = (await stat(dest)).size;
      this.emit({ type: 'done', path: dest, bytes, sha256 });
      return { status: 'complete', path: dest, bytes, sha256 };
    }
    const state = await readState(dest);
    if (!state || state.sha256 !== sha256) await discardPartial(dest);
    this.total = state?.sha256 === sha256 ? state.total : null;
    let etag: string | null = state?.sha256 === sha256 ? state.etag : null;

    let received = await this.hashPrefix(part);
    if (this.stop) return this.stopped(received);

    const dispatcher = this.o.dispatcher ?? proxyAwareDispatcher();
    let failures = 0;
    try {
      for (;;) {
        if (this.stop) return await this.stopped(received);
        if (this.total !== null && received === this.total) break;
        const before = received;
        try {
          ({ received, etag } = await this.transfer(dispatcher, received, etag));
          if (this.total === null || received === this.total) break; // a length-less body ends when the file ends
        } catch (e) {
          if (this.stop) return await this.stopped(await sizeOrZero(part));
          received = await sizeOrZero(part);
          const retryable = (e instanceof DownloadError && (e.code === 'offline' || (e.code === 'http' && (e.status ?? 0) >= 500))) ||
            (!(e instanceof DownloadError) && isNetworkError(e));
          if (!retryable || !this.connected) throw e;
          failures = received > before ? 1 : failures + 1;
          if (failures > this.o.retries) throw e instanceof DownloadError ? e : offlineError(new URL(this.o.url).host, e);
          const delayMs = Math.min(30_000, this.o.retryDelayMs * 2 ** (failures - 1));
          this.emit({ type: 'retry', attempt: failures, received, reason: (e as Error).message, delayMs });
          await sleep(delayMs, this.controller.signal);
          // bytes written before the failure are in the file and in the hash; continue from there
          continue;
        }
      }
    } finally {
      if (!this.o.dispatcher) await dispatcher.close().catch(() => undefined);
    }
    return this.finish(received);
  }

  /** True when `dest` already holds the file (it is only ever created by a verified rename). */
  private async existingIsComplete(): Promise<boolean> {
    try {
      const s = await stat(this.o.dest);
      return s.isFile() && (this.o.bytes === undefined || s.size === this.o.bytes);
    } catch {
      return false;
    }
  }

  /** Feeds the bytes already in the .part file to the hash; returns how many there are. */
  private async hashPrefix(part: string): Promise<number> {
    const size = await sizeOrZero(part);
    if (size === 0) return 0;
    let checked = 0, last = 0;
    const stream = createReadStream(part, { end: size - 1, highWaterMark: 1 << 20 });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (this.stop) break;
        this.hash.update(chunk);
        checked += chunk.length;
        const now = Date.now();
        if (now - last >= this.o.progressIntervalMs || checked === size) { last = now; this.emit({ type: 'checking', checked, total: size }); }
      }
    } catch (e) {
      throw new DownloadError('io', `Cannot read the partial download ${part}: ${(e as Error).message}. Cancel it and download again.`);
    } finally {
      stream.destroy();
    }
    return size;
  }

  /** One HTTP exchange: request from `received` on and append the body. */
  private async transfer(dispatcher: Dispatcher, received: number, knownEtag: string | null) {
    const { url, dest, sha256 } = this.o;
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'var-studio' };
    if (received > 0) headers.range = `bytes=${received}-`;
    const res = await openWithRedirects(url, { dispatcher, headers, signal: this.controller.signal, maxRedirects: this.o.maxRedirects });
    const { status } = res;
    this.connected = true;
    if (status === 404 || status === 410) {
      await res.body.dump();
      throw new DownloadError('not-found', `${this.name} was not found at ${url} (HTTP ${status}): the catalogue's revision or the base URL (VAR_STUDIO_MODEL_BASE_URL) is wrong.`, status);
    }
    if (status === 416) {
      await res.body.dump();
      const serverTotal = parseContentRange(res.headers['content-range'])?.total;
      if (serverTotal !== undefined && serverTotal === received) {
        this.total = serverTotal;
        return { received, etag: knownEtag };
      }
      await discardPartial(dest);
      throw new DownloadError('range-not-satisfiable', `The server refused to resume ${this.name} at byte ${received} (HTTP 416${serverTotal !== undefined ? `; its file has ${serverTotal} bytes` : ''}); the partial file did not fit and was deleted — start the download again.`, 416);
    }
    if (status !== 200 && status !== 206) {
      await res.body.dump();
      throw new DownloadError('http', `Downloading ${this.name} failed: ${new URL(res.url).host} answered HTTP ${status}. Try again later.`, status);
    }

    let resumeFrom = received;
    let newTotal: number | null;
    if (status === 206) {
      const range = parseContentRange(res.headers['content-range']);
      if (!range || range.start !== received) {
        await res.body.dump();
        throw new DownloadError('bad-response', `The server answered a request for ${this.name} from byte ${received} with the range "${res.headers['content-range'] ?? 'none'}"; cancel and download again.`);
      }
      newTotal = range.total ?? this.total;
    } else {
      // 200: the whole file, whether or not we asked for a range
      const length = res.headers['content-length'];
      // a chunked answer has no length: the redirect's X-Linked-Size still says how big the file is
      newTotal = length && /^\d+$/.test(length) ? Number(length) : (res.linkedSize ?? null);
      if (received > 0) {
        await truncate(partPath(dest), 0);
        this.hash = createHash('sha256');
        resumeFrom = 0;
        received = 0;
      }
    }

    const etag = bareEtag(res.linkedEtag) ?? bareEtag(res.headers.etag) ?? null;
    const claimed = [bareEtag(res.linkedEtag), bareEtag(res.headers.etag)].find((e) => e !== undefined && SHA256.test(e.toLowerCase()))?.toLowerCase();
    this.emit({ type: 'connected', url: res.url, redirects: res.redirects, total: newTotal, resumeFrom, etag, etagIsSha256: claimed !== undefined });
    if (claimed && claimed !== sha256) {
      await res.body.dump();
      throw new DownloadError('etag-mismatch', `The server says ${this.name} has sha256 ${claimed} (its ETag) but the catalogue expects ${sha256}; nothing more was downloaded. The catalogue or the server's file is wrong: check the model catalogue, or import the file yourself once you trust it.`);
    }
    const announced = newTotal ?? res.linkedSize ?? null;
    if (this.o.bytes !== undefined && announced !== null && announced !== this.o.bytes) {
      await res.body.dump();
      throw new DownloadError('size-mismatch', `The server's ${this.name} has ${announced} bytes but the catalogue expects ${this.o.bytes}; nothing more was downloaded. The catalogue or the server's file is wrong.`);
    }
    newTotal ??= this.o.bytes ?? null;
    this.total = newTotal;

    await this.checkFreeSpace(res, (newTotal ?? this.o.sizeHint ?? 0) - resumeFrom);
    await writeState(dest, { version: 1, url, sha256, etag, total: newTotal, updatedAt: new Date().toISOString() });

    received = await this.appendBody(res.body, resumeFrom, newTotal);
    return { received, etag };
  }

  private async checkFreeSpace(res: { body: { dump(): Promise<void> } }, needed: number): Promise<void> {
    if (needed <= 0) return;
    const dir = dirname(this.o.dest);
    let free: number;
    try {
      free = await (this.o.freeBytes ?? statfsFree)(dir);
    } catch {
      return; // statfs unsupported here: the write itself will report ENOSPC
    }
    if (free < needed + FREE_SPACE_MARGIN) {
      await res.body.dump();
      throw new DownloadError('disk-full', `Not enough disk space for ${this.name}: it needs ${formatBytes(needed)} more in ${dir}, only ${formatBytes(free)} are free. Free some space or move the models folder, then resume.`);
    }
  }

  private async appendBody(body: AsyncIterable<Buffer | Uint8Array>, received: number, total: number | null): Promise<number> {
    const fh = await open(partPath(this.o.dest), 'a');
    const meter = new RateMeter();
    let last = Date.now();
    meter.sample(last, received);
    // chunks are written in batches (one write per few MiB instead of per 64 KiB network chunk)
    const pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const batch = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending.length = 0;
      pendingBytes = 0;
      await this.writeAll(fh, batch);
      this.hash.update(batch); // only bytes that are in the file: the hash always matches the .part
    };
    try {
      for await (const chunk of body) {
        if (total !== null && received + chunk.length > total) {
          throw new DownloadError('bad-response', `The server sent more than the announced ${total} bytes of ${this.name}; cancel and download again.`);
        }
        pending.push(chunk);
        pendingBytes += chunk.length;
        received += chunk.length;
        if (pendingBytes >= WRITE_BATCH) await flush();
        const now = Date.now();
        if (now - last >= this.o.progressIntervalMs) {
          last = now;
          meter.sample(now, received);
          this.emit({ type: 'progress', received, total, rate: meter.rate(), eta: total === null ? null : meter.eta(total - received) });
        }
      }
    } finally {
      try {
        await flush(); // also after a dropped connection or a pause: what arrived is kept
      } finally {
        await fh.sync().catch(() => undefined);
        await fh.close();
      }
    }
    this.emit({ type: 'progress', received, total, rate: meter.rate(), eta: 0 });
    return received;
  }

  private async writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
    for (let off = 0; off < data.length;) {
      try {
        off += (await fh.write(data, off, data.length - off)).bytesWritten;
      } catch (e) {
        if (errorCode(e) === 'ENOSPC') {
          throw new DownloadError('disk-full', `The disk filled up while downloading ${this.name} into ${dirname(this.o.dest)} (ENOSPC); the partial file is kept — free some space, then resume.`);
        }
        throw new DownloadError('io', `Cannot write ${partPath(this.o.dest)}: ${(e as Error).message}.`);
      }
    }
  }

  private async finish(received: number): Promise<DownloadResult> {
    const { dest, sha256 } = this.o;
    this.emit({ type: 'verifying' });
    const actual = this.hash.digest('hex');
    if (actual !== sha256) {
      await discardPartial(dest);
      throw new DownloadError('hash-mismatch', `${this.name} is damaged: its sha256 is ${actual} but should be ${sha256}; the downloaded file was deleted. Download it again; if this repeats, a proxy or the server is altering the file.`);
    }
    await rename(partPath(dest), dest);
    await rm(partStatePath(dest), { force: true });
    this.emit({ type: 'done', path: dest, bytes: received, sha256 });
    return { status: 'complete', path: dest, bytes: received, sha256 };
  }
}
