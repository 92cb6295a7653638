// The studio in Debian's Chromium against `npm run serve` with the real engine (no mocks anywhere).
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import extractChunks from 'png-chunks-extract';
import * as pngText from 'png-chunk-text';
import { test, expect, recordFrames, events, int32s, openStudio, pickClass, generateAndWait, canvasRgb, locatorRgb, docScreenshot, holdAfterFirstScale, wireMessages } from './fixtures';
import { encodeFrame, joinParts } from '../../src/shared/wire';

test('pick a class → every scale preview arrives in order → final image in the main view and the gallery', async ({ page, serve, consoleProblems }) => {
  const frames = recordFrames(page);
  await openStudio(page, serve.url);
  const classText = await pickClass(page, 2);
  await expect(page.getByTestId('class-chosen')).toContainText(classText.replace(/^\d+\s*/, ''));
  await generateAndWait(page);

  const start = events(frames.received, 'job.start')[0];
  const K = start.scales as number;
  expect(K).toBeGreaterThan(1);
  expect(start.classIndices).toEqual([2]);
  // The previews streamed one per scale, coarse to fine, before the final image.
  const order = frames.received.filter((m) => m.t === 'evt').map((m) => (m.event.type === 'job.scale' ? `scale ${m.event.index}` : m.event.type));
  expect(order).toEqual(['job.start', ...Array.from({ length: K }, (_, k) => `scale ${k}`), 'job.done']);
  // Every scale has its preview in the strip, and the main view shows the final image.
  await expect(page.getByTestId('scale-preview')).toHaveCount(K);
  for (let k = 0; k < K; k++) await expect(page.getByTestId('scale-preview').nth(k)).toHaveAttribute('data-filled', 'true');
  await expect(page.getByTestId('main-image')).toHaveAttribute('data-filled', 'true');
  await expect(page.getByTestId('progress')).toHaveAttribute('value', String(K));
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);
  // The main view shows exactly the engine's final image.
  const done = events(frames.received, 'job.done')[0];
  expect(await canvasRgb(page, 'main-image')).toEqual([...Buffer.from(done.images[0].data.$u8, 'base64')]);
  // Works at 1280×720: nothing overflows sideways, the main actions are on screen.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
  await expect(page.getByTestId('generate')).toBeInViewport();
  await expect(page.getByTestId('export-button')).toBeInViewport();
  expect(consoleProblems).toEqual([]);
});

test('Cancel (Esc) stops the run at once: no further previews, no gallery entry, and the next run works', async ({ page, serve }) => {
  const frames = recordFrames(page);
  // Hold the server's messages after the first preview (first run only) so the cancel lands mid-run even on a fast model.
  const hold = await holdAfterFirstScale(page, { armed: true });
  await openStudio(page, serve.url);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'running');
  await expect(page.getByTestId('scale-preview').first()).toHaveAttribute('data-filled', 'true');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'cancelled');
  await expect(page.getByTestId('run-status')).toContainText('Cancelled after 1 of');
  // The cancel request went out; now let through whatever the host sent meanwhile.
  expect(frames.sent.some((m) => m.kind === 'generate.cancel')).toBe(true);
  await expect.poll(() => hold.held.some((m) => /"type":"job\.(cancelled|done)"/.test(String(m)))).toBe(true);
  hold.release();
  await page.waitForTimeout(300);
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'cancelled');
  await expect(page.getByTestId('scale-preview').nth(1)).toHaveAttribute('data-filled', 'false');
  await expect(page.getByTestId('gallery-item')).toHaveCount(0);
  // The engine is free again: a new run completes.
  await page.keyboard.press('Control+Enter');
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);
});

test('vary from a scale keeps the coarse scales and regenerates the rest with a new seed', async ({ page, serve }) => {
  const frames = recordFrames(page);
  await openStudio(page, serve.url);
  await pickClass(page, 1);
  await generateAndWait(page);
  const first = events(frames.received, 'job.done')[0];
  const K = first.tokens[0].length;
  const keep = Math.min(2, K - 1);
  await page.locator(`[data-testid="scale-cell"][data-scale="${keep}"]`).click();
  await expect(page.getByTestId('gallery-item')).toHaveCount(2);
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'done');
  const request = frames.sent.filter((m) => m.kind === 'generate.start')[1];
  expect(request.params.settings.prefix.fromScale).toBe(keep);
  expect(request.params.settings.seed).not.toBe(first.seeds[0]);
  const second = events(frames.received, 'job.done')[1];
  for (let k = 0; k < keep; k++) expect(int32s(second.tokens[0][k])).toEqual(int32s(first.tokens[0][k]));
  // The finer scales were sampled anew (a 1-token chance to repeat on a tiny codebook is far below this count).
  const finer = (done: any) => first.tokens[0].slice(keep).flatMap((_: unknown, j: number) => int32s(done.tokens[0][keep + j]));
  expect(finer(second)).not.toEqual(finer(first));
  await expect(page.getByTestId('gallery-item').first()).toContainText(`varied@${keep}`);
});

test('export PNG and JPEG carry the settings; reopening restores them and re-generates the identical image', async ({ page, serve }, testInfo) => {
  await openStudio(page, serve.url);
  await pickClass(page, 3);
  await page.getByTestId('seed-lock').click();
  await page.getByTestId('seed').fill('12345');
  await page.getByTestId('seed').press('Tab');
  await generateAndWait(page);
  const generated = await canvasRgb(page, 'main-image');

  // PNG at model resolution: the file exists, tEXt sits right after IHDR and holds the settings.
  const [pngDownload] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Control+s')]);
  const pngPath = testInfo.outputPath(pngDownload.suggestedFilename());
  await pngDownload.saveAs(pngPath);
  const png = readFileSync(pngPath);
  const chunks = extractChunks(png);
  expect(chunks[0].name).toBe('IHDR');
  expect(chunks[1].name).toBe('tEXt');
  const texts = Object.fromEntries(chunks.filter((c) => c.name === 'tEXt').map((c) => { const t = pngText.decode(c.data); return [t.keyword, t.text]; }));
  const settings = JSON.parse(texts['var-studio']);
  expect(settings).toMatchObject({ format: 'var-studio-settings', seed: 12345, classIndex: 3, resolvedClassIndex: 3 });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  expect([...data]).toEqual(generated);

  // JPEG upscaled ×4 with lanczos: XMP holds the same settings.
  await page.getByTestId('export-format').selectOption('jpeg');
  await page.getByTestId('export-size').selectOption('4');
  await page.locator('#ex-kernel').selectOption('lanczos3');
  const [jpgDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-button').click()]);
  const jpgPath = testInfo.outputPath(jpgDownload.suggestedFilename());
  await jpgDownload.saveAs(jpgPath);
  const jpgMeta = await sharp(jpgPath).metadata();
  expect(jpgMeta.format).toBe('jpeg');
  expect(jpgMeta.width).toBe(info.width * 4);
  expect(jpgMeta.xmp?.toString()).toContain('&quot;seed&quot;:12345');

  // Reopen the PNG in a fresh page: the settings come back, and Generate reproduces the image exactly.
  const fresh = await page.context().newPage();
  await openStudio(fresh, serve.url);
  await fresh.getByTestId('open-file-input').setInputFiles(pngPath);
  await expect(fresh.getByTestId('seed')).toHaveValue('12345');
  await expect(fresh.getByTestId('seed-lock')).toHaveAttribute('aria-pressed', 'true');
  await expect(fresh.getByTestId('class-chosen')).toContainText('3 ·');
  await expect(fresh.getByTestId('topk')).toHaveValue(String(settings.sampling.topK));
  // The host keeps the gallery: the new page lists the generated image as well as the opened file.
  await expect(fresh.getByTestId('gallery-item')).toHaveCount(2);
  await generateAndWait(fresh);
  await expect(fresh.getByTestId('identical')).toBeVisible();
  expect(await canvasRgb(fresh, 'main-image')).toEqual(generated);

  // Opening the JPEG restores the same settings from its XMP.
  await fresh.getByTestId('open-file-input').setInputFiles(jpgPath);
  await expect(fresh.getByTestId('toast-info').last()).toContainText('seed 12345');
});

test('a malformed message is rejected with an error shown in the UI, and the app keeps working', async ({ page, serve }) => {
  let toServer: (m: string | Buffer) => void = () => undefined;
  await page.routeWebSocket('**/ws', (ws) => {
    const server = ws.connectToServer();
    toServer = (m) => server.send(m);
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => ws.send(m));
  });
  await openStudio(page, serve.url);
  toServer('{"t":"req","id":"x","kind":"generate.start","params":{"oops":true}');
  await expect(page.getByTestId('toast-error')).toContainText('The server rejected a message');
  // A wire head whose header length lies (it claims more bytes than the head holds).
  toServer(Buffer.from([0x56, 0x53, 0x42, 0x31, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]));
  await generateAndWait(page);
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);

  // The same through a raw socket: invalid values are named in the error, and the socket still answers.
  const frames = [
    [new TextEncoder().encode('not json')],
    encodeFrame({ t: 'req', id: 1, kind: 'generate.start', params: { jobId: 'j', settings: { modelId: 'embedded', classIndex: 0, seed: 1, batch: 1, sampling: { cfg: 1, topK: 0, topP: 3, moreSmooth: false } } } }).messages.map(joinParts),
    encodeFrame({ t: 'req', id: 2, kind: 'app.info', params: {} }).messages.map(joinParts),
  ].map((messages) => messages.map((m) => [...m]));
  const received = await page.evaluate(async ({ url, frames }) => {
    const ws = new WebSocket(url.replace('http', 'ws') + 'ws');
    ws.binaryType = 'arraybuffer';
    const got: number[][] = [];
    ws.onmessage = (e) => got.push([...new Uint8Array(e.data as ArrayBuffer)]);
    await new Promise((r) => (ws.onopen = r));
    for (const [i, messages] of frames.entries()) {
      for (const m of messages) ws.send(i === 0 ? new TextDecoder().decode(new Uint8Array(m)) : new Uint8Array(m));
      const before = got.length;
      await new Promise<void>((r) => { const t = setInterval(() => { if (got.length > before) { clearInterval(t); r(); } }, 10); });
    }
    ws.close();
    return got;
  }, { url: serve.origin, frames }); // the page holds the token cookie, which the socket sends
  const read = wireMessages();
  const replies = received.map((m) => read(Buffer.from(m))).filter((m) => m !== undefined);
  expect(replies[0]).toMatchObject({ t: 'err', error: { code: 'bad-message' } });
  expect(replies[1]).toMatchObject({ t: 'res', id: 1, ok: false, error: { code: 'bad-message' } });
  expect(replies[1].error.message).toContain('params.settings.sampling.topP');
  expect(replies[2]).toMatchObject({ t: 'res', id: 2, ok: true, result: { host: 'browser' } });
});

test('Ctrl+Z undoes settings changes and gallery deletions', async ({ page, serve }) => {
  await openStudio(page, serve.url);
  await generateAndWait(page);
  await page.getByTestId('topk').fill('7');
  await page.getByTestId('topk').press('Tab');
  await expect(page.getByTestId('topk')).toHaveValue('7');
  await page.getByRole('button', { name: /Delete from the gallery/ }).click();
  await expect(page.getByTestId('gallery-item')).toHaveCount(0);
  await page.locator('body').press('Control+z');
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);
  await page.locator('body').press('Control+z');
  await expect(page.getByTestId('topk')).not.toHaveValue('7');
});

test('a batch of 4 at 1440×900: the main view, the batch strip and the history show the engine\'s images', async ({ page, serve, consoleProblems }) => {
  const frames = recordFrames(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  await openStudio(page, serve.url);
  await pickClass(page, 4);
  await page.getByTestId('batch').fill('4');
  await page.getByTestId('batch').press('Tab');
  await generateAndWait(page);
  const K = events(frames.received, 'job.start')[0].scales as number;
  const images = events(frames.received, 'job.done')[0].images.map((im: any) => [...Buffer.from(im.data.$u8, 'base64')]);
  expect(images).toHaveLength(4);
  // The scale strip has one filled preview per scale; the main view shows the batch's first image exactly.
  await expect(page.getByTestId('scale-preview')).toHaveCount(K);
  for (let k = 0; k < K; k++) await expect(page.getByTestId('scale-preview').nth(k)).toHaveAttribute('data-filled', 'true');
  expect(await canvasRgb(page, 'main-image')).toEqual(images[0]);
  // The gallery holds the four images, each thumbnail exactly one of the engine's images.
  await expect(page.getByTestId('gallery-item')).toHaveCount(4);
  const thumbs = await Promise.all([0, 1, 2, 3].map((i) => locatorRgb(page.getByTestId('gallery-item').nth(i).getByLabel('Gallery thumbnail'))));
  expect(thumbs.map((t) => images.findIndex((im: number[]) => im.length === t.length && im.every((v, j) => v === t[j]))).sort()).toEqual([0, 1, 2, 3]);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1440);
  await docScreenshot(page, 'screenshot-main.png');
  // Picking image 3 of the batch strip shows that image in the main view.
  await page.getByRole('button', { name: 'Image 3 of the batch' }).click();
  await expect.poll(() => canvasRgb(page, 'main-image')).toEqual(images[2]);
  expect(consoleProblems).toEqual([]);
});
