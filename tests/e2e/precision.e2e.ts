// The precision in settings records: an export made at dq8, reopened where the model runs fp32, says so and
// offers to load the model at dq8, after which Generate gives the identical pixels again. And a model whose
// faster variant has no measured fidelity (an imported official one) says once that the variant is there.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import extractChunks from 'png-chunks-extract';
import * as pngText from 'png-chunk-text';
import { test, expect, openStudio, pickClass, generateAndWait, canvasRgb, modelDir, startServe } from './fixtures';

test('an export reopened at another precision shows a notice; loading the recorded precision regenerates it identically', async ({ page, serve }, testInfo) => {
  await openStudio(page, serve.url);
  const badge = page.getByTestId('precision-in-use');
  const made = (await badge.textContent())?.trim() ?? '';
  test.skip(made === 'fp32', 'the model offers no variant that auto picks on this device');
  await pickClass(page, 3);
  await page.getByTestId('seed-lock').click();
  await page.getByTestId('seed').fill('4242');
  await page.getByTestId('seed').press('Tab');
  await generateAndWait(page);
  const generated = await canvasRgb(page, 'main-image');

  const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Control+s')]);
  const pngPath = testInfo.outputPath(download.suggestedFilename());
  await download.saveAs(pngPath);
  const texts = Object.fromEntries(extractChunks(readFileSync(pngPath)).filter((c) => c.name === 'tEXt').map((c) => { const t = pngText.decode(c.data); return [t.keyword, t.text]; }));
  const settings = JSON.parse(texts['var-studio']);
  expect(settings.precision.transformer).toBe(made);

  // The user switches the model to fp32, then opens the export: a notice names both precisions.
  await page.getByTestId('precision-select').selectOption('fp32');
  await expect(badge).toHaveText('fp32');
  await page.getByTestId('open-file-input').setInputFiles(pngPath);
  await expect(page.getByTestId('seed')).toHaveValue('4242');
  const notice = page.getByTestId('toast-info').filter({ hasText: `Made with ${made}; the model runs fp32 here, so the image will differ.` });
  await expect(notice).toBeVisible();
  await notice.getByTestId('toast-action').click();
  await expect(badge).toHaveText(made);
  await expect(notice).toHaveCount(0);

  await generateAndWait(page);
  await expect(page.getByTestId('identical')).toBeVisible();
  expect(await canvasRgb(page, 'main-image')).toEqual(generated);
});

test('a model whose dq8 variant was not measured runs fp32 under auto, says once that dq8 is there, and "Use dq8" loads it', async ({ page }) => {
  test.setTimeout(300_000);
  const manifest = JSON.parse(readFileSync(path.join(modelDir, 'manifest.json'), 'utf8'));
  test.skip(!manifest.graphs.transformer.variants?.dq8, 'the model has no dq8 variant');
  // The embedded model as an import would write it: the same dq8 files, no fidelity record.
  const modelsDir = mkdtempSync(path.join(os.tmpdir(), 'var-studio-e2e-unmeasured-'));
  const copy = path.join(modelsDir, 'unmeasured');
  cpSync(modelDir, copy, { recursive: true });
  delete manifest.graphs.transformer.variants.dq8.fidelity;
  manifest.title = 'Unmeasured copy';
  writeFileSync(path.join(copy, 'manifest.json'), JSON.stringify(manifest));
  const { info, proc } = await startServe({ modelsDir });
  try {
    await openStudio(page, info.url);
    const badge = page.getByTestId('precision-in-use');
    const hint = page.getByTestId('toast-info').filter({ hasText: 'also has a dq8 transformer' });
    const select = page.getByTestId('model-select');
    const value = await select.locator('option', { hasText: 'Unmeasured copy' }).getAttribute('value');
    await select.selectOption(value!);
    await expect(badge).toHaveText('fp32');
    await expect(hint).toBeVisible();
    await hint.getByTestId('toast-action').click();
    await expect(badge).toHaveText('dq8');
    await expect(hint).toHaveCount(0);
    // Said once per model: back on auto (fp32 again), no second hint, also not after a reload.
    await page.getByTestId('precision-select').selectOption('auto');
    await expect(badge).toHaveText('fp32');
    await page.reload();
    await expect(page.getByTestId('provider')).toBeVisible();
    await select.selectOption(value!);
    await expect(badge).toHaveText('fp32');
    await page.waitForTimeout(500); // a hint would show right after the load; give it the time to appear
    await expect(page.getByTestId('toast-info').filter({ hasText: 'also has a dq8 transformer' })).toHaveCount(0);
  } finally {
    if (proc.pid) process.kill(-proc.pid, 'SIGTERM');
    rmSync(modelsDir, { recursive: true, force: true });
  }
});
