import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GalleryStore } from '../../../src/host/gallery';
import type { GalleryEntryMsg } from '../../../src/shared/contract';

const sampling = { cfg: 1.5, topK: 0, topP: 1, moreSmooth: false };

function entry(id: string, createdAt: string, pixel = 7, precision?: { transformer: 'dq8'; decoder: 'fp32' }): GalleryEntryMsg {
  return {
    id, jobId: id.replace(/-\d+$/, ''), indexInBatch: Number(id.split('-').at(-1)), origin: 'generated', createdAt,
    image: { width: 1, height: 1, data: Uint8Array.of(pixel, 2, 3) }, scalePreviews: [], tokens: [Int32Array.of(5, 9)], patchNums: [1],
    settings: {
      format: 'var-studio-settings', version: 2, model: { id: 'm', name: 'm', title: 'M', resolution: 1 }, classIndex: null,
      resolvedClassIndex: 1, className: 'Bag', seed: 4, sampling, createdAt, ...(precision ? { precision } : {}),
    },
  };
}

const dataDir = () => mkdtempSync(path.join(os.tmpdir(), 'gallery-test-'));

describe('GalleryStore', () => {
  it('keeps entries across store instances (a restart), newest first, with exact pixels and tokens', async () => {
    const dir = dataDir();
    await new GalleryStore(dir).add([entry('job-a-0', '2026-11-30T10:00:00Z')]);
    await new GalleryStore(dir).add([entry('job-b-0', '2026-12-01T10:00:00Z', 200, { transformer: 'dq8', decoder: 'fp32' })]);
    const { entries, total } = await new GalleryStore(dir).list(0, 50);
    expect(total).toBe(2);
    expect(entries.map((e) => e.id)).toEqual(['job-b-0', 'job-a-0']);
    expect([...entries[0].image.data]).toEqual([200, 2, 3]);
    expect(entries[0].tokens[0]).toBeInstanceOf(Int32Array);
    expect([...entries[0].tokens[0]]).toEqual([5, 9]);
    expect(entries[0].settings?.className).toBe('Bag');
    // the precision each graph ran in comes back with the entry; an entry saved without one still opens
    expect(entries[0].settings?.precision).toEqual({ transformer: 'dq8', decoder: 'fp32' });
    expect(entries[1].settings?.precision).toBeUndefined();
  });

  it('pages, replaces an entry with the same id, deletes and clears', async () => {
    const store = new GalleryStore(dataDir());
    await store.add([0, 1, 2, 3].map((d) => entry(`job-${d}-0`, `2026-12-0${d + 1}T00:00:00Z`)));
    expect((await store.list(1, 2)).entries.map((e) => e.id)).toEqual(['job-2-0', 'job-1-0']);
    await store.add([entry('job-1-0', '2026-12-02T00:00:00Z', 99)]);
    const again = await store.list(0, 50);
    expect(again.total).toBe(4);
    expect([...again.entries.find((e) => e.id === 'job-1-0')!.image.data]).toEqual([99, 2, 3]);
    expect(await store.delete(['job-1-0', 'job-9-0'])).toEqual({ deleted: 1 });
    expect((await store.list(0, 50)).entries.map((e) => e.id)).toEqual(['job-3-0', 'job-2-0', 'job-0-0']);
    expect(await store.clear()).toEqual({ deleted: 3 });
    expect((await store.list(0, 50)).total).toBe(0);
  });

  it('prunes the oldest beyond its limit and skips a damaged file without losing the rest', async () => {
    const dir = dataDir();
    const store = new GalleryStore(dir, 2);
    await store.add([entry('job-0-0', '2026-12-01T00:00:00Z'), entry('job-1-0', '2026-12-02T00:00:00Z'), entry('job-2-0', '2026-12-03T00:00:00Z')]);
    expect((await store.list(0, 50)).entries.map((e) => e.id)).toEqual(['job-2-0', 'job-1-0']);
    const [damaged] = readdirSync(path.join(dir, 'gallery')).filter((f) => f.endsWith('.json')).sort();
    writeFileSync(path.join(dir, 'gallery', damaged), '{"id": 3');
    expect((await store.list(0, 50)).entries.map((e) => e.id)).toEqual(['job-2-0']);
    expect(readdirSync(path.join(dir, 'gallery')).some((f) => f.endsWith('.tmp'))).toBe(false);
  });
});
