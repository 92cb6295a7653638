// Electron adapter: requests through the preload bridge (ipcRenderer.invoke), job events through a
// MessagePort that main hands over (structured clone carries the typed arrays as they are).
import { parseEvent, parseResult, errorInfoSchema, type ErrorInfo, type ParamsOf, type RequestKind, type ResultOf, type StudioEvent } from '../../../shared/contract';
import { toErrorInfo } from '../../../shared/errors';
import { CHANNELS, type StudioBridge } from '../../../shared/bridge';
import { Listeners, StudioCallError, type Studio } from './studio';

export async function createIpcStudio(bridge: StudioBridge): Promise<Studio> {
  const events = new Listeners<StudioEvent>();
  const problems = new Listeners<ErrorInfo>();
  const port = await new Promise<MessagePort>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('The app did not connect its event channel within 10 s. Restart VAR Studio.')), 10_000);
    const onMessage = (e: MessageEvent) => {
      if (e.source === window && e.data === CHANNELS.port && e.ports[0]) {
        window.removeEventListener('message', onMessage);
        clearTimeout(timer);
        resolve(e.ports[0]);
      }
    };
    window.addEventListener('message', onMessage);
    bridge.connectEvents();
  });
  port.onmessage = (e: MessageEvent) => {
    try {
      events.emit(parseEvent(e.data));
    } catch (err) {
      problems.emit(toErrorInfo(err));
    }
  };
  port.start();
  return {
    host: 'electron',
    async call<K extends RequestKind>(kind: K, params: ParamsOf<K>): Promise<ResultOf<K>> {
      const reply = (await bridge.invoke(kind, params)) as { ok?: unknown; result?: unknown; error?: unknown };
      if (reply?.ok === true) return parseResult(kind, reply.result);
      throw new StudioCallError(errorInfoSchema.parse(reply?.error, 'error'));
    },
    onEvent: (fn) => events.add(fn),
    onProblem: (fn) => problems.add(fn),
  };
}
