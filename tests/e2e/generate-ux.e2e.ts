// The Generate workspace as an artist uses it, in Chromium against `npm run serve` with the real engine:
// nothing made is lost (reload, server restart, reconnect), fields tell the truth, the class combobox,
// the queue and run feedback, compare, zoom, shortcuts. No mocks; a held WebSocket only slows a run down.
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { test, expect, recordFrames, openStudio, pickClass, generateAndWait, docScreenshot, startServe, holdAfterFirstScale } from './fixtures';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || !proc.pid) return resolve();
    proc.once('exit', () => resolve());
    process.kill(-proc.pid, 'SIGTERM');
  });
}

test('after a restart with a new access token the page says to open the newly printed URL, and reconnects once it is opened', async ({ page }) => {
  test.setTimeout(600_000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'var-studio-e2e-newtoken-'));
  const port = await freePort();
  let { proc, info } = await startServe({ dataDir, port }); // no --token-file: every launch has its own token
  try {
    await openStudio(page, info.url);
    await stop(proc);
    await expect(page.getByTestId('reconnecting')).toBeVisible();
    await expect(page.getByTestId('server-restarted')).toHaveCount(0); // nothing answers yet: plain "Reconnecting…"

    // The same port, a new token: the page's cookie is refused, so it must not keep saying "Reconnecting…".
    const firstUrl = info.url;
    ({ proc, info } = await startServe({ dataDir, port }));
    expect(info.url).not.toBe(firstUrl);
    const banner = page.getByTestId('server-restarted');
    await expect(banner).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('reconnecting')).toHaveCount(0);
    await expect(banner).toContainText('restarted with a new access token');
    await expect(banner).toContainText(`http://127.0.0.1:${port}/?token=…`);
    await expect(banner).toContainText(/autosaved/);
    await expect(banner).not.toContainText(new URL(info.url).searchParams.get('token')!); // the page never learns the secret

    // Opening the printed URL (here in a second tab) sets the new cookie; the first tab then reconnects by itself.
    const second = await page.context().newPage();
    await openStudio(second, info.url);
    await expect(banner).toBeHidden({ timeout: 30_000 });
    await expect(page.getByTestId('generate')).toBeEnabled();
    await generateAndWait(page);
  } finally {
    await stop(proc);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the gallery survives a reload, a server restart and an app restart; the page reconnects by itself', async ({ page }) => {
  test.setTimeout(600_000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'var-studio-e2e-persist-'));
  const port = await freePort();
  // The restarted server keeps the access token (the page's cookie stays valid), as a scripted server would.
  const tokenFile = path.join(dataDir, 'token');
  let { proc, info } = await startServe({ dataDir, port, tokenFile });
  try {
    await openStudio(page, info.url);
    await pickClass(page, 2);
    await page.getByTestId('batch').fill('2');
    await page.getByTestId('batch').press('Tab');
    await generateAndWait(page);
    await expect(page.getByTestId('gallery-item')).toHaveCount(2);
    const names = await page.getByTestId('gallery-item').allTextContents();

    // 1. Reload: the gallery comes back from the data folder.
    await page.reload();
    await expect(page.getByTestId('generate')).toBeEnabled();
    await expect(page.getByTestId('gallery-item')).toHaveCount(2);
    expect(await page.getByTestId('gallery-item').allTextContents()).toEqual(names);

    // 2. The server goes away: "Reconnecting…", no toast telling the user to reload.
    await stop(proc);
    await expect(page.getByTestId('reconnecting')).toBeVisible();
    await expect(page.getByText(/reload this page/i)).toHaveCount(0);
    await expect(page.getByTestId('gallery-item')).toHaveCount(2);

    // 3. It comes back on the same address: the page reconnects, re-syncs and generates again.
    ({ proc, info } = await startServe({ dataDir, port, tokenFile }));
    await expect(page.getByTestId('reconnecting')).toBeHidden({ timeout: 30_000 });
    await expect(page.getByTestId('generate')).toBeEnabled();
    await generateAndWait(page);
    await expect(page.getByTestId('gallery-item')).toHaveCount(3);

    // 4. A new window (an app restart): everything is there, vary works on a stored image (its tokens were kept).
    const fresh = await page.context().newPage();
    await openStudio(fresh, info.url);
    await expect(fresh.getByTestId('gallery-item')).toHaveCount(3);
    await fresh.getByTestId('gallery-item').nth(2).getByRole('button').first().click();
    await fresh.locator('[data-testid="scale-cell"][data-scale="2"]').click();
    await expect(fresh.getByTestId('gallery-item')).toHaveCount(4);
    await expect(fresh.getByTestId('gallery-item').first()).toContainText('varied@2');

    // Browse: by day, by class, by search.
    await expect(fresh.getByTestId('gallery-day')).toHaveCount(1);
    await fresh.getByTestId('gallery-search').fill('zzz-no-such');
    await expect(fresh.getByTestId('gallery-item')).toHaveCount(0);
    await fresh.getByTestId('gallery-search').fill('');
    const firstClass = (await fresh.getByTestId('gallery-class').locator('option').nth(1).textContent()) ?? '';
    await fresh.getByTestId('gallery-class').selectOption(firstClass);
    for (const t of await fresh.getByTestId('gallery-item').allTextContents()) expect(t).toContain(firstClass);
    await fresh.getByTestId('gallery-class').selectOption('');
    await docScreenshot(fresh, 'screenshot-gallery.png');

    // Clear all asks first: dismissing keeps everything, accepting deletes it on the host too.
    fresh.once('dialog', (d) => void d.dismiss());
    await fresh.getByTestId('gallery-clear').click();
    await expect(fresh.getByTestId('gallery-item')).toHaveCount(4);
    fresh.once('dialog', (d) => {
      expect(d.message()).toMatch(/Delete all 4 images/);
      void d.accept();
    });
    await fresh.getByTestId('gallery-clear').click();
    await expect(fresh.getByTestId('gallery-item')).toHaveCount(0);
    await fresh.reload();
    await expect(fresh.getByTestId('generate')).toBeEnabled();
    await expect(fresh.getByTestId('gallery-item')).toHaveCount(0);
  } finally {
    await stop(proc);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('fields clamp out-of-range values on blur and show them; the run uses exactly what they show', async ({ page, serve }) => {
  const frames = recordFrames(page);
  await openStudio(page, serve.url);
  const enter = async (id: string, text: string) => {
    await page.getByTestId(id).fill(text);
    await page.getByTestId(id).press('Tab');
  };
  await enter('cfg-number', '99');
  await expect(page.getByTestId('cfg-number')).toHaveValue('50');
  await expect(page.getByTestId('cfg-note')).toContainText('At most 50');
  await enter('topp', '1.7');
  await expect(page.getByTestId('topp')).toHaveValue('1');
  await enter('topk', '-5');
  await expect(page.getByTestId('topk')).toHaveValue('0');
  await enter('batch', '64');
  await expect(page.getByTestId('batch')).toHaveValue('16');
  await expect(page.getByTestId('batch-note')).toContainText('At most 16');
  await enter('batch', '');
  await expect(page.getByTestId('batch')).toHaveValue('16');
  await expect(page.getByTestId('batch-note')).toContainText('Not a number; kept 16');
  await enter('batch', '2');
  await expect(page.getByTestId('batch-note')).toHaveCount(0);
  await pickClass(page, 1);
  await generateAndWait(page);
  const sent = frames.sent.find((m) => m.kind === 'generate.start').params.settings;
  expect(sent.sampling).toMatchObject({ cfg: 50, topP: 1, topK: 0 });
  expect(sent.batch).toBe(2);
  expect(String(sent.sampling.cfg)).toBe(await page.getByTestId('cfg-number').inputValue());
  // The seed toggle reads as a state.
  await expect(page.getByTestId('seed-lock')).toHaveText('Seed: random');
  await page.getByTestId('seed-lock').click();
  await expect(page.getByTestId('seed-lock')).toHaveText('Seed: locked');
});

test('the class picker is a combobox: one tab stop, arrows move the highlight, Enter picks, Escape closes', async ({ page, serve }) => {
  const frames = recordFrames(page);
  await openStudio(page, serve.url);
  const search = page.getByTestId('class-search');
  await expect(search).toHaveAttribute('role', 'combobox');
  const options = page.getByTestId('class-option');
  const names = (await options.allTextContents()).map((t) => t.replace(/^\s*\d+\s*/, '').trim());
  // Options are not tab stops: Tab from the field leaves the list.
  await search.focus();
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).not.toBe('option');
  // Type part of a name and press Enter: the first match is picked (not "Random class").
  const target = names[3];
  await search.fill(target.slice(0, Math.min(4, target.length)));
  await search.press('Enter');
  const firstMatch = (await options.first().textContent())?.replace(/^\s*\d+\s*/, '').trim() ?? '';
  await expect(page.getByTestId('class-chosen')).toContainText(firstMatch);
  // Arrows move the highlight (aria-activedescendant); Enter picks the highlighted one.
  await search.fill('');
  await search.press('ArrowDown'); // "Random class"
  await search.press('ArrowDown'); // class 0
  await search.press('ArrowDown'); // class 1
  await expect(search).toHaveAttribute('aria-activedescendant', 'class-opt-1');
  await search.press('Enter');
  await expect(page.getByTestId('class-chosen')).toContainText(`1 · ${names[1]}`);
  await search.press('Escape');
  await expect(search).toHaveAttribute('aria-expanded', 'false');
  await expect(page.getByRole('listbox', { name: 'Classes' })).toHaveCount(0);
  await search.press('ArrowDown');
  await expect(search).toHaveAttribute('aria-expanded', 'true');
  await page.keyboard.press('Control+Enter');
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'done');
  expect(frames.sent.find((m) => m.kind === 'generate.start').params.settings.classIndex).toBe(1);
});

test('queue: Ctrl+Enter during a run queues it; the elapsed time ticks, the title shows progress, closing asks first', async ({ page, serve }) => {
  const hold = await holdAfterFirstScale(page);
  const frames = recordFrames(page);
  await openStudio(page, serve.url);
  await pickClass(page, 1);
  hold.arm();
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'running');
  await expect(page.getByTestId('scale-preview').first()).toHaveAttribute('data-filled', 'true');
  // Held after the first scale: the elapsed time still ticks (not only per scale), the title shows progress.
  const status = page.getByTestId('run-status-text');
  const t1 = await status.textContent();
  await page.waitForTimeout(400);
  const t2 = await status.textContent();
  expect(t1).not.toBe(t2);
  expect(t2).toMatch(/Scale 1 of \d+ .* done · \d+\.\d s/);
  await expect(page).toHaveTitle(/^\[\d+%\] VAR Studio$/);
  // Queue three more; remove one, move one.
  await pickClass(page, 2);
  await page.keyboard.press('Control+Enter');
  await pickClass(page, 3);
  await page.getByTestId('enqueue').click();
  await pickClass(page, 4);
  await page.keyboard.press('Control+Enter');
  await expect(page.getByTestId('queue-item')).toHaveCount(3);
  await docScreenshot(page, 'screenshot-queue.png');
  await page.getByTestId('queue-item').nth(1).getByTestId('queue-remove').click();
  await expect(page.getByTestId('queue-item')).toHaveCount(2);
  await page.getByTestId('queue-item').nth(1).getByRole('button', { name: 'Move up' }).click();
  // While work is waiting, closing the page asks first.
  const asked = new Promise<string>((resolve) => page.once('dialog', (d) => { resolve(d.type()); void d.dismiss(); }));
  await page.close({ runBeforeUnload: true }).catch(() => undefined);
  expect(await asked).toBe('beforeunload');
  expect(page.isClosed()).toBe(false);
  hold.release();
  await expect(page.getByTestId('queue-item')).toHaveCount(0, { timeout: 120_000 });
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('gallery-item')).toHaveCount(3);
  // FIFO after the reorder: class 1 (running), then 4, then 2; class 3 was removed.
  const classes = frames.sent.filter((m) => m.kind === 'generate.start').map((m) => m.params.settings.classIndex);
  expect(classes).toEqual([1, 4, 2]);
  await expect(page).toHaveTitle('VAR Studio');
});

test('compare with a slider and the differing settings; a third tick does not replace; Esc leaves', async ({ page, serve }) => {
  await openStudio(page, serve.url);
  await pickClass(page, 1);
  await page.getByTestId('batch').fill('3');
  await page.getByTestId('batch').press('Tab');
  await generateAndWait(page);
  const ticks = page.getByTestId('gallery-item').getByRole('checkbox', { name: 'Tick for comparison' });
  await ticks.nth(0).check();
  await ticks.nth(1).check();
  await ticks.nth(2).click();
  await expect(ticks.nth(2)).not.toBeChecked();
  await expect(ticks.nth(0)).toBeChecked();
  await page.getByTestId('compare-button').click();
  await expect(page.getByTestId('compare-slider')).toBeVisible();
  const differing = page.getByTestId('compare-settings').locator('tr[data-differs="true"] th');
  await expect(differing).toHaveText(['Seed']);
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('compare')).toHaveCount(0);
  // Batch thumbnails wrap instead of running off sideways.
  await page.getByTestId('gallery-item').first().getByRole('button').first().click();
  const overflow = await page.locator('[aria-label="Images of this batch"]').evaluate((el) => el.scrollWidth - el.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  // Zoom: 1:1 shows the image at its own pixels; Fit fills the view again.
  await page.getByTestId('zoom-1').click();
  const side = await page.getByTestId('main-image').evaluate((c: HTMLCanvasElement) => c.getBoundingClientRect().width);
  const res = await page.getByTestId('main-image').evaluate((c: HTMLCanvasElement) => c.width);
  expect(Math.round(side)).toBe(res);
  await page.keyboard.press('0');
  await expect(page.getByTestId('zoom-label')).toHaveText('fit');
  const fitSide = await page.getByTestId('main-image').evaluate((c: HTMLCanvasElement) => c.getBoundingClientRect().width);
  expect(fitSide).toBeGreaterThan(side * 4);

  // Prune: nothing is older than a day yet (it says so); "Delete shown" deletes what the search shows, after asking.
  const alerted = new Promise<string>((resolve) => page.once('dialog', (d) => { resolve(d.message()); void d.accept(); }));
  await page.getByTestId('gallery-prune').selectOption('1');
  expect(await alerted).toMatch(/No image is older than 1 day/);
  const seed = /seed (\d+)/.exec((await page.getByTestId('gallery-item').nth(1).textContent()) ?? '')![1];
  await page.getByTestId('gallery-search').fill(seed);
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);
  page.once('dialog', (d) => void d.accept());
  await page.getByTestId('gallery-delete-shown').click();
  await page.getByTestId('gallery-search').fill('');
  await expect(page.getByTestId('gallery-item')).toHaveCount(2);
  await page.reload();
  await expect(page.getByTestId('generate')).toBeEnabled();
  await expect(page.getByTestId('gallery-item')).toHaveCount(2);
  await expect(page.getByTestId('gallery-item').filter({ hasText: `seed ${seed} ` })).toHaveCount(0);
});

test('shortcut overview (? and F1), a footer per workspace, redo in Generate, a favicon, an honest first status line', async ({ page, serve }) => {
  const responses: { url: string; status: number }[] = [];
  page.on('response', (r) => responses.push({ url: r.url(), status: r.status() }));
  await openStudio(page, serve.url);
  expect(responses.filter((r) => r.status >= 400)).toEqual([]);
  expect(responses.some((r) => r.url.endsWith('/favicon.svg') && r.status === 200)).toBe(true);
  await expect(page.getByTestId('footer-keys')).toContainText('Generate');
  await page.locator('body').press('?');
  await expect(page.getByTestId('shortcut-help')).toBeVisible();
  await expect(page.getByTestId('shortcut-help')).toContainText('Redo');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('shortcut-help')).toHaveCount(0);
  await page.keyboard.press('F1');
  await expect(page.getByTestId('shortcut-help')).toBeVisible();
  await page.keyboard.press('Escape');
  // Redo: a settings change undone (Ctrl+Z) comes back with Ctrl+Shift+Z and Ctrl+Y.
  await page.getByTestId('cfg-number').fill('7');
  await page.getByTestId('cfg-number').press('Tab');
  await page.locator('body').click({ position: { x: 640, y: 300 } });
  await page.keyboard.press('Control+z');
  await expect(page.getByTestId('cfg-number')).not.toHaveValue('7');
  await page.keyboard.press('Control+Shift+Z');
  await expect(page.getByTestId('cfg-number')).toHaveValue('7');
  await page.keyboard.press('Control+z');
  await page.keyboard.press('Control+y');
  await expect(page.getByTestId('cfg-number')).toHaveValue('7');
  // The first status line of a run never reads "Scale 0 of K · 0 ms".
  const seen: string[] = [];
  await page.exposeFunction('noteStatus', (s: string) => void seen.push(s));
  await page.evaluate(() => {
    const el = document.querySelector('[data-testid="run-status-text"]')!;
    new MutationObserver(() => (window as unknown as { noteStatus(s: string): void }).noteStatus(el.textContent ?? '')).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await generateAndWait(page);
  expect(seen.length).toBeGreaterThan(0);
  expect(seen.filter((s) => /Scale 0 of/.test(s) || /· 0 ms/.test(s))).toEqual([]);
  // The Canvas footer shows the canvas's keys.
  await page.getByRole('button', { name: 'Canvas', exact: true }).click();
  await expect(page.getByTestId('footer-keys')).toContainText('Run the operation');
});
