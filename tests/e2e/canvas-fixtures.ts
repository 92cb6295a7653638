/// <reference lib="dom" />
// Shared by the canvas e2e specs: a server per worker with a private data folder (the autosaves and the
// tab list live there; each test starts without them), the canvas session's test snapshot, opening the
// photo fixture, and mouse drags in document pixels.
import { expect, type Page } from '@playwright/test';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, startServe, test as base } from './fixtures';

export const PHOTO = path.join(repoRoot, 'tests', 'fixtures', 'engine', 'fashion-72x56.png');

interface Serve { url: string; dataDir: string; log: string[] }

// The page-error check (consoleProblems) comes from the shared fixtures; the server here is the canvas' own.
export const test = base.extend<{ freshCanvas: void }, { canvasServe: Serve }>({
  // Each test starts with no open tabs: the earlier tests' autosaves and tab list are removed first.
  freshCanvas: [
    async ({ canvasServe }, use) => {
      rmSync(path.join(canvasServe.dataDir, 'canvas'), { recursive: true, force: true });
      await use();
    },
    { auto: true },
  ],
  canvasServe: [
    async ({}, use) => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'var-studio-canvas-e2e-'));
      const modelsDir = path.join(dataDir, 'models');
      mkdirSync(modelsDir);
      const { info, proc } = await startServe({ modelsDir, dataDir });
      await use({ url: info.url, dataDir, log: info.log });
      if (proc.pid) process.kill(-proc.pid, 'SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
    { scope: 'worker', timeout: 300_000 },
  ],
});

export interface Snapshot {
  document: { docId: string; width: number; height: number; region: { x: number; y: number; size: number }; steps: number; maskedPixels: number; image: string; mask: string } | null;
  history: { undo: number; redo: number };
  staged: { count: number; index: number; region: { x: number; y: number; size: number } } | null;
  autosave: { state: string };
  status: string;
  feather: number;
  unexported: boolean;
  brushSize: number;
  restorableMask: boolean;
  question: string | null;
  preview: { scale: number; alphaMasked: number } | null;
  tabs: { docId: string; name: string; dirty: boolean; loaded: boolean; active: boolean; status: string; staged: number }[];
  operation: string;
  view: { stage: { scale: number; x: number; y: number } };
}

export async function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(() => (window as unknown as { __varStudioCanvasTestHook: { snapshot(): Snapshot } }).__varStudioCanvasTestHook.snapshot());
}

export const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

const sockets = new WeakMap<Page, Promise<import('@playwright/test').WebSocket>>();
export function wsOf(page: Page): Promise<import('@playwright/test').WebSocket> {
  return sockets.get(page)!;
}

export async function openCanvas(page: Page, url: string): Promise<void> {
  sockets.set(page, page.waitForEvent('websocket'));
  await page.goto(url);
  await expect(page.getByTestId('provider')).toBeVisible();
  await page.getByRole('button', { name: 'Canvas', exact: true }).click();
  // The autosave of an earlier test has been looked for (and restored) before anything is opened.
  await expect(page.getByTestId('canvas-stage')).toHaveAttribute('data-ready', 'true');
}

export async function openPhoto(page: Page): Promise<void> {
  // The autosave of an earlier test may be this photo's size already: wait for the new document itself.
  const before = (await snapshot(page)).document?.docId ?? null;
  await page.getByTestId('canvas-file-input').setInputFiles(PHOTO);
  await expect.poll(async () => (await snapshot(page)).document?.docId ?? null).not.toBe(before);
  await expect(page.getByTestId('doc-size')).toHaveText('72×56 px');
}

/** Screen position of a document pixel, from the stage's transform. */
export async function screenOf(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  const s = await snapshot(page);
  const box = (await page.getByTestId('canvas-stage').boundingBox())!;
  return { x: box.x + s.view.stage.x + x * s.view.stage.scale, y: box.y + s.view.stage.y + y * s.view.stage.scale };
}

export async function drag(page: Page, points: [number, number][]): Promise<void> {
  const first = await screenOf(page, ...points[0]);
  await page.mouse.move(first.x, first.y);
  await page.mouse.down();
  for (const p of points.slice(1)) {
    const s = await screenOf(page, ...p);
    await page.mouse.move(s.x, s.y, { steps: 6 });
  }
  await page.mouse.up();
}
