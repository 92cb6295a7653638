// The settings of two compared images, row by row, with the rows that differ marked.
import type { GalleryEntryMsg } from '../../../shared/contract';

export interface SettingRow { label: string; a: string; b: string; differs: boolean }

function describe(e: GalleryEntryMsg): Record<string, string> {
  const s = e.settings;
  if (!s) return { Source: e.fileName ?? 'opened file', Model: '—', Class: '—', Seed: '—', cfg: '—', 'top-k': '—', 'top-p': '—', 'More smooth': '—', 'Varied from': '—' };
  return {
    Source: e.origin === 'opened' ? (e.fileName ?? 'opened file') : 'generated',
    Model: s.model.title,
    Class: `${s.resolvedClassIndex} · ${s.className}${s.classIndex === null ? ' (random)' : ''}`,
    Seed: String(s.seed),
    cfg: String(s.sampling.cfg),
    'top-k': String(s.sampling.topK),
    'top-p': String(s.sampling.topP),
    'More smooth': s.sampling.moreSmooth ? 'on' : 'off',
    'Varied from': s.prefix ? `scale ${s.prefix.fromScale}` : '—',
  };
}

export function settingRows(a: GalleryEntryMsg, b: GalleryEntryMsg): SettingRow[] {
  const da = describe(a);
  const db = describe(b);
  return Object.keys(da).map((label) => ({ label, a: da[label], b: db[label], differs: da[label] !== db[label] }));
}
