// The Models page in Debian's Chromium, no internet: torch writes a small checkpoint pair in the official key
// layout (random weights, depth 2); a local HTTP server serves it like Hugging Face (a redirect, then Range
// requests); the catalogue (the official one plus two test entries whose sha256 match those files) and the
// download source are replaced through the test/mirror hooks VAR_STUDIO_MODEL_CATALOG / _BASE_URL, and the
// small architecture's graph templates through VAR_STUDIO_GRAPH_TEMPLATES. Real server, manager, importer, engine.
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { FileServer } from '../unit/host/file-server';
import { writeSmallPair } from '../unit/host/small-pair';
import { test, expect, repoRoot, startServe, generateAndWait, recordFrames, events, docScreenshot, type ServeInfo } from './fixtures';

test.describe.configure({ mode: 'serial' });

const tmp = mkdtempSync(path.join(os.tmpdir(), 'var-studio-e2e-pull-'));
const modelsDir = path.join(tmp, 'models');
const files = new FileServer();
let serve: { info: ServeInfo; proc: ChildProcess } | null = null;
let serveEnv: Record<string, string> = {};


const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function testCatalogue(varBytes: Buffer, vaeBytes: Buffer): unknown {
  const official = JSON.parse(readFileSync(path.join(repoRoot, 'resources', 'official-models.json'), 'utf8')) as { files: unknown[] };
  const sampling = { cfg: 3, topK: 100, topP: 0.9, moreSmooth: false };
  const testVar = (name: string, file: string, title: string) => ({
    kind: 'var', name, file, title, parameters: 1_234_567, sha256: sha(varBytes), bytes: varBytes.length, licence: 'MIT',
    depth: 2, resolution: 256, patchNums: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16], sharedAdaLN: false, vqvae: 'vae_test.pth',
    readme: { fid: 99.5, relCost: null, paramsLabel: '1.2M' }, paper: null, sampling, fidSampling: sampling,
  });
  return {
    ...official,
    files: [
      ...official.files,
      { kind: 'vqvae', name: 'vae-test', file: 'vae_test.pth', title: 'Test VQVAE', parameters: 1, sha256: sha(vaeBytes), bytes: vaeBytes.length, licence: 'MIT' },
      testVar('var-test', 'var_test.pth', 'VAR test d2 · random weights'),
      testVar('var-test-b', 'var_test_b.pth', 'VAR test d2 (b) · random weights'),
    ],
  };
}

test.beforeAll(async () => {
  test.setTimeout(600_000);
  const pair = writeSmallPair(path.join(tmp, 'fx'));
  const varBytes = readFileSync(pair.varFile);
  const vaeBytes = readFileSync(pair.vaeFile);
  await files.start();
  files.add('vae_test.pth', vaeBytes);
  // slow enough (64 KiB every 60 ms, ~3 s) that the page shows the transfer
  files.add('var_test.pth', varBytes, { chunkDelayMs: 60 });
  files.add('var_test_b.pth', varBytes, { chunkDelayMs: 150 });
  const catalogFile = path.join(tmp, 'catalogue.json');
  writeFileSync(catalogFile, JSON.stringify(testCatalogue(varBytes, vaeBytes)));
  serveEnv = { VAR_STUDIO_MODEL_CATALOG: catalogFile, VAR_STUDIO_MODEL_BASE_URL: files.resolveBase, VAR_STUDIO_GRAPH_TEMPLATES: pair.templatesDir };
  serve = await startServe({ modelsDir, env: serveEnv });
});

async function stopServe(): Promise<void> {
  const proc = serve?.proc;
  serve = null;
  if (!proc?.pid || proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  process.kill(-proc.pid, 'SIGTERM'); // the whole process group that npm started
  await exited;
}

test.afterAll(async () => {
  await stopServe();
  await files.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function openModels(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await expect(page.getByTestId('provider')).toBeVisible();
  await page.getByRole('button', { name: 'Models', exact: true }).click();
  await expect(page.getByTestId('models-page')).toBeVisible();
  await expect(page.getByTestId('model-row').first()).toBeVisible();
}

const row = (page: Page, name: string) => page.locator(`[data-testid="model-row"][data-name="${name}"]`);

/** Waits for a row to become ready; a failure ends the wait at once with the page's message. */
async function untilReady(r: Locator): Promise<void> {
  await expect.poll(async () => {
    const state = await r.getAttribute('data-state');
    if (state === 'failed') throw new Error(`the pull failed: ${await r.getByTestId('model-status').textContent()}`);
    return state;
  }, { timeout: 240_000 }).toBe('ready');
}

test('Models page → Download → progress → ready → Use → 1000 classes → Generate; Remove asks first', async ({ page, consoleProblems }) => {
  const frames = recordFrames(page);
  await openModels(page, serve!.info.url);
  // every catalogue entry with its facts; the official ones are not downloaded
  await expect(page.getByTestId('model-row')).toHaveCount(8);
  await expect(row(page, 'var-d16')).toContainText('310M');
  await expect(row(page, 'var-d16')).toContainText('3.55');
  await expect(row(page, 'var-d16')).toHaveAttribute('data-state', 'not-downloaded');
  await expect(page.getByTestId('models-dir')).toHaveText(modelsDir);
  await expect(page.getByTestId('free-disk')).toHaveText(/\d.* (KB|MB|GB|TB)/);

  const r = row(page, 'var-test');
  await r.getByTestId('model-download').click();
  await expect(r).toHaveAttribute('data-state', 'downloading');
  await expect(r.getByTestId('model-status')).toContainText(/Downloading \d+(\.\d)? %/);
  await expect(r.getByTestId('model-progress')).toBeVisible();
  await docScreenshot(page, 'screenshot-models.png');
  await untilReady(r);
  await expect(r.getByTestId('model-status')).toHaveText('Ready');

  // the host reported each step, with growing percentages and a rate
  const statuses = events(frames.received, 'models.status').filter((e) => e.name === 'var-test').map((e) => e.status);
  const states = [...new Set(statuses.map((s) => s.state))];
  expect(states).toEqual(expect.arrayContaining(['downloading', 'verifying', 'importing', 'ready']));
  const percents = statuses.filter((s) => s.state === 'downloading').map((s) => s.percent as number);
  expect(percents.some((p) => p > 0 && p < 100)).toBe(true);
  expect(percents).toEqual([...percents].sort((a, b) => a - b));
  // Hugging Face's shape: a redirect, then the bytes from the CDN path
  expect(files.log.filter((l) => l.path.endsWith('/var_test.pth')).map((l) => l.status)).toEqual([302, 200]);
  // nothing half-written in the models folder: the bundle and the dot-folder of downloads only
  expect(readdirSync(modelsDir).filter((f) => !f.startsWith('.'))).toEqual(['var-test']);

  // in the picker without a Rescan
  await expect(page.locator('[data-testid="model-select"] option[value="user:var-test"]')).toHaveCount(1);
  await r.getByTestId('model-use').click();
  await expect(page.getByTestId('generate')).toBeEnabled();
  await expect(page.getByTestId('model-select')).toHaveValue('user:var-test');

  // 1000 ImageNet names, searchable
  const search = page.getByTestId('class-search');
  await expect(search).toHaveAttribute('placeholder', /1000 classes/);
  const t0 = Date.now();
  await search.fill('goldfish');
  await expect(page.getByTestId('class-option')).toHaveCount(1);
  console.log(`class filter over 1000 names answered in ${Date.now() - t0} ms`);
  await page.getByTestId('class-option').first().click();
  await expect(page.getByTestId('class-chosen')).toContainText('goldfish');

  await generateAndWait(page);
  await expect(page.getByTestId('main-image')).toHaveAttribute('data-filled', 'true');
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);
  const start = events(frames.received, 'job.start').at(-1);
  expect(start.classIndices).toEqual([1]);
  expect(start.patchNums).toEqual([1, 2, 3, 4, 5, 6, 8, 10, 13, 16]);

  // Remove: a dialog says what goes and how much it frees; "Keep it" deletes nothing
  await page.getByRole('button', { name: 'Models', exact: true }).click();
  await r.getByTestId('model-remove').click();
  const dialog = page.getByTestId('confirm-dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId('remove-list')).toContainText(path.join(modelsDir, 'var-test'));
  await expect(dialog.getByTestId('remove-list')).toContainText('model bundle');
  await expect(dialog.getByTestId('remove-frees')).toHaveText(/\d.* (KB|MB)/);
  await dialog.getByTestId('confirm-cancel').click();
  await expect(dialog).toBeHidden();
  await expect(r).toHaveAttribute('data-state', 'ready');
  expect(existsSync(path.join(modelsDir, 'var-test', 'manifest.json'))).toBe(true);

  await r.getByTestId('model-remove').click();
  await dialog.getByTestId('confirm-ok').click();
  await expect(r).toHaveAttribute('data-state', 'not-downloaded');
  expect(existsSync(path.join(modelsDir, 'var-test'))).toBe(false);
  await expect(page.locator('[data-testid="model-select"] option[value="user:var-test"]')).toHaveCount(0);
  // the page left the removed model for a usable one
  await expect(page.getByTestId('model-select')).not.toHaveValue('user:var-test');
  expect(consoleProblems).toEqual([]);
});

test('Pause keeps the bytes, Resume continues with a Range request, and a paused download survives a server restart', async ({ page }) => {
  await openModels(page, serve!.info.url);
  const r = row(page, 'var-test-b');
  await r.getByTestId('model-download').click();
  await expect(r.getByTestId('model-status')).toContainText(/Downloading ([1-9]\d*|0\.[1-9])/, { timeout: 60_000 });
  await r.getByTestId('model-pause').click();
  await expect(r).toHaveAttribute('data-state', 'paused');
  await expect(r.getByTestId('model-status')).toContainText('Paused at');
  const partial = path.join(modelsDir, '.downloads', 'var_test_b.pth.part');
  expect(existsSync(partial)).toBe(true);

  await r.getByTestId('model-resume').click();
  await expect(r).toHaveAttribute('data-state', 'downloading');
  await expect.poll(() => files.log.filter((l) => l.path === '/cdn/var_test_b.pth').at(-1)?.range ?? '').toMatch(/^bytes=[1-9]\d*-$/);
  await expect(files.log.filter((l) => l.path === '/cdn/var_test_b.pth').at(-1)?.status).toBe(206);

  // the app closes mid-download; after the restart the page shows it paused and resumes it on click
  await stopServe();
  serve = await startServe({ modelsDir, env: serveEnv });
  files.faults.set('var_test_b.pth', {});
  await openModels(page, serve.info.url);
  await expect(r).toHaveAttribute('data-state', 'paused');
  await expect(r.getByTestId('model-status')).toContainText(/Paused at \d/);
  await r.getByTestId('model-resume').click();
  await untilReady(r);
  const cdn = files.log.filter((l) => l.path === '/cdn/var_test_b.pth');
  expect(cdn.at(-1)).toMatchObject({ status: 206, range: expect.stringMatching(/^bytes=[1-9]\d*-$/) });
  await expect(page.locator('[data-testid="model-select"] option[value="user:var-test-b"]')).toHaveCount(1);
});

test('browser mode: "Import checkpoint files…" offers the files placed in the models folder and imports a chosen pair', async ({ page, consoleProblems }) => {
  await openModels(page, serve!.info.url);
  await page.getByTestId('import-open').click();
  const panel = page.getByTestId('import-panel');
  // the page says where to put the files; nothing is there yet
  await expect(panel.getByTestId('import-folder')).toHaveText(modelsDir);
  await expect(panel.getByTestId('import-empty')).toBeVisible();
  copyFileSync(path.join(tmp, 'fx', 'a', 'var.pth'), path.join(modelsDir, 'tuned-d2.pth'));
  copyFileSync(path.join(tmp, 'fx', 'a', 'vae.pth'), path.join(modelsDir, 'my-vqvae.pth'));
  await panel.getByRole('button', { name: 'Refresh' }).click();
  await panel.getByTestId('import-var').selectOption('tuned-d2.pth');
  await panel.getByTestId('import-vae').selectOption('my-vqvae.pth');
  await panel.getByTestId('import-name').fill('Bad Name');
  await expect(panel.getByTestId('import-run')).toBeDisabled();
  await panel.getByTestId('import-name').fill('my-tuned');
  await panel.getByTestId('import-run').click();
  await expect(page.locator('[data-testid="model-select"] option[value="user:my-tuned"]')).toHaveCount(1, { timeout: 120_000 });
  await expect(page.getByTestId('import-progress')).toBeHidden();
  expect(existsSync(path.join(modelsDir, 'my-tuned', 'manifest.json'))).toBe(true);
  expect(consoleProblems).toEqual([]);
});
