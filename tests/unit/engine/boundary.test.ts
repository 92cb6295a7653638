import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers';

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

/** Module specifiers of static imports, re-exports, dynamic imports and require calls. */
function specifiers(code: string): string[] {
  const re = /(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;
  const out: string[] = [];
  for (const m of code.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
  return out;
}

describe('engine boundary (no Electron, no DOM in src/engine and src/shared: they run in plain Node)', () => {
  const files = [...sourceFiles(join(REPO, 'src/engine')), ...sourceFiles(join(REPO, 'src/shared'))];

  it('finds the engine sources', () => {
    expect(files.some((f) => f.endsWith('src/engine/index.ts'))).toBe(true);
  });

  it('the import scanner itself recognises every import form', () => {
    const code = `import a from 'electron';\nimport { b } from "electron/main";\nexport * from 'x';\nimport 'side';\nconst c = await import('electron');\nconst d = require('electron');`;
    expect(specifiers(code)).toEqual(['electron', 'electron/main', 'x', 'side', 'electron', 'electron']);
  });

  it('no file of src/engine or src/shared imports electron (or a renderer/main module)', () => {
    const offenders: string[] = [];
    for (const f of files) {
      for (const s of specifiers(readFileSync(f, 'utf8'))) {
        if (s === 'electron' || s.startsWith('electron/') || /(^|\/)(renderer|main|preload)(\/|$)/.test(s)) {
          offenders.push(`${relative(REPO, f)} imports '${s}'`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('src/engine, src/cli and bench type-check with lib ES2023 and Node types only (no DOM globals)', () => {
    // tsconfig.engine.json has "lib": ["ES2023"], so any use of window/document/HTMLCanvasElement fails here.
    const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.engine.json')], { cwd: REPO, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      output = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(output).toBe('');
  }, 120_000);
});
