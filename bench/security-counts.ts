// Re-measures two counts of the security review: bad CLI invocations (clear error / unclear / wrong
// success; creating a missing output folder or printing help is a right success, so such calls are not here)
// and kills during autosave (documents lost). Run: npx tsx bench/security-counts.ts [kills]
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../src/cli/main';
import { DocumentStore } from '../src/host/documents';

const tmp = (p: string) => mkdtempSync(path.join(os.tmpdir(), `var-count-${p}-`));
const dir = tmp('cli');
const notImage = path.join(dir, 'not-image.png');
writeFileSync(notImage, 'this is text');
const out = path.join(dir, 'out.png');
const gen = (...a: string[]) => ['generate', '--class', '0', '--out', out, ...a];
const readOnly = path.join(dir, 'read-only');
mkdirSync(readOnly);
chmodSync(readOnly, 0o555);
mkdirSync(path.join(dir, 'batch-1.png'));
mkdirSync(path.join(dir, 'folder.png'));
const edit = (...a: string[]) => ['edit', '--image', notImage, '--mask', notImage, '--out', out, ...a];

/** Bad invocations: each must exit non-zero with one "var-studio: error:" line and no stack trace. */
const CORPUS: string[][] = [
  ['frobnicate'], ['generate'], ['edit'], ['generate', '--class', '0'], ['generate', '--out', out],
  ...['0x10', '1e308', 'Infinity', '-1', '', 'NaN', 'abc', '51', '1,5'].map((v) => gen('--cfg', v)),
  ...['1.5', '0', '-3', '65', '1e3', '0x2', 'many', ''].map((v) => gen('--batch', v)),
  ...['-1', '1.5', '2', 'x', 'Infinity'].map((v) => gen('--top-p', v)),
  ...['-1', '1.5', 'x', '1e9', '0x10'].map((v) => gen('--top-k', v)),
  ...['-1', '1.5', 'x', '4294967296', '1e3'].map((v) => gen('--seed', v)),
  ...['99999', '-2', 'no-such-class', '1.5', ''].map((v) => ['generate', '--class', v, '--out', out]),
  ...['out', 'out.gif', 'out.bmp', 'out.PNG.txt', ''].map((v) => ['generate', '--class', '0', '--out', path.join(dir, v)]),
  gen('--model', '/nonexistent'), gen('--model', notImage), gen('--model', dir), gen('--tokens-out', path.join(notImage, 't.json')),
  gen('--unknown-flag'), gen('--json', '--bogus'), gen('--provider', 'quantum'), gen('--threads', '0'), gen('--threads', '1000'), gen('--gpu', '4'), gen('--gpu', '-1'), gen('--gpu', '0x1'),
  ['generate', '--class', '0', '--out', path.join(notImage, 'out.png')],
  edit(), ['edit', '--image', '/nonexistent.png', '--mask', notImage, '--out', out], ['edit', '--image', notImage, '--out', out], ['edit', '--mask', notImage, '--out', out],
  ...['0,0,16384', '0,0', 'a,b,c', '0,0,0', '0,0,-5', '1.5,0,8', '0,0,8,9', ''].map((v) => edit('--region', v)),
  ...['0', '-1', '1.5', 'x', '99'].map((v) => edit('--from-scale', v)),
  ...['-1', '1e9', 'x'].map((v) => edit('--feather', v)),
  edit('--class', '99999'), edit('--batch', '0'), edit('--batch', '100'),
  ['info', '--model', '/nonexistent'], ['info', '--bogus'], ['info', '--model'],
  ['models', 'frob'], ['models', 'pull'], ['models', 'pull', 'no-such-model'], ['models', 'rm'], ['models', 'rm', 'no-such-model'],
  ['models', 'list', '--models-dir'], ['models', 'import'], ['models', 'import', '--var', notImage], ['models', 'list', '--bogus'],
  gen('--cfg'), gen('--seed'), gen('--batch'), gen('--class'), gen('--more-smooth=maybe'), gen('--top-k', '5', '--top-k'),
  ['generate', '--class', '0', '--out', out, '--model', '/dev/null'], ['edit', '--image', '/dev/null', '--mask', '/dev/null', '--out', out],
  ['edit', '--image', dir, '--mask', dir, '--out', out], ['--cfg', '2'], ['GENERATE'], ['generate', 'extra-positional', '--class', '0', '--out', out],
  // output paths that cannot be written: a folder as the file, a file as a folder, no permission, too long a name
  ['generate', '--class', '0', '--out', path.join(notImage, 'sub', 'out.png')], ['generate', '--class', '0', '--out', path.join(dir, 'folder.png')],
  ['generate', '--class', '0', '--out', path.join(dir, 'batch.png'), '--batch', '2'], gen('--tokens-out', dir),
  ['edit', '--image', notImage, '--mask', notImage, '--out', path.join(notImage, 'e.png')],
  ...(process.getuid?.() === 0 ? [] : [['generate', '--class', '0', '--out', path.join(readOnly, 'out.png')]]),
  ['generate', '--class', '0', '--out', path.join(dir, `${'n'.repeat(300)}.png`)],
];

async function runCli(argv: string[]): Promise<{ code: number; stderr: string }> {
  const writes = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  let stderr = '';
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => { stderr += String(s); return true; }) as typeof process.stderr.write;
  try {
    return { code: await main(argv), stderr };
  } catch (e) {
    return { code: -1, stderr: `${stderr}THREW ${(e as Error).stack}` };
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
  }
}

async function cliCounts(): Promise<{ tried: number; clear: number; unclear: string[]; wrongSuccess: string[] }> {
  let clear = 0;
  const unclear: string[] = [];
  const wrongSuccess: string[] = [];
  for (const argv of CORPUS) {
    const r = await runCli(argv);
    const label = argv.join(' ').replaceAll(dir, '$TMP');
    if (r.code === 0) wrongSuccess.push(label);
    else if (r.code === 2 && /^var-studio: error: \S/m.test(r.stderr) && !/\n\s+at /.test(r.stderr)) clear++;
    else unclear.push(`${label} → exit ${r.code}: ${/^var-studio: error: .*$/m.exec(r.stderr)?.[0] ?? r.stderr.split('\n')[0]}`);
  }
  return { tried: CORPUS.length, clear, unclear, wrongSuccess };
}

async function killCounts(kills: number): Promise<{ kills: number; lost: number; problems: number }> {
  let lost = 0;
  let problems = 0;
  const dataDir = tmp('autosave');
  for (let k = 0; k < kills; k++) {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '..', 'tests', 'security', 'children', 'autosave-forever.ts'), dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 200));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const restored = await new DocumentStore(dataDir).restore();
    if (!restored.document) lost++;
    if (restored.problem) problems++;
  }
  return { kills, lost, problems };
}

const cli = await cliCounts();
console.log(`CLI: ${cli.tried} bad invocations, ${cli.clear} clear errors (exit 2, one line), ${cli.unclear.length} unclear, ${cli.wrongSuccess.length} wrong successes`);
for (const u of cli.unclear) console.log(`  unclear: ${u}`);
for (const w of cli.wrongSuccess) console.log(`  wrong success: ${w}`);
const k = await killCounts(Number(process.argv[2] ?? 24));
console.log(`autosave: ${k.kills} SIGKILLs mid-save, ${k.lost} documents lost, ${k.problems} restores with a problem`);
