// Electron main: one window on the embedded model, served through StudioHost (the same code as browser
// mode) whose engine and image codecs run in utility processes; hardened web preferences. No model logic here.
import { app, BrowserWindow, Menu, dialog, screen, shell, type MenuItemConstructorOptions } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appRoot, useAppRoot } from '../host/app-paths';
import { doctorReport, currentEnvironment, formatDoctor } from '../host/gpu-doctor';
import { HostSettingsFile, MAX_GPU_INDEX, type HostSettings } from '../host/host-settings';
import { ModelCatalog } from '../host/models';
import { StudioHost } from '../host/service';
import { PROVIDER_NAMES } from '../shared/contract';
import { AppLog } from './app-log';
import { hardenApp, hardenSession } from './security';
import { registerIpc, saveWithDialog } from './ipc';
import { registerAppScheme, serveAppProtocol } from './app-protocol';
import { APP_INDEX_URL } from './app-url';
import { pickCheckpointFiles } from './import-dialog';
import { utilityProcessWorkers } from './engine-process';
import { MIN_SIZE, placeOnDisplays, readWindowState, writeWindowState } from './window-state';

const here = path.dirname(fileURLToPath(import.meta.url)); // out/main
const rendererDir = path.join(here, '..', 'renderer');
const preloadPath = path.join(here, '..', 'preload', 'index.cjs');
// the engine workers' entry, built beside index.js (inside app.asar when packaged: utility processes read it there)
const engineWorkerPath = path.join(here, 'engine-worker.js');

const userData = app.getPath('userData');
const log = new AppLog(path.join(userData, 'logs'));
const windowStateFile = path.join(userData, 'window-state.json');
let mainWindow: BrowserWindow | null = null;

hardenApp();
registerAppScheme();

process.on('uncaughtException', (e) => log.write('error', `uncaught: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => log.write('error', `unhandled rejection: ${(e as Error)?.stack ?? String(e)}`));

function createWindow(): BrowserWindow {
  const placed = placeOnDisplays(readWindowState(windowStateFile), screen.getAllDisplays().map((d) => d.workArea));
  const win = new BrowserWindow({
    ...placed.bounds,
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
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
  if (placed.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  // The page refuses to unload while work would be lost; Electron shows no prompt of its own, so ask here.
  win.webContents.on('will-prevent-unload', (event) => {
    const choice = dialog.showMessageBoxSync(win, {
      type: 'question', buttons: ['Leave', 'Stay'], defaultId: 1, cancelId: 1, title: 'Leave VAR Studio?',
      message: 'A run is in flight, runs are queued, or the canvas has edits that were not exported.',
      detail: 'Leave anyway? The gallery is kept; the running and queued work and unexported canvas edits are lost.',
    });
    if (choice === 0) event.preventDefault();
  });
  win.on('close', () => {
    void writeWindowState(windowStateFile, { bounds: win.getNormalBounds(), maximized: win.isMaximized() }).catch((e) => log.write('warn', `window state not saved: ${(e as Error).message}`));
  });
  // A crashed page shows what happened and reloads instead of leaving a blank window.
  win.webContents.on('render-process-gone', (_e, details) => {
    log.write('error', `renderer gone: ${details.reason} (exit code ${details.exitCode})`);
    if (details.reason === 'clean-exit') return;
    void dialog.showMessageBox(win, { type: 'error', title: 'VAR Studio', message: 'The studio window stopped unexpectedly and was reloaded.', detail: `Reason: ${details.reason}. The log file (Help → Open Log File) has the details.` });
    win.webContents.reload();
  });
  void win.loadURL(APP_INDEX_URL);
  mainWindow = win;
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  return win;
}

function choiceItems<T>(label: string, values: { label: string; value: T }[], current: T, pick: (v: T) => void): MenuItemConstructorOptions {
  return { label, submenu: values.map((v) => ({ label: v.label, type: 'radio' as const, checked: v.value === current, click: () => pick(v.value) })) };
}

function buildMenu(host: StudioHost, settings: HostSettings, changeSettings: (next: Partial<HostSettings>) => void, catalog: ModelCatalog): void {
  const isMac = process.platform === 'darwin';
  const threadChoices = [null, 1, 2, 4, 8, 16].map((n) => ({ label: n === null ? 'Automatic' : String(n), value: n as number | null }));
  // CUDA and DirectML number the GPUs; a laptop's DirectML adapter 0 is usually the integrated GPU, 1 the faster one.
  const gpuChoices = Array.from({ length: MAX_GPU_INDEX + 1 }, (_, i) => ({ label: i === 0 ? 'GPU 0 (first adapter)' : `GPU ${i}`, value: i }));
  const providerChoices = [{ label: 'Automatic (GPU if it works, else CPU)', value: 'auto' as HostSettings['provider'] }, ...PROVIDER_NAMES.map((p) => ({ label: p.toUpperCase(), value: p as HostSettings['provider'] }))];
  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      ...(isMac ? [{ role: 'appMenu' as const }] : []),
      { label: 'File', submenu: [isMac ? { role: 'close' as const } : { role: 'quit' as const }] },
      { role: 'editMenu' as const },
      { label: 'View', submenu: [{ role: 'reload' as const }, { role: 'toggleDevTools' as const }, { type: 'separator' as const }, { role: 'resetZoom' as const }, { role: 'zoomIn' as const }, { role: 'zoomOut' as const }, { role: 'togglefullscreen' as const }] },
      {
        label: 'Settings',
        submenu: [
          choiceItems('Execution Provider', providerChoices, settings.provider, (provider) => changeSettings({ provider })),
          choiceItems('GPU (CUDA, DirectML)', gpuChoices, settings.gpu, (gpu) => changeSettings({ gpu })),
          choiceItems('CPU Threads', threadChoices, settings.threads, (threads) => changeSettings({ threads })),
        ],
      },
      {
        role: 'help' as const,
        submenu: [
          { label: 'GPU Status…', click: () => void showGpuStatus(host, settings) },
          { label: 'Open Log File', click: () => void shell.openPath(log.file) },
          { label: 'Open Models Folder', click: () => void shell.openPath(catalog.userModelsDir) },
          { label: 'Open Data Folder', click: () => void shell.openPath(userData) },
        ],
      },
    ]),
  );
}

async function showGpuStatus(host: StudioHost, settings: HostSettings): Promise<void> {
  const report = { ...doctorReport(host.loadedProvider(), settings.provider, settings.threads, currentEnvironment(), PROVIDER_NAMES), gpu: settings.gpu };
  const options = { type: 'info' as const, title: 'GPU Status', message: `Running on ${report.inUse?.toUpperCase() ?? 'no provider yet (no model loaded)'}`, detail: formatDoctor(report) };
  if (mainWindow) await dialog.showMessageBox(mainWindow, options);
  else await dialog.showMessageBox(options);
}

async function main(): Promise<void> {
  await app.whenReady();
  hardenSession();
  serveAppProtocol(rendererDir);
  log.write('info', `VAR Studio ${app.getVersion()} starting (${process.platform} ${process.arch}, packaged: ${app.isPackaged})`);
  const folders = useAppRoot(appRoot({ packaged: app.isPackaged, resourcesPath: process.resourcesPath, appPath: app.getAppPath() }));
  const catalog = new ModelCatalog(
    process.env.VAR_STUDIO_MODEL ? path.resolve(process.env.VAR_STUDIO_MODEL) : folders.embeddedModelDir,
    path.join(userData, 'models'),
  );
  const settingsFile = new HostSettingsFile(userData);
  let settings = await settingsFile.read();
  const host = new StudioHost({
    version: app.getVersion(),
    host: 'electron',
    catalog,
    deliverExport: saveWithDialog,
    dataDir: userData,
    pickCheckpointFiles,
    engineInWorker: true,
    openWorker: utilityProcessWorkers(engineWorkerPath),
    provider: settings.provider,
    threads: settings.threads ?? undefined,
    deviceId: settings.gpu,
    onProviderFallback(failed, error) {
      log.write('error', `${failed} provider failed during a run, now on CPU: ${error}`);
      const options = { type: 'warning' as const, title: 'VAR Studio', message: `The ${failed.toUpperCase()} provider failed; VAR Studio switched to the CPU.`, detail: `${error}\n\nPress Generate again. Help → GPU Status tells what to check.` };
      void (mainWindow ? dialog.showMessageBox(mainWindow, options) : dialog.showMessageBox(options));
    },
  });
  const changeSettings = (change: Partial<HostSettings>): void => {
    void (async () => {
      try {
        settings = await settingsFile.update(change);
        await host.configure(settings);
        log.write('info', `settings: provider ${settings.provider}, GPU ${settings.gpu}, threads ${settings.threads ?? 'auto'}`);
        buildMenu(host, settings, changeSettings, catalog);
        // The page loads its model again on reload, now with the new provider and threads.
        mainWindow?.webContents.reload();
      } catch (e) {
        log.write('warn', `settings not applied: ${(e as Error).message}`);
        const detail = (e as Error).message;
        void (mainWindow ? dialog.showMessageBox(mainWindow, { type: 'warning', message: 'The setting could not be applied now.', detail }) : dialog.showMessageBox({ type: 'warning', message: 'The setting could not be applied now.', detail }));
        buildMenu(host, settings, changeSettings, catalog);
      }
    })();
  };
  buildMenu(host, settings, changeSettings, catalog);
  registerIpc(host, APP_INDEX_URL);
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  // Quitting during a run: stop the job and release the ONNX sessions before the process exits.
  let disposed = false;
  app.on('will-quit', (event) => {
    if (disposed) return;
    event.preventDefault();
    void host.dispose()
      .catch((e) => log.write('error', `engine dispose failed: ${(e as Error).message}`))
      .finally(() => {
        disposed = true;
        log.write('info', 'engine disposed; quitting');
        app.quit();
      });
  });
}

// One app per user: a second start would autosave over the first one's canvas and load the model twice;
// it focuses the window that is already open and quits.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  main().catch((e) => {
    log.write('error', `start failed: ${(e as Error).stack ?? String(e)}`);
    dialog.showErrorBox('VAR Studio could not start', `${(e as Error).message}\n\nReinstall the app or run "npm ci" in the project folder. Log file: ${log.file}`);
    app.exit(1);
  });
}
