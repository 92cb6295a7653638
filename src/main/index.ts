// Electron main: one window on the embedded model, the engine hosted in this process through
// StudioHost (the same code as browser mode), hardened web preferences. No model logic here.
import { app, BrowserWindow, Menu, dialog } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelCatalog } from '../host/models';
import { StudioHost } from '../host/service';
import { hardenApp, hardenSession } from './security';
import { registerIpc, saveWithDialog } from './ipc';
import { registerAppScheme, serveAppProtocol } from './app-protocol';
import { APP_INDEX_URL } from './app-url';

const here = path.dirname(fileURLToPath(import.meta.url)); // out/main
const rendererDir = path.join(here, '..', 'renderer');
const preloadPath = path.join(here, '..', 'preload', 'index.cjs');

hardenApp();
registerAppScheme();

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 1100,
    minHeight: 640,
    backgroundColor: '#15171c',
    title: 'VAR Studio',
    show: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_INDEX_URL);
  return win;
}

function buildMenu(): void {
  const isMac = process.platform === 'darwin';
  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      ...(isMac ? [{ role: 'appMenu' as const }] : []),
      { label: 'File', submenu: [isMac ? { role: 'close' as const } : { role: 'quit' as const }] },
      { role: 'editMenu' as const },
      { label: 'View', submenu: [{ role: 'reload' as const }, { role: 'toggleDevTools' as const }, { type: 'separator' as const }, { role: 'resetZoom' as const }, { role: 'zoomIn' as const }, { role: 'zoomOut' as const }, { role: 'togglefullscreen' as const }] },
    ]),
  );
}

async function main(): Promise<void> {
  // One app per user: a second copy would autosave over the first one's canvas. It hands over and quits.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.on('second-instance', () => {
    const win = BrowserWindow.getAllWindows()[0];
    if (win?.isMinimized()) win.restore();
    win?.focus();
  });
  await app.whenReady();
  hardenSession();
  serveAppProtocol(rendererDir);
  buildMenu();
  const catalog = new ModelCatalog(
    // The embedded model ships next to the app (models/ in the repository or the package's app folder).
    process.env.VAR_STUDIO_MODEL ? path.resolve(process.env.VAR_STUDIO_MODEL) : path.join(app.getAppPath(), 'models', 'var-fashion-32'),
    path.join(app.getPath('userData'), 'models'),
  );
  const host = new StudioHost({ version: app.getVersion(), host: 'electron', catalog, deliverExport: saveWithDialog, dataDir: app.getPath('userData'), engineInWorker: true });
  registerIpc(host, APP_INDEX_URL);
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('will-quit', () => {
    void host.dispose();
  });
}

main().catch((e) => {
  dialog.showErrorBox('VAR Studio could not start', `${(e as Error).message}\n\nReinstall the app or run "npm ci" in the project folder.`);
  app.exit(1);
});
