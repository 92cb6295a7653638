// Review finding 3: autosave debris (temp files of killed writers, data files no index names) is swept at
// start and after a save, and a save that fails on a full disk does not poison the next one.
import { describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { promises as fsp, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DocumentStore } from '../../src/host/documents';
import type { DocumentMeta } from '../../src/shared/edit';
import { tmp } from './helpers';

const meta = (over: Partial<DocumentMeta> = {}): DocumentMeta => ({
  format: 'var-studio-canvas', version: 1, docId: 'doc-a', name: 'a', width: 4, height: 3, imageRev: 1, region: { x: 0, y: 0, size: 3 },
  chain: { format: 'var-studio-edit-chain', version: 2, source: { kind: 'file', fileName: 'a.png', width: 4, height: 3 }, steps: [] }, savedAt: 'now', ...over,
});
const image = gzipSync(new Uint8Array(36).fill(7));
const mask = gzipSync(new Uint8Array(12).fill(255));

/** The pid of a process that has exited: its temp files are debris. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('finding 3: autosave debris is swept', () => {
  it('temp files of dead writers, legacy temp names and orphan data files go at start; the document stays', async () => {
    const dataDir = tmp('autosave');
    await new DocumentStore(dataDir).save({ meta: meta(), image, mask });
    const canvas = path.join(dataDir, 'canvas');
    const kept = readdirSync(canvas).sort();
    const dead = deadPid();
    const debris = [`.image-x.gz.${dead}.0123456789ab.tmp`, '.document.json.tmp', '.mask-old-1.gz.tmp', 'image-orphan-1.gz', 'mask-orphan-2.gz'];
    for (const name of debris) writeFileSync(path.join(canvas, name), 'x'.repeat(1000));
    const restored = await new DocumentStore(dataDir).restore();
    expect(restored.document?.meta.docId).toBe('doc-a');
    expect(readdirSync(canvas).sort()).toEqual(kept);
  });

  it('after many saves only the current files remain', async () => {
    const dataDir = tmp('autosave');
    const store = new DocumentStore(dataDir);
    for (let rev = 1; rev <= 5; rev++) await store.save({ meta: meta({ imageRev: rev }), image, mask });
    // Each document has its own folder (canvas/<docId>); debris in it goes after the next save.
    writeFileSync(path.join(dataDir, 'canvas', 'doc-a', 'image-orphan-9.gz'), 'x');
    await store.save({ meta: meta({ imageRev: 6 }), image, mask });
    expect(readdirSync(path.join(dataDir, 'canvas'))).toEqual(['doc-a']);
    expect(readdirSync(path.join(dataDir, 'canvas', 'doc-a')).sort()).toEqual([expect.stringMatching(/^document\.json$/), expect.stringMatching(/^image-/), expect.stringMatching(/^mask-/)]);
  });

  it('a save that hits a full disk fails clearly, leaves no debris, and the next save works', async () => {
    const dataDir = tmp('autosave');
    const store = new DocumentStore(dataDir);
    await store.save({ meta: meta(), image, mask });
    const realOpen = fsp.open;
    let calls = 0;
    const spy = vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      const handle = await realOpen(...args);
      if (String(args[0]).endsWith('.tmp') && ++calls === 2) {
        handle.writeFile = async () => {
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        };
      }
      return handle;
    });
    await expect(store.save({ meta: meta({ imageRev: 2 }), image, mask })).rejects.toMatchObject({ code: 'disk-full' });
    spy.mockRestore();
    expect((await new DocumentStore(dataDir).restore()).document?.meta.imageRev).toBe(1);
    expect((await store.save({ meta: meta({ imageRev: 3 }), image, mask })).saved).toBe(true);
    expect(readdirSync(path.join(dataDir, 'canvas', 'doc-a'))).toHaveLength(3);
    expect((await new DocumentStore(dataDir).restore()).document?.meta.imageRev).toBe(3);
  });
});
