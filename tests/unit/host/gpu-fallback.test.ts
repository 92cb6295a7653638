// A run that dies on a GPU provider reloads the model on the CPU and tells the user to press Generate again.
// The GPU engine is the real tiny-bundle engine wearing a CUDA provider report, whose run throws as a
// provider failure would (no GPU here).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VarEngine, type ProviderName } from '../../../src/engine/index';
import { ModelCatalog } from '../../../src/host/models';
import { StudioHost } from '../../../src/host/service';
import type { StudioEvent } from '../../../src/shared/contract';
import { TINY_BUNDLE } from '../engine/helpers';

const realCreate = VarEngine.create.bind(VarEngine);

/** The real engine, reporting `provider` and failing every run the way a lost GPU does. */
function failingGpu(engine: VarEngine, provider: ProviderName): VarEngine {
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'provider') return { inUse: provider, requested: 'auto', skipped: [] };
      if (prop === 'generate') return async function* () { throw new Error('CUDA failure 999: unknown error ; GPU=0'); };
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

afterEach(() => vi.restoreAllMocks());

describe('GPU failure during a run', () => {
  it('falls back to the CPU, says so, and the next run succeeds', async () => {
    const requested: (string | undefined)[] = [];
    vi.spyOn(VarEngine, 'create').mockImplementation(async (dir, opts = {}) => {
      requested.push(opts.provider);
      const engine = await realCreate(dir, { ...opts, provider: 'cpu' });
      return opts.provider === 'cpu' ? engine : failingGpu(engine, 'cuda');
    });
    const fallbacks: string[] = [];
    const host = new StudioHost({
      version: 't', host: 'browser', catalog: new ModelCatalog(TINY_BUNDLE, '/nonexistent-models'),
      deliverExport: async () => ({ kind: 'cancelled' }), onProviderFallback: (p) => fallbacks.push(p),
    });
    const events: StudioEvent[] = [];
    const session = { id: 's', emit: (e: StudioEvent) => events.push(e) };
    const loaded = await host.handle('models.load', { modelId: 'embedded' }, session);
    expect(loaded.provider.inUse).toBe('cuda');
    const settings = { modelId: 'embedded', classIndex: 1, seed: 3, batch: 1, sampling: { cfg: 1, topK: 0, topP: 0, moreSmooth: false } };
    await host.handle('generate.start', { jobId: 'a', settings }, session);
    await host.idle();
    const error = events.find((e) => e.type === 'job.error');
    expect(error).toMatchObject({ error: { message: expect.stringMatching(/CUDA failure.*on the cuda provider/), hint: expect.stringMatching(/reloaded the model on the CPU.*press Generate again/) } });
    expect(fallbacks).toEqual(['cuda']);
    expect(requested).toEqual(['auto', 'cpu']);
    expect(host.loadedProvider()?.inUse).toBe('cpu');
    await host.handle('generate.start', { jobId: 'b', settings }, session);
    await host.idle();
    expect(events.filter((e) => e.type === 'job.done').map((e) => (e as { jobId: string }).jobId)).toEqual(['b']);
    await host.dispose();
  });

  it('leaves a CPU run failure as it is', async () => {
    vi.spyOn(VarEngine, 'create').mockImplementation(async (dir, opts = {}) => failingGpu(await realCreate(dir, { ...opts, provider: 'cpu' }), 'cpu'));
    const fallbacks: string[] = [];
    const host = new StudioHost({
      version: 't', host: 'browser', catalog: new ModelCatalog(TINY_BUNDLE, '/nonexistent-models'),
      deliverExport: async () => ({ kind: 'cancelled' }), onProviderFallback: (p) => fallbacks.push(p),
    });
    const events: StudioEvent[] = [];
    const session = { id: 's', emit: (e: StudioEvent) => events.push(e) };
    await host.handle('models.load', { modelId: 'embedded' }, session);
    await host.handle('generate.start', { jobId: 'a', settings: { modelId: 'embedded', classIndex: 1, seed: 3, batch: 1, sampling: { cfg: 1, topK: 0, topP: 0, moreSmooth: false } } }, session);
    await host.idle();
    expect(events.find((e) => e.type === 'job.error')).toMatchObject({ error: { message: expect.not.stringMatching(/on the .* provider/) } });
    expect(fallbacks).toEqual([]);
    await host.dispose();
  });
});
