// Sandboxed preload (built as CommonJS so `sandbox: true` holds — toolchain.md). It exposes exactly two
// functions and forwards the event MessagePort to the page; nothing of Node or Electron leaks through.
import { contextBridge, ipcRenderer } from 'electron';

export interface StudioBridge {
  /** One contract request; resolves to { ok: true, result } or { ok: false, error } (never throws across IPC). */
  invoke(kind: string, params: unknown): Promise<unknown>;
  /** Asks main for a fresh MessagePort carrying job events; it arrives as a window "message" with data "studio:port". */
  connectEvents(): void;
}

const bridge: StudioBridge = {
  invoke: (kind, params) => ipcRenderer.invoke('studio:request', { kind, params }),
  connectEvents: () => ipcRenderer.send('studio:connect'),
};

contextBridge.exposeInMainWorld('studioBridge', bridge);

// MessagePorts cannot cross contextBridge; post it to the page itself (Electron's documented pattern).
// (The preload runs in the page's renderer, where `window` exists; this tsconfig has no DOM types.)
const page = globalThis as unknown as { postMessage(message: unknown, targetOrigin: string, transfer: unknown[]): void };
ipcRenderer.on('studio:port', (event) => {
  page.postMessage('studio:port', '*', event.ports);
});
