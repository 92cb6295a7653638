/**
 * A real HTTP file server on 127.0.0.1 for download tests, shaped like Hugging Face: `/resolve/<file>`
 * answers 302 to `/cdn/<file>` with X-Linked-Etag (the sha256) and X-Linked-Size, and `/cdn/<file>` serves
 * the bytes with Range support. Faults are injected per file: drop the socket mid-body, flip a byte, lie
 * in the ETag, answer 416, slow the body down.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface Faults {
  /** For the next `times` requests of the file, cut the connection after this many body bytes. */
  dropAfter?: { bytes: number; times: number };
  /** Serve this byte offset changed (the download's hash must not match). */
  corruptAt?: number;
  /** Announce this ETag instead of the true sha256. */
  etag?: string;
  /** Answer every request for the file with 416. */
  always416?: boolean;
  /** Answer a Range request with the whole file (200), as servers without range support do. */
  ignoreRange?: boolean;
  /** Pause this many ms after each 64 KiB chunk (to pause or cancel mid-transfer). */
  chunkDelayMs?: number;
}

export interface Logged { path: string; range: string | undefined; status: number }

export function randomFile(bytes: number): { data: Buffer; sha256: string } {
  const data = randomBytes(bytes);
  return { data, sha256: createHash('sha256').update(data).digest('hex') };
}

export class FileServer {
  readonly files = new Map<string, Buffer>();
  readonly faults = new Map<string, Faults>();
  readonly log: Logged[] = [];
  private server!: Server;
  private sockets = new Set<Socket>();
  /** Number of redirects before the CDN for /resolve/ (Hugging Face uses one). */
  redirectHops = 1;
  base = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The catalogue base URL that serves `file` as `${resolveBase}/${file}`. */
  get resolveBase(): string {
    return `${this.base}/resolve`;
  }

  add(name: string, data: Buffer, faults: Faults = {}): void {
    this.files.set(name, data);
    this.faults.set(name, faults);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private sha(name: string): string {
    return createHash('sha256').update(this.files.get(name)!).digest('hex');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.base);
    const m = /^\/(resolve|hop(\d+)|cdn)\/(.+)$/.exec(url.pathname);
    const name = m ? decodeURIComponent(m[3]) : '';
    const range = req.headers.range;
    const done = (status: number) => this.log.push({ path: url.pathname, range, status });
    if (!m || !this.files.has(name)) {
      done(404);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
      return;
    }
    const data = this.files.get(name)!;
    const faults = this.faults.get(name) ?? {};
    if (m[1] !== 'cdn') {
      const hop = m[1] === 'resolve' ? 1 : Number(m[2]) + 1;
      const next = hop >= this.redirectHops ? `/cdn/${m[3]}` : `/hop${hop}/${m[3]}`;
      done(302);
      res.writeHead(302, {
        location: next,
        'x-linked-etag': `"${faults.etag ?? this.sha(name)}"`,
        'x-linked-size': String(data.length),
      }).end();
      return;
    }
    let start = 0, end = data.length - 1, status = 200;
    if (range && !faults.ignoreRange) {
      const r = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (faults.always416 || !r || Number(r[1]) >= data.length) {
        done(416);
        res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
        return;
      }
      start = Number(r[1]);
      end = r[2] ? Math.min(Number(r[2]), end) : end;
      status = 206;
    }
    const headers: Record<string, string> = {
      'content-length': String(end - start + 1), 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream',
      etag: '"cdn-etag-not-a-sha"',
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${data.length}`;
    done(status);
    res.writeHead(status, headers);
    res.flushHeaders();
    let body = data.subarray(start, end + 1);
    if (faults.corruptAt !== undefined && faults.corruptAt >= start && faults.corruptAt <= end) {
      body = Buffer.from(body);
      body[faults.corruptAt - start] ^= 0xff;
    }
    let limit = body.length;
    if (faults.dropAfter && faults.dropAfter.times > 0) {
      faults.dropAfter.times--;
      limit = Math.min(limit, faults.dropAfter.bytes);
    }
    void this.stream(res, body, limit, faults.chunkDelayMs ?? 0);
  }

  private async stream(res: ServerResponse, body: Buffer, limit: number, delayMs: number): Promise<void> {
    const CHUNK = 64 * 1024;
    for (let off = 0; off < limit; off += CHUNK) {
      if (res.destroyed) return;
      const ok = res.write(body.subarray(off, Math.min(off + CHUNK, limit)));
      if (!ok) await new Promise((r) => res.once('drain', r));
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    }
    if (limit < body.length) {
      // cut the connection mid-body, as a flaky network would: every byte written so far arrives, then FIN
      const socket = res.socket;
      while (socket && socket.writableLength > 0) await new Promise((r) => setTimeout(r, 5));
      socket?.end();
      return;
    }
    res.end();
  }
}

/** A tiny CONNECT proxy (the way HTTPS_PROXY is used): counts the tunnels it opened. */
export class ConnectProxy {
  tunnels: string[] = [];
  private server!: Server;
  private sockets = new Set<Socket>();
  url = '';

  async start(): Promise<this> {
    this.server = createServer((_req, res) => res.writeHead(405).end());
    this.server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      this.tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); s.on('error', () => undefined); }
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
