// Browser-mode adapter: the contract over one WebSocket to src/server (same origin), in the binary wire
// format of src/shared/wire.ts (docs/wire.md). Results are validated against the kind that was asked;
// events against the event schema. When the socket drops
// (server restarted, laptop slept) it reconnects by itself with backoff and says so (onConnection).
import type { ErrorInfo, ParamsOf, RequestKind, ResultOf, StudioEvent } from '../../../shared/contract';
import { toErrorInfo } from '../../../shared/errors';
import { MAX_REQUEST_BYTES, REPLY_LIMITS, WireReader, encodeFrame, idOf, parseWireMessage } from '../../../shared/wire';
import { Listeners, StudioCallError, type ConnectionState, type Studio } from './studio';
import { httpOriginOf, probeServer } from './server-probe';

interface Pending { kind: RequestKind; resolve(v: unknown): void; reject(e: unknown): void }

/** Delay before reconnect attempt n (0-based): 250 ms doubling, at most 4 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(4000, 250 * 2 ** Math.min(attempt, 5));
}

const AWAY: ErrorInfo = { code: 'disconnected', message: 'Not connected to the VAR Studio server (reconnecting).', hint: 'Wait until "Reconnecting…" disappears; start "npm run serve" again if it was stopped.' };

function tooLarge(kind: RequestKind, bytes: number): ErrorInfo {
  const mib = (n: number) => (n / 2 ** 20).toFixed(0);
  return { code: 'request-too-large', message: `The ${kind} request is ${mib(bytes)} MiB, more than the ${mib(MAX_REQUEST_BYTES)} MiB the server accepts.`, hint: 'Use a smaller image or file.' };
}

function open(url: string): Promise<WebSocket> {
  return new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
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

  let reader: WireReader;
  const onMessage = (e: MessageEvent) => {
    try {
      const step = reader.push(e.data instanceof ArrayBuffer ? new Uint8Array(e.data) : null);
      if (!step.done) return;
      const msg = parseWireMessage(step.value, (id) => pending.get(id)?.kind);
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
      const id = idOf(reader.header);
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
    reader = new WireReader(REPLY_LIMITS); // a message cut off by the drop is not continued on the new socket
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
      const frame = encodeFrame({ t: 'req', id, kind, params });
      // The server would drop the connection on a larger message: refuse it here, with a reason.
      if (frame.byteLength > MAX_REQUEST_BYTES) return Promise.reject(new StudioCallError(tooLarge(kind, frame.byteLength)));
      return new Promise<ResultOf<K>>((resolve, reject) => {
        pending.set(id, { kind, resolve: resolve as (v: unknown) => void, reject });
        for (const parts of frame.messages) ws.send(parts.length === 1 ? (parts[0] as Uint8Array<ArrayBuffer>) : new Blob(parts as BlobPart[]));
      });
    },
    onEvent: (fn) => events.add(fn),
    onProblem: (fn) => problems.add(fn),
    onConnection: (fn) => connection.add(fn),
  };
}
