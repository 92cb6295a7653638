// Picks the adapter: inside Electron the preload exposes `studioBridge`; otherwise we are in browser mode
// and the server that served this page also speaks the contract on /ws.
import { createIpcStudio } from './ipc-adapter';
import type { StudioBridge } from '../../../shared/bridge';
import { createWebSocketStudio } from './ws-adapter';
import type { Studio } from './studio';

export function connectStudio(): Promise<Studio> {
  const bridge = (window as unknown as { studioBridge?: StudioBridge }).studioBridge;
  if (bridge) return createIpcStudio(bridge);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return createWebSocketStudio(`${scheme}//${location.host}/ws`);
}
