// Browser mode: serves the built renderer and the contract over a WebSocket, on loopback only, to clients
// that hold the per-launch token (auth.ts). Messages are binary frames (src/shared/wire.ts, docs/wire.md):
// byte arrays arrive as raw bytes, so a large request is never parsed as JSON text on this thread. Every
// request is validated once (envelope here, params by the host); a malformed one is answered with an
// error and the connection stays usable. Every reply and event is checked against the contract and the
// message cap before it is sent. Only files that were in the renderer folder at start are served.
import http from 'node:http';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { ContractError } from '../shared/schema';
import { parseEvent, parseResult, type RequestKind, type StudioEvent } from '../shared/contract';
import { StudioError, toErrorInfo } from '../shared/errors';
import { forLog } from '../shared/log-text';
import { staticTypeOf } from '../shared/static-types';
import { MAX_REQUEST_PIECE_BYTES, MAX_WIRE_MESSAGE_BYTES, REQUEST_LIMITS, WireReader, encodeFrame, idOf, parseWireRequest, type WireFrame, type WireMessage } from '../shared/wire';
import { cookieName, newToken, readCookie, tokenCookie, tokenMatches } from './auth';
import type { StudioHost, StudioSession } from '../host/service';
import { CSP_HEADER } from './csp';

export const LOOPBACK = '127.0.0.1';

/**
 * Reads the built UI into memory once, at start: exactly these files are served (nothing else on disk is
 * reachable), and a rebuild of out/renderer while the server runs cannot serve a half-written set.
 */
async function snapshotFiles(root: string): Promise<Map<string, { body: Buffer; type: string }>> {
  const files = new Map<string, { body: Buffer; type: string }>();
  async function walk(dir: string): Promise<void> {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile())
        files.set('/' + path.relative(root, full).split(path.sep).join('/'), { body: await fs.readFile(full), type: staticTypeOf(full) });
    }
  }
  await walk(root);
  return files;
}

export interface StudioServer {
  /** The URL to open: the origin plus `?token=…`. */
  url: string;
  /** http://127.0.0.1:PORT/ without the token. */
  origin: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

export interface StudioServerOptions {
  port: number;
  rendererDir: string;
  host: StudioHost;
  log?: (line: string) => void;
  /** The secret clients must hold; a fresh random one per launch when absent. */
  token?: string;
  /** How often sockets are pinged; one that has not answered the previous ping is closed. */
  heartbeatMs?: number;
  /** Open WebSockets at most; the next one is closed with code 1013 and a reason. */
  maxConnections?: number;
}

export const DEFAULT_HEARTBEAT_MS = 30_000;
export const DEFAULT_MAX_CONNECTIONS = 16;
const CLOSE_TRY_AGAIN_LATER = 1013;

const UNAUTHORIZED = 'This VAR Studio server needs its access token. Open the full URL the server printed at start (http://127.0.0.1:PORT/?token=...).';

const MiB = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/** Checks a result against the contract and the message cap, so an oversized reply fails fast and clearly. */
function checkedReply(id: number, kind: RequestKind, result: unknown): WireFrame {
  try {
    parseResult(kind, result);
  } catch (e) {
    if (!(e instanceof ContractError)) throw e;
    throw new StudioError('reply-too-large', `The reply to ${kind} does not fit the contract: ${e.message}`,
      'The result is larger than the app can carry. For an export pick a smaller scale or JPEG/WebP; for an image, use a smaller one.');
  }
  const frame = encodeFrame({ t: 'res', id, ok: true, result });
  if (frame.byteLength > MAX_WIRE_MESSAGE_BYTES) {
    throw new StudioError('reply-too-large', `The reply to ${kind} would be ${MiB(frame.byteLength)} MiB, more than the ${MiB(MAX_WIRE_MESSAGE_BYTES)} MiB a message may carry.`,
      'Use a smaller image or a smaller batch.');
  }
  return frame;
}

export async function startStudioServer(opts: StudioServerOptions): Promise<StudioServer> {
  const log = (line: string) => opts.log?.(forLog(line));
  const token = opts.token ?? newToken();
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  let files: Map<string, { body: Buffer; type: string }>;
  try {
    files = await snapshotFiles(opts.rendererDir);
  } catch {
    throw new Error(`The built UI is missing (${opts.rendererDir}). Run "npm run build" first (npm run serve does it for you).`);
  }
  if (!files.has('/index.html')) throw new Error(`${opts.rendererDir} has no index.html. Run "npm run build" first.`);

  let port = opts.port;
  const allowedHosts = () => new Set([`${LOOPBACK}:${port}`, `localhost:${port}`]);
  const securityHeaders = {
    'Content-Security-Policy': CSP_HEADER,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };

  const hasToken = (req: http.IncomingMessage, url: URL) =>
    tokenMatches(readCookie(req.headers.cookie, cookieName(port)), token) || tokenMatches(url.searchParams.get('token'), token);

  const server = http.createServer((req, res) => {
    // A DNS-rebinding page would arrive with its own Host name: answer only to our loopback names.
    if (!allowedHosts().has(req.headers.host ?? '')) {
      res.writeHead(421, { 'Content-Type': 'text/plain' }).end('Misdirected request: use the URL printed by the server.');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', ...securityHeaders }).end();
      return;
    }
    let url: URL;
    let pathname: string;
    try {
      url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
      pathname = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400, securityHeaders).end();
      return;
    }
    if (url.searchParams.has('token')) {
      if (!tokenMatches(url.searchParams.get('token'), token)) {
        res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders }).end(UNAUTHORIZED);
        return;
      }
      // Trade the URL's token for a cookie and drop it from the address bar (and from the history).
      url.searchParams.delete('token');
      const clean = '/' + url.pathname.replace(/^\/+/, '') + url.search; // never "//host": no open redirect
      res.writeHead(303, { Location: clean, 'Set-Cookie': tokenCookie(port, token), ...securityHeaders }).end();
      return;
    }
    if (!hasToken(req, url)) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders }).end(UNAUTHORIZED);
      return;
    }
    if (pathname === '/') pathname = '/index.html';
    const file = files.get(pathname); // exact match against the startup snapshot: no traversal possible
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders }).end('Not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, ...securityHeaders });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  });
  // Slow or half-sent requests must not hold sockets open for the default minutes.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = maxConnections * 4 + 16;

  const refuse = (socket: import('node:stream').Duplex, status: string, body: string) => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.destroy();
  };
  // A request arrives as a head and chunks (src/shared/wire.ts): no single WebSocket message is larger.
  // One message per event-loop turn: a socket read holding many chunks must not starve other connections.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_REQUEST_PIECE_BYTES, allowSynchronousEvents: false });
  server.on('upgrade', (req, socket, head) => {
    const origin = req.headers.origin;
    const okOrigin = origin === `http://${LOOPBACK}:${port}` || origin === `http://localhost:${port}`;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
    } catch {
      refuse(socket, '400 Bad Request', 'Bad request');
      return;
    }
    if (url.pathname !== '/ws' || !allowedHosts().has(req.headers.host ?? '') || !okOrigin) {
      refuse(socket, '403 Forbidden', 'Forbidden');
      return;
    }
    if (!hasToken(req, url)) {
      refuse(socket, '401 Unauthorized', UNAUTHORIZED);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (wss.clients.size > maxConnections) {
        ws.close(CLOSE_TRY_AGAIN_LATER, `VAR Studio accepts at most ${maxConnections} connections; close another tab and reload`);
        return;
      }
      wss.emit('connection', ws, req);
    });
  });

  // Heartbeat: a socket that has not answered the last ping (idle, half-open, or stuck mid-frame) is closed.
  const alive = new WeakMap<WebSocket, boolean>();
  let lastBeat = Date.now();
  const heartbeat = setInterval(() => {
    // After a stall of the event loop the pongs may still be unread: ping again instead of judging.
    const late = Date.now() - lastBeat > heartbeatMs * 1.5;
    lastBeat = Date.now();
    for (const ws of wss.clients) {
      if (alive.get(ws) === false && !late) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, heartbeatMs);
  heartbeat.unref();

  wss.on('connection', (ws: WebSocket) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    // Each message's parts go out as its fragments: a large image is written to the socket without a copy.
    const sendFrame = (frame: WireFrame) => {
      if (ws.readyState !== ws.OPEN) return;
      for (const parts of frame.messages) parts.forEach((part, i) => ws.send(part, { binary: true, fin: i === parts.length - 1 }));
    };
    const send = (m: WireMessage) => {
      const frame = encodeFrame(m);
      if (frame.byteLength <= MAX_WIRE_MESSAGE_BYTES) sendFrame(frame);
      else sendFrame(encodeFrame({ t: 'err', error: { code: 'reply-too-large', message: `A ${m.t === 'evt' ? m.event.type : m.t} message of ${MiB(frame.byteLength)} MiB was not sent: more than the ${MiB(MAX_WIRE_MESSAGE_BYTES)} MiB a message may carry.`, hint: 'Use a smaller image or a smaller batch.' } }));
    };
    const emit = (event: StudioEvent) => {
      try {
        send({ t: 'evt', event: parseEvent(event) });
      } catch (e) {
        send({ t: 'err', error: toErrorInfo(e) });
      }
    };
    const session: StudioSession = { id: randomUUID(), emit };
    // shared memory: the engine and codec threads read a request's images without a copy on this thread
    const reader = new WireReader(REQUEST_LIMITS, { sharedMemory: true });
    ws.on('message', async (data, isBinary) => {
      let id: number | null = null;
      try {
        let step;
        try {
          step = reader.push(isBinary ? (data as Buffer) : null);
        } finally {
          id = idOf(reader.header);
        }
        if (!step.done) return;
        const req = parseWireRequest(step.value);
        const result = await opts.host.handle(req.kind, req.params, session);
        sendFrame(checkedReply(req.id, req.kind, result));
      } catch (e) {
        const error = toErrorInfo(e);
        if (error.code === 'bad-message') log(`rejected a malformed message: ${error.message}`);
        if (id !== null) send({ t: 'res', id, ok: false, error });
        else send({ t: 'err', error });
      }
    });
    ws.on('close', () => opts.host.sessionClosed(session));
    ws.on('error', () => undefined);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`Port ${opts.port} on ${LOOPBACK} is already in use. Pick another with --port N, or --port 0 for any free port.`) : e));
    server.listen(opts.port, LOOPBACK, () => resolve());
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : opts.port;
  const origin = `http://${LOOPBACK}:${port}/`;
  return {
    url: `${origin}?token=${token}`,
    origin,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(heartbeat);
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
