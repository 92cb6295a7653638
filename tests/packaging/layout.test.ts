// electron-builder's own layout step (--dir) on the built out/, with a STAND-IN Electron distribution (a
// script carrying Electron's fuse wire; the real binary cannot be downloaded here). Asserts what a user's
// machine gets: native modules and their libraries outside the asar, the embedded model and resources beside
// it, no development files inside, the fuses flipped. Prints the total size.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { beforeAll, describe, expect, it } from 'vitest';
import { fork } from 'node:child_process';
import { ROOT, ensureBuilt } from './built-app';

/** The module specifiers a built ES module imports, statically or dynamically. */
function importsOf(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.add((m[1] ?? m[2] ?? m[3])!);
  return [...found];
}

/** The package a bare specifier names: 'sharp', '@img/x' (subpaths dropped); null for node: built-ins. */
function packageOf(spec: string): string | null {
  if (spec.startsWith('node:')) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const run = promisify(execFile);
const require = createRequire(import.meta.url);
// electron-builder's own asar reader (a dependency of electron-builder).
const asar = require('@electron/asar') as {
  listPackage(archive: string, opts: { isPack: boolean }): string[];
  extractAll(archive: string, dest: string): void;
  extractFile(archive: string, file: string): Buffer;
  statFile(archive: string, file: string): { unpacked?: boolean };
};

const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const ELECTRON_DEFAULT_WIRE = '101100011'; // Electron's defaults: RunAsNode on, NODE_OPTIONS on, inspect on, file:// privileges on …
const work = mkdtempSync(path.join(os.tmpdir(), 'var-pack-'));
const builder = path.join(ROOT, 'node_modules', '.bin', 'electron-builder');
let unpackedDir = '';
let resources = '';
let asarEntries: string[] = [];

/** Stand-in Electron dist folder: a tiny executable holding the fuse sentinel and wire where Electron has them. */
function standInElectronDist(): string {
  const dir = path.join(work, 'electron-dist');
  mkdirSync(path.join(dir, 'resources'), { recursive: true });
  const wire = Buffer.concat([Buffer.from([1, ELECTRON_DEFAULT_WIRE.length]), Buffer.from(ELECTRON_DEFAULT_WIRE)]);
  writeFileSync(path.join(dir, 'electron'), Buffer.concat([Buffer.from('#!/bin/sh\necho "stand-in for Electron"\nexit 0\n#'), Buffer.from(SENTINEL), wire, Buffer.from('\n')]));
  chmodSync(path.join(dir, 'electron'), 0o755);
  writeFileSync(path.join(dir, 'LICENSE'), 'stand-in');
  writeFileSync(path.join(dir, 'version'), '45.5.0');
  return dir;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

const sizeOf = (dir: string) => walk(dir).reduce((n, f) => n + statSync(f).size, 0);
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const NATIVE = /\.(node|dll|dylib)$|\.so(\.\d+)*$/;

describe.runIf(process.platform === 'linux' && process.arch === 'x64')('packaged layout (electron-builder --dir, linux x64)', () => {
  beforeAll(async () => {
    ensureBuilt();
    const out = path.join(work, 'dist');
    await run(builder, ['--linux', 'dir', '--x64', `-c.electronDist=${standInElectronDist()}`, '-c.electronVersion=45.5.0', `-c.directories.output=${out}`], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    unpackedDir = path.join(out, 'linux-unpacked');
    resources = path.join(unpackedDir, 'resources');
    asarEntries = asar.listPackage(path.join(resources, 'app.asar'), { isPack: false }).map((e) => e.replaceAll('\\', '/'));
    const parts = ['app.asar', 'app.asar.unpacked', 'models', 'resources'].map((p) => {
      const full = path.join(resources, p);
      return `${p} ${mb(statSync(full).isDirectory() ? sizeOf(full) : statSync(full).size)}`;
    });
    console.log(`packaged app (without Electron itself): ${mb(sizeOf(resources))} = ${parts.join(', ')}`);
  }, 180_000);

  it('keeps every native module and shared library out of the asar archive', () => {
    const unpacked = path.join(resources, 'app.asar.unpacked');
    const native = walk(unpacked).filter((f) => NATIVE.test(f)).map((f) => path.relative(unpacked, f).replaceAll('\\', '/'));
    expect(native).toEqual(expect.arrayContaining([
      'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
      'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
    ]));
    expect(native.some((f) => /@img\/sharp-linux-x64\/lib\/sharp-linux-x64.*\.node$/.test(f))).toBe(true);
    expect(native.some((f) => /@img\/sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/.test(f))).toBe(true);
    // The archive's index may name native files, but each must be flagged unpacked, i.e. exist on disk.
    for (const entry of asarEntries.filter((e) => NATIVE.test(e))) expect(existsSync(path.join(unpacked, entry)), entry).toBe(true);
  });

  it('ships onnxruntime for this platform only', () => {
    const bin = path.join(resources, 'app.asar.unpacked', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    expect(readdirSync(bin)).toEqual(['linux']);
    expect(readdirSync(path.join(bin, 'linux'))).toEqual(['x64']);
  });

  it('puts the embedded model and every resource file beside the archive', () => {
    const model = path.join(resources, 'models', 'var-fashion-32');
    const manifest = JSON.parse(readFileSync(path.join(model, 'manifest.json'), 'utf8')) as { files?: Record<string, unknown> };
    const named = Object.keys(manifest.files ?? {});
    expect(named.length).toBeGreaterThan(0);
    for (const f of named) expect(statSync(path.join(model, f)).size, f).toBe(statSync(path.join(ROOT, 'models', 'var-fashion-32', f)).size);
    const repoResources = walk(path.join(ROOT, 'resources')).map((f) => path.relative(path.join(ROOT, 'resources'), f)).filter((f) => !f.startsWith('icon.'));
    expect(repoResources).toContain('imagenet-classes.json');
    expect(repoResources.some((f) => f.startsWith(`graph-templates${path.sep}`))).toBe(true);
    for (const f of repoResources) expect(existsSync(path.join(resources, 'resources', f)), f).toBe(true);
  });

  it('contains the built app and no development files', () => {
    expect(asarEntries).toEqual(expect.arrayContaining(['/out/main/index.js', '/out/preload/index.cjs', '/out/renderer/index.html', '/package.json']));
    const everything = [...asarEntries, ...walk(resources).map((f) => `/${path.relative(resources, f).replaceAll('\\', '/')}`)];
    // Our own development folders anywhere outside node_modules (a package's src/ is often its runtime code,
    // e.g. debug's main); source maps, Python and TypeScript sources anywhere.
    const ownDevFolder = (f: string) => !f.includes('/node_modules/') && /\/(tests?|fixtures|bench|tools|src)\//.test(f);
    const dev = everything.filter((f) => (ownDevFolder(f) || /\.map$|\.py$|\.pyc$|(?<!\.d)\.ts$/.test(f)) && !f.startsWith('/app.asar.unpacked/node_modules/@img/'));
    expect(dev).toEqual([]);
    expect(asarEntries.some((f) => f.startsWith('/node_modules/electron/') || f.startsWith('/node_modules/vitest/') || f.startsWith('/node_modules/svelte/'))).toBe(false);
  });

  it('packs the engine workers\' entry beside index.js, inside the asar, with every chunk and package it imports', () => {
    const archive = path.join(resources, 'app.asar');
    // main forks <out/main>/engine-worker.js as a utility process; Electron's Node reads it inside the asar
    expect(readFileSync(path.join(ROOT, 'src', 'main', 'index.ts'), 'utf8')).toMatch(/path\.join\(here, 'engine-worker\.js'\)/);
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (entry: string) => {
      if (seen.has(entry)) return;
      seen.add(entry);
      expect(asarEntries, `${entry} is imported but not packed`).toContain(entry);
      // kept in the archive (covered by its integrity check), not unpacked beside it
      expect(asar.statFile(archive, entry.slice(1)).unpacked ?? false, entry).toBe(false);
      for (const spec of importsOf(asar.extractFile(archive, entry.slice(1)).toString('utf8'))) {
        if (spec.startsWith('.')) visit(path.posix.join(path.posix.dirname(entry), spec));
        else if (packageOf(spec)) packages.add(packageOf(spec)!);
      }
    };
    visit('/out/main/engine-worker.js');
    expect(seen.size).toBeGreaterThan(1);
    expect([...packages]).toEqual(expect.arrayContaining(['onnxruntime-node', 'sharp']));
    for (const pkg of packages) expect(asarEntries, `package ${pkg}`).toContain(`/node_modules/${pkg}/package.json`);
  });

  it('the packed engine worker starts from the packaged files and generates on the shipped model (as a utility process would)', async () => {
    const app = path.join(work, 'extracted-worker');
    asar.extractAll(path.join(resources, 'app.asar'), app);
    const child = fork(path.join(ROOT, 'tests', 'electron-standin', 'utility-child.mjs'), [path.join(app, 'out', 'main', 'engine-worker.js')], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    const replies: { id: number; type: string; value?: unknown; event?: { type: string }; error?: { message: string } }[] = [];
    child.on('message', (m) => replies.push(m as never));
    const until = async (id: number, type: string) => {
      const end = Date.now() + 90_000;
      for (;;) {
        const r = replies.find((m) => m.id === id && (m.type === type || m.type === 'error'));
        if (r) return r;
        if (Date.now() > end) throw new Error(`no ${type} for request ${id}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      child.send({ op: 'create', id: 1, dir: path.join(resources, 'models', 'var-fashion-32'), options: { threads: 1 } });
      expect(await until(1, 'result')).toMatchObject({ type: 'result', value: { provider: { inUse: 'cpu' } } });
      child.send({ op: 'run', id: 2, engine: 1, kind: 'generate', request: { classIndex: 1, seed: 7, batch: 1, sampling: { cfg: 1.5, topK: 100, topP: 0.95, moreSmooth: false } } });
      expect(await until(2, 'end')).toMatchObject({ type: 'end' });
      const done = replies.find((m) => m.id === 2 && m.event?.type === 'done')?.event as { images: { width: number; data: Uint8Array }[] } | undefined;
      expect(done?.images[0]?.width).toBe(32);
      expect(done?.images[0]?.data).toBeInstanceOf(Uint8Array);
    } finally {
      child.kill();
    }
  }, 120_000);

  it('flips the fuses in the packaged executable', async () => {
    const wire = (await getCurrentFuseWire(path.join(unpackedDir, 'var-studio'))) as unknown as Record<number, number>;
    const on = (fuse: FuseV1Options) => String.fromCharCode(wire[fuse]!);
    expect(on(FuseV1Options.RunAsNode)).toBe('0');
    expect(on(FuseV1Options.EnableNodeOptionsEnvironmentVariable)).toBe('0');
    expect(on(FuseV1Options.EnableNodeCliInspectArguments)).toBe('0');
    expect(on(FuseV1Options.GrantFileProtocolExtraPrivileges)).toBe('0');
    expect(on(FuseV1Options.OnlyLoadAppFromAsar)).toBe('1');
    expect(on(FuseV1Options.EnableEmbeddedAsarIntegrityValidation)).toBe('1');
  });

  it('has every runtime dependency: the packaged node_modules load and run the shipped model in plain Node', async () => {
    const app = path.join(work, 'extracted');
    asar.extractAll(path.join(resources, 'app.asar'), app);
    const script = `
      const { createRequire } = require('node:module');
      const req = createRequire(${JSON.stringify(path.join(app, 'package.json'))});
      for (const m of ['ws', 'yauzl', 'png-chunks-extract', 'png-chunks-encode', 'png-chunk-text']) req(m);
      const sharp = req('sharp');
      const ort = req('onnxruntime-node');
      (async () => {
        const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#102030' } }).png().toBuffer();
        const s = await ort.InferenceSession.create(${JSON.stringify(path.join(resources, 'models', 'var-fashion-32', 'decoder.onnx'))});
        console.log(JSON.stringify({ png: png.length, inputs: s.inputNames.length, from: req.resolve('onnxruntime-node') }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: work });
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { png: number; inputs: number; from: string };
    expect(r.png).toBeGreaterThan(0);
    expect(r.inputs).toBeGreaterThan(0);
    expect(r.from.startsWith(app)).toBe(true);
  });

  it('refuses an Intel-mac build with the reason', async () => {
    const failed = await run(builder, ['--mac', 'dir', '--x64', `-c.electronDist=${path.join(work, 'electron-dist')}`, '-c.electronVersion=45.5.0', `-c.directories.output=${path.join(work, 'mac')}`], { cwd: ROOT }).then(() => null, (e: { stdout: string; stderr: string }) => e.stdout + e.stderr);
    expect(failed).toMatch(/onnxruntime-node ships no Intel-mac/);
    expect(existsSync(path.join(work, 'mac', 'mac'))).toBe(false);
  });
});
