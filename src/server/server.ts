// Browser mode: serves the built renderer and the contract over a WebSocket, on loopback only.
// Every incoming message is decoded and validated against src/shared; a malformed one is answered with
// an error and the connection stays usable. Only files that were in the renderer folder at start are served.
import http from 'node:http';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { ContractError } from '../shared/schema';
import { LIMITS } from '../shared/contract';
import { toErrorInfo } from '../shared/errors';
import { decodeWire, encodeWire, idOf, parseWireRequest, type WireMessage } from '../shared/wire';
import type { StudioHost, StudioSession } from '../host/service';
import { CSP_HEADER } from './csp';

export const LOOPBACK = '127.0.0.1';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
  '.json': 'application/json', '.woff2': 'font/woff2', '.txt': 'text/plain; charset=utf-8',
};

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
        files.set('/' + path.relative(root, full).split(path.sep).join('/'), { body: await fs.readFile(full), type: TYPES[path.extname(full)] ?? 'application/octet-stream' });
    }
  }
  await walk(root);
  return files;
}

export interface StudioServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startStudioServer(opts: { port: number; rendererDir: string; host: StudioHost; log?: (line: string) => void }): Promise<StudioServer> {
  const log = opts.log ?? (() => undefined);
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
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', `http://${LOOPBACK}`).pathname);
    } catch {
      res.writeHead(400, securityHeaders).end();
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

  const wss = new WebSocketServer({ noServer: true, maxPayload: Math.ceil(LIMITS.maxFileBytes * 1.4) + 65536 });
  server.on('upgrade', (req, socket, head) => {
    const origin = req.headers.origin;
    const okOrigin = origin === `http://${LOOPBACK}:${port}` || origin === `http://localhost:${port}`;
    if (req.url !== '/ws' || !allowedHosts().has(req.headers.host ?? '') || !okOrigin) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    const send = (m: WireMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeWire(m));
    };
    const session: StudioSession = { id: randomUUID(), emit: (event) => send({ t: 'evt', event }) };
    ws.on('message', async (data, isBinary) => {
      let raw: unknown;
      let id: number | null = null;
      try {
        if (isBinary) throw new ContractError('message', 'a text frame with JSON', 'binary data');
        raw = decodeWire(data.toString());
        id = idOf(raw);
        const req = parseWireRequest(raw);
        const result = await opts.host.handle(req.kind, req.params, session);
        send({ t: 'res', id: req.id, ok: true, result });
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
  return {
    url: `http://${LOOPBACK}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
