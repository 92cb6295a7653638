// The browser-mode server of the security suite: on a real StudioHost (or a stand-in host for reply-size
// tests), with raw WebSocket clients.
import WebSocket from 'ws';
import { ModelCatalog } from '../../src/host/models';
import { StudioHost } from '../../src/host/service';
import { startStudioServer, type StudioServer } from '../../src/server/server';
import { decodeWire, encodeWire } from '../../src/shared/wire';
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

export function call(ws: WebSocket, id: number, kind: string, params: unknown): Promise<any> {
  return new Promise((resolve) => {
    const onMessage = (d: WebSocket.RawData) => {
      const m = decodeWire(String(d)) as { t: string; id?: number };
      if (m.t !== 'evt' && (m.id === id || m.t === 'err')) {
        ws.off('message', onMessage);
        resolve(m);
      }
    };
    ws.on('message', onMessage);
    ws.send(encodeWire({ t: 'req', id, kind, params }));
  });
}
