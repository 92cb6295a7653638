// The import rules of src/, as one table checked by one scanner over every .ts and .svelte file (static,
// re-export, side-effect and dynamic imports, require). Each part names the parts and packages it may use;
// node:* builtins are a package like any other. The server stands on the host alone (it needs nothing of the
// engine that the host does not already offer), so it gets no engine arrow.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');
const src = path.join(root, 'src');

type Part = 'engine' | 'shared' | 'host' | 'main' | 'preload' | 'server' | 'cli' | 'renderer';

interface Rule {
  parts: Part[];
  /** Package names (or prefixes ending in '*') it may import. */
  packages: string[];
  /** Imports of our parts must be `import type` (erased from the build). */
  typeOnly?: boolean;
}

const RULES: Record<Part, Rule> = {
  engine: { parts: [], packages: ['node:*', 'onnxruntime-node', 'yauzl'] }, // yauzl: the .pth zip's central directory
  shared: { parts: [], packages: [] },
  host: { parts: ['engine', 'shared'], packages: ['node:*', 'sharp', 'png-chunk*', 'undici', 'yazl', 'bullmq', 'ioredis', 'tsx/esm/api'] }, // tsx: only the worker's bootstrap when running from TypeScript sources (dev, tests)
  main: { parts: ['host', 'shared'], packages: ['node:*', 'electron'] },
  server: { parts: ['host', 'shared'], packages: ['node:*', 'ws'] },
  cli: { parts: ['engine', 'host', 'shared'], packages: ['node:*'] },
  renderer: { parts: ['shared'], packages: ['svelte', 'svelte/*', 'konva', 'konva/*', 'svelte-konva'] },
  preload: { parts: ['shared'], packages: ['electron'], typeOnly: true },
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (/\.(ts|mts|svelte)$/.test(name)) out.push(full);
  }
  return out;
}

interface Import { spec: string; typeOnly: boolean }

/** Every module specifier of a file, and whether the statement is type-only (`import type` / `export type`). */
function importsOf(code: string): Import[] {
  // a side-effect import starts a statement (so a string like 'models.import' is not one)
  const re = /\b(import|export)\s+(type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|(?:^|[;{}])\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/gm;
  return [...code.matchAll(re)].map((m) => ({ spec: m[3] ?? m[4] ?? m[5] ?? m[6], typeOnly: Boolean(m[3] && m[2]) }));
}

function partOf(file: string): string | null {
  const rel = path.relative(src, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep)[0];
}

function packageAllowed(spec: string, allowed: string[]): boolean {
  return allowed.some((a) => (a.endsWith('*') ? spec.startsWith(a.slice(0, -1)) : spec === a));
}

/** What is wrong with one import of `file` (in part `from`), or null. */
function violation(file: string, from: Part, imp: Import): string | null {
  const rule = RULES[from];
  if (!imp.spec.startsWith('.')) return packageAllowed(imp.spec, rule.packages) ? null : `package '${imp.spec}'`;
  const target = partOf(path.resolve(path.dirname(file), imp.spec));
  if (target === null) return `'${imp.spec}' outside src/`;
  if (target === from) return null;
  if (!rule.parts.includes(target as Part)) return `${from} → ${target} ('${imp.spec}')`;
  if (rule.typeOnly && !imp.typeOnly) return `${from} → ${target} must be 'import type' ('${imp.spec}')`;
  return null;
}

/** Browser globals. The node config also holds the browser e2e tests (lib "dom" for their page code), so the
 * type checker alone would not catch these in a Node part. */
const DOM_GLOBALS = /\b((window|document|navigator|localStorage)\s*\.|HTML[A-Za-z]*Element\b|ImageData\b|OffscreenCanvas\b|requestAnimationFrame\b)/;

/** The code without comments and string contents (so words in messages do not count). */
function codeOnly(code: string): string {
  return code
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''")
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
}

describe('layering: one rule table over all of src/', () => {
  it('every folder of src/ has a rule', () => {
    const folders = readdirSync(src).filter((n) => statSync(path.join(src, n)).isDirectory()).sort();
    expect(folders).toEqual(Object.keys(RULES).sort());
  });

  it('the scanner sees every import form, type-only ones marked', () => {
    const code = [
      "import a from 'electron';", 'import { b } from "../x/y";', "export * from './z';", "import 'side';",
      "const c = await import('../../bench/bench');", "const d = require('ws');", "import type { T } from '../shared/t';",
      "export type { U } from '../shared/u';", "import { type V } from '../shared/v';", "const k = 'models.import'; x('import', 'y');",
    ].join('\n');
    expect(importsOf(code)).toEqual([
      { spec: 'electron', typeOnly: false }, { spec: '../x/y', typeOnly: false }, { spec: './z', typeOnly: false },
      { spec: 'side', typeOnly: false }, { spec: '../../bench/bench', typeOnly: false }, { spec: 'ws', typeOnly: false },
      { spec: '../shared/t', typeOnly: true }, { spec: '../shared/u', typeOnly: true }, { spec: '../shared/v', typeOnly: false },
    ]);
  });

  it('a forbidden arrow is reported (the check can fail)', () => {
    const file = path.join(src, 'main', 'x.ts');
    expect(violation(file, 'main', { spec: '../server/server', typeOnly: false })).toBe("main → server ('../server/server')");
    expect(violation(file, 'main', { spec: '../../bench/bench', typeOnly: false })).toBe("'../../bench/bench' outside src/");
    expect(violation(path.join(src, 'preload', 'i.ts'), 'preload', { spec: '../shared/bridge', typeOnly: false })).toMatch(/must be 'import type'/);
    expect(violation(path.join(src, 'engine', 'e.ts'), 'engine', { spec: 'electron', typeOnly: false })).toBe("package 'electron'");
  });

  it('every import of every .ts and .svelte file of src/ follows the table', () => {
    const bad: string[] = [];
    const files = sources(src);
    expect(files.some((f) => f.endsWith('.svelte'))).toBe(true);
    for (const file of files) {
      const from = partOf(file) as Part;
      for (const imp of importsOf(readFileSync(file, 'utf8'))) {
        const v = violation(file, from, imp);
        if (v) bad.push(`${path.relative(root, file)}: ${v}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('no Node part uses browser globals (only the renderer runs in a page)', () => {
    const bad: string[] = [];
    for (const file of sources(src)) {
      if (partOf(file) === 'renderer') continue;
      const m = DOM_GLOBALS.exec(codeOnly(readFileSync(file, 'utf8')));
      if (m) bad.push(`${path.relative(root, file)}: ${m[0]}`);
    }
    expect(bad).toEqual([]);
    expect(DOM_GLOBALS.test(codeOnly('const w = window.innerWidth;'))).toBe(true);
    expect(DOM_GLOBALS.test(codeOnly("const f = 'document.json'; // window.x"))).toBe(false);
  });
});
