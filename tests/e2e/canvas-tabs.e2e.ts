/// <reference lib="dom" />
// Document tabs in the canvas, as a Krita, Photoshop or InvokeAI user expects them, in Chromium against
// `npm run serve` with the real engine: two images make two tabs, each with its own document, mask, undo
// and zoom; an inpaint started in one tab lands there while another is shown; closing a tab with
// unexported edits asks (Export / Discard / Cancel); the tabs and the active one come back after a
// reload; the keyboard moves between tabs and closes them.
import { expect, type Page } from '@playwright/test';
import sharp from 'sharp';
import { holdAfterFirstScale } from './fixtures';
import { PHOTO, drag, openCanvas, openPhoto, snapshot, test } from './canvas-fixtures';

async function openSmall(page: Page, name: string): Promise<void> {
  const buffer = await sharp(PHOTO).resize(36, 28).png().toBuffer();
  await page.getByTestId('canvas-file-input').setInputFiles({ name, mimeType: 'image/png', buffer });
  await expect(page.getByTestId('doc-name')).toHaveText(name);
}

const tabList = (page: Page) => page.getByRole('tablist', { name: 'Open documents' });
const tabNamed = (page: Page, name: string) => tabList(page).getByRole('tab', { name: new RegExp(`^${name.replace('.', '\\.')}`) });

test('two images make two tabs; an edit in one leaves the other untouched; each keeps its undo and zoom; arrows, Ctrl+Tab and Ctrl+Shift+Tab move between them', async ({ page, canvasServe }) => {
  await openCanvas(page, canvasServe.url);
  await openPhoto(page);
  await openSmall(page, 'second.png');
  await expect(tabList(page).getByRole('tab')).toHaveCount(2);
  await expect(tabNamed(page, 'second.png')).toHaveAttribute('aria-selected', 'true');
  await expect(tabNamed(page, 'fashion-72x56.png')).toHaveAttribute('aria-selected', 'false');
  const b = await snapshot(page);

  // Paint in B: its tab gets the unexported dot; A's does not.
  await drag(page, [[2, 2], [30, 20]]);
  await expect(page.getByTestId('canvas-tab').nth(1)).toHaveAttribute('data-dirty', 'true');
  await expect(page.getByTestId('canvas-tab').nth(0)).toHaveAttribute('data-dirty', 'false');
  await expect(tabNamed(page, 'second.png')).toHaveAccessibleName(/unexported edits/);
  const bPainted = await snapshot(page);
  expect(bPainted.document!.maskedPixels).toBeGreaterThan(0);
  // Zoom B in (Ctrl+wheel).
  const box = (await page.getByTestId('canvas-stage').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.keyboard.down('Control');
  await page.mouse.wheel(0, -400);
  await page.keyboard.up('Control');
  await expect.poll(async () => (await snapshot(page)).view.stage.scale).toBeGreaterThan(b.view.stage.scale * 1.2);
  const bZoom = (await snapshot(page)).view.stage;

  // Click A: its document, mask and (empty) undo are its own.
  await tabNamed(page, 'fashion-72x56.png').click();
  await expect(page.getByTestId('doc-size')).toHaveText('72×56 px');
  let s = await snapshot(page);
  expect(s.document!.maskedPixels).toBe(0);
  expect(s.history.undo).toBe(0);
  expect(s.view.stage.scale).not.toBeCloseTo(bZoom.scale, 3);

  // Arrow keys on the focused tab move to the next one (ARIA tabs: one tab stop, the active tab).
  await expect(tabNamed(page, 'fashion-72x56.png')).toHaveAttribute('tabindex', '0');
  await expect(tabNamed(page, 'second.png')).toHaveAttribute('tabindex', '-1');
  await tabNamed(page, 'fashion-72x56.png').focus();
  await page.keyboard.press('ArrowRight');
  await expect(tabNamed(page, 'second.png')).toHaveAttribute('aria-selected', 'true');
  await expect(tabNamed(page, 'second.png')).toBeFocused();
  // B comes back as it was: mask, undo, zoom and pan.
  s = await snapshot(page);
  expect(s.document!.docId).toBe(b.document!.docId);
  expect(s.document!.mask).toEqual(bPainted.document!.mask);
  expect(s.history.undo).toBe(1);
  expect(s.view.stage).toMatchObject({ scale: bZoom.scale, x: bZoom.x, y: bZoom.y });

  // Ctrl+Tab wraps to the first tab; Ctrl+Shift+Tab back to the last; Alt+PageDown (the browser's own tab keys are taken) as Ctrl+Tab.
  await page.keyboard.press('Control+Tab');
  await expect(tabNamed(page, 'fashion-72x56.png')).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Control+Shift+Tab');
  await expect(tabNamed(page, 'second.png')).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Alt+PageDown');
  await expect(tabNamed(page, 'fashion-72x56.png')).toHaveAttribute('aria-selected', 'true');
  // Undo in A does nothing to B.
  await page.keyboard.press('Control+z');
  await tabNamed(page, 'second.png').click();
  expect((await snapshot(page)).document!.mask).toEqual(bPainted.document!.mask);
});

test('an inpaint started in tab A, with tab B shown before it ends, lands in A; B stays as it was', async ({ page, canvasServe }) => {
  const socket = await holdAfterFirstScale(page, { jobIdPrefix: 'edit-' });
  await openCanvas(page, canvasServe.url);
  await openSmall(page, 'b.png');
  await openPhoto(page);
  const a = await snapshot(page);
  await page.getByTestId('mask-fill').click();
  socket.arm();
  await page.getByTestId('edit-run').click();
  await expect.poll(async () => (await snapshot(page)).preview?.scale ?? null).not.toBeNull();
  const aTab = page.getByTestId('canvas-tab').nth(1);
  await expect(aTab.getByTestId('canvas-tab-running')).toBeVisible();

  // Switch to B while A's edit is held after its first scale.
  await tabNamed(page, 'b.png').click();
  const bBefore = await snapshot(page);
  expect(bBefore.preview).toBeNull();
  expect(bBefore.status).toBe('idle');
  await expect(page.getByTestId('candidates')).toBeHidden();
  socket.release();

  // The result is A's: its tab shows the waiting candidates; B has none and its image is unchanged.
  await expect(aTab.getByTestId('canvas-tab-staged')).toBeVisible();
  await expect(page.getByTestId('candidates')).toBeHidden();
  const bAfter = await snapshot(page);
  expect(bAfter.document!.image).toEqual(bBefore.document!.image);
  expect(bAfter.staged).toBeNull();
  expect(bAfter.tabs[0].staged).toBe(0);
  expect(bAfter.tabs[1].staged).toBeGreaterThan(0);

  // Back in A: the candidates are there, on A's region; Accept edits A.
  await tabNamed(page, 'fashion-72x56.png').click();
  await expect(page.getByTestId('candidates')).toBeVisible();
  const s = await snapshot(page);
  expect(s.document!.docId).toBe(a.document!.docId);
  expect(s.staged!.region).toEqual(a.document!.region);
  await page.getByTestId('candidate-accept').click();
  await expect.poll(async () => (await snapshot(page)).document!.steps).toBe(1);
  await tabNamed(page, 'b.png').click();
  expect((await snapshot(page)).document!.steps).toBe(0);
});

test('closing a tab with unexported edits asks Export / Discard / Cancel (× and Ctrl+W); the tabs and the active one come back after a reload', async ({ page, canvasServe }) => {
  await openCanvas(page, canvasServe.url);
  await openPhoto(page);
  await drag(page, [[10, 10], [40, 30]]);
  await openSmall(page, 'clean.png');
  await openSmall(page, 'edited.png');
  await drag(page, [[2, 2], [30, 20]]);
  await expect(page.getByTestId('autosave-status')).toHaveAttribute('data-state', 'saved');
  const tabs = page.getByTestId('canvas-tab');
  await expect(tabs).toHaveCount(3);

  // × on the painted photo's tab (not shown): it is shown and asks.
  await tabs.nth(0).getByTestId('canvas-tab-close').click();
  const question = page.getByTestId('canvas-question');
  await expect(question).toContainText('Close "fashion-72x56.png"?');
  await expect(page.getByTestId('answer-export')).toBeVisible();
  await expect(page.getByTestId('answer-discard')).toBeVisible();
  await expect(tabNamed(page, 'fashion-72x56.png')).toHaveAttribute('aria-selected', 'true');
  await page.getByTestId('answer-cancel').click();
  await expect(tabs).toHaveCount(3);
  // Ctrl+W → Export: the file downloads, then the tab closes.
  await page.keyboard.press('Control+w');
  await expect(question).toBeVisible();
  await Promise.all([page.waitForEvent('download'), page.getByTestId('answer-export').click()]);
  await expect(tabs).toHaveCount(2);
  await expect(tabNamed(page, 'clean.png')).toHaveAttribute('aria-selected', 'true');
  // A clean tab closes without a question.
  await page.keyboard.press('Control+w');
  await expect(tabs).toHaveCount(1);
  await expect(question).toBeHidden();
  // Open two more; the edited tab stays dirty. Discard on the edited one is asked, then Cancel keeps it.
  await openSmall(page, 'later.png');
  await openPhoto(page);
  await tabNamed(page, 'later.png').click();
  await expect(page.getByTestId('autosave-status')).toHaveAttribute('data-state', /saved|idle/);
  const before = await snapshot(page);
  expect(before.tabs.map((t) => [t.name, t.dirty, t.active])).toEqual([['edited.png', true, false], ['later.png', false, true], ['fashion-72x56.png', false, false]]);

  // Reload: the three tabs in order, the active one shown, the dirty dot kept; the other documents are read when shown.
  await page.reload();
  await expect(page.getByTestId('provider')).toBeVisible();
  await page.getByRole('button', { name: 'Canvas', exact: true }).click();
  await expect(page.getByTestId('canvas-stage')).toHaveAttribute('data-ready', 'true');
  await expect(tabs).toHaveCount(3);
  await expect(tabNamed(page, 'later.png')).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('doc-name')).toHaveText('later.png');
  const after = await snapshot(page);
  expect(after.tabs.map((t) => [t.name, t.dirty, t.active])).toEqual(before.tabs.map((t) => [t.name, t.dirty, t.active]));
  expect(after.tabs.map((t) => t.docId)).toEqual(before.tabs.map((t) => t.docId));
  await tabNamed(page, 'edited.png').click();
  await expect(page.getByTestId('doc-name')).toHaveText('edited.png');
  expect((await snapshot(page)).document!.maskedPixels).toBeGreaterThan(0);
  // Discard: the tab and its autosave are gone (the reload does not bring it back).
  await page.keyboard.press('Control+w');
  await page.getByTestId('answer-discard').click();
  await expect(tabs).toHaveCount(2);
  await page.reload();
  await page.getByRole('button', { name: 'Canvas', exact: true }).click();
  await expect(page.getByTestId('canvas-stage')).toHaveAttribute('data-ready', 'true');
  await expect(tabs).toHaveCount(2);
  expect((await snapshot(page)).tabs.map((t) => t.name)).toEqual(['later.png', 'fashion-72x56.png']);
});
