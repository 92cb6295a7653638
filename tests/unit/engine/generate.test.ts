import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError, type EngineEvent, type GenerateRequest, VarEngine } from '../../../src/engine/index';
import { TINY_BUNDLE } from './helpers';

let engine: VarEngine;
beforeAll(async () => {
  engine = await VarEngine.create(TINY_BUNDLE, { provider: 'cpu', threads: 1 });
});
afterAll(async () => {
  await engine.dispose();
});

const sampling = { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false };
const base: GenerateRequest = { classIndex: 3, seed: 11, batch: 2, sampling };

async function collect(it: AsyncGenerator<EngineEvent>): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}
function done(events: EngineEvent[]) {
  const d = events[events.length - 1];
  if (d.type !== 'done') throw new Error('no done event');
  return d;
}

describe('generation (docs/var-model.md#sampling, docs/sampling.md)', () => {
  it('streams start, one event per scale (tokens + model-resolution preview per image), then done', async () => {
    const ev = await collect(engine.generate(base));
    const m = engine.manifest;
    expect(ev.map((e) => e.type)).toEqual(['start', ...m.patchNums.map(() => 'scale'), 'done']);
    expect(ev[0]).toMatchObject({ type: 'start', batch: 2, seeds: [11, 12] });
    ev.filter((e) => e.type === 'scale').forEach((e, k) => {
      if (e.type !== 'scale') return;
      expect(e.index).toBe(k);
      expect(e.patch).toBe(m.patchNums[k]);
      expect(e.tokens).toHaveLength(2);
      expect(e.tokens[0]).toHaveLength(m.patchNums[k] ** 2);
      expect(e.preview).toHaveLength(2);
      expect(e.preview[0].width).toBe(m.resolution);
      expect(e.preview[0].data).toHaveLength(m.resolution * m.resolution * 3);
    });
    const d = done(ev);
    expect(d.images).toHaveLength(2);
    expect(d.tokens[1]).toHaveLength(m.patchNums.length);
    expect(d.classIndices).toEqual([3, 3]);
    expect(d.timings.perScaleMs).toHaveLength(m.patchNums.length);
  });

  it('deterministic: same bundle + seed + settings ⇒ identical tokens and image bytes (also with more-smooth)', async () => {
    for (const moreSmooth of [false, true]) {
      const a = done(await collect(engine.generate({ ...base, sampling: { ...sampling, moreSmooth } })));
      const b = done(await collect(engine.generate({ ...base, sampling: { ...sampling, moreSmooth } })));
      expect(b.tokens).toEqual(a.tokens);
      expect(Buffer.from(b.images[1].data).equals(Buffer.from(a.images[1].data))).toBe(true);
    }
  });

  it('image b of a batch seeded s equals image 0 of a batch of one seeded s + b', async () => {
    const batch = done(await collect(engine.generate({ ...base, batch: 3, seed: 100 })));
    const single = done(await collect(engine.generate({ ...base, batch: 1, seed: 102 })));
    expect(single.tokens[0]).toEqual(batch.tokens[2]);
    const wrap = await collect(engine.generate({ ...base, batch: 2, seed: 0xffffffff, previews: false }));
    expect(wrap[0]).toMatchObject({ type: 'start', seeds: [0xffffffff, 0] }); // uint32 wrap-around
    expect(Buffer.from(single.images[0].data).equals(Buffer.from(batch.images[2].data))).toBe(true);
  });

  it('a different seed gives different tokens', async () => {
    const a = done(await collect(engine.generate(base)));
    const b = done(await collect(engine.generate({ ...base, seed: 12 })));
    expect(b.tokens).not.toEqual(a.tokens);
  });

  it('random class (classIndex null) is drawn from each image stream, reproducibly', async () => {
    const a = done(await collect(engine.generate({ ...base, classIndex: null, batch: 4 })));
    const b = done(await collect(engine.generate({ ...base, classIndex: null, batch: 4 })));
    expect(a.classIndices).toEqual(b.classIndices);
    a.classIndices.forEach((c) => expect(c >= 0 && c < 10).toBe(true));
  });

  it('resume from scale k with the same seed and the prefix of a run reproduces that run exactly', async () => {
    const full = done(await collect(engine.generate({ ...base, batch: 1 })));
    for (const k of [1, 2, 3]) {
      const resumed = done(await collect(engine.generate({ ...base, batch: 1, prefix: [{ tokens: full.tokens[0].slice(0, k) }] })));
      expect(resumed.tokens[0]).toEqual(full.tokens[0]);
      expect(Buffer.from(resumed.images[0].data).equals(Buffer.from(full.images[0].data))).toBe(true);
    }
  });

  it('resume with a new seed keeps scales 1..k and resamples the rest', async () => {
    const full = done(await collect(engine.generate({ ...base, batch: 1 })));
    const k = 2;
    const seeds = [1000, 1001, 1002, 1003];
    let changed = 0;
    for (const seed of seeds) {
      const r = done(await collect(engine.generate({ ...base, batch: 1, seed, prefix: [{ tokens: full.tokens[0].slice(0, k) }] })));
      for (let s = 0; s < k; s++) expect(r.tokens[0][s]).toEqual(full.tokens[0][s]);
      if (JSON.stringify(Array.from(r.tokens[0][3])) !== JSON.stringify(Array.from(full.tokens[0][3]))) changed++;
    }
    expect(changed).toBeGreaterThan(0);
  });

  it('resume with another class keeps scales 1..k and reports the new class', async () => {
    const full = done(await collect(engine.generate({ ...base, batch: 1 })));
    const r = done(await collect(engine.generate({ ...base, batch: 1, classIndex: 8, prefix: [{ tokens: full.tokens[0].slice(0, 2) }] })));
    expect(r.classIndices).toEqual([8]);
    expect(r.tokens[0].slice(0, 2)).toEqual(full.tokens[0].slice(0, 2));
  });

  it('encode: an image of any size → one token map per scale, in the vocabulary', async () => {
    const img = { width: 40, height: 24, data: new Uint8Array(40 * 24 * 3).map((_, i) => (i * 13) % 256) };
    const maps = await engine.encode(img);
    expect(maps.map((t) => t.length)).toEqual(engine.manifest.patchNums.map((p) => p * p));
    maps.forEach((t) => t.forEach((v) => expect(v >= 0 && v < engine.manifest.vocabSize).toBe(true)));
  });

  it('AbortSignal stops between scales with an "aborted" EngineError and no done event', async () => {
    const ac = new AbortController();
    const seen: string[] = [];
    let err: unknown;
    try {
      for await (const e of engine.generate(base, ac.signal)) {
        seen.push(e.type === 'scale' ? `scale${e.index}` : e.type);
        if (e.type === 'scale' && e.index === 1) ac.abort();
      }
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('aborted');
    expect(seen).toEqual(['start', 'scale0', 'scale1']);
  });

  it('abort after the last scale: still no trailing decode', async () => {
    const ac = new AbortController();
    const seen: string[] = [];
    await expect((async () => {
      for await (const e of engine.generate(base, ac.signal)) {
        seen.push(e.type);
        if (e.type === 'scale' && e.index === engine.manifest.patchNums.length - 1) ac.abort();
      }
    })()).rejects.toMatchObject({ code: 'aborted' });
    expect(seen).not.toContain('done');
  });

  it('previews off: scale events carry no preview, same tokens and image', async () => {
    const a = done(await collect(engine.generate(base)));
    const ev = await collect(engine.generate({ ...base, previews: false }));
    ev.forEach((e) => { if (e.type === 'scale') expect(e.preview).toEqual([]); });
    expect(done(ev).tokens).toEqual(a.tokens);
  });

  it('sessions without the CPU memory arena give the same tokens and image bytes', async () => {
    const lean = await VarEngine.create(TINY_BUNDLE, { provider: 'cpu', threads: 1, cpuMemArenaOff: ['transformer', 'fhatStep', 'decoder', 'preview'] });
    try {
      const [a, b] = [done(await collect(engine.generate(base))), done(await collect(lean.generate(base)))];
      expect(b.tokens).toEqual(a.tokens);
      expect(b.images.map((img, k) => Buffer.from(img.data).equals(Buffer.from(a.images[k].data)))).toEqual([true, true]);
    } finally {
      await lean.dispose();
    }
  });

  const bad: [string, Partial<GenerateRequest>, string][] = [
    ['class out of range', { classIndex: 10 }, 'bad-class'],
    ['negative class', { classIndex: -1 }, 'bad-class'],
    ['NaN cfg', { sampling: { ...sampling, cfg: NaN } }, 'bad-cfg'],
    ['top-p above 1', { sampling: { ...sampling, topP: 1.5 } }, 'bad-top-p'],
    ['fractional top-k', { sampling: { ...sampling, topK: 2.5 } }, 'bad-top-k'],
    ['no sampling object', { sampling: undefined }, 'bad-sampling'],
    ['seed ≥ 2^32', { seed: 2 ** 32 }, 'bad-seed'],
    ['batch 0', { batch: 0 }, 'bad-batch'],
    ['prefix with a wrong token count', { prefix: [{ tokens: [new Int32Array(2)] }] }, 'bad-prefix'],
    ['prefix token outside the vocabulary', { prefix: [{ tokens: [Int32Array.of(64)] }] }, 'bad-prefix'],
  ];
  for (const [what, patch, code] of bad) {
    it(`refuses ${what} with EngineError ${code}`, async () => {
      await expect(collect(engine.generate({ ...base, ...patch }))).rejects.toMatchObject({ name: 'EngineError', code });
    });
  }
});

describe('engine lifetime', () => {
  it('dispose during a run: the run stops with EngineError "disposed"; later calls are refused', async () => {
    const e = await VarEngine.create(TINY_BUNDLE, { provider: 'cpu', threads: 1 });
    const seen: string[] = [];
    let disposing: Promise<void> | undefined;
    await expect((async () => {
      for await (const ev of e.generate(base)) {
        seen.push(ev.type);
        if (ev.type === 'scale' && ev.index === 0) disposing = e.dispose();
      }
    })()).rejects.toMatchObject({ code: 'disposed' });
    await disposing;
    expect(seen).not.toContain('done');
    await expect(collect(e.generate(base))).rejects.toMatchObject({ code: 'disposed' });
  });
});

describe('first-scale cache', () => {
  it('assembled 1×1-scale rows (cached per label, filled by another batch) give bytes identical to computing them', async () => {
    const { runScales, Scale0Cache } = await import('../../../src/engine/core');
    const { Xoshiro128 } = await import('../../../src/engine/rng');
    const ctx = engine.coreContext();
    const run = async (scale0: InstanceType<typeof Scale0Cache> | undefined, labels: number[]) => {
      let done: any;
      const rngs = labels.map((_, b) => new Xoshiro128(500 + b));
      for await (const e of runScales({ ...ctx, scale0 }, { labels, rngs, settings: { cfg: 3, topK: 0, topP: 0.9, moreSmooth: true }, previews: false, keepFloat: true })) {
        if (e.type === 'done') done = e;
      }
      return done;
    };
    const cache = new Scale0Cache(engine.manifest);
    await cache.rows(ctx.sessions, [7, 10, 3, 5]); // filled in another batch composition
    expect(cache.size).toBe(4);
    const labels = [3, 7, 3];
    const computed = await run(undefined, labels);
    const cached = await run(cache, labels);
    expect(cached.tokens).toEqual(computed.tokens);
    expect(Buffer.from(cached.imageFloat.buffer).equals(Buffer.from(computed.imageFloat.buffer))).toBe(true);
  });
});
