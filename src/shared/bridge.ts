// The Electron bridge between the sandboxed preload and the renderer: its type and the IPC channel names,
// read by main, the preload and the renderer's IPC adapter. The preload imports this for types only, so
// its CommonJS build keeps no runtime import (the channel names it needs are string literal types).

/** What the preload exposes on window.studioBridge. */
export interface StudioBridge {
  /** One contract request; resolves to { ok: true, result } or { ok: false, error } (never throws across IPC). */
  invoke(kind: string, params: unknown): Promise<unknown>;
  /** Asks main for a fresh MessagePort carrying job events; it arrives as a window "message" with data PORT_MESSAGE. */
  connectEvents(): void;
}

/** The IPC channels: a contract request (invoke), the request for an event port (send), the port itself (main → page). */
export const CHANNELS = {
  request: 'studio:request',
  connect: 'studio:connect',
  port: 'studio:port',
} as const;

export type Channels = typeof CHANNELS;
