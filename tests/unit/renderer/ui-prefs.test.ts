// The page's remembered layout: the workspace it opens on and the dismissed first-start hint.
import { describe, expect, it } from 'vitest';
import { UiPrefsStore, sanitizeUiPrefs, startWorkspace } from '../../../src/renderer/lib/state/ui-prefs';

function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), data };
}

const IDS = ['generate', 'canvas', 'models'];

describe('UiPrefsStore', () => {
  it('a first start opens on Generate with the hint; what changed is there for the next page on the same storage', () => {
    const storage = memoryStorage();
    const first = new UiPrefsStore(storage);
    expect(first.get()).toEqual({ lastWorkspace: null, modelsHintDismissed: false, variantHintModels: [] });
    expect(startWorkspace(first.get(), IDS)).toBe('generate');
    first.update({ lastWorkspace: 'models' });
    first.update({ modelsHintDismissed: true });
    const next = new UiPrefsStore(storage);
    expect(next.get()).toEqual({ lastWorkspace: 'models', modelsHintDismissed: true, variantHintModels: [] });
    expect(startWorkspace(next.get(), IDS)).toBe('models');
  });

  it('a removed workspace, a broken entry or no storage at all falls back to the defaults', () => {
    expect(startWorkspace({ lastWorkspace: 'gallery-v0', modelsHintDismissed: false, variantHintModels: [] }, IDS)).toBe('generate');
    expect(new UiPrefsStore(memoryStorage({ 'var-studio.ui': '{not json' })).get()).toEqual({ lastWorkspace: null, modelsHintDismissed: false, variantHintModels: [] });
    expect(sanitizeUiPrefs({ lastWorkspace: 42, modelsHintDismissed: 'yes', variantHintModels: 'user:x' })).toEqual({ lastWorkspace: null, modelsHintDismissed: false, variantHintModels: [] });
    const many = Array.from({ length: 130 }, (_, i) => `user:m${i}`);
    expect(sanitizeUiPrefs({ variantHintModels: [...many, 7] }).variantHintModels).toEqual(many.slice(-100));
    const none = new UiPrefsStore(null);
    none.update({ lastWorkspace: 'canvas' });
    expect(none.get().lastWorkspace).toBe('canvas');
  });

  it('a storage that refuses writes (full, blocked) costs only the memory', () => {
    const store = new UiPrefsStore({ getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); } });
    expect(() => store.update({ modelsHintDismissed: true })).not.toThrow();
    expect(store.get().modelsHintDismissed).toBe(true);
  });
});
