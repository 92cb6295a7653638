/** Shared helpers of the engine unit tests. */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '../../..');
export const TINY_BUNDLE = join(REPO, 'tests/fixtures/tiny/bundle');
export const TINY_FIXTURES = join(REPO, 'tests/fixtures/tiny');

/** A scratch copy of the tiny bundle; returns its folder and a cleanup function. */
export function copyTinyBundle(): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'var-engine-test-'));
  const dir = join(root, 'bundle');
  cpSync(TINY_BUNDLE, dir, { recursive: true });
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export function editManifest(dir: string, edit: (m: Record<string, any>) => void): void {
  const path = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8'));
  edit(m);
  writeFileSync(path, JSON.stringify(m, null, 1));
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/**
 * Adds a variants fixture (graph files + variants.json = { variants, files }, as tools/quantize_bundle.py records
 * them) to a bundle copy, under graphs.<graph>.variants.
 */
export function addVariantFixture(dir: string, fixture: string, graph: 'transformer' | 'decoder'): void {
  for (const f of readdirSync(fixture)) if (f !== 'variants.json') cpSync(join(fixture, f), join(dir, f));
  const extra = readJson(join(fixture, 'variants.json'));
  editManifest(dir, (m) => {
    m.graphs[graph].variants = extra.variants;
    Object.assign(m.files, extra.files);
  });
}
