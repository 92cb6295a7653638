// Browser-mode adapter: the contract over one WebSocket to src/server (same origin). Results are
// validated against the kind that was asked; events against the event schema.
import type { ErrorInfo, ParamsOf, RequestKind, ResultOf, StudioEvent } from '../../../shared/contract';
import { toErrorInfo } from '../../../shared/errors';
import { decodeWire, encodeWire, parseWireMessage, idOf } from '../../../shared/wire';
import { Listeners, StudioCallError, type Studio } from './studio';

interface Pending { kind: RequestKind; resolve(v: unknown): void; reject(e: unknown): void }

export async function createWebSocketStudio(url: string): Promise<Studio> {
  const events = new Listeners<StudioEvent>();
  const problems = new Listeners<ErrorInfo>();
  const pending = new Map<number, Pending>();
  let nextId = 1;
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`Cannot reach the VAR Studio server at ${url}. Is "npm run serve" still running?`));
  });
  ws.onmessage = (e: MessageEvent) => {
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
  ws.onclose = () => {
    const info: ErrorInfo = { code: 'disconnected', message: 'The connection to the VAR Studio server was lost.', hint: 'Start "npm run serve" again and reload this page. Export anything you want to keep first if the page still shows it.' };
    for (const p of pending.values()) p.reject(new StudioCallError(info));
    pending.clear();
    problems.emit(info);
  };
  return {
    host: 'browser',
    call<K extends RequestKind>(kind: K, params: ParamsOf<K>): Promise<ResultOf<K>> {
      if (ws.readyState !== WebSocket.OPEN)
        return Promise.reject(new StudioCallError({ code: 'disconnected', message: 'Not connected to the VAR Studio server.', hint: 'Start "npm run serve" again and reload this page.' }));
      const id = nextId++;
      return new Promise<ResultOf<K>>((resolve, reject) => {
        pending.set(id, { kind, resolve: resolve as (v: unknown) => void, reject });
        ws.send(encodeWire({ t: 'req', id, kind, params }));
      });
    },
    onEvent: (fn) => events.add(fn),
    onProblem: (fn) => problems.add(fn),
  };
}
