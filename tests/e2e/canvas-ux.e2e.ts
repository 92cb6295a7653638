/// <reference lib="dom" />
// The canvas as an artist expects it, in Chromium against `npm run serve` with the real engine: one Open
// with one meaning (a new tab), nothing replaced or closed without asking, two windows never overwrite each other's
// document, the mask used up by Accept (and restorable), outpaint of the new strip only, a live preview
// seen through the mask, a brush and region box sized for the model, every control of the operation on
// screen at 1280×800 and 1024×768, toasts that stay few and clear of Export, the same pixels for a
// transparent PNG in both workspaces.
import { expect, type Locator, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { docScreenshot, holdAfterFirstScale, locatorRgb } from './fixtures';
import { PHOTO, bytes, drag, openCanvas, openPhoto, snapshot, test } from './canvas-fixtures';

type Box = { x: number; y: number; width: number; height: number };

function moduleOf(s: Awaited<ReturnType<typeof snapshot>>, type: string): Record<string, unknown> {
  return (s.view as unknown as { modules: Record<string, unknown>[] }).modules.find((m) => m.type === type)!;
}

/** Paints a stroke so the document has unexported edits. */
async function paint(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  await drag(page, [from, to]);
  await expect.poll(async () => (await snapshot(page)).unexported).toBe(true);
}

async function chooseFile(page: Page, click: () => Promise<unknown>, file: string | { name: string; mimeType: string; buffer: Buffer }): Promise<void> {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), click()]);
  await chooser.setFiles(file);
}

test('one Open: the header button, Ctrl+O and paste each open the file in a new canvas tab; nothing is replaced; closing an edited tab asks', async ({ page, canvasServe }) => {
  await openCanvas(page, canvasServe.url);
  await openPhoto(page);
  await paint(page, [10, 10], [40, 30]);
  const first = await snapshot(page);
  const tabs = page.getByTestId('canvas-tab');

  // The header's Open in Canvas opens into the canvas, in a new tab: no question, the edited document stays.
  const small = await sharp(PHOTO).resize(36, 28).png().toBuffer();
  await chooseFile(page, () => page.getByTestId('header-open').click(), { name: 'other.png', mimeType: 'image/png', buffer: small });
  await expect(page.getByTestId('doc-size')).toHaveText('36×28 px');
  await expect(page.getByTestId('canvas-question')).toBeHidden();
  await expect(tabs).toHaveCount(2);
  // Nothing was in the generate gallery: the header's Open did not go to Generate.
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(page.getByTestId('generate')).toBeVisible();
  await expect(page.getByText('other.png')).toHaveCount(0);
  await page.getByRole('button', { name: 'Canvas', exact: true }).click();
  await expect(tabs).toHaveCount(2);

  // Ctrl+O and paste: a third and a fourth tab.
  await chooseFile(page, () => page.keyboard.press('Control+o'), { name: 'third.png', mimeType: 'image/png', buffer: small });
  await expect(page.getByTestId('doc-name')).toHaveText('third.png');
  await page.evaluate((b64) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], 'pasted.png', { type: 'image/png' }));
    window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, small.toString('base64'));
  await expect(page.getByTestId('doc-name')).toHaveText('pasted.png');
  await expect(tabs).toHaveCount(4);
  await expect(tabs.first()).toHaveAttribute('data-dirty', 'true');

  // The first tab still holds the edited document with its mask.
  await tabs.first().getByTestId('canvas-tab-select').click();
  await expect(page.getByTestId('doc-size')).toHaveText('72×56 px');
  let s = await snapshot(page);
  expect(s.document!.docId).toBe(first.document!.docId);
  expect(s.document!.mask).toEqual(first.document!.mask);

  // Closing it asks; Cancel keeps it; after an export, closing does not ask.
  await tabs.first().getByTestId('canvas-tab-close').click();
  await expect(page.getByTestId('canvas-question')).toContainText('Close "fashion-72x56.png"?');
  await page.getByTestId('answer-cancel').click();
  await expect(tabs).toHaveCount(4);
  await expect(page.getByTestId('doc-name')).toHaveText('fashion-72x56.png');
  await Promise.all([page.waitForEvent('download'), page.getByTestId('canvas-export').click()]);
  await expect.poll(async () => (await snapshot(page)).unexported).toBe(false);
  await expect(tabs.first()).toHaveAttribute('data-dirty', 'false');
  await tabs.first().getByTestId('canvas-tab-close').click();
  await expect(tabs).toHaveCount(3);
  await expect(page.getByTestId('canvas-question')).toBeHidden();
  s = await snapshot(page);
  expect(s.tabs.map((t) => t.docId)).not.toContain(first.document!.docId);
  expect(s.document?.docId).not.toBe(first.document!.docId); // the closed document is off screen at once
  // its right neighbour is shown, once that tab's document is loaded (the tab list changes first)
  await expect.poll(async () => { const now = await snapshot(page); return now.document?.docId === now.tabs[0]?.docId; }).toBe(true);
});

test('two windows on the same document: the later save says so and keeps its version as a copy; nothing is overwritten', async ({ page, context, canvasServe }) => {
  await openCanvas(page, canvasServe.url);
  await openPhoto(page);
  await paint(page, [5, 5], [30, 10]);
  await expect(page.getByTestId('autosave-status')).toHaveAttribute('data-state', 'saved');
  const docId = (await snapshot(page)).document!.docId;

  const other = await context.newPage();
  await openCanvas(other, canvasServe.url);
  await expect.poll(async () => (await snapshot(other)).document?.docId).toBe(docId);

  // Window A paints and saves; window B, still on the older save, paints too.
  await paint(page, [5, 40], [60, 45]);
  await expect(page.getByTestId('autosave-status')).toHaveAttribute('data-state', 'saved');
  const a = await snapshot(page);
  await drag(other, [[50, 5], [60, 50]]);
  await expect(other.getByTestId('canvas-error')).toContainText('changed in another window');
  await expect(other.getByTestId('doc-name')).toContainText('(this window)');
  await expect(other.getByTestId('autosave-status')).toHaveAttribute('data-state', 'saved');
  const b = await snapshot(other);
  expect(b.document!.docId).not.toBe(docId);

  // A's document on the host is still A's: a fresh window restores B's copy (newest) and lists A's.
  const third = await context.newPage();
  await openCanvas(third, canvasServe.url);
  await expect.poll(async () => (await snapshot(third)).document?.docId).toBe(b.document!.docId);
  expect((await snapshot(third)).document!.mask).toEqual(b.document!.mask);
  // A's version is in no tab here: it is reopened from the strip's Autosaved menu, into a tab of its own.
  await third.getByTestId('canvas-autosaved').click();
  await third.locator(`[data-testid="canvas-reopen"][data-docid="${docId}"]`).click();
  await expect(third.getByTestId('canvas-tab')).toHaveCount(2);
  await expect.poll(async () => (await snapshot(third)).document?.docId).toBe(docId);
  expect((await snapshot(third)).document!.mask).toEqual(a.document!.mask);
  await other.close();
  await third.close();
});

test('the mask: Accept clears it (Restore mask brings it back), outpaint makes only the new strip unless asked, the live preview shows through the mask', async ({ page, canvasServe }) => {
  // Hold the server's messages after the edit's first preview, so the preview can be looked at.
  const socket = await holdAfterFirstScale(page, { jobIdPrefix: 'edit-' });
  await openCanvas(page, canvasServe.url);
  await openPhoto(page);
  await expect(page.getByTestId('mask-hint')).toContainText('Paint over what should change');
  await page.getByTestId('brush-size').fill('6');
  await paint(page, [44, 28], [70, 28]);
  const painted = await snapshot(page);
  const masked = painted.document!.maskedPixels;
  expect(masked).toBeGreaterThan(100);

  socket.arm();
  await page.getByTestId('edit-run').click();
  await expect.poll(async () => (await snapshot(page)).preview?.scale ?? null).not.toBeNull();
  const running = await snapshot(page);
  // Only the painted pixels show the preview; the rest of the region box keeps showing the document.
  const r = painted.document!.region, m = bytes(painted.document!.mask);
  let inRegion = 0;
  for (let y = Math.max(r.y, 0); y < Math.min(r.y + r.size, 56); y++) for (let x = Math.max(r.x, 0); x < Math.min(r.x + r.size, 72); x++) if (m[y * 72 + x] >= 128) inRegion++;
  expect(inRegion).toBeGreaterThan(50);
  expect(running.preview!.alphaMasked).toBe(inRegion);
  expect(moduleOf(running, 'progress-image')).toMatchObject({ visible: true, maskedPreview: true });
  const stage = page.locator('[data-testid="canvas-stage"] canvas').nth(2);
  const layer = await stage.evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let opaque = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) opaque++;
    return { opaque, total: c.width * c.height };
  });
  expect(layer.opaque).toBeGreaterThan(0);
  expect(layer.opaque).toBeLessThan(layer.total / 3); // a 56-px box fills far more of the view
  await docScreenshot(page, 'screenshot-edit-progress.png');
  socket.release();
  await expect(page.getByTestId('candidates')).toBeVisible();
  await page.getByTestId('candidate-accept').click();
  let s = await snapshot(page);
  expect(s.document!.maskedPixels).toBe(0);
  expect(moduleOf(s, 'mask-layer').maskedPixels).toBe(0);
  await page.getByTestId('mask-restore').click();
  s = await snapshot(page);
  expect(s.document!.mask).toEqual(painted.document!.mask);

  // Outpaint to the right: painted pixels inside the image stay as they are (strip only) …
  const before = bytes(s.document!.image);
  await page.getByTestId('extend-by').fill('24');
  await page.getByTestId('extend-right').click();
  await expect(page.getByTestId('outpaint-painted')).not.toBeChecked();
  await page.getByTestId('edit-run').click();
  await page.getByTestId('candidate-accept').click();
  await expect(page.getByTestId('doc-size')).toHaveText('96×56 px');
  s = await snapshot(page);
  const after = bytes(s.document!.image);
  const feather = s.feather;
  let changedPainted = 0;
  const mask = bytes(painted.document!.mask);
  for (let y = 0; y < 56; y++) for (let x = 0; x < 72 - feather - 1; x++) {
    if (mask[y * 72 + x] < 128) continue;
    const i = (y * 72 + x) * 3, j = (y * 96 + x) * 3;
    if (before[i] !== after[j] || before[i + 1] !== after[j + 1] || before[i + 2] !== after[j + 2]) changedPainted++;
  }
  expect(changedPainted).toBe(0);
  expect(s.document!.maskedPixels).toBe(0);
  // … and with "Also regenerate painted pixels" they change.
  await page.getByTestId('mask-restore').click();
  await page.getByTestId('extend-right').click();
  await page.getByTestId('outpaint-painted').check();
  await page.getByTestId('edit-run').click();
  await page.getByTestId('candidate-accept').click();
  await expect(page.getByTestId('doc-size')).toHaveText('120×56 px');
  const third = bytes((await snapshot(page)).document!.image);
  let changed = 0;
  for (let y = 0; y < 56; y++) for (let x = 64; x < 72; x++) {
    if (mask[y * 72 + x] < 128) continue;
    const i = (y * 96 + x) * 3, j = (y * 120 + x) * 3;
    if (after[i] !== third[j] || after[i + 1] !== third[j + 1] || after[i + 2] !== third[j + 2]) changed++;
  }
  expect(changed).toBeGreaterThan(0);
});

test('the brush and the region box fit the model: a tenth of the image, the scale factor in words, a smaller box suggested', async ({ page, canvasServe }) => {
  await openCanvas(page, canvasServe.url);
  const big = await sharp(PHOTO).resize(320, 320).png().toBuffer();
  await page.getByTestId('canvas-file-input').setInputFiles({ name: 'big.png', mimeType: 'image/png', buffer: big });
  await expect(page.getByTestId('doc-size')).toHaveText('320×320 px');
  await expect(page.getByTestId('brush-size')).toHaveValue('32');
  await expect(page.getByTestId('region-scale')).toHaveText('320 px → 32 px model: 10× softer');
  await expect(page.getByTestId('region-warning')).toBeVisible();
  await page.getByTestId('region-suggest').click();
  await expect(page.getByTestId('region-scale')).toHaveText('128 px → 32 px model: 4× softer');
  await expect(page.getByTestId('region-warning')).toBeHidden();
  expect((await snapshot(page)).document!.region.size).toBe(128);
  // A generated 32×32 image: a 3-px brush, pixel for pixel.
  const tiny = await sharp(PHOTO).resize(32, 32).png().toBuffer();
  await page.getByTestId('canvas-file-input').setInputFiles({ name: 'tiny.png', mimeType: 'image/png', buffer: tiny });
  await expect(page.getByTestId('doc-size')).toHaveText('32×32 px');
  await expect(page.getByTestId('brush-size')).toHaveValue('3');
  await expect(page.getByTestId('region-scale')).toHaveText('32 px → 32 px model: pixel for pixel');
});

function inside(box: Box | null, view: { width: number; height: number }): boolean {
  return !!box && box.x >= 0 && box.y >= 0 && box.x + box.width <= view.width && box.y + box.height <= view.height;
}
/** The element itself (or a part of it, or its label) is what a click at its centre would hit. */
function uncovered(el: Element): boolean {
  const r = el.getBoundingClientRect();
  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  return !!hit && (el.contains(hit) || (hit instanceof HTMLLabelElement && hit.control === el));
}
function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

for (const size of [{ width: 1280, height: 800 }, { width: 1024, height: 768 }]) {
  test(`at ${size.width}×${size.height} every control of each operation is on screen, the model label fits, toasts stay few and clear of Export`, async ({ page, canvasServe }) => {
    await page.setViewportSize(size);
    await openCanvas(page, canvasServe.url);
    // Two documents in tabs (the photo shown, with a painted stroke: its tab has the unexported dot).
    await page.getByTestId('canvas-file-input').setInputFiles({ name: 'sketch.png', mimeType: 'image/png', buffer: await sharp(PHOTO).resize(36, 28).png().toBuffer() });
    await expect(page.getByTestId('doc-name')).toHaveText('sketch.png');
    await openPhoto(page);
    await paint(page, [40, 20], [60, 34]);
    const controls: Record<string, string[]> = {
      inpaint: ['op-inpaint', 'op-class-edit', 'op-outpaint', 'feather', 'scale-lock', 'edit-run', 'fold-sampling', 'brush-size', 'mask-fill'],
      'class-edit': ['class-search', 'class-option', 'feather', 'scale-lock', 'edit-run', 'fold-sampling', 'brush-size', 'mask-fill'],
      outpaint: ['class-search', 'class-option', 'outpaint-painted', 'feather', 'scale-lock', 'edit-run', 'fold-sampling', 'extend-by', 'extend-left', 'extend-right', 'extend-up', 'extend-down'],
    };
    for (const [op, ids] of Object.entries(controls)) {
      await page.getByTestId(`op-${op}`).click();
      for (const id of [...ids, 'canvas-export', 'header-open', 'model-select', 'canvas-tab-select', 'canvas-tab-close']) {
        const el: Locator = page.getByTestId(id).first();
        expect(inside(await el.boundingBox(), size), `${id} in ${op} at ${size.width}×${size.height}`).toBe(true);
        // On screen is not enough: nothing (the sticky Run row, a clipped column) may cover it.
        expect(await el.evaluate(uncovered), `${id} in ${op} at ${size.width}×${size.height} is not covered`).toBe(true);
      }
      // Reached without scrolling: the tools column was never scrolled to show them.
      expect(await page.getByRole('complementary', { name: 'Canvas tools' }).evaluate((a) => a.scrollTop), `tools column scrolled in ${op}`).toBe(0);
    }
    await docScreenshot(page, size.width === 1280 ? 'screenshot-edit-1280.png' : 'screenshot-edit-1024.png');
    // The page itself never scrolls.
    expect(await page.evaluate(() => document.scrollingElement!.scrollHeight <= window.innerHeight)).toBe(true);

    // The model picker's label fits its box; the full name is in the tooltip.
    const fit = await page.getByTestId('model-select').evaluate((el: HTMLSelectElement) => {
      const ctx = document.createElement('canvas').getContext('2d')!;
      ctx.font = getComputedStyle(el).font;
      return { text: ctx.measureText(el.selectedOptions[0].text).width, room: el.clientWidth - 28, title: el.title, label: el.selectedOptions[0].text };
    });
    expect(fit.text).toBeLessThanOrEqual(fit.room);
    expect(fit.title).toContain(fit.label.trim());

    // Five identical errors make one toast ×5; more different ones never show more than three; none over Export.
    await page.getByTestId('op-inpaint').click();
    await page.getByTestId('mask-clear').click();
    for (let i = 0; i < 5; i++) await page.getByTestId('edit-run').click();
    await expect(page.getByTestId('toast-error')).toHaveCount(1);
    await expect(page.getByTestId('toast-count')).toHaveText('×5');
    await page.getByTestId('extend-by').fill('5000');
    await page.getByTestId('extend-left').click();
    await page.getByTestId('op-outpaint').click();
    await page.getByTestId('extend-by').fill('0');
    await page.getByTestId('extend-up').click();
    await page.getByTestId('op-class-edit').click();
    await page.getByTestId('edit-run').click();
    await expect(page.locator('[data-testid^="toast-"]:not([data-testid="toast-count"])')).toHaveCount(3);
    const exportBox = (await page.getByTestId('canvas-export').boundingBox())!;
    const right = (await page.getByRole('complementary', { name: 'Document, export and gallery' }).boundingBox())!;
    const left = (await page.getByRole('complementary', { name: 'Canvas tools' }).boundingBox())!;
    for (const t of await page.locator('[data-testid="toast-error"]').all()) {
      const box = (await t.boundingBox())!;
      expect(overlaps(box, exportBox)).toBe(false);
      expect(overlaps(box, right)).toBe(false);
      expect(overlaps(box, left)).toBe(false);
    }
    // Errors that need no action go by themselves.
    await expect(page.getByTestId('toast-error')).toHaveCount(0, { timeout: 20_000 });
  });
}

test('a transparent PNG shows the same pixels in Generate and in Canvas (alpha over white)', async ({ page, canvasServe }) => {
  await openCanvas(page, canvasServe.url);
  // 32×32: left half opaque red, right half fully transparent (its hidden colour is black).
  const rgba = Buffer.alloc(32 * 32 * 4);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) rgba.set(x < 16 ? [200, 30, 30, 255] : [0, 0, 0, 0], (y * 32 + x) * 4);
  const png = await sharp(rgba, { raw: { width: 32, height: 32, channels: 4 } }).png().toBuffer();
  const file = { name: 'transparent.png', mimeType: 'image/png', buffer: png };
  await page.getByTestId('canvas-file-input').setInputFiles(file);
  await expect(page.getByTestId('doc-name')).toHaveText('transparent.png');
  const canvasRgb = Array.from(bytes((await snapshot(page)).document!.image));
  expect(canvasRgb.slice((5 * 32 + 20) * 3, (5 * 32 + 20) * 3 + 3)).toEqual([255, 255, 255]);

  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await chooseFile(page, () => page.getByTestId('header-open').click(), file);
  await expect(page.getByTestId('main-image')).toBeVisible();
  expect(await locatorRgb(page.getByTestId('main-image'))).toEqual(canvasRgb);
  expect(readFileSync(PHOTO).length).toBeGreaterThan(0);
});
