// Browser-mode adapter: the contract over one WebSocket to src/server (same origin). Results are
// validated against the kind that was asked; events against the event schema. When the socket drops
// (server restarted, laptop slept) it reconnects by itself with backoff and says so (onConnection).
import type { ErrorInfo, ParamsOf, RequestKind, ResultOf, StudioEvent } from '../../../shared/contract';
import { toErrorInfo } from '../../../shared/errors';
import { decodeWire, encodeWire, parseWireMessage, idOf } from '../../../shared/wire';
import { Listeners, StudioCallError, type ConnectionState, type Studio } from './studio';
import { httpOriginOf, probeServer } from './server-probe';

interface Pending { kind: RequestKind; resolve(v: unknown): void; reject(e: unknown): void }

/** Delay before reconnect attempt n (0-based): 250 ms doubling, at most 4 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(4000, 250 * 2 ** Math.min(attempt, 5));
}

const AWAY: ErrorInfo = { code: 'disconnected', message: 'Not connected to the VAR Studio server (reconnecting).', hint: 'Wait until "Reconnecting…" disappears; start "npm run serve" again if it was stopped.' };

function open(url: string): Promise<WebSocket> {
  return new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`Cannot reach the VAR Studio server at ${url}. Is "npm run serve" still running?`));
  });
}

export async function createWebSocketStudio(url: string): Promise<Studio> {
  const events = new Listeners<StudioEvent>();
  const problems = new Listeners<ErrorInfo>();
  const connection = new Listeners<ConnectionState>();
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let lastState: ConnectionState = 'connected';
  let ws = await open(url);

  const onMessage = (e: MessageEvent) => {
    let raw: unknown;
    try {
      raw = decodeWire(String(e.data));
      const msg = parseWireMessage(raw, (id) => pending.get(id)?.kind);
      if (msg.t === 'evt') events.emit(msg.event);
      else if (msg.t === 'err') problems.emit({ ...msg.error, message: `The server rejected a message: ${msg.error.message}` });
      else {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.ok) p?.resolve(msg.result);
        else p?.reject(new StudioCallError(msg.error));
      }
    } catch (err) {
      // A reply we cannot trust: fail its request (if we can tell which) and say so.
      const info = toErrorInfo(err);
      const id = idOf(raw);
      const p = id !== null ? pending.get(id) : undefined;
      if (p && id !== null) {
        pending.delete(id);
        p.reject(new StudioCallError(info));
      } else problems.emit(info);
    }
  };

  const reconnect = async () => {
    for (let attempt = 0; ; attempt++) {
      await new Promise((r) => setTimeout(r, reconnectDelayMs(attempt)));
      try {
        attach(await open(url));
        lastState = 'connected';
        connection.emit('connected');
        return;
      } catch {
        // Still away, or back with a new token (our cookie is refused): say which, and keep trying, since
        // opening the new URL in another tab sets the cookie this page sends too.
        const reach = await probeServer(httpOriginOf(url));
        const state: ConnectionState = reach === 'new-token' ? 'new-token' : 'reconnecting';
        if (state !== lastState) connection.emit(state);
        lastState = state;
      }
    }
  };

  const attach = (socket: WebSocket) => {
    ws = socket;
    socket.onmessage = onMessage;
    socket.onerror = null;
    socket.onclose = () => {
      for (const p of pending.values()) p.reject(new StudioCallError(AWAY));
      pending.clear();
      lastState = 'reconnecting';
      connection.emit('reconnecting');
      void reconnect();
    };
  };
  attach(ws);

  return {
    host: 'browser',
    call<K extends RequestKind>(kind: K, params: ParamsOf<K>): Promise<ResultOf<K>> {
      if (ws.readyState !== WebSocket.OPEN) return Promise.reject(new StudioCallError(AWAY));
      const id = nextId++;
      return new Promise<ResultOf<K>>((resolve, reject) => {
        pending.set(id, { kind, resolve: resolve as (v: unknown) => void, reject });
        ws.send(encodeWire({ t: 'req', id, kind, params }));
      });
    },
    onEvent: (fn) => events.add(fn),
    onProblem: (fn) => problems.add(fn),
    onConnection: (fn) => connection.add(fn),
  };
}
