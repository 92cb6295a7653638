/**
 * The decoder's int8 variant (docs/model-bundle.md "Precision variants", tools/export/quantize_conv.py): the
 * engine runs it without a transformer variant, same seed gives the same tokens, the image stays within the
 * PSNR bar the variant was recorded against, and 'auto' takes it only once its fidelity and speed are recorded.
 * Fixture: tests/fixtures/tiny/decoder-int8 (tools/quantize_bundle.py COPY --precision int8 --graphs decoder
 * --min-psnr 28 on a copy of the tiny bundle; its random-weight decoder is far from a trained one's 40 dB).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineEvent, VarEngine } from '../../../src/engine/index';
import { psnr } from '../../../bench/stats';
import { REPO, addVariantFixture, copyTinyBundle, editManifest } from './helpers';

const FIXTURE = join(REPO, 'tests/fixtures/tiny/decoder-int8');
const sampling = { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false };
// The fixture's variant measured 32.8 dB on held-out random pyramids; this random-weight tiny model's own
// generations reach past its calibration range and score ~25 dB (the trained embedded model: 43 dB, bench/RESULTS.md).
const GENERATED_MIN_DB = 22;

let bundle: { dir: string; cleanup: () => void };
beforeAll(() => {
  bundle = copyTinyBundle();
  addVariantFixture(bundle.dir, FIXTURE, 'decoder');
});
afterAll(() => bundle.cleanup());

async function generate(engine: VarEngine, seed: number) {
  let done: Extract<EngineEvent, { type: 'done' }> | undefined;
  for await (const e of engine.generate({ classIndex: 1, seed, batch: 2, sampling, previews: false })) if (e.type === 'done') done = e;
  return done!;
}

describe('int8 decoder variant', () => {
  it('runs when asked for, with the fp32 transformer: same tokens, images within the stated PSNR tolerance', async () => {
    const ref = await VarEngine.create(bundle.dir, { provider: 'cpu', precision: 'fp32', threads: 1 });
    const q = await VarEngine.create(bundle.dir, { provider: 'cpu', precision: 'int8', threads: 1 });
    try {
      expect(q.precision).toMatchObject({ transformer: 'fp32', decoder: 'int8', encoder: 'fp32' });
      for (const seed of [3, 4]) {
        const a = await generate(ref, seed);
        const b = await generate(q, seed);
        expect(b.tokens).toEqual(a.tokens);
        a.images.forEach((img, i) => {
          const db = psnr(img.data, b.images[i].data);
          expect(Number.isFinite(db)).toBe(true); // really the int8 graph
          expect(db).toBeGreaterThanOrEqual(GENERATED_MIN_DB);
        });
      }
    } finally {
      await ref.dispose();
      await q.dispose();
    }
  });

  it("'auto' keeps the fp32 decoder until the variant is recorded without visible loss and faster", async () => {
    const e1 = await VarEngine.create(bundle.dir, { provider: 'cpu', threads: 1 });
    expect(e1.precision.decoder).toBe('fp32'); // the fixture's variant is under the 40 dB bar
    await e1.dispose();
    editManifest(bundle.dir, (m) => {
      m.graphs.decoder.variants.int8.fidelity = { ...m.graphs.decoder.variants.int8.fidelity, noVisibleLoss: true, speedVsFp32: { cpu: 0.4 } };
    });
    const e2 = await VarEngine.create(bundle.dir, { provider: 'cpu', threads: 1 });
    try {
      expect(e2.precision).toMatchObject({ transformer: 'fp32', decoder: 'int8' });
    } finally {
      await e2.dispose();
    }
  });
});
