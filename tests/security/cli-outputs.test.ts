// Review findings 6 and 7: the CLI writes only formats it really writes, and a failed batch leaves no
// partial results (every target stays as it was).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tinyBundle, tmp } from './helpers';

const REPO = path.resolve(import.meta.dirname, '..', '..');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'var-studio.mjs'), ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stderr: r.stderr };
}
const generate = ['generate', '--model', tinyBundle, '--provider', 'cpu', '--threads', '1', '--class', '1', '--seed', '3'];

describe('finding 7: output extensions', () => {
  it('an extension the CLI does not write (or none) is a usage error and nothing is written', () => {
    const dir = tmp('cli-ext');
    for (const name of ['x.xyz', 'x.gif', 'noext']) {
      const r = cli(...generate, '--out', path.join(dir, name));
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(/--out .*\.png, \.jpg, \.jpeg or \.webp/);
    }
    expect(readdirSync(dir)).toEqual([]);
  }, 120_000);

  it('.jpg and .webp are written in that format for real', () => {
    const dir = tmp('cli-ext');
    expect(cli(...generate, '--out', path.join(dir, 'x.jpg')).code).toBe(0);
    expect([...readFileSync(path.join(dir, 'x.jpg')).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(cli(...generate, '--out', path.join(dir, 'x.webp')).code).toBe(0);
    const webp = readFileSync(path.join(dir, 'x.webp'));
    expect([webp.subarray(0, 4).toString('latin1'), webp.subarray(8, 12).toString('latin1')]).toEqual(['RIFF', 'WEBP']);
  }, 120_000);
});

describe('finding 6: a failed batch leaves no partial files', () => {
  it('when out-1.png cannot be written, out-0.png is not left behind and an existing one is kept as it was', () => {
    const dir = tmp('cli-batch');
    mkdirSync(path.join(dir, 'out-1.png')); // a folder where the second image should go
    const r = cli(...generate, '--batch', '2', '--out', path.join(dir, 'out.png'));
    expect(r.code).not.toBe(0);
    expect(existsSync(path.join(dir, 'out-0.png'))).toBe(false);
    writeFileSync(path.join(dir, 'out-0.png'), 'previous');
    expect(cli(...generate, '--batch', '2', '--out', path.join(dir, 'out.png')).code).not.toBe(0);
    expect(readFileSync(path.join(dir, 'out-0.png'), 'utf8')).toBe('previous');
    expect(readdirSync(dir).sort()).toEqual(['out-0.png', 'out-1.png']);
  }, 120_000);

  it('when --tokens-out cannot be written, the images are not left behind', () => {
    const dir = tmp('cli-batch');
    mkdirSync(path.join(dir, 'tokens.json'));
    const r = cli(...generate, '--out', path.join(dir, 'img.png'), '--tokens-out', path.join(dir, 'tokens.json'));
    expect(r.code).not.toBe(0);
    expect(readdirSync(dir)).toEqual(['tokens.json']);
  }, 120_000);
});

describe('output paths that cannot be written are one clear line naming the flag', () => {
  /** exit 2, one "var-studio: error:" line that says what is wrong, no raw system error, no stack. */
  function refused(args: string[], what: RegExp) {
    const r = cli(...args);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('\r') && l.includes('error'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^var-studio: error: /);
    expect(lines[0]).toMatch(what);
    expect(lines[0]).not.toMatch(/^var-studio: error: E[A-Z]+:/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }

  it('--out or --tokens-out under a file, or naming a folder; a batch file that is a folder; a name too long', () => {
    const dir = tmp('cli-paths');
    const file = path.join(dir, 'some.png');
    writeFileSync(file, 'an image');
    mkdirSync(path.join(dir, 'folder.png'));
    refused([...generate, '--out', path.join(file, 'x.png')], /--out .* cannot be created: .*some\.png is a file, not a folder; choose/);
    refused([...generate, '--out', path.join(file, 'deeper', 'x.png')], /--out .*some\.png is a file, not a folder/);
    refused([...generate, '--out', path.join(dir, 'ok.png'), '--tokens-out', path.join(file, 't.json')], /--tokens-out .*some\.png is a file, not a folder/);
    refused([...generate, '--out', path.join(dir, 'folder.png')], /--out .*folder\.png" is a folder; name a file inside it/);
    mkdirSync(path.join(dir, 'b-1.png'));
    refused([...generate, '--batch', '2', '--out', path.join(dir, 'b.png')], /--out .*b-1\.png" is a folder/);
    refused([...generate, '--out', path.join(dir, `${'n'.repeat(300)}.png`)], /--out .*: the file name is too long \(ENAMETOOLONG\); nothing was written/);
    refused(['edit', '--model', tinyBundle, '--image', file, '--mask', file, '--out', path.join(file, 'e.png')], /--out .*some\.png is a file, not a folder/);
    // nothing was written anywhere, and the file in the way is untouched
    expect(readdirSync(dir).sort()).toEqual(['b-1.png', 'folder.png', 'some.png']);
    expect(readFileSync(file, 'utf8')).toBe('an image');
  }, 240_000);

  it.runIf(process.getuid?.() !== 0)('--out in a folder this user cannot write to', () => {
    const dir = tmp('cli-paths');
    mkdirSync(path.join(dir, 'locked'), { mode: 0o555 });
    refused([...generate, '--out', path.join(dir, 'locked', 'x.png')], /--out .*the folder .*locked is not writable by this user; choose a folder you can write to/);
  }, 120_000);
});
