/// <reference lib="dom" />
// The window around the workspaces, in Chromium against `npm run serve` with the real engine: what a first
// start shows and what the next start remembers, and the system notification for a long run that ends while
// the window is in the background.
import { test, expect, openStudio, holdAfterFirstScale } from './fixtures';

test('first start opens on Generate with the embedded model and a hint to the Models page; the dismissal and the last workspace are remembered', async ({ page, browser, serve }) => {
  await openStudio(page, serve.url);
  const tabs = page.getByRole('navigation', { name: 'Workspaces' });
  await expect(tabs.getByRole('button', { name: 'Generate' })).toHaveAttribute('aria-pressed', 'true');
  const hint = page.getByTestId('models-hint');
  await expect(hint).toContainText('You are running the small embedded model');
  await expect(hint).toContainText('Models page');

  // Dismissed once, gone for good.
  await page.getByTestId('models-hint-dismiss').click();
  await expect(hint).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('generate')).toBeEnabled();
  await expect(hint).toHaveCount(0);

  // The app opens on the workspace it was left on.
  await tabs.getByRole('button', { name: 'Models' }).click();
  await expect(page.getByTestId('models-page')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('models-page')).toBeVisible();
  await expect(tabs.getByRole('button', { name: 'Models' })).toHaveAttribute('aria-pressed', 'true');
  await tabs.getByRole('button', { name: 'Canvas' }).click();
  await expect(page.getByTestId('canvas-stage')).toBeVisible();
  const again = await page.context().newPage(); // a new window of the same profile: an app restart
  await again.goto(serve.url);
  await expect(again.getByTestId('canvas-stage')).toBeVisible();
  await expect(again.getByRole('navigation', { name: 'Workspaces' }).getByRole('button', { name: 'Canvas' })).toHaveAttribute('aria-pressed', 'true');

  // Another first start: the hint's own button opens the Models page, which also retires the hint.
  const fresh = await browser.newContext();
  try {
    const p = await fresh.newPage();
    await openStudio(p, serve.url);
    await p.getByTestId('models-hint-open').click();
    await expect(p.getByTestId('models-page')).toBeVisible();
    await p.reload();
    await expect(p.getByTestId('models-page')).toBeVisible();
    await p.getByRole('navigation', { name: 'Workspaces' }).getByRole('button', { name: 'Generate' }).click();
    await expect(p.getByTestId('generate')).toBeEnabled();
    await expect(p.getByTestId('models-hint')).toHaveCount(0);
  } finally {
    await fresh.close();
  }
});

test.describe('run notifications', () => {
  test.use({ permissions: ['notifications'] });

  test('a run of more than 3 s that ends while the window is in the background raises a system notification; a run watched to its end does not', async ({ page, serve }) => {
    // Record every Notification the page constructs, and let the test put the page in the background
    // (document.hidden, as when the window is minimized or another tab is in front).
    await page.addInitScript(() => {
      const w = window as unknown as { __notifications: { title: string; body: string }[]; __background: boolean };
      w.__notifications = [];
      w.__background = false;
      const Real = window.Notification;
      class Recording extends Real {
        constructor(title: string, options?: NotificationOptions) {
          w.__notifications.push({ title, body: options?.body ?? '' });
          super(title, options);
        }
      }
      window.Notification = Recording as typeof Notification;
      Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => w.__background });
      Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (w.__background ? 'hidden' : 'visible') });
    });
    const hold = await holdAfterFirstScale(page);
    await openStudio(page, serve.url);
    await page.getByTestId('class-option').nth(2).click();
    const className = ((await page.getByTestId('class-chosen').textContent()) ?? '').split('·')[1]!.trim();
    await page.getByTestId('batch').fill('1');
    await page.getByTestId('batch').press('Tab');
    await page.getByTestId('notify-toggle').check();
    await expect(page.getByTestId('notify-toggle')).toBeChecked();
    const recorded = () => page.evaluate(() => (window as unknown as { __notifications: { title: string; body: string }[] }).__notifications);

    // A run held for more than 3 s after its first scale: `background` decides where the window is when it ends.
    const longRun = async (background: boolean) => {
      hold.arm();
      await page.getByTestId('generate').click();
      await expect.poll(() => hold.held.length, { timeout: 60_000 }).toBeGreaterThan(0);
      await page.evaluate((b) => void ((window as unknown as { __background: boolean }).__background = b), background);
      await page.waitForTimeout(3_500);
      hold.release();
      await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'done');
    };

    await longRun(false);
    expect(await recorded()).toEqual([]);

    await longRun(true);
    await expect.poll(recorded).toEqual([{ title: 'VAR Studio', body: `1 image of ${className} finished` }]);
  });
});
