// The precision in settings records: an export made at dq8, reopened where the model runs fp32, says so and
// offers to load the model at dq8, after which Generate gives the identical pixels again.
import { readFileSync } from 'node:fs';
import extractChunks from 'png-chunks-extract';
import * as pngText from 'png-chunk-text';
import { test, expect, openStudio, pickClass, generateAndWait, canvasRgb } from './fixtures';

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
