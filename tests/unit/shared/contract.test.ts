import { describe, expect, it } from 'vitest';
import { ContractError } from '../../../src/shared/schema';
import { parseEvent, parseParams, parseResult, requestKinds } from '../../../src/shared/contract';
import { decodeWire, encodeWire, fromBase64, parseWireMessage, parseWireRequest, toBase64 } from '../../../src/shared/wire';
import { settingsFromJson, settingsToJson } from '../../../src/shared/settings';
import type { ImageSettings } from '../../../src/shared/contract';

const sampling = { cfg: 1.5, topK: 100, topP: 0.95, moreSmooth: false };
const settings = { modelId: 'embedded', classIndex: 3, seed: 42, batch: 2, sampling };

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
  it('has a schema for every kind', () => {
    expect(requestKinds).toEqual(expect.arrayContaining(['app.info', 'models.list', 'models.load', 'generate.start', 'generate.cancel', 'image.export', 'image.inspect']));
    expect(parseResult('app.info', { version: '1', host: 'browser', modelsDir: '/m' }).host).toBe('browser');
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
