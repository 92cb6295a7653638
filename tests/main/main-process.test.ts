// The built Electron main process (out/main/index.js) run in Node under the STAND-IN electron module
// (tests/electron-standin/electron.ts, wired by the alias in vitest.config.ts): window hardening, the IPC
// handlers, settings and window state on disk, the engine in its own utility processes, and quitting in
// the middle of a generation.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILT_MAIN, ROOT, ensureBuilt } from '../packaging/built-app';
import { writeSmallPair } from '../unit/host/small-pair';

type Standin = typeof import('../electron-standin/electron');
let electron: Standin;
const userData = mkdtempSync(path.join(os.tmpdir(), 'var-main-'));
const ownPage = 'app://studio/index.html';

function eventFrom(url: string, sender: unknown) {
  return { senderFrame: { url }, sender };
}

async function until<T>(what: string, get: () => T | undefined | null | false, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The native libraries a process has mapped (Linux: /proc/<pid>/maps; this process: its diagnostic report). */
function nativeLibraries(pid: number): string[] {
  if (pid === process.pid) return ((process.report.getReport() as { sharedObjects?: string[] }).sharedObjects ?? []);
  return [...new Set(readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').map((l) => l.split(/\s+/)[5] ?? '').filter(Boolean))];
}
const ONNXRUNTIME = /onnxruntime/;
const LIBVIPS = /libvips|sharp-linux/;

function utility(serviceName: string) {
  const found = electron.standin.utilityProcesses.filter((u) => u.options.serviceName === serviceName && u.pid !== undefined).at(-1);
  if (!found) throw new Error(`no running utility process ${serviceName}`);
  return found;
}

const settingsOf = (seed: number, batch: number) => ({ modelId: 'embedded', classIndex: 1, seed, batch, sampling: { cfg: 1.5, topK: 100, topP: 0.95, moreSmooth: false } });

function menuItem(labels: string[]) {
  let items = electron.standin.menu ?? [];
  let found: { click?: () => void; submenu?: unknown[]; checked?: boolean } | undefined;
  for (const l of labels) {
    found = items.find((i) => i.label === l || i.role === l);
    items = (found?.submenu ?? []) as typeof items;
  }
  if (!found) throw new Error(`no menu item ${labels.join(' → ')}`);
  return found;
}

beforeAll(async () => {
  ensureBuilt();
  process.env.STANDIN_USER_DATA = userData;
  electron = await import('../electron-standin/electron');
  await import(pathToFileURL(BUILT_MAIN).href);
  electron.app.makeReady();
  await until('the window', () => electron.standin.windows[0]);
}, 120_000);

describe('main process under the electron stand-in', () => {
  it('serves the page and its assets over app:// from out/renderer, and nothing outside it', async () => {
    const serve = electron.standin.protocolHandlers.get('app')!;
    const page = await serve(new Request(ownPage));
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(readFileSync(path.join(ROOT, 'out', 'renderer', 'index.html'), 'utf8'));
    for (const url of ['app://studio/../package.json', 'app://studio/%2e%2e/package.json', 'app://other/index.html']) expect((await serve(new Request(url))).status).toBe(404);
  });

  it('creates one hardened window whose preload and page exist', () => {
    const { windows, sandboxEnabled } = electron.standin;
    expect(windows).toHaveLength(1);
    const prefs = windows[0]!.options.webPreferences;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, webviewTag: false });
    expect(sandboxEnabled).toBe(true);
    expect(existsSync(prefs.preload)).toBe(true);
    expect(prefs.preload).toBe(path.join(ROOT, 'out', 'preload', 'index.cjs'));
    // The page comes from app://studio/, served from out/renderer only (no file:// page).
    expect(windows[0]!.loadedURL).toBe(ownPage);
    expect(electron.standin.privilegedSchemes.map((s) => s.scheme)).toContain('app');
    expect(windows[0]!.options.width).toBeGreaterThanOrEqual(1100);
  });

  it('grants its own page the notifications permission (a run that ends in the background) and nothing else to anyone', () => {
    const { permissionRequestHandler: request, permissionCheckHandler: check } = electron.standin;
    const asked = (permission: string, url: string) => {
      let granted: boolean | null = null;
      request!(null, permission, (g) => (granted = g), { requestingUrl: url });
      return granted;
    };
    expect(asked('notifications', ownPage)).toBe(true);
    expect(check!(null, 'notifications', 'app://studio', {})).toBe(true);
    for (const url of ['https://example.com/', 'app://other/index.html', 'file:///etc/passwd', 'app://studio:8080/']) {
      expect(asked('notifications', url), url).toBe(false);
      expect(check!(null, 'notifications', url, {}), url).toBe(false);
    }
    for (const permission of ['media', 'geolocation', 'clipboard-read', 'openExternal', 'fullscreen']) {
      expect(asked(permission, ownPage), permission).toBe(false);
      expect(check!(null, permission, 'app://studio', {}), permission).toBe(false);
    }
  });

  it('answers a valid request and rejects malformed ones and foreign pages', async () => {
    const handle = electron.standin.handlers.get('studio:request')!;
    const sender = electron.standin.windows[0]!.webContents;
    const ok = (await handle(eventFrom(ownPage, sender), { kind: 'app.info', params: {} })) as { ok: boolean; result: { host: string; modelsDir: string } };
    expect(ok).toMatchObject({ ok: true, result: { host: 'electron', modelsDir: path.join(userData, 'models') } });
    const bad = async (event: unknown, message: unknown) => (await handle(event, message)) as { ok: boolean; error: { code: string } };
    expect(await bad(eventFrom(ownPage, sender), { kind: 'no.such.kind', params: {} })).toMatchObject({ ok: false });
    expect(await bad(eventFrom(ownPage, sender), 'app.info')).toMatchObject({ ok: false });
    expect(await bad(eventFrom(ownPage, sender), { kind: 'app.info', params: {}, extra: 1 })).toMatchObject({ ok: false });
    expect(await bad(eventFrom(ownPage, sender), { kind: 'models.load', params: { modelId: 42 } })).toMatchObject({ ok: false });
    expect(await bad(eventFrom('https://example.com/', sender), { kind: 'app.info', params: {} })).toMatchObject({ ok: false });
  });

  it('hands an event port to its own page only', () => {
    const connect = electron.standin.listeners.get('studio:connect')!;
    const sender = electron.standin.windows[0]!.webContents;
    connect(eventFrom('https://example.com/', sender));
    expect(sender.posted).toHaveLength(0);
    connect(eventFrom(ownPage, sender));
    expect(sender.posted).toHaveLength(1);
    expect(sender.posted[0]!.channel).toBe('studio:port');
    expect(sender.posted[0]!.ports).toHaveLength(1);
  });

  it('loads the embedded model and says which provider runs and why others were skipped', async () => {
    const handle = electron.standin.handlers.get('studio:request')!;
    const sender = electron.standin.windows[0]!.webContents;
    const r = (await handle(eventFrom(ownPage, sender), { kind: 'models.load', params: { modelId: 'embedded' } })) as { ok: boolean; result: { provider: { inUse: string; skipped: { provider: string; reason: string }[] } } };
    expect(r.ok).toBe(true);
    expect(r.result.provider.inUse).toBe('cpu');
    // On Linux the automatic chain tries CUDA first; without its libraries the reason names what to install.
    if (process.platform === 'linux') expect(r.result.provider.skipped.find((s) => s.provider === 'cuda')?.reason).toMatch(/What to do:/);
  });

  it('persists a provider chosen in the Settings menu and reloads the page', async () => {
    const reloads = electron.standin.windows[0]!.webContents.reloads;
    menuItem(['Settings', 'Execution Provider', 'CPU']).click!();
    const file = path.join(userData, 'settings.json');
    const saved = await until('settings.json', () => existsSync(file) && JSON.parse(readFileSync(file, 'utf8')));
    expect(saved).toEqual({ provider: 'cpu', threads: null, gpu: 0 });
    await until('the page reload', () => electron.standin.windows[0]!.webContents.reloads > reloads);
    expect(menuItem(['Settings', 'Execution Provider', 'CPU']).checked).toBe(true);
  });

  it('persists the GPU chosen in the Settings menu (CUDA/DirectML device id), keeps the provider, and still loads', async () => {
    const file = path.join(userData, 'settings.json');
    menuItem(['Settings', 'GPU (CUDA, DirectML)', 'GPU 1']).click!();
    const saved = await until('settings.json with GPU 1', () => { const s = JSON.parse(readFileSync(file, 'utf8')); return s.gpu === 1 && s; });
    expect(saved).toEqual({ provider: 'cpu', threads: null, gpu: 1 });
    await until('the rebuilt menu', () => menuItem(['Settings', 'GPU (CUDA, DirectML)', 'GPU 1']).checked);
    const handle = electron.standin.handlers.get('studio:request')!;
    const r = (await handle(eventFrom(ownPage, electron.standin.windows[0]!.webContents), { kind: 'models.load', params: { modelId: 'embedded' } })) as { ok: boolean; result: { provider: { inUse: string } } };
    expect(r).toMatchObject({ ok: true, result: { provider: { inUse: 'cpu' } } });
  });

  it.runIf(process.platform === 'linux')('decodes images and generates in separate utility processes; the main process loads neither onnxruntime nor sharp', async () => {
    const handle = electron.standin.handlers.get('studio:request')!;
    const sender = electron.standin.windows[0]!.webContents;
    const port = electron.standin.ports.at(-1)!;
    expect((await handle(eventFrom(ownPage, sender), { kind: 'models.load', params: { modelId: 'embedded' } })) as { ok: boolean }).toMatchObject({ ok: true });
    const png = new Uint8Array(readFileSync(path.join(ROOT, 'tests', 'fixtures', 'engine', 'fashion-72x56.png')));
    const inspected = (await handle(eventFrom(ownPage, sender), { kind: 'image.inspect', params: { bytes: png, fileName: 'fashion.png' } })) as { ok: boolean; result: { image: { width: number; height: number } } };
    expect(inspected, JSON.stringify(inspected).slice(0, 500)).toMatchObject({ ok: true, result: { image: { width: 72, height: 56 } } });
    expect((await handle(eventFrom(ownPage, sender), { kind: 'generate.start', params: { jobId: 'in-child', settings: settingsOf(3, 1) } })) as { ok: boolean }).toMatchObject({ ok: true });
    await until('the job to end', () => port.received.find((e: { jobId?: string; type: string }) => e.jobId === 'in-child' && ['job.done', 'job.error', 'job.cancelled'].includes(e.type)));
    expect(port.received.filter((e: { jobId?: string }) => e.jobId === 'in-child').at(-1)?.type).toBe('job.done');

    const engine = utility('VAR Studio engine');
    const codecs = utility('VAR Studio image codecs');
    for (const child of [engine, codecs]) {
      expect(child.pid).not.toBe(process.pid);
      expect(child.modulePath).toBe(path.join(ROOT, 'out', 'main', 'engine-worker.js'));
      // only what it needs: no stdin, no inherited inspector or NODE_OPTIONS, no unsigned-library exception
      expect(child.options).toMatchObject({ stdio: ['ignore', 'inherit', 'inherit'], execArgv: [] });
      expect(child.options.allowLoadingUnsignedLibraries).toBeUndefined();
      expect(child.options.env?.NODE_OPTIONS).toBeUndefined();
    }
    expect(engine.pid).not.toBe(codecs.pid);
    expect(nativeLibraries(engine.pid!).some((l) => ONNXRUNTIME.test(l))).toBe(true);
    expect(nativeLibraries(codecs.pid!).some((l) => LIBVIPS.test(l))).toBe(true);
    const mine = nativeLibraries(process.pid);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.filter((l) => ONNXRUNTIME.test(l) || LIBVIPS.test(l))).toEqual([]);
    expect(Object.keys(createRequire(import.meta.url).cache).filter((m) => /onnxruntime|sharp/.test(m))).toEqual([]);
  });

  it.runIf(process.platform === 'linux')('killing the engine process mid-job ends the job with a clear error, and the next Generate works on a new process', async () => {
    const handle = electron.standin.handlers.get('studio:request')!;
    const sender = electron.standin.windows[0]!.webContents;
    const port = electron.standin.ports.at(-1)!;
    expect((await handle(eventFrom(ownPage, sender), { kind: 'models.load', params: { modelId: 'embedded' } })) as { ok: boolean }).toMatchObject({ ok: true });
    const before = utility('VAR Studio engine').pid!;
    expect((await handle(eventFrom(ownPage, sender), { kind: 'generate.start', params: { jobId: 'killed', settings: settingsOf(5, 8) } })) as { ok: boolean }).toMatchObject({ ok: true });
    await until('the first scale', () => port.received.find((e: { jobId?: string; type: string }) => e.jobId === 'killed' && e.type === 'job.scale'));
    process.kill(before, 'SIGKILL');
    const failed = await until('the job error', () => port.received.find((e: { jobId?: string; type: string }) => e.jobId === 'killed' && e.type === 'job.error')) as { error: { code: string; message: string; hint: string } };
    expect(failed.error.code).toBe('worker-exited');
    expect(failed.error.message).toMatch(/engine worker stopped \(exit code \d+\)/);
    expect(failed.error.hint).toMatch(/started it again and reloaded the model.*press Generate again/);
    // no models.load in between: the host has already loaded the model again in a fresh process
    expect((await handle(eventFrom(ownPage, sender), { kind: 'generate.start', params: { jobId: 'after-kill', settings: settingsOf(5, 1) } })) as { ok: boolean }).toMatchObject({ ok: true });
    await until('the next job to end', () => port.received.find((e: { jobId?: string; type: string }) => e.jobId === 'after-kill' && (e.type === 'job.done' || e.type === 'job.error')));
    expect(port.received.filter((e: { jobId?: string }) => e.jobId === 'after-kill').at(-1)?.type).toBe('job.done');
    const after = utility('VAR Studio engine').pid!;
    expect(after).not.toBe(before);
    expect(nativeLibraries(process.pid).filter((l) => ONNXRUNTIME.test(l))).toEqual([]);
  }, 120_000);

  it.runIf(process.platform === 'linux')('imports checkpoints in the importer utility process; the main process parses none of it', async () => {
    const handle = electron.standin.handlers.get('studio:request')!;
    const sender = electron.standin.windows[0]!.webContents;
    const port = electron.standin.ports.at(-1)!;
    const modelsDir = path.join(userData, 'models');
    const pair = writeSmallPair(path.join(userData, 'pair'));
    mkdirSync(modelsDir, { recursive: true });
    copyFileSync(pair.varFile, path.join(modelsDir, 'small_var.pth'));
    copyFileSync(pair.vaeFile, path.join(modelsDir, 'small_vae.pth'));
    writeFileSync(path.join(modelsDir, 'broken_var.pth'), 'not a checkpoint');
    // the small pair's graph templates; the importer process is started on the first import and inherits this
    process.env.VAR_STUDIO_GRAPH_TEMPLATES = pair.templatesDir;
    try {
      const bad = (await handle(eventFrom(ownPage, sender), { kind: 'models.import', params: { varFile: 'broken_var.pth', vaeFile: 'small_vae.pth', name: 'broken' } })) as { ok: boolean; error: { code: string; message: string } };
      expect(bad).toMatchObject({ ok: false, error: { code: 'not-checkpoint' } });
      expect(bad.error.message).toMatch(/broken_var\.pth/);
      const good = (await handle(eventFrom(ownPage, sender), { kind: 'models.import', params: { varFile: 'small_var.pth', vaeFile: 'small_vae.pth', name: 'small' } })) as { ok: boolean; result: { dir: string } };
      expect(good, JSON.stringify(good).slice(0, 500)).toMatchObject({ ok: true, result: { dir: path.join(modelsDir, 'small') } });
    } finally {
      delete process.env.VAR_STUDIO_GRAPH_TEMPLATES;
    }
    expect(JSON.parse(readFileSync(path.join(modelsDir, 'small', 'manifest.json'), 'utf8'))).toMatchObject({ name: 'small' });
    expect(port.received.filter((e: { type: string; name?: string }) => e.type === 'models.import-progress' && e.name === 'small').map((e: { phase: string | null }) => e.phase)).toContain('preview');
    const importer = utility('VAR Studio importer');
    expect(importer.pid).not.toBe(process.pid);
    expect(importer.modulePath).toBe(path.join(ROOT, 'out', 'main', 'engine-worker.js'));
    expect(importer.options).toMatchObject({ stdio: ['ignore', 'inherit', 'inherit'], execArgv: [] });
    // the preview fit runs the decoder in ONNX Runtime: it is mapped in the importer, never in main
    expect(nativeLibraries(importer.pid!).some((l) => ONNXRUNTIME.test(l))).toBe(true);
    expect(nativeLibraries(process.pid).filter((l) => ONNXRUNTIME.test(l))).toEqual([]);
  }, 300_000);

  it('Help → Open Log File opens the log in the user-data folder', async () => {
    menuItem(['help', 'Open Log File']).click!();
    const opened = await until('openPath', () => electron.standin.openedPaths[0]);
    expect(opened).toBe(path.join(userData, 'logs', 'var-studio.log'));
    expect(readFileSync(opened, 'utf8')).toMatch(/VAR Studio .* starting/);
  });

  it('saves the window bounds when the window closes', async () => {
    electron.standin.windows[0]!.emit('close');
    const file = path.join(userData, 'window-state.json');
    const state = await until('window-state.json', () => existsSync(file) && JSON.parse(readFileSync(file, 'utf8')));
    expect(state.bounds.width).toBe(electron.standin.windows[0]!.options.width);
  });

  it('a second start focuses the open window', () => {
    const win = electron.standin.windows[0]!;
    const before = win.focused;
    electron.app.emit('second-instance', {}, ['var-studio'], process.cwd());
    expect(win.focused).toBe(before + 1);
    expect(electron.standin.windows).toHaveLength(1);
  });

  it('quitting mid-job cancels the run and disposes the engine before the app quits', async () => {
    const handle = electron.standin.handlers.get('studio:request')!;
    const sender = electron.standin.windows[0]!.webContents;
    const port = electron.standin.ports.at(-1)!;
    const load = (await handle(eventFrom(ownPage, sender), { kind: 'models.load', params: { modelId: 'embedded' } })) as { ok: boolean };
    expect(load.ok).toBe(true);
    const settings = { modelId: 'embedded', classIndex: 1, seed: 7, batch: 8, sampling: { cfg: 1.5, topK: 100, topP: 0.95, moreSmooth: false } };
    const started = (await handle(eventFrom(ownPage, sender), { kind: 'generate.start', params: { jobId: 'quit-job', settings } })) as { ok: boolean };
    expect(started.ok).toBe(true);
    const quitsBefore = electron.standin.quitCalls;
    electron.app.quit();
    // The first quit is held back (will-quit prevented) until the engine is disposed; then main quits again.
    await until('the second quit', () => electron.standin.quitCalls >= quitsBefore + 2);
    const last = port.received.filter((e: { jobId?: string }) => e.jobId === 'quit-job').at(-1);
    expect(last?.type).toBe('job.cancelled');
    expect(readFileSync(path.join(userData, 'logs', 'var-studio.log'), 'utf8')).toMatch(/engine disposed; quitting/);
    // A request after disposal finds no loaded model: the engine is gone.
    const after = (await handle(eventFrom(ownPage, sender), { kind: 'generate.start', params: { jobId: 'after', settings } })) as { ok: boolean; error: { code: string } };
    expect(after).toMatchObject({ ok: false, error: { code: 'model-not-loaded' } });
  });
});
