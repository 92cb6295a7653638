// Shared setup of the browser-mode e2e tests: one `npm run serve` per worker with the real engine on the
// embedded model (models/var-fashion-32) or, where that is not built yet, the tiny fixture bundle.
import { test as base, expect, type Locator, type Page, type WebSocket } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPLY_LIMITS, REQUEST_LIMITS, WireReader, encodeWire, type WireLimits } from '../../src/shared/wire';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const embedded = path.join(repoRoot, 'models', 'var-fashion-32');
export const modelDir = existsSync(path.join(embedded, 'manifest.json')) ? embedded : path.join(repoRoot, 'tests', 'fixtures', 'tiny', 'bundle');

/** `url` is the printed one, with the access token (opening it sets the cookie); `origin` is without it. */
export interface ServeInfo { url: string; origin: string; modelDir: string; modelsDir: string; log: string[]; dataDir?: string }

/**
 * Start `npm run serve` on a free loopback port and wait for its URL. `modelsDir` defaults to a new empty
 * folder; `dataDir` (the app data folder, where the canvas autosaves and the server takes its one-server
 * lock) to a new empty folder too, so parallel workers never share one. `env` adds variables (e.g.
 * VAR_STUDIO_MODEL_BASE_URL / VAR_STUDIO_MODEL_CATALOG for a local model server).
 * Stop it with `process.kill(-proc.pid)`: npm runs it in its own process group.
 */
export async function startServe(opts: { modelsDir?: string; dataDir?: string; env?: Record<string, string>; port?: number; tokenFile?: string } = {}): Promise<{ info: ServeInfo; proc: ChildProcess }> {
  const modelsDir = opts.modelsDir ?? mkdtempSync(path.join(os.tmpdir(), 'var-studio-e2e-models-'));
  const log: string[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', ...opts.env };
  env.VAR_STUDIO_DATA_DIR = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'var-studio-e2e-data-'));
  // --token-file keeps one access token across restarts (a restarted server otherwise has a new one)
  const tokenArgs = opts.tokenFile ? ['--token-file', opts.tokenFile] : [];
  const proc = spawn('npm', ['run', 'serve', '--', '--port', String(opts.port ?? 0), '--model', modelDir, '--models-dir', modelsDir, '--threads', '1', ...tokenArgs], {
    cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env,
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm run serve printed no URL within 240 s:\n${log.join('')}`)), 240_000);
    const onData = (d: Buffer) => {
      log.push(String(d));
      const m = /VAR Studio is running at (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(log.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (d: Buffer) => log.push(String(d)));
    proc.once('exit', (code) => reject(new Error(`npm run serve exited with ${code}:\n${log.join('')}`)));
  });
  return { info: { url, origin: new URL(url).origin + '/', modelDir, modelsDir, log, dataDir: env.VAR_STUDIO_DATA_DIR }, proc };
}

export const test = base.extend<{ consoleProblems: string[]; freshGallery: void }, { serve: ServeInfo }>({
  serve: [
    async ({}, use) => {
      // A data folder of its own: the gallery and canvas autosave of a test run never mix with the user's.
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'var-studio-e2e-data-'));
      const { info, proc } = await startServe({ dataDir });
      await use(info);
      if (proc.pid) process.kill(-proc.pid, 'SIGTERM'); // the whole process group that npm started
      rmSync(dataDir, { recursive: true, force: true });
    },
    { scope: 'worker', timeout: 300_000 },
  ],
  // Each test starts with an empty gallery (the host keeps it on disk and reads the folder on every request).
  freshGallery: [
    async ({ serve }, use) => {
      if (serve.dataDir) rmSync(path.join(serve.dataDir, 'gallery'), { recursive: true, force: true });
      await use();
    },
    { auto: true },
  ],
  // Every test fails on a CSP violation or an uncaught page error.
  consoleProblems: async ({ page }, use) => {
    const problems: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await use(problems);
    expect(problems, 'CSP violations or page errors').toEqual([]);
  },
});
export { expect };

/**
 * Reads one direction of a socket in order (src/shared/wire.ts): returns the decoded message when a
 * WebSocket message completes one, else undefined; a refused one comes back as { unparsable }.
 */
export function wireMessages(limits: WireLimits = REPLY_LIMITS): (m: string | Buffer) => any {
  const reader = new WireReader(limits);
  return (m) => {
    try {
      const step = reader.push(typeof m === 'string' ? null : m);
      return step.done ? step.value : undefined;
    } catch (e) {
      return { unparsable: (e as Error).message };
    }
  };
}

/** Decoded messages of the app's WebSocket, both ways, in arrival order (typed arrays as {$u8}/{$i32} base64). */
export function recordFrames(page: Page): { received: any[]; sent: any[] } {
  const received: any[] = [];
  const sent: any[] = [];
  // the JSON text form keeps the assertions readable: typed arrays become {$u8: base64} / {$i32: base64}
  const asJson = (m: unknown) => (m === undefined ? undefined : JSON.parse(encodeWire(m)));
  page.on('websocket', (ws: WebSocket) => {
    const fromServer = wireMessages(REPLY_LIMITS);
    const fromPage = wireMessages(REQUEST_LIMITS);
    ws.on('framereceived', (f) => {
      const m = asJson(fromServer(f.payload));
      if (m) received.push(m);
    });
    ws.on('framesent', (f) => {
      const m = asJson(fromPage(f.payload));
      if (m) sent.push(m);
    });
  });
  return { received, sent };
}

export function events(received: any[], type: string): any[] {
  return received.filter((m) => m.t === 'evt' && m.event.type === type).map((m) => m.event);
}

/** Int32 values of a {$i32: base64} wire value. */
export function int32s(wire: { $i32: string }): number[] {
  const b = Buffer.from(wire.$i32, 'base64');
  return Array.from({ length: b.length / 4 }, (_, i) => b.readInt32LE(i * 4));
}

export async function openStudio(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await expect(page.getByTestId('generate')).toBeEnabled();
  await expect(page.getByTestId('provider')).toBeVisible();
}

export async function pickClass(page: Page, index: number): Promise<string> {
  const option = page.getByTestId('class-option').nth(index);
  const text = (await option.textContent())?.trim() ?? '';
  await option.click();
  return text;
}

export async function generateAndWait(page: Page): Promise<void> {
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'done');
}

/** Refresh a screenshot committed under docs/ (the README's pictures) only when asked: VAR_STUDIO_SCREENSHOT=1. */
export async function docScreenshot(page: Page, fileName: string): Promise<void> {
  if (process.env.VAR_STUDIO_SCREENSHOT === '1') await page.screenshot({ path: path.join(repoRoot, 'docs', fileName) });
}

/** RGB bytes drawn on a canvas (the views draw an image at its own resolution). */
export async function locatorRgb(canvas: Locator): Promise<number[]> {
  return canvas.evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const out: number[] = [];
    for (let i = 0; i < d.length; i += 4) out.push(d[i], d[i + 1], d[i + 2]);
    return out;
  });
}

/** RGB bytes of the canvas with this test id. */
export async function canvasRgb(page: Page, testId: string): Promise<number[]> {
  return locatorRgb(page.getByTestId(testId));
}

/**
 * Holds the server's messages after the first scale of the next run once armed (so a run stays in flight on
 * any model) until release() delivers them in order. `held` shows what the host sent meanwhile.
 */
export async function holdAfterFirstScale(page: Page, opts: { armed?: boolean; jobIdPrefix?: string } = {}): Promise<{ held: (string | Buffer)[]; arm(): void; release(): void }> {
  // a job's scale event; with jobIdPrefix only that job's (the wire writes type, then jobId)
  const firstScale = opts.jobIdPrefix === undefined ? '"type":"job.scale"' : `"type":"job.scale","jobId":"${opts.jobIdPrefix}`;
  let hold = false;
  let armed = opts.armed ?? false;
  const held: (string | Buffer)[] = [];
  let deliver: (m: string | Buffer) => void = () => undefined;
  await page.routeWebSocket('**/ws', (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    deliver = (m) => ws.send(m);
    const fromServer = wireMessages();
    server.onMessage((m) => {
      // hold only once a message has arrived whole (a message is a head and its payload chunks)
      const complete = fromServer(m);
      if (hold) held.push(m);
      else {
        ws.send(m);
        if (armed && complete && encodeWire(complete).includes(firstScale)) {
          hold = true;
          armed = false;
        }
      }
    });
  });
  return {
    held,
    arm: () => void (armed = true),
    release: () => {
      hold = false;
      for (const m of held.splice(0)) deliver(m);
    },
  };
}
