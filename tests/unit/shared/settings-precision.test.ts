import { describe, expect, it } from 'vitest';
import type { ImageSettings } from '../../../src/shared/contract';
import { ContractError } from '../../../src/shared/schema';
import { describePrecisions, precisionDifferences, precisionMismatchNote, settingsFromJson, settingsToJson } from '../../../src/shared/settings';

const base: ImageSettings = {
  format: 'var-studio-settings', version: 2, model: { id: 'embedded', name: 'fashion', title: 'Fashion', resolution: 32 },
  classIndex: 3, resolvedClassIndex: 3, className: 'Dress', seed: 7, sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false }, createdAt: '2026-01-01T00:00:00.000Z',
};

describe('the precision in a settings record', () => {
  it('round-trips the precision of each graph', () => {
    const s: ImageSettings = { ...base, precision: { transformer: 'dq8', fhatStep: 'fp32', encoder: 'fp32', decoder: 'int8', preview: 'fp32' } };
    const text = settingsToJson(s);
    expect(JSON.parse(text).precision).toEqual({ transformer: 'dq8', fhatStep: 'fp32', encoder: 'fp32', decoder: 'int8', preview: 'fp32' });
    expect(settingsFromJson(text)).toEqual(s);
  });
  it('opens records without a precision (version 2 and version 1), read as fp32 everywhere', () => {
    expect(settingsFromJson(settingsToJson(base)).precision).toBeUndefined();
    const v1 = '{"format":"var-studio-settings","version":1,"model":{"id":"embedded","name":"fashion","title":"Fashion","resolution":32},' +
      '"classIndex":3,"resolvedClassIndex":3,"className":"Dress","seed":7,"cfg":2,"topK":16,"topP":0.9,"moreSmooth":false,"createdAt":"2026-01-01T00:00:00.000Z"}';
    const old = settingsFromJson(v1);
    expect(old.precision).toBeUndefined();
    expect(precisionDifferences(old.precision, { transformer: 'fp32', decoder: 'fp32' })).toEqual([]);
    expect(precisionDifferences(old.precision, { transformer: 'dq8', decoder: 'fp32' })).toEqual([{ graph: 'transformer', recorded: 'fp32', running: 'dq8' }]);
  });
  it('refuses an unknown precision or graph', () => {
    const text = settingsToJson({ ...base, precision: { transformer: 'dq8' } });
    expect(() => settingsFromJson(text.replace('"dq8"', '"q3"'))).toThrow(/settings\.precision\.transformer/);
    expect(() => settingsFromJson(text.replace('"transformer"', '"transformer":"fp32","vae"'))).toThrow(ContractError);
  });
});

describe('precision differences and their notice', () => {
  it('names the transformer, and other graphs only when they are not fp32', () => {
    expect(describePrecisions({ transformer: 'dq8', decoder: 'fp32', fhatStep: 'fp32' })).toBe('dq8');
    expect(describePrecisions({ transformer: 'dq8', decoder: 'int8' })).toBe('dq8 · decoder int8');
    expect(describePrecisions(undefined)).toBe('fp32');
  });
  it('ignores the preview graph (it never draws the final image) and agrees on equal precisions', () => {
    expect(precisionMismatchNote({ transformer: 'dq8', preview: 'int8' }, { transformer: 'dq8', decoder: 'fp32', preview: 'fp32' })).toBeNull();
    expect(precisionDifferences({ transformer: 'fp32', decoder: 'int8' }, { transformer: 'fp32', decoder: 'fp32' })).toEqual([{ graph: 'decoder', recorded: 'int8', running: 'fp32' }]);
  });
  it('says what the image was made with and what runs here', () => {
    expect(precisionMismatchNote({ transformer: 'dq8', decoder: 'fp32' }, { transformer: 'fp32', decoder: 'fp32' }))
      .toBe('Made with dq8; the model runs fp32 here, so the image will differ.');
  });
});
