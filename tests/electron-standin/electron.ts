// STAND-IN for the `electron` module (Electron's binary cannot be downloaded here). vitest.config.ts aliases
// `electron` to this file, so the built main process runs in Node and the test sees what it asked Electron
// to do: windows created, IPC handlers registered, menus, dialogs, quit calls. It implements only the API
// src/main uses, with Electron's signatures; nothing here renders or runs a page.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type Listener = (...args: any[]) => unknown;

/** Everything the main process did, for the test to inspect. */
export const standin = {
  userData: process.env.STANDIN_USER_DATA ?? mkdtempSync(path.join(os.tmpdir(), 'electron-standin-')),
  windows: [] as BrowserWindow[],
  handlers: new Map<string, Listener>(),
  listeners: new Map<string, Listener>(),
  menu: null as MenuItemOptions[] | null,
  quitCalls: 0,
  exitCodes: [] as number[],
  messageBoxes: [] as unknown[],
  errorBoxes: [] as { title: string; content: string }[],
  openedPaths: [] as string[],
  ports: [] as MessagePortMain[],
  sandboxEnabled: false,
  privilegedSchemes: [] as { scheme: string; privileges: Record<string, boolean> }[],
  protocolHandlers: new Map<string, (request: Request) => Promise<Response> | Response>(),
  permissionRequestHandler: null as null | ((wc: unknown, permission: string, callback: (granted: boolean) => void, details: { requestingUrl: string }) => void),
  permissionCheckHandler: null as null | ((wc: unknown, permission: string, requestingOrigin: string, details: unknown) => boolean),
  utilityProcesses: [] as UtilityProcess[],
};

class StandinApp extends EventEmitter {
  isPackaged = false;
  private readyResolve!: () => void;
  private readonly ready = new Promise<void>((r) => (this.readyResolve = r));
  getPath(name: string): string {
    if (name === 'userData') return standin.userData;
    return path.join(standin.userData, name);
  }
  getVersion(): string {
    return '0.0.0-standin';
  }
  getAppPath(): string {
    return process.cwd();
  }
  whenReady(): Promise<void> {
    return this.ready;
  }
  private readyNow = false;
  isReady(): boolean {
    return this.readyNow;
  }
  /** Test hook: what Electron does once it has initialised. */
  makeReady(): void {
    this.readyNow = true;
    this.readyResolve();
    this.emit('ready');
  }
  enableSandbox(): void {
    standin.sandboxEnabled = true;
  }
  requestSingleInstanceLock(): boolean {
    return true;
  }
  /** Electron emits before-quit and will-quit (either may be prevented); the test observes the calls. */
  quit(): void {
    standin.quitCalls++;
    let prevented = false;
    const event = { preventDefault: () => (prevented = true) };
    this.emit('before-quit', event);
    if (prevented) return;
    this.emit('will-quit', event);
  }
  exit(code = 0): void {
    standin.exitCodes.push(code);
  }
}
export const app = new StandinApp();

class StandinWebContents extends EventEmitter {
  static nextId = 1;
  readonly id = StandinWebContents.nextId++;
  readonly posted: { channel: string; message: unknown; ports: unknown[] }[] = [];
  reloads = 0;
  setWindowOpenHandler(): void {}
  reload(): void {
    this.reloads++;
  }
  postMessage(channel: string, message: unknown, ports: unknown[] = []): void {
    this.posted.push({ channel, message, ports });
  }
}

export interface Rect { x: number; y: number; width: number; height: number }

export class BrowserWindow extends EventEmitter {
  readonly webContents = new StandinWebContents();
  loadedFile: string | null = null;
  maximized = false;
  focused = 0;
  constructor(readonly options: Record<string, any>) {
    super();
    standin.windows.push(this);
    app.emit('web-contents-created', {}, this.webContents);
  }
  static getAllWindows(): BrowserWindow[] {
    return standin.windows;
  }
  static getFocusedWindow(): BrowserWindow | null {
    return standin.windows[0] ?? null;
  }
  loadedURL: string | null = null;
  loadFile(file: string): Promise<void> {
    this.loadedFile = file;
    return Promise.resolve();
  }
  loadURL(url: string): Promise<void> {
    this.loadedURL = url;
    return Promise.resolve();
  }
  maximize(): void {
    this.maximized = true;
  }
  isMaximized(): boolean {
    return this.maximized;
  }
  isMinimized(): boolean {
    return false;
  }
  restore(): void {}
  focus(): void {
    this.focused++;
  }
  getNormalBounds(): Rect {
    const o = this.options;
    return { x: o.x ?? 10, y: o.y ?? 10, width: o.width, height: o.height };
  }
}

export interface MenuItemOptions { label?: string; role?: string; type?: string; checked?: boolean; click?: () => void; submenu?: MenuItemOptions[] }
export type MenuItemConstructorOptions = MenuItemOptions;
export const Menu = {
  buildFromTemplate: (template: MenuItemOptions[]) => template,
  setApplicationMenu: (menu: MenuItemOptions[]) => {
    standin.menu = menu;
  },
};

export const dialog = {
  showErrorBox: (title: string, content: string) => {
    standin.errorBoxes.push({ title, content });
  },
  showMessageBox: async (...args: unknown[]) => {
    standin.messageBoxes.push(args[args.length - 1]);
    return { response: 0 };
  },
  showSaveDialog: async () => ({ canceled: true, filePath: undefined }),
};

export const screen = {
  getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }],
};

export const shell = {
  openPath: async (p: string) => {
    standin.openedPaths.push(p);
    return '';
  },
};

export const session = {
  defaultSession: {
    setPermissionRequestHandler: (handler: (wc: unknown, permission: string, callback: (granted: boolean) => void, details: { requestingUrl: string }) => void) => {
      standin.permissionRequestHandler = handler;
    },
    setPermissionCheckHandler: (handler: (wc: unknown, permission: string, requestingOrigin: string, details: unknown) => boolean) => {
      standin.permissionCheckHandler = handler;
    },
    webRequest: { onBeforeRequest: () => undefined },
  },
};

/** Custom schemes: registered before ready; handlers receive a fetch Request and answer a Response. */
export const protocol = {
  registerSchemesAsPrivileged: (schemes: { scheme: string; privileges: Record<string, boolean> }[]) => {
    standin.privilegedSchemes.push(...schemes);
  },
  handle: (scheme: string, fn: (request: Request) => Promise<Response> | Response) => {
    standin.protocolHandlers.set(scheme, fn);
  },
};

export const ipcMain = {
  handle: (channel: string, fn: Listener) => {
    standin.handlers.set(channel, fn);
  },
  on: (channel: string, fn: Listener) => {
    standin.listeners.set(channel, fn);
  },
};

export class MessagePortMain extends EventEmitter {
  readonly received: any[] = [];
  closed = false;
  postMessage(message: unknown): void {
    this.received.push(message);
  }
  start(): void {}
  close(): void {
    this.closed = true;
  }
}

export class MessageChannelMain {
  readonly port1 = new MessagePortMain();
  readonly port2 = new MessagePortMain();
  constructor() {
    standin.ports.push(this.port1);
  }
}

/** Electron's utilityProcess.fork options (those this stand-in honours). */
export interface ForkOptions {
  env?: Record<string, string | undefined>;
  execArgv?: string[];
  cwd?: string;
  stdio?: ('pipe' | 'ignore' | 'inherit')[] | 'pipe' | 'ignore' | 'inherit';
  serviceName?: string;
  allowLoadingUnsignedLibraries?: boolean;
}

/**
 * A utility process as Electron runs one: a separate OS process; messages are structured clones both ways
 * (child_process 'advanced' serialization, which is V8's structured clone: typed arrays copied), only
 * MessagePortMain objects can be transferred; 'exit' carries a number; pid is set once it has spawned.
 */
export class UtilityProcess extends EventEmitter {
  pid: number | undefined = undefined;
  constructor(readonly child: ChildProcess, readonly modulePath: string, readonly options: ForkOptions) {
    super();
    child.once('spawn', () => {
      this.pid = child.pid;
      this.emit('spawn');
    });
    child.on('message', (message) => this.emit('message', message));
    child.once('exit', (code, signal) => {
      this.pid = undefined;
      this.emit('exit', code ?? 128 + (signal ? os.constants.signals[signal] : 0));
    });
  }
  postMessage(message: unknown, transfer: unknown[] = []): void {
    if (transfer.some((t) => !(t instanceof MessagePortMain))) throw new TypeError('utilityProcess.postMessage transfers MessagePortMain objects only');
    if (this.child.connected) this.child.send(message as never);
  }
  kill(): boolean {
    return this.child.kill();
  }
}

const UTILITY_SHIM = fileURLToPath(new URL('./utility-child.mjs', import.meta.url));

export const utilityProcess = {
  fork(modulePath: string, args: string[] = [], options: ForkOptions = {}): UtilityProcess {
    if (!app.isReady()) throw new Error('utilityProcess.fork can only be called after the app is ready');
    const stdio = typeof options.stdio === 'string' ? ['ignore', options.stdio, options.stdio] : options.stdio ?? ['ignore', 'inherit', 'inherit'];
    if (stdio[0] !== 'ignore') throw new Error('utilityProcess.fork: stdin must be "ignore"');
    const child = fork(UTILITY_SHIM, [modulePath, ...args], {
      serialization: 'advanced',
      env: options.env ?? process.env,
      execArgv: options.execArgv ?? [],
      cwd: options.cwd,
      stdio: [stdio[0]!, stdio[1]!, stdio[2]!, 'ipc'],
    });
    const up = new UtilityProcess(child, modulePath, options);
    standin.utilityProcesses.push(up);
    return up;
  },
};

export type IpcMainInvokeEvent = any;
export type WebContents = StandinWebContents;

export default { app, BrowserWindow, Menu, dialog, screen, shell, session, protocol, ipcMain, MessageChannelMain, utilityProcess };
