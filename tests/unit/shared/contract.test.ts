import { describe, expect, it } from 'vitest';
import { ContractError } from '../../../src/shared/schema';
import { parseEvent, parseParams, parseResult, requestKinds } from '../../../src/shared/contract';
import { decodeWire, encodeWire, fromBase64, parseWireMessage, parseWireRequest, toBase64 } from '../../../src/shared/wire';
import { settingsFromJson, settingsToJson } from '../../../src/shared/settings';
import type { ImageSettings, RequestKind } from '../../../src/shared/contract';

const sampling = { cfg: 1.5, topK: 100, topP: 0.95, moreSmooth: false };
const settings = { modelId: 'embedded', classIndex: 3, seed: 42, batch: 2, sampling };

const rgb = { width: 2, height: 1, data: Uint8Array.of(1, 2, 3, 4, 5, 6) };
const imageSettings: ImageSettings = {
  format: 'var-studio-settings', version: 2, model: { id: 'embedded', name: 'm', title: 'M', resolution: 2 }, classIndex: 1,
  resolvedClassIndex: 1, className: 'a', seed: 1, sampling, createdAt: 'now',
};
const chain = { format: 'var-studio-edit-chain', version: 2, source: { kind: 'file', fileName: 'a.png', width: 2, height: 1 }, steps: [] };
const meta = { format: 'var-studio-canvas', version: 1, docId: 'd', name: 'a', width: 2, height: 1, imageRev: 0, region: { x: 0, y: 0, size: 2 }, chain, savedAt: 'now' };
const galleryEntry = {
  id: 'job-1-0', jobId: 'job-1', indexInBatch: 0, origin: 'generated', createdAt: '2026-12-01T00:00:00Z', image: rgb, scalePreviews: [rgb],
  tokens: [Int32Array.of(1)], patchNums: [1], tokensModelId: 'embedded', settings: imageSettings, totalMs: 5,
};
const saved = { kind: 'saved', path: '/p/a.png', bytes: 10 };
const loaded = {
  id: 'embedded', name: 'm', title: 'M', description: '', license: 'MIT', resolution: 2, patchNums: [1, 2], vocabSize: 4, classes: ['a', 'b'],
  sampling, previewMethod: 'x', precision: 'int8', precisions: ['fp32', 'int8'], provider: { inUse: 'cpu', requested: 'auto', skipped: [{ provider: 'cuda', reason: 'no libraries' }] },
};

/** One valid and one invalid params/result per request kind; `satisfies` makes a new kind without samples a type error. */
const SAMPLES = {
  'app.info': { params: {}, badParams: { extra: 1 }, result: { version: '1', host: 'browser', modelsDir: '/m' }, badResult: { version: '1', host: 'tv', modelsDir: '/m' } },
  'models.list': {
    params: {}, badParams: { all: true },
    result: { models: [{ id: 'embedded', source: 'embedded', name: 'm', title: 'M', dir: '/m', resolution: 2, classCount: 2, problem: null }] },
    badResult: { models: [{ id: 'embedded', source: 'web', name: 'm', title: 'M', dir: '/m', resolution: 2, classCount: 2, problem: null }] },
  },
  'models.load': { params: { modelId: 'user:a' }, badParams: { modelId: '../a' }, result: loaded, badResult: { ...loaded, vocabSize: 0 } },
  'generate.start': { params: { jobId: 'j', settings }, badParams: { jobId: 'j', settings: { ...settings, batch: 0 } }, result: { jobId: 'j' }, badResult: { jobId: '' } },
  'generate.cancel': { params: { jobId: 'j' }, badParams: { jobId: 'a b' }, result: { cancelled: true }, badResult: { cancelled: 'yes' } },
  'image.export': {
    params: { format: 'png', upscale: 2, kernel: 'nearest', quality: 90, image: rgb, settings: imageSettings, fileName: 'a' },
    badParams: { format: 'gif', upscale: 2, kernel: 'nearest', quality: 90, image: rgb, settings: imageSettings, fileName: 'a' },
    result: saved, badResult: { kind: 'saved', path: '/p/a.png' },
  },
  'image.inspect': {
    params: { fileName: 'a.png', bytes: Uint8Array.of(1) }, badParams: { fileName: 'a.png', bytes: [1] },
    result: { settings: imageSettings, note: 'ok', image: rgb, format: 'png' }, badResult: { settings: null, note: 'ok', image: { ...rgb, width: 3 }, format: 'png' },
  },
  'edit.start': {
    params: {
      jobId: 'e', modelId: 'embedded', operation: 'inpaint', classIndex: null, seed: 3, batch: 2, sampling, feather: 2, image: rgb,
      mask: { width: 2, height: 1, data: Uint8Array.of(0, 255) }, region: { x: 0, y: -1, size: 2 },
    },
    badParams: {
      jobId: 'e', modelId: 'embedded', operation: 'inpaint', classIndex: 4, seed: 3, batch: 2, sampling, feather: 2, image: rgb,
      mask: { width: 2, height: 1, data: Uint8Array.of(0, 255) }, region: { x: 0, y: -1, size: 2 },
    },
    result: { jobId: 'e' }, badResult: {},
  },
  'edit.cancel': { params: { jobId: 'e' }, badParams: {}, result: { cancelled: false }, badResult: { cancelled: 0 } },
  'canvas.open': {
    params: { fileName: 'a.png', bytes: Uint8Array.of(1) }, badParams: { fileName: 5, bytes: Uint8Array.of(1) },
    result: { image: rgb, format: 'png', chain, settingsJson: null, note: '' }, badResult: { image: rgb, format: 'png', chain: { ...chain, version: 3 }, settingsJson: null, note: '' },
  },
  'document.save': {
    params: { meta, mask: Uint8Array.of(1) }, badParams: { meta: { ...meta, docId: 'a/b' }, mask: Uint8Array.of(1) },
    result: { saved: true, imageRev: 0, bytes: 5 }, badResult: { saved: true, imageRev: -1, bytes: 5 },
  },
  'document.restore': {
    params: {}, badParams: { docId: 5 },
    result: { document: { meta, image: Uint8Array.of(1), mask: Uint8Array.of(2) }, problem: null }, badResult: { document: null },
  },
  'document.list': {
    params: {}, badParams: { all: 1 },
    result: { documents: [{ docId: 'doc-a', name: 'a', width: 4, height: 3, steps: 0, savedAt: 'now' }] }, badResult: { documents: [{ docId: 'a/b', name: 'a', width: 4, height: 3, steps: 0, savedAt: 'now' }] },
  },
  'document.discard': { params: { docId: 'doc-a' }, badParams: { docId: 'a/b' }, result: { discarded: true }, badResult: { discarded: null } },
  'document.tabs': {
    params: {}, badParams: { all: 1 },
    result: { tabs: [{ docId: 'doc-a', name: 'a', width: 4, height: 3, unexported: true }], activeDocId: 'doc-a' },
    badResult: { tabs: [{ docId: 'doc-a', name: 'a', width: 4, height: 3 }], activeDocId: 'doc-a' },
  },
  'document.setTabs': {
    params: { tabs: [], activeDocId: null }, badParams: { tabs: [{ docId: '../x', name: 'a', width: 4, height: 3, unexported: false }], activeDocId: null },
    result: { saved: true }, badResult: { saved: 'yes' },
  },
  'document.export': {
    params: { format: 'webp', quality: 80, width: 2, height: 1, image: Uint8Array.of(1), chain, fileName: 'edited' },
    badParams: { format: 'webp', quality: 0, width: 2, height: 1, image: Uint8Array.of(1), chain, fileName: 'edited' },
    result: { kind: 'download', fileName: 'edited.webp', mime: 'image/webp', bytes: Uint8Array.of(1) }, badResult: { kind: 'mail' },
  },
  'models.catalog': {
    params: {}, badParams: { refresh: true },
    result: {
      models: [{
        name: 'var-d16', title: 'VAR-d16', file: 'var_d16.pth', resolution: 256, parameters: 310283520, paramsLabel: '310M', fid: 3.55, licence: 'MIT',
        sampling, downloadBytes: 1679192180, diskNeeded: 3358384360, approximate: false,
        status: { state: 'downloading', file: 'var_d16.pth', received: 10, total: 100, percent: 10, rate: 5e6, eta: null },
      }],
      modelsDir: '/m', source: 'https://huggingface.co/FoundationVision/var/resolve/x', localFiles: [{ file: 'tuned.safetensors', bytes: 5 }], freeBytes: 12e9,
    },
    badResult: { models: [], modelsDir: '/m', source: 's', localFiles: [{ file: '../etc/passwd', bytes: 5 }], freeBytes: null },
  },
  'models.pull': { params: { name: 'var-d16' }, badParams: { name: 'VAR D16' }, result: { status: { state: 'queued' } }, badResult: { status: { state: 'done' } } },
  'models.pause': {
    params: { name: 'var-d16' }, badParams: {}, result: { status: { state: 'paused', received: 1, total: 2, percent: 50 } },
    badResult: { status: { state: 'paused', received: 1, total: 2, percent: 150 } },
  },
  'models.cancel': { params: { name: 'var-d16' }, badParams: { name: '' }, result: { status: { state: 'not-downloaded' } }, badResult: { status: null } },
  'models.remove': {
    params: { name: 'var-d16', purgeShared: true }, badParams: { name: 'var-d16', purgeShared: 'yes' },
    result: { removed: ['/m/var-d16'], keptShared: '/m/.downloads/vae_ch160v4096z32.pth' }, badResult: { removed: '/m/var-d16', keptShared: null },
  },
  'models.removePlan': {
    params: { name: 'var-d16' }, badParams: { name: 'var-d16', purgeShared: 1 },
    result: { items: [{ path: '/m/var-d16', what: 'model bundle', bytes: 1_700_000_000 }], bytes: 1_700_000_000, keptShared: null },
    badResult: { items: [{ path: '/m/var-d16', what: 'model bundle', bytes: -1 }], bytes: 0, keptShared: null },
  },
  'models.importDialog': {
    params: {}, badParams: { varFile: '/etc/passwd' },
    result: { imported: { name: 'tuned', dir: '/m/tuned' } }, badResult: { imported: { name: 'Tuned Model', dir: '/m/tuned' } },
  },
  'models.import': {
    params: { varFile: 'tuned.safetensors', vaeFile: 'vae.pth' }, badParams: { varFile: 'a/../../b.pth', vaeFile: 'vae.pth' },
    result: { name: 'tuned', dir: '/m/tuned' }, badResult: { name: 'Tuned Model', dir: '/m/tuned' },
  },
  'gallery.list': {
    params: { offset: 0, limit: 50 }, badParams: { offset: 0, limit: 51 },
    result: { entries: [galleryEntry], total: 1 }, badResult: { entries: [{ ...galleryEntry, origin: 'web' }], total: 1 },
  },
  'gallery.add': { params: { entries: [galleryEntry] }, badParams: { entries: [] }, result: { stored: 1 }, badResult: { stored: -1 } },
  'gallery.delete': { params: { ids: ['job-1-0'] }, badParams: { ids: ['../x'] }, result: { deleted: 1 }, badResult: {} },
  'gallery.clear': { params: {}, badParams: { all: 1 }, result: { deleted: 0 }, badResult: { deleted: 'all' } },
  'image.encode': {
    params: { modelId: 'embedded', image: rgb }, badParams: { modelId: 'embedded', image: { ...rgb, height: 2 } },
    result: { tokens: [Int32Array.of(1)], patchNums: [1] }, badResult: { tokens: [], patchNums: [1] },
  },
} satisfies Record<RequestKind, { params: unknown; badParams: unknown; result: unknown; badResult: unknown }>;

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ContractError);
    return (e as Error).message;
  }
  throw new Error('expected a ContractError');
}

describe('request params', () => {
  it('accepts a valid generate.start and returns it typed', () => {
    const p = parseParams('generate.start', { jobId: 'job-1', settings });
    expect(p.settings.seed).toBe(42);
  });
  it.each([
    [{ ...settings, sampling: { ...sampling, topP: 3 } }, 'params.settings.sampling.topP'],
    [{ ...settings, seed: -1 }, 'params.settings.seed'],
    [{ ...settings, seed: 2 ** 32 }, 'params.settings.seed'],
    [{ ...settings, batch: 0 }, 'params.settings.batch'],
    [{ ...settings, sampling: { ...sampling, cfg: Number.NaN } }, 'params.settings.sampling.cfg'],
    [{ ...settings, sampling: { ...sampling, cfg: 51 } }, 'params.settings.sampling.cfg'],
    [{ ...settings, batch: 17 }, 'params.settings.batch'],
    [{ ...settings, classIndex: 1.5 }, 'params.settings.classIndex'],
    [{ ...settings, extra: 1 }, 'params.settings.extra'],
    [{ ...settings, modelId: '../../etc' }, 'params.settings.modelId'],
    [{ ...settings, prefix: { fromScale: 2, tokens: [new Int32Array(1)] } }, 'params.settings.prefix'],
    [{ ...settings, prefix: { fromScale: 1, tokens: [[0]] } }, 'params.settings.prefix.tokens[0]'],
    [{ ...settings, prefix: { fromScale: 1, tokens: [Int32Array.of(-1)] } }, 'params.settings.prefix.tokens[0][0]'],
  ])('rejects %o naming %s', (bad, path) => {
    expect(problem(() => parseParams('generate.start', { jobId: 'job-1', settings: bad }))).toContain(path);
  });
  it('rejects a missing field, a wrong type and an RGB buffer of the wrong size', () => {
    const { topK: _omit, ...missing } = sampling;
    expect(problem(() => parseParams('generate.start', { jobId: 'j', settings: { ...settings, sampling: missing } }))).toContain('params.settings.sampling.topK');
    expect(problem(() => parseParams('models.load', { modelId: 5 }))).toContain('params.modelId');
    const image = { width: 2, height: 2, data: new Uint8Array(11) };
    expect(problem(() => parseParams('image.inspect', { fileName: 'a.png', bytes: [1, 2] }))).toContain('params.bytes');
    expect(problem(() => parseEvent({ type: 'job.scale', jobId: 'j', index: 0, patch: 1, previews: [image], tokens: [new Int32Array(1)], elapsedMs: 1 }))).toContain('width·height·3');
  });
  it('only allows the upscale factors the UI offers', () => {
    const image = { width: 1, height: 1, data: new Uint8Array(3) };
    const s: ImageSettings = { format: 'var-studio-settings', version: 2, model: { id: 'embedded', name: 'm', title: 'M', resolution: 1 }, classIndex: null, resolvedClassIndex: 0, className: 'a', seed: 1, sampling: { cfg: 1, topK: 0, topP: 1, moreSmooth: false }, createdAt: 'now' };
    const base = { format: 'png', kernel: 'nearest', quality: 90, image, settings: s, fileName: 'x' };
    expect(parseParams('image.export', { ...base, upscale: 4 }).upscale).toBe(4);
    expect(problem(() => parseParams('image.export', { ...base, upscale: 3 }))).toContain('params.upscale');
    expect(problem(() => parseParams('image.export', { ...base, upscale: 2, fileName: '../x' }))).toContain('params.fileName');
  });
  it('has a params and a result schema for every kind: a valid sample round-trips, an invalid one is refused', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...requestKinds].sort());
    for (const kind of requestKinds) {
      const c = SAMPLES[kind];
      expect(parseParams(kind, c.params), `${kind} params`).toEqual(c.params);
      expect(parseResult(kind, c.result), `${kind} result`).toEqual(c.result);
      expect(problem(() => parseParams(kind, c.badParams)), `${kind} bad params`).toMatch(/^params/);
      expect(problem(() => parseResult(kind, c.badResult)), `${kind} bad result`).toMatch(/^result/);
    }
  });
});

describe('wire codec', () => {
  it('round-trips typed arrays exactly through JSON', () => {
    const value = { a: new Uint8Array([0, 1, 2, 255, 7]), b: [Int32Array.of(-5, 0, 2 ** 31 - 1)], c: 'x' };
    const back = decodeWire(encodeWire(value)) as typeof value;
    expect(back.a).toEqual(value.a);
    expect(back.b[0]).toEqual(value.b[0]);
    expect(back.c).toBe('x');
  });
  it('encodes a Node Buffer as bytes (not as its toJSON form)', () => {
    const back = decodeWire(encodeWire({ bytes: Buffer.from([1, 2, 3]) })) as { bytes: Uint8Array };
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect([...back.bytes]).toEqual([1, 2, 3]);
  });
    it('base64 matches Node for every length remainder', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 73 + n) & 255);
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      expect([...fromBase64(toBase64(bytes), 'x')]).toEqual([...bytes]);
    }
  });
  it('rejects garbage, prototype keys and deep nesting', () => {
    expect(problem(() => decodeWire('not json'))).toContain('JSON text');
    expect(problem(() => decodeWire('{"__proto__":{"x":1}}'))).toContain('__proto__');
    expect(problem(() => decodeWire('{"$u8":"@@@@"}'))).toContain('base64');
    expect(problem(() => decodeWire('['.repeat(100) + ']'.repeat(100)))).toContain('nesting');
  });
  it('validates request envelopes and result shapes per kind', () => {
    expect(parseWireRequest({ t: 'req', id: 3, kind: 'app.info', params: {} }).kind).toBe('app.info');
    expect(problem(() => parseWireRequest({ t: 'req', id: 3, kind: 'fs.write', params: {} }))).toContain('message.kind');
    expect(problem(() => parseWireRequest({ t: 'req', id: 0, kind: 'app.info', params: {} }))).toContain('message.id');
    expect(problem(() => parseWireMessage({ t: 'res', id: 1, ok: true, result: { version: 1 } }, () => 'app.info'))).toContain('result.version');
    expect(problem(() => parseWireMessage({ t: 'res', id: 1, ok: true, result: {} }, () => undefined))).toContain('pending request');
  });
});

describe('embedded settings JSON', () => {
  it('round-trips, including the kept tokens of a vary', () => {
    const s: ImageSettings = {
      format: 'var-studio-settings', version: 2, model: { id: 'embedded', name: 'fashion', title: 'Fashion', resolution: 32 },
      classIndex: null, resolvedClassIndex: 4, className: 'Coat', seed: 4294967295, sampling: { cfg: 2.5, topK: 600, topP: 0.96, moreSmooth: true },
      prefix: { fromScale: 2, tokens: [Int32Array.of(5), Int32Array.of(1, 2, 3, 4)] }, createdAt: '2026-01-01T00:00:00.000Z',
    };
    const text = settingsToJson(s);
    expect(text).toContain('"tokens":[[5],[1,2,3,4]]');
    const back = settingsFromJson(text);
    expect(back).toEqual(s);
    expect(() => settingsFromJson(text.replace('"seed":4294967295', '"seed":-4'))).toThrow(/settings\.seed/);
  });
  it('reads a version 1 record (sampling flat at the top level, as written before it was nested)', () => {
    const v1 = '{"format":"var-studio-settings","version":1,"model":{"id":"embedded","name":"fashion","title":"Fashion","resolution":32},' +
      '"classIndex":3,"resolvedClassIndex":3,"className":"Dress","seed":7,"cfg":2,"topK":16,"topP":0.9,"moreSmooth":true,' +
      '"prefix":{"fromScale":1,"tokens":[[9]]},"createdAt":"2026-01-01T00:00:00.000Z"}';
    const s = settingsFromJson(v1);
    expect(s.version).toBe(2);
    expect(s.sampling).toEqual({ cfg: 2, topK: 16, topP: 0.9, moreSmooth: true });
    expect(s.prefix?.tokens).toEqual([Int32Array.of(9)]);
    expect(settingsFromJson(settingsToJson(s))).toEqual(s);
    expect(() => settingsFromJson(v1.replace('"topP":0.9', '"topP":9'))).toThrow(/settings\.sampling\.topP/);
    expect(() => settingsFromJson(v1.replace('"version":1', '"version":3'))).toThrow(ContractError); // only version 1 is upgraded
  });
});
