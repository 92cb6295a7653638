/**
 * The encoder session is created by the first encode or edit, not at load: generation never runs it,
 * so a generate-only engine does not hold its weights. Generation must not change when it appears.
 */
import { createHash } from 'node:crypto';
import { readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BundleError, type EngineEvent, VarEngine } from '../../../src/engine/index';
import { TINY_BUNDLE, copyTinyBundle, editManifest } from './helpers';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

async function tokensOf(engine: VarEngine, seed: number): Promise<number[][]> {
  let done: Extract<EngineEvent, { type: 'done' }> | undefined;
  for await (const e of engine.generate({ batch: 2, classIndex: 3, seed, sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false } })) {
    if (e.type === 'done') done = e;
  }
  return done!.tokens.flatMap((img) => img.map((t) => Array.from(t)));
}

describe('lazy encoder session', () => {
  it('generation leaves the encoder closed; an encode opens it and later generations are token-identical', async () => {
    const engine = await VarEngine.create(TINY_BUNDLE, { provider: 'cpu', threads: 1 });
    cleanups.push(() => engine.dispose());
    const ctx = () => engine.coreContext().sessions;
    const before = await tokensOf(engine, 11);
    expect(ctx().encoderOpen).toBe(false);
    expect(ctx().loadMs.encoder).toBeUndefined();
    const R = engine.manifest.resolution;
    const gray = { width: R, height: R, data: new Uint8Array(R * R * 3).fill(128) };
    const [a, b] = await Promise.all([engine.encode(gray), engine.encode(gray)]); // concurrent first uses share one session
    expect(ctx().encoderOpen).toBe(true);
    expect(a.map((t) => Array.from(t))).toEqual(b.map((t) => Array.from(t)));
    expect(a.map((t) => t.length)).toEqual(engine.manifest.patchNums.map((p) => p * p));
    expect(await tokensOf(engine, 11)).toEqual(before);
  });

  it('a broken encoder file does not stop generation; the first encode names the file, and so does the next', async () => {
    const { dir, cleanup } = copyTinyBundle();
    cleanups.push(cleanup);
    const file = join(dir, 'encoder.onnx');
    truncateSync(file, 200);
    const bytes = readFileSync(file);
    editManifest(dir, (m) => { m.files['encoder.onnx'] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length }; });
    const engine = await VarEngine.create(dir, { provider: 'cpu', threads: 1 });
    cleanups.push(() => engine.dispose());
    expect((await tokensOf(engine, 11)).length).toBeGreaterThan(0);
    const R = engine.manifest.resolution;
    const gray = { width: R, height: R, data: new Uint8Array(R * R * 3).fill(128) };
    for (let i = 0; i < 2; i++) {
      const e = await engine.encode(gray).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BundleError);
      expect((e as BundleError).code).toBe('bad-onnx');
      expect((e as BundleError).file).toBe('encoder.onnx');
    }
  });
});
