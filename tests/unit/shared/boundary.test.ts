// Process boundaries, enforced: the renderer reaches its host only through the Studio
// interface, so it may import src/shared and itself — never Node, Electron, the engine or the server.
// src/shared runs everywhere, so it imports only itself. The preload imports only 'electron'.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (/\.(ts|svelte)$/.test(name) && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

function outside(file: string, spec: string, allowedDirs: string[]): boolean {
  if (!spec.startsWith('.')) return true;
  const target = path.resolve(path.dirname(file), spec);
  return !allowedDirs.some((d) => target === d || target.startsWith(d + path.sep));
}

describe('import boundaries', () => {
  it('the renderer imports only itself, src/shared, svelte and konva', () => {
    const allowed = [path.join(root, 'src', 'renderer'), path.join(root, 'src', 'shared')];
    const bad: string[] = [];
    for (const f of sources(path.join(root, 'src', 'renderer'))) {
      for (const spec of imports(f)) {
        const pkgOk = /^(svelte|konva|svelte-konva)(\/|$)/.test(spec);
        if (spec.startsWith('.') ? outside(f, spec, allowed) : !pkgOk) bad.push(`${path.relative(root, f)} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('src/shared imports only itself', () => {
    const bad: string[] = [];
    for (const f of sources(path.join(root, 'src', 'shared')))
      for (const spec of imports(f)) if (outside(f, spec, [path.join(root, 'src', 'shared')])) bad.push(`${path.relative(root, f)} → ${spec}`);
    expect(bad).toEqual([]);
  });

  it('the preload imports only electron', () => {
    for (const f of sources(path.join(root, 'src', 'preload'))) expect(imports(f)).toEqual(['electron']);
  });
});
