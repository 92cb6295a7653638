// The one door from the UI to its host. Components and stores talk to a `Studio`, never to ipcRenderer
// or a socket; two adapters implement it (Electron IPC + MessagePort, WebSocket for browser mode).
// Both validate every result and event against src/shared before the UI sees it.
import type { ErrorInfo, ParamsOf, RequestKind, ResultOf, StudioEvent } from '../../../shared/contract';

export interface Studio {
  readonly host: 'electron' | 'browser';
  call<K extends RequestKind>(kind: K, params: ParamsOf<K>): Promise<ResultOf<K>>;
  /** Job events (and nothing else) in arrival order. Returns an unsubscribe function. */
  onEvent(listener: (event: StudioEvent) => void): () => void;
  /** Problems not tied to one request: a message the host rejected, a lost connection. */
  onProblem(listener: (problem: ErrorInfo) => void): () => void;
  /** Browser mode: the socket dropped ('reconnecting', retried with backoff), the server is back with a new access token ('new-token'), or it came back ('connected'). */
  onConnection?(listener: (state: ConnectionState) => void): () => void;
}

/** 'new-token': the server answers but refuses this page's cookie (it restarted without --token-file). */
export type ConnectionState = 'connected' | 'reconnecting' | 'new-token';

/** A request the host answered with an error; carries the contract's ErrorInfo (code, message, hint). */
export class StudioCallError extends Error {
  constructor(readonly info: ErrorInfo) {
    super(info.message);
    this.name = 'StudioCallError';
  }
}

export class Listeners<T> {
  private set = new Set<(value: T) => void>();
  add(fn: (value: T) => void): () => void {
    this.set.add(fn);
    return () => this.set.delete(fn);
  }
  emit(value: T): void {
    for (const fn of [...this.set]) {
      try {
        fn(value);
      } catch (e) {
        console.error('VAR Studio listener failed', e);
      }
    }
  }
}
