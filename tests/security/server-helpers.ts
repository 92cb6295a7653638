// The browser-mode server of the security suite: on a real StudioHost (or a stand-in host for reply-size
// tests), with raw WebSocket clients.
import WebSocket from 'ws';
import { ModelCatalog } from '../../src/host/models';
import { StudioHost } from '../../src/host/service';
import { startStudioServer, type StudioServer } from '../../src/server/server';
import { REPLY_LIMITS, WireReader, encodeFrame, joinParts } from '../../src/shared/wire';
import { rendererDir, tinyBundle, tmp } from './helpers';

export function realHost(dataDir = tmp('data')): StudioHost {
  return new StudioHost({ version: 't', host: 'browser', catalog: new ModelCatalog(tinyBundle, tmp('models')), threads: 1, dataDir, deliverExport: async (f) => ({ kind: 'download', ...f }) });
}

export type ServerOptions = Parameters<typeof startStudioServer>[0];

export async function serve(opts: Partial<ServerOptions> & { host: ServerOptions['host'] }): Promise<StudioServer & { token?: string }> {
  return startStudioServer({ port: 0, rendererDir: rendererDir(), ...opts });
}

export function originOf(server: StudioServer): string {
  return `http://127.0.0.1:${server.port}`;
}

/** The cookie the page would hold after opening the printed URL. */
export function tokenCookie(server: StudioServer & { token?: string }): Record<string, string> {
  return { Cookie: `var-studio-token-${server.port}=${server.token}` };
}

/** Opens a socket; resolves 'open' or the HTTP status / 'error' of a refusal. */
export function connect(url: string, options: WebSocket.ClientOptions): Promise<{ outcome: string; ws: WebSocket }> {
  const ws = new WebSocket(url, options);
  return new Promise((resolve) => {
    ws.on('open', () => resolve({ outcome: 'open', ws }));
    ws.on('unexpected-response', (_req, res) => resolve({ outcome: String(res.statusCode), ws }));
    ws.on('error', () => resolve({ outcome: 'error', ws }));
  });
}

/** A request as the page would send it: the WebSocket messages of one wire frame. */
export function requestFrame(id: number, kind: string, params: unknown): Uint8Array[] {
  return encodeFrame({ t: 'req', id, kind, params }).messages.map(joinParts);
}

export function sendMessages(ws: WebSocket, messages: Uint8Array[]): void {
  for (const m of messages) ws.send(m);
}

const reading = new WeakSet<WebSocket>();

/**
 * Reads the socket's messages as the page does and emits each complete server message as a 'wire' event
 * (a message the reader refuses is emitted as a 'wire-error').
 */
export function readWire(ws: WebSocket): WebSocket {
  if (reading.has(ws)) return ws;
  reading.add(ws);
  const reader = new WireReader(REPLY_LIMITS);
  ws.on('message', (d, isBinary) => {
    try {
      const step = reader.push(isBinary ? (d as Buffer) : null);
      if (step.done) ws.emit('wire', step.value);
    } catch (e) {
      ws.emit('wire-error', e);
    }
  });
  return ws;
}

export function call(ws: WebSocket, id: number, kind: string, params: unknown): Promise<any> {
  readWire(ws);
  return new Promise((resolve) => {
    const onMessage = (m: { t: string; id?: number }) => {
      if (m.t !== 'evt' && (m.id === id || m.t === 'err')) {
        ws.off('wire', onMessage);
        resolve(m);
      }
    };
    ws.on('wire', onMessage);
    sendMessages(ws, requestFrame(id, kind, params));
  });
}
