// Host side of the canvas editor against the real engine (tiny bundle) and a real image: the cropped edit
// composited by the document model equals the engine's full-image edit, pixels outside the feathered
// mask stay byte-identical, outpainting grows the document, refusals say what to do; autosave/restore,
// opening files (corrupt, unsupported, 20000×20000) and export with the edit chain.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import encodeChunks from 'png-chunks-encode';
import { VarEngine, type RgbImage } from '../../../src/engine/index';
import { featherWeights } from '../../../src/engine/edit-pixels';
import { planEdit } from '../../../src/engine/edit';
import { checkEditParams, runEditJob } from '../../../src/host/edit';
import { DocumentStore, MAX_DOCUMENTS } from '../../../src/host/documents';
import { decodeImage, encodeDocumentExport, openCanvasImage, readPngText, withPngText } from '../../../src/host/image-io';
import { CanvasDocument, acceptChange } from '../../../src/renderer/lib/canvas-state/document';
import { EditHistory } from '../../../src/renderer/lib/canvas-state/history';
import { buildEditPayload } from '../../../src/renderer/lib/canvas-state/edit-request';
import { dab } from '../../../src/renderer/lib/canvas-state/raster';
import { parseEvent, parseParams, type LoadedModel, type StudioEvent } from '../../../src/shared/contract';
import { EDIT_CHAIN_KEY, type EditStartParams, type EditStep, type DocumentMeta } from '../../../src/shared/edit';
import { StudioError } from '../../../src/shared/errors';
import { ContractError } from '../../../src/shared/schema';

const REPO = resolve(__dirname, '../../..');
const TINY = join(REPO, 'tests/fixtures/tiny/bundle');
let engine: VarEngine;
let photo: RgbImage;
let model: LoadedModel;

beforeAll(async () => {
  engine = await VarEngine.create(TINY, { provider: 'cpu', threads: 1 });
  photo = await decodeImage(readFileSync(join(REPO, 'tests/fixtures/engine/fashion-72x56.png')));
  const m = engine.manifest;
  model = {
    id: 'embedded', name: m.name, title: m.title, description: '', license: '', resolution: m.resolution, patchNums: [...m.patchNums], vocabSize: m.vocabSize,
    classes: [...m.classes], sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false }, previewMethod: '', precision: 'fp32', precisions: ['fp32'], provider: { inUse: 'cpu', requested: 'cpu', skipped: [] },
  };
});
afterAll(async () => {
  await engine.dispose();
});

function newDoc(): CanvasDocument {
  return new CanvasDocument('doc-t', 'fashion', { kind: 'file', fileName: 'fashion-72x56.png', width: photo.width, height: photo.height }, {
    width: photo.width, height: photo.height, image: photo.data.slice(), region: { x: 0, y: 0, size: 56 },
  });
}

function params(d: CanvasDocument, region: { x: number; y: number; size: number }, over: Partial<EditStartParams> = {}): EditStartParams {
  const p = buildEditPayload(d, region);
  // Through the contract, as over the wire.
  return parseParams('edit.start', {
    jobId: 'job-1', modelId: 'embedded', operation: 'inpaint', classIndex: null, seed: 11, batch: 2, sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false }, feather: 3,
    image: p.image, mask: p.mask, region: p.region, ...over,
  });
}

async function collect(p: EditStartParams, signal = new AbortController().signal): Promise<StudioEvent[]> {
  const events: StudioEvent[] = [];
  await runEditJob(engine, p, signal, (e) => events.push(parseEvent(e)));
  return events;
}

const step = (region: { x: number; y: number; size: number }, d: CanvasDocument): EditStep => ({
  op: 'inpaint', model: { id: 'embedded', name: 'tiny', resolution: 16 }, classIndex: null, resolvedClassIndex: -1, className: 'null class', seed: 11,
  sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false }, feather: 3, region, maskedPixels: 1, canvas: { width: d.width, height: d.height, shiftX: 0, shiftY: 0 }, at: new Date().toISOString(),
});

describe('edit jobs on a real image', () => {
  it('inpaint: the composited candidate equals the full-image engine edit; outside the feathered mask is byte-identical', async () => {
    const d = newDoc();
    dab(d.mask, d.width, d.height, 30, 28, 9, 1, 'brush');
    const region = { x: 8, y: 0, size: 56 };
    const events = await collect(params(d, region));
    expect(events.map((e) => e.type)).toEqual(['job.start', 'job.scale', 'job.scale', 'job.scale', 'job.scale', 'edit.done']);
    const done = events.at(-1) as Extract<StudioEvent, { type: 'edit.done' }>;
    expect(done.candidates).toHaveLength(2);
    expect(done.candidates[0].image.width).toBe(56);
    expect(done.candidates[0].offset).toEqual({ x: 0, y: 0 });
    expect(done.candidates[0].classIndex).toBe(-1);

    // Reference: the engine on the full image with the same mask and region.
    let full: RgbImage | undefined;
    for await (const e of engine.edit({ image: photo, mask: { width: d.width, height: d.height, data: d.mask }, region, classIndex: null, seed: 11, batch: 2, feather: 3, sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false } })) {
      if (e.type === 'done') full = e.images[0];
    }
    const before = d.image.slice();
    const maskBefore = d.mask.slice();
    const h = new EditHistory();
    h.apply(d, 'inpaint', acceptChange(d, region, done.candidates[0].image.data, step(region, d)));
    expect(Array.from(d.image)).toEqual(Array.from(full!.data));
    expect(d.mask.every((v) => v === 0)).toBe(true); // Accept uses the mask up

    const plan = planEdit(photo, { width: d.width, height: d.height, data: maskBefore }, region, engine.manifest);
    const weight = featherWeights(plan.regenPixels, 56, 56, 3);
    let changedInside = 0, outside = 0;
    for (let y = 0; y < d.height; y++) for (let x = 0; x < d.width; x++) {
      const rx = x - region.x, ry = y - region.y;
      const w = rx >= 0 && rx < 56 && ry >= 0 && ry < 56 ? weight[ry * 56 + rx] : 0;
      const i = (y * d.width + x) * 3;
      const same = d.image[i] === before[i] && d.image[i + 1] === before[i + 1] && d.image[i + 2] === before[i + 2];
      if (w === 0) {
        outside++;
        expect(same).toBe(true);
      } else if (w === 1 && !same) changedInside++;
    }
    expect(outside).toBeGreaterThan(2000);
    expect(changedInside).toBeGreaterThan(150);
    h.undo(d);
    expect(Array.from(d.image)).toEqual(Array.from(photo.data));
    expect(Array.from(d.mask)).toEqual(Array.from(maskBefore));
  });

  it('outpaint: a region past the right edge grows the document; the old pixels outside the region stay', async () => {
    const d = newDoc();
    const region = { x: 40, y: 0, size: 48 }; // reaches 16 px past the right edge
    const p = params(d, region, { operation: 'outpaint', batch: 1 });
    checkEditParams(p, model);
    const done = (await collect(p)).at(-1) as Extract<StudioEvent, { type: 'edit.done' }>;
    expect(done.type).toBe('edit.done');
    const c = done.candidates[0];
    expect([c.image.width, c.image.height]).toEqual([48, 48]);
    const before = d.image.slice();
    new EditHistory().apply(d, 'outpaint', acceptChange(d, region, c.image.data, step(region, d)));
    expect([d.width, d.height]).toEqual([88, 56]);
    for (let y = 0; y < 56; y++) for (let x = 0; x < 40; x++)
      for (let k = 0; k < 3; k++) expect(d.image[(y * 88 + x) * 3 + k]).toBe(before[(y * 72 + x) * 3 + k]);
    // the mask is empty: the region's image part beyond the feather's reach (3 + 1 px from the edge) is the source itself
    for (let y = 0; y < 48; y++) for (let x = 40; x < 68; x++)
      for (let k = 0; k < 3; k++) expect(d.image[(y * 88 + x) * 3 + k]).toBe(before[(y * 72 + x) * 3 + k]);
  });

  it('a mask covering everything regenerates the whole region (a sensible result, no error)', async () => {
    const d = newDoc();
    d.mask.fill(255);
    const p = params(d, { x: 0, y: 0, size: 56 }, { batch: 1 });
    checkEditParams(p, model);
    const done = (await collect(p)).at(-1)!;
    expect(done.type).toBe('edit.done');
  });

  it('refusals: empty mask, nothing to outpaint, unknown class, fromScale past the last scale; malformed params', () => {
    const d = newDoc();
    const code = (f: () => void) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(StudioError);
        return (e as StudioError).code;
      }
      return 'none';
    };
    expect(code(() => checkEditParams(params(d, { x: 0, y: 0, size: 56 }), model))).toBe('empty-mask');
    expect(code(() => checkEditParams(params(d, { x: 0, y: 0, size: 56 }, { fromScale: 2 }), model))).toBe('empty-mask');
    expect(code(() => checkEditParams(params(d, { x: 0, y: 0, size: 56 }, { operation: 'outpaint' }), model))).toBe('nothing-to-outpaint');
    d.mask[100] = 255;
    expect(code(() => checkEditParams(params(d, { x: 0, y: 0, size: 56 }, { operation: 'class-edit', classIndex: 10 }), model))).toBe('bad-class');
    expect(code(() => checkEditParams(params(d, { x: 0, y: 0, size: 56 }, { fromScale: 4 }), model))).toBe('bad-from-scale');
    expect(code(() => checkEditParams(params(d, { x: 0, y: 0, size: 56 }, { fromScale: 2 }), model))).toBe('none');
    expect(() => params(d, { x: 0, y: 0, size: 56 }, { operation: 'inpaint', classIndex: 3 })).toThrow(ContractError);
    expect(() => params(d, { x: 0, y: 0, size: 56 }, { operation: 'class-edit', classIndex: null })).toThrow(ContractError);
    const p = buildEditPayload(d, { x: 0, y: 0, size: 56 });
    expect(() => parseParams('edit.start', { jobId: 'j', modelId: 'embedded', operation: 'inpaint', classIndex: null, seed: 1, batch: 1, sampling: { cfg: 1, topK: 0, topP: 1, moreSmooth: false }, feather: 0, image: p.image, mask: p.mask, region: { x: 5, y: 0, size: 56 } })).toThrow(/contains the whole cropped image/);
  });

  it('cancel stops between scales with job.cancelled and no edit.done', async () => {
    const d = newDoc();
    d.mask.fill(255);
    const controller = new AbortController();
    const events: StudioEvent[] = [];
    await runEditJob(engine, params(d, { x: 0, y: 0, size: 56 }, { batch: 1 }), controller.signal, (e) => {
      events.push(e);
      if (e.type === 'job.scale' && e.index === 1) controller.abort();
    });
    expect(events.map((e) => e.type)).toEqual(['job.start', 'job.scale', 'job.scale', 'job.cancelled']);
  });

  it('scale-locked edit keeps the region tokens of scales 1..k', async () => {
    const d = newDoc();
    d.mask.fill(255);
    const region = { x: 0, y: 0, size: 56 };
    const src = await engine.encode({ width: 56, height: 56, data: (() => { const out = new Uint8Array(56 * 56 * 3); for (let y = 0; y < 56; y++) out.set(photo.data.subarray(y * 72 * 3, y * 72 * 3 + 56 * 3), y * 56 * 3); return out; })() });
    const done = (await collect(params(d, region, { batch: 1, fromScale: 2, operation: 'class-edit', classIndex: 3 }))).at(-1) as Extract<StudioEvent, { type: 'edit.done' }>;
    expect(Array.from(done.tokens[0][0])).toEqual(Array.from(src[0]));
    expect(Array.from(done.tokens[0][1])).toEqual(Array.from(src[1]));
  });
});

describe('autosave', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'var-canvas-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const meta = (over: Partial<DocumentMeta> = {}): DocumentMeta => ({
    format: 'var-studio-canvas', version: 1, docId: 'doc-a', name: 'a', width: 4, height: 3, imageRev: 1, region: { x: 0, y: 0, size: 3 },
    chain: { format: 'var-studio-edit-chain', version: 2, source: { kind: 'file', fileName: 'a.png', width: 4, height: 3 }, steps: [] }, savedAt: 'now', ...over,
  });

  it('saves, restores exactly, skips an unchanged image, refuses a stale one, discards', async () => {
    const store = new DocumentStore(dir);
    expect(await store.restore()).toEqual({ document: null, problem: null });
    const image = Uint8Array.from({ length: 36 }, (_, i) => i * 7);
    const mask = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    expect((await store.save({ meta: meta(), image: gzipSync(image), mask: gzipSync(mask) })).saved).toBe(true);
    const mask2 = new Uint8Array(12).fill(9);
    expect((await store.save({ meta: meta(), mask: gzipSync(mask2) })).saved).toBe(true);
    expect((await store.save({ meta: meta({ imageRev: 2 }), mask: gzipSync(mask2) })).saved).toBe(false);
    const r = await new DocumentStore(dir).restore();
    expect(r.document!.meta.docId).toBe('doc-a');
    const { gunzipSync } = await import('node:zlib');
    expect(Array.from(gunzipSync(r.document!.image))).toEqual(Array.from(image));
    expect(Array.from(gunzipSync(r.document!.mask))).toEqual(Array.from(mask2));
    expect(readdirSync(join(dir, 'canvas', 'doc-a')).filter((f) => f.endsWith('.gz'))).toHaveLength(2); // old files removed
    await expect(store.save({ meta: meta(), image: gzipSync(image.subarray(1)), mask: gzipSync(mask) })).rejects.toThrow(/holds 35 bytes/);
    expect(await store.discard('doc-a')).toBe(true);
    expect((await store.restore()).document).toBeNull();
  });

  it('an autosave written before sampling was nested (chain version 1) restores as version 2', async () => {
    const store = new DocumentStore(dir);
    const d = newDoc();
    const { sampling, ...flat } = step({ x: 0, y: 0, size: 3 }, d);
    await store.save({ meta: meta(), image: gzipSync(new Uint8Array(36)), mask: gzipSync(new Uint8Array(12)) });
    const index = join(dir, 'canvas', 'doc-a', 'document.json');
    const stored = JSON.parse(readFileSync(index, 'utf8'));
    stored.meta.chain = { ...stored.meta.chain, version: 1, steps: [{ ...flat, ...sampling }] };
    writeFileSync(index, JSON.stringify(stored));
    const r = await store.restore();
    expect(r.problem).toBeNull();
    expect(r.document!.meta.chain.version).toBe(2);
    expect(r.document!.meta.chain.steps[0].sampling).toEqual(sampling);
    await store.discard('doc-a');
  });

  it('two documents keep their own autosaves; a save based on an older save of the same document is refused', async () => {
    const root = mkdtempSync(join(tmpdir(), 'var-canvas-two-'));
    const store = new DocumentStore(root);
    const img = gzipSync(new Uint8Array(36)), m = gzipSync(new Uint8Array(12));
    expect((await store.save({ meta: meta({ docId: 'doc-x', name: 'x', savedAt: 't1' }), image: img, mask: m, baseSavedAt: null })).saved).toBe(true);
    await new Promise((r) => setTimeout(r, 15));
    expect((await store.save({ meta: meta({ docId: 'doc-y', name: 'y', savedAt: 't2' }), image: img, mask: m, baseSavedAt: null })).saved).toBe(true);
    // Window A saves x again on its own last save; window B, still on t1 afterwards, is refused.
    expect((await store.save({ meta: meta({ docId: 'doc-x', name: 'x', savedAt: 't3' }), mask: m, baseSavedAt: 't1' })).saved).toBe(true);
    const stale = await store.save({ meta: meta({ docId: 'doc-x', name: 'x-from-b', savedAt: 't4' }), mask: gzipSync(new Uint8Array(12).fill(7)), baseSavedAt: 't1' });
    expect(stale).toMatchObject({ saved: false, conflict: { savedAt: 't3', name: 'x' } });
    expect((await store.restore('doc-x')).document!.meta.savedAt).toBe('t3');
    expect((await store.restore('doc-y')).document!.meta.name).toBe('y');
    expect((await store.restore()).document!.meta.docId).toBe('doc-x'); // the most recently saved
    expect((await store.list()).map((d) => d.docId)).toEqual(['doc-x', 'doc-y']);
    expect(await store.discard('doc-x')).toBe(true);
    expect((await store.list()).map((d) => d.docId)).toEqual(['doc-y']);
    expect((await store.restore()).document!.meta.docId).toBe('doc-y');
    rmSync(root, { recursive: true, force: true });
  });

  it('the tab list is kept across stores, and a document open in a tab outlives the pruning of old autosaves', async () => {
    const root = mkdtempSync(join(tmpdir(), 'var-canvas-tabs-'));
    const store = new DocumentStore(root);
    expect(await store.tabs()).toEqual({ tabs: [], activeDocId: null });
    const img = gzipSync(new Uint8Array(36)), m = gzipSync(new Uint8Array(12));
    await store.save({ meta: meta({ docId: 'doc-tab', name: 'kept' }), image: img, mask: m });
    const tabs = { tabs: [{ docId: 'doc-tab', name: 'kept', width: 4, height: 3, unexported: true }], activeDocId: 'doc-tab' };
    expect(await store.setTabs(tabs)).toBe(true);
    expect(await new DocumentStore(root).tabs()).toEqual(tabs);
    // MAX_DOCUMENTS newer autosaves: without the tab list the oldest (doc-tab) would be removed.
    for (let i = 0; i < MAX_DOCUMENTS + 2; i++) {
      await new Promise((r) => setTimeout(r, 5));
      await store.save({ meta: meta({ docId: `doc-${i}`, name: `n${i}` }), image: img, mask: m });
    }
    const listed = (await store.list()).map((d) => d.docId);
    expect(listed).toContain('doc-tab');
    expect(listed).toHaveLength(MAX_DOCUMENTS);
    expect(listed).not.toContain('doc-0');
    // A damaged tab list reads as empty and the documents stay.
    writeFileSync(join(root, 'canvas', 'tabs.json'), '{"tabs": 5');
    expect(await store.tabs()).toEqual({ tabs: [], activeDocId: null });
    expect((await store.restore('doc-tab')).document!.meta.name).toBe('kept');
    rmSync(root, { recursive: true, force: true });
  });

  it('a damaged autosave is moved aside with a message, not lost', async () => {
    const store = new DocumentStore(dir);
    await store.save({ meta: meta(), image: gzipSync(new Uint8Array(36)), mask: gzipSync(new Uint8Array(12)) });
    const files = readdirSync(join(dir, 'canvas', 'doc-a')).filter((f) => f.startsWith('image-'));
    writeFileSync(join(dir, 'canvas', 'doc-a', files[0]), 'not gzip');
    const r = await store.restore();
    expect(r.document).toBeNull();
    expect(r.problem).toMatch(/damaged .* moved to .*broken/);
  });
});

describe('opening files and export with the edit chain', () => {
  it('corrupt, unsupported and 20000×20000 files give clear errors', async () => {
    const err = async (bytes: Uint8Array) => {
      try {
        await openCanvasImage(bytes, 'f');
      } catch (e) {
        return e as StudioError;
      }
      throw new Error('no error');
    };
    const png = readFileSync(join(REPO, 'tests/fixtures/engine/fashion-72x56.png'));
    expect((await err(Uint8Array.from(png.subarray(0, 60)))).message).toMatch(/could not be decoded|not an image|left as it was/);
    expect((await err(new TextEncoder().encode('hello, not an image'))).code).toBe('unreadable-image');
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#f00' } }).gif().toBuffer();
    expect((await err(gif)).code).toBe('unsupported-image');
    const huge = hugePng(20000, 20000);
    const e = await err(huge);
    expect(e.code).toBe('image-too-large');
    expect(e.message).toMatch(/20000×20000/);
  });

  it('a phone photo stands upright (EXIF orientation) and transparency is flattened over white', async () => {
    const rotated = await sharp({ create: { width: 6, height: 2, channels: 3, background: '#204060' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const r = await openCanvasImage(rotated, 'phone.jpg');
    expect([r.image.width, r.image.height]).toEqual([2, 6]);
    const clear = await sharp({ create: { width: 3, height: 3, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const t = await openCanvasImage(clear, 'clear.png');
    expect(Array.from(t.image.data.subarray(0, 3))).toEqual([255, 255, 255]);
    expect(t.note).toMatch(/Opened clear\.png \(3×3\)/);
  });

  it('PNG, JPEG and WebP exports carry the edit chain; opening them restores it', async () => {
    const d = newDoc();
    const settingsJson = JSON.stringify({ format: 'var-studio-settings', version: 1, model: { id: 'embedded', name: 'tiny', title: 'Tiny', resolution: 16 }, classIndex: 2, resolvedClassIndex: 2, className: 'class 2', seed: 9, cfg: 2, topK: 16, topP: 0.9, moreSmooth: false, createdAt: '2026-01-01T00:00:00.000Z' });
    const chain = { ...d.chain(), source: { kind: 'generated' as const, settingsJson, width: 72, height: 56 }, steps: [step({ x: 8, y: 0, size: 56 }, d)] };
    for (const format of ['png', 'jpeg', 'webp'] as const) {
      const file = await encodeDocumentExport({ format, quality: 95, width: d.width, height: d.height, image: gzipSync(d.image), chain, fileName: 'edited' });
      expect(file.fileName).toBe(`edited.${format === 'jpeg' ? 'jpg' : format}`);
      expect(Object.getPrototypeOf(file.bytes)).toBe(Uint8Array.prototype); // survives the wire codec (a Buffer would not)
      const opened = await openCanvasImage(file.bytes, file.fileName);
      expect([opened.image.width, opened.image.height]).toEqual([72, 56]);
      expect(opened.chain).toEqual(chain);
      expect(opened.settingsJson).toBeNull(); // the source's settings live only inside the chain
      if (format === 'png') {
        expect(Array.from(opened.image.data)).toEqual(Array.from(d.image));
        expect(JSON.parse(readPngText(file.bytes)[EDIT_CHAIN_KEY]).steps[0].seed).toBe(11);
        expect(readPngText(file.bytes)['var-studio']).toBeUndefined(); // no top-level generation settings: the file is not that generation
      }
    }
    // A file exported before sampling was nested (chain version 1, flat steps) opens with its chain upgraded.
    const { sampling, ...flatStep } = chain.steps[0];
    const newPng = (await encodeDocumentExport({ format: 'png', quality: 90, width: d.width, height: d.height, image: gzipSync(d.image), chain, fileName: 'new' })).bytes;
    const oldPng = withPngText(newPng, { [EDIT_CHAIN_KEY]: JSON.stringify({ ...chain, version: 1, steps: [{ ...flatStep, ...sampling }] }) });
    expect((await openCanvasImage(oldPng, 'old.png')).chain).toEqual(chain);
    const damaged = { ...chain, source: { ...chain.source, settingsJson: '{"format":"nope"}' } };
    await expect(encodeDocumentExport({ format: 'png', quality: 90, width: d.width, height: d.height, image: gzipSync(d.image), chain: damaged, fileName: 'x' })).rejects.toThrow(ContractError);
  });
});

/** A PNG whose header says w×h, with no pixel data (what a too-large file looks like to the header check). */
function hugePng(w: number, h: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, w);
  v.setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return encodeChunks([{ name: 'IHDR', data: ihdr }, { name: 'IDAT', data: new Uint8Array([120, 156, 3, 0, 0, 0, 0, 1]) }, { name: 'IEND', data: new Uint8Array(0) }]);
}
