// The thin Electron adapter of the contract: requests over ipcMain.handle (validated by StudioHost
// against src/shared), job events over a MessagePort per window. Only our own page may call.
import { BrowserWindow, MessageChannelMain, dialog, ipcMain, app, type IpcMainInvokeEvent, type MessagePortMain, type WebContents } from 'electron';
import path from 'node:path';
import { CHANNELS } from '../shared/bridge';
import { ContractError } from '../shared/schema';
import { isRequestKind, type ExportResult, type StudioEvent } from '../shared/contract';
import { toErrorInfo } from '../shared/errors';
import type { StudioHost, StudioSession } from '../host/service';
import { writeFileSafely } from '../host/safe-write';

interface WindowSession extends StudioSession {
  port: MessagePortMain | null;
}

const sessions = new Map<number, WindowSession>();

function sessionFor(contents: WebContents): WindowSession {
  let s = sessions.get(contents.id);
  if (!s) {
    const created: WindowSession = {
      id: `window-${contents.id}`,
      port: null,
      emit(event: StudioEvent) {
        created.port?.postMessage(event);
      },
    };
    s = created;
    sessions.set(contents.id, s);
    contents.once('destroyed', () => {
      created.port?.close();
      sessions.delete(contents.id);
    });
  }
  return s;
}

/** Only the app's own page (app://studio/index.html) may call the host. */
export function isOwnPage(url: string | undefined, indexUrl: string): boolean {
  return url === indexUrl;
}

export function registerIpc(host: StudioHost, indexUrl: string): void {
  ipcMain.handle(CHANNELS.request, async (event: IpcMainInvokeEvent, message: unknown) => {
    try {
      if (!isOwnPage(event.senderFrame?.url, indexUrl)) throw new ContractError('sender', 'the VAR Studio page', event.senderFrame?.url ?? 'unknown frame');
      if (typeof message !== 'object' || message === null) throw new ContractError('message', 'an object with kind and params', message);
      const { kind, params, ...rest } = message as Record<string, unknown>;
      if (Object.keys(rest).length) throw new ContractError(`message.${Object.keys(rest)[0]}`, 'no such key', 'a value');
      if (!isRequestKind(kind)) throw new ContractError('message.kind', 'a known request kind', kind);
      const result = await host.handle(kind, params, sessionFor(event.sender));
      return { ok: true, result };
    } catch (e) {
      return { ok: false, error: toErrorInfo(e) };
    }
  });

  ipcMain.on(CHANNELS.connect, (event) => {
    if (!isOwnPage(event.senderFrame?.url, indexUrl)) return;
    const s = sessionFor(event.sender);
    s.port?.close();
    const { port1, port2 } = new MessageChannelMain();
    s.port = port1;
    port1.start();
    event.sender.postMessage(CHANNELS.port, null, [port2]);
  });
}

/** The window a session belongs to (dialogs open on it), else the focused one. */
export function windowOf(session: StudioSession): BrowserWindow | null {
  const contentsId = Number(session.id.replace('window-', ''));
  return BrowserWindow.getAllWindows().find((w) => w.webContents.id === contentsId) ?? BrowserWindow.getFocusedWindow();
}

/** Export in Electron: the user picks the place in a save dialog; nothing is written anywhere else. */
export async function saveWithDialog(file: { bytes: Uint8Array; mime: string; fileName: string }, session: StudioSession): Promise<ExportResult> {
  const win = windowOf(session);
  const ext = path.extname(file.fileName).slice(1);
  const options = {
    title: 'Export image',
    defaultPath: path.join(app.getPath('pictures'), file.fileName),
    filters: [{ name: `${ext.toUpperCase()} image`, extensions: [ext] }],
  };
  const choice = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
  if (choice.canceled || !choice.filePath) return { kind: 'cancelled' };
  await writeFileSafely(choice.filePath, file.bytes); // a crash mid-export keeps the file being replaced
  return { kind: 'saved', path: choice.filePath, bytes: file.bytes.length };
}
