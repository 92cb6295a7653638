// Sandboxed preload (built as CommonJS: Electron's sandboxed preloads cannot load ES modules). It exposes
// exactly two functions and forwards the event MessagePort to the page; nothing of Node or Electron leaks through.
import { contextBridge, ipcRenderer } from 'electron';
import type { Channels, StudioBridge } from '../shared/bridge';

// Type-only import above, so the channel names are written here; the types make them equal to CHANNELS.
const REQUEST: Channels['request'] = 'studio:request';
const CONNECT: Channels['connect'] = 'studio:connect';
const PORT: Channels['port'] = 'studio:port';

const bridge: StudioBridge = {
  invoke: (kind, params) => ipcRenderer.invoke(REQUEST, { kind, params }),
  connectEvents: () => ipcRenderer.send(CONNECT),
};

contextBridge.exposeInMainWorld('studioBridge', bridge);

// MessagePorts cannot cross contextBridge; post it to the page itself (Electron's documented pattern).
// (The preload runs in the page's renderer, where `window` exists; this tsconfig has no DOM types.)
const page = globalThis as unknown as { postMessage(message: unknown, targetOrigin: string, transfer: unknown[]): void };
ipcRenderer.on(PORT, (event) => {
  page.postMessage(PORT, '*', event.ports);
});
