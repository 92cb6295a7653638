// Batch sampling end to end on the tiny fixture model: the spawned CLI, numpy reading the npz, resume after
// SIGKILL, shards merged, and a real redis-server with worker processes (one killed mid-item).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { allImages, imageSeedFor, shardRange, workItems } from '../../../src/host/batch/plan';
import { queueStatus } from '../../../src/host/batch/queue';
import { collectNpz } from '../../../src/host/batch/run';
import { readPngText } from '../../../src/host/image-io';
import { openRunFolder } from '../../../src/host/batch/store';
import { npyHeader, writeNpz } from '../../../src/host/batch/npz';

const REPO = resolve(__dirname, '../../..');
const BIN = join(REPO, 'bin/var-studio.mjs');
const MODEL = join(REPO, 'tests/fixtures/tiny/bundle');
const TMP = mkdtempSync(join(tmpdir(), 'var-batch-'));
const RUN = ['--model', MODEL, '--classes', '3', '--per-class', '12', '--seed', '11', '--batch', '4', '--quiet', '--provider', 'cpu', '--threads', '1'];
const ENV = { ...process.env, SOURCE_DATE_EPOCH: '1767225600' };

afterAll(() => rmSync(TMP, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: ENV });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => done({ code, stdout, stderr }));
  });
}

function python(code: string): string {
  const r = spawnSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

const until = async (f: () => boolean | Promise<boolean>, ms: number) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('plan', () => {
  it('gives every image one seed from (seed, class, index), consecutive within a class, and shards that cover the run once', () => {
    expect(imageSeedFor(11, 2, 5)).toBe(11 + 2 * 1048576 + 5);
    expect(imageSeedFor(0xffffffff, 0, 1)).toBe(0);
    const spec = { classes: [4, 1, 7], perClass: 10, seed: 3 };
    const seen: number[] = [];
    for (let k = 0; k < 4; k++) {
      const r = shardRange(30, { k, n: 4 });
      for (const it of workItems(spec, r.start, r.end, 3)) {
        expect(it.count).toBeLessThanOrEqual(3);
        expect(it.seed).toBe(imageSeedFor(3, it.classIndex, it.start));
        for (let b = 0; b < it.count; b++) seen.push(spec.classes.indexOf(it.classIndex) * 10 + it.start + b);
      }
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, g) => g));
    expect(allImages(spec)[10]).toEqual({ classIndex: 1, index: 0 });
  });

  it('writes an npz with a forced ZIP64 layout that numpy loads as uint8 (N, H, W, 3)', async () => {
    expect(npyHeader([2, 3, 4, 3]).length % 64).toBe(0);
    const path = join(TMP, 'small.npz');
    await writeNpz(path, 2, 3, 4, async (i) => Uint8Array.from({ length: 36 }, (_, j) => (i * 36 + j) % 256));
    expect(python(`import numpy as np, zipfile
z = zipfile.ZipFile('${path}'); i = z.infolist()[0]
a = np.load('${path}')['arr_0']
print(i.filename, i.compress_type, a.dtype, a.shape, int(a[1, 2, 3, 2]))`)).toBe('arr_0.npy 0 uint8 (2, 3, 4, 3) 71');
    // a ZIP64 end record is present even for this small file
    expect(readFileSync(path).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    await expect(writeNpz(join(TMP, 'bad.npz'), 1, 3, 4, async () => new Uint8Array(5))).rejects.toThrow(/expected 36/);
    expect(readdirSync(TMP).filter((n) => n.startsWith('bad.npz'))).toEqual([]);
  });
});

describe('var-studio sample (spawned)', () => {
  const whole = join(TMP, 'whole');
  const wholeNpz = join(TMP, 'whole.npz');
  let printed = '';

  it('writes PNGs, records and the npz numpy reads; the printed generate command remakes an image', async () => {
    const r = await cli(['sample', ...RUN, '--out', whole, '--npz', wholeNpz]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    printed = r.stdout;
    const records = readFileSync(join(whole, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toHaveLength(36);
    expect(records[13]).toMatchObject({ class: 1, index: 1, seed: imageSeedFor(11, 1, 1), file: 'c0001-i000001.png', settings: { cfg: 1.5, topP: 0.96, moreSmooth: false } });
    expect(records[13].model.sha256).toMatch(/^[0-9a-f]{64}$/);
    // each PNG's settings record names the precision each graph ran in (the tiny bundle has only fp32)
    const meta = JSON.parse(readPngText(readFileSync(join(whole, 'c0001-i000001.png')))['var-studio']);
    expect(meta.precision).toEqual({ transformer: 'fp32', fhatStep: 'fp32', encoder: 'fp32', decoder: 'fp32', preview: 'fp32' });
    // npz row g = class-major, index-minor; it equals the PNG's pixels
    expect(python(`import numpy as np; from PIL import Image
a = np.load('${wholeNpz}')['arr_0']
b = np.asarray(Image.open('${join(whole, 'c0001-i000001.png')}').convert('RGB'))
print(a.shape, a.dtype, bool((a[13] == b).all()), bool((a[0] == a[1]).all()))`)).toBe('(36, 16, 16, 3) uint8 True False');
    expect(r.stdout).toMatch(/var-studio generate --model \S+ --class 0 --seed 11 --cfg 1.5 --top-k 64 --top-p 0.96 --out/);
  }, 120_000);

  it('the generate command printed for (class 2, index 7) makes the same pixels alone', async () => {
    const args = /var-studio generate (.*)$/m.exec(printed)![1].split(' ');
    // the printed example is image (first class, 0); the same formula for (2, 7):
    const seedAt = args.indexOf('--seed');
    args[seedAt + 1] = String(imageSeedFor(11, 2, 7));
    args[args.indexOf('--class') + 1] = '2';
    const out = join(TMP, 'alone.png');
    args[args.indexOf('--out') + 1] = out;
    const g = await cli(['generate', ...args, '--quiet']);
    expect(g.code).toBe(0);
    expect(python(`import numpy as np; from PIL import Image
a = np.load('${wholeNpz}')['arr_0']
print(bool((a[2 * 12 + 7] == np.asarray(Image.open('${out}').convert('RGB'))).all()))`)).toBe('True');
  }, 120_000);

  it('a run killed with SIGKILL and resumed (with a broken PNG) gives the same npz bytes', async () => {
    const dir = join(TMP, 'killed');
    const p = spawn(process.execPath, [BIN, 'sample', ...RUN, '--batch', '1', '--out', dir], { cwd: REPO, env: ENV, stdio: 'ignore' });
    await until(() => { try { return readdirSync(dir).filter((n) => n.endsWith('.png')).length >= 6; } catch { return false; } }, 60_000);
    p.kill('SIGKILL');
    await new Promise((r) => p.on('close', r));
    const pngs = readdirSync(dir).filter((n) => n.endsWith('.png')).sort();
    expect(pngs.length).toBeLessThan(36);
    truncateSync(join(dir, pngs[2]), 40); // a PNG whose record exists but whose bytes do not decode
    const spec = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    await expect(openRunFolder(dir, spec, false)).rejects.toThrow(/pass --resume/);
    await expect(openRunFolder(dir, { ...spec, seed: 12 }, true)).rejects.toThrow(/holds another run \(seed 11 vs 12\)/);
    const recorded = readFileSync(join(dir, 'samples.jsonl'), 'utf8').split('\n').filter((l) => l.endsWith('}')).length;
    const r = await cli(['sample', ...RUN, '--out', dir, '--resume', '--npz', join(TMP, 'resumed.npz')]);
    expect(r.code).toBe(0);
    expect(Number(/(\d+) generated/.exec(r.stdout)![1])).toBe(36 - recorded + 1);
    expect(readFileSync(join(TMP, 'resumed.npz')).equals(readFileSync(wholeNpz))).toBe(true);
  }, 120_000);

  it('shards merged equal the unsharded run; a partial or corrupt shard is refused by name', async () => {
    const s0 = join(TMP, 'shard0');
    const s1 = join(TMP, 'shard1');
    const [a, b] = await Promise.all([cli(['sample', ...RUN, '--batch', '5', '--shard', '0/2', '--out', s0]), cli(['sample', ...RUN, '--shard', '1/2', '--out', s1])]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const merged = join(TMP, 'merged.npz');
    const m = await cli(['sample', 'merge', '--quiet', '--out', merged, s0, s1]);
    expect(m.code).toBe(0);
    expect(readFileSync(merged).equals(readFileSync(wholeNpz))).toBe(true);
    await expect(collectNpz([s0], join(TMP, 'x.npz'))).rejects.toThrow(/18 of 36 images are missing \(first: class 1 index 6\)/);
    await expect(collectNpz([s0, s1, whole], join(TMP, 'x.npz'))).rejects.toThrow(/image 0\/0 is in both .*shard0 and .*whole/);
    writeFileSync(join(s1, 'c0002-i000003.png'), 'not a png');
    await expect(collectNpz([s0, s1], join(TMP, 'x.npz'))).rejects.toThrow(/shard1: c0002-i000003.png is missing or corrupt/);
    expect(readdirSync(TMP).filter((n) => n.startsWith('x.npz'))).toEqual([]);
  }, 120_000);
});

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

describe('Redis + BullMQ workers (real redis-server, spawned workers)', () => {
  const procs: ChildProcess[] = [];
  afterAll(() => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); });

  it('three workers, one killed mid-item: the item is retried and the collected npz equals the single-machine run', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(TMP, 'redis-'));
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dataDir], { stdio: 'ignore' });
    procs.push(redis);
    const url = `redis://127.0.0.1:${port}`;
    const shared = join(TMP, 'shared');
    await until(() => new Promise<boolean>((ok) => { const c = connect(port, '127.0.0.1', () => { c.end(); ok(true); }).on('error', () => ok(false)); }), 30_000);
    const sub = await cli(['queue', 'submit', '--redis', url, ...RUN, '--batch', '3', '--out', shared, '--json']);
    expect(sub.code).toBe(0);
    expect(JSON.parse(sub.stdout)).toMatchObject({ images: 36, items: 12, queued: 12 });
    const logs: string[] = ['', '', ''];
    for (let w = 0; w < 3; w++) {
      const p = spawn(process.execPath, [BIN, 'worker', '--redis', url, '--model', MODEL, '--provider', 'cpu', '--threads', '1', '--lock-ms', '1500', '--stalled-ms', '500', '--exit-when-done'], { cwd: REPO, env: ENV });
      p.stderr!.on('data', (d) => (logs[w] += d));
      procs.push(p);
    }
    // kill the first worker that starts an item, right then, before that item's images are all written
    await until(() => logs.some((l) => / started/.test(l)), 90_000);
    const victim = logs.findIndex((l) => / started/.test(l));
    procs[1 + victim].kill('SIGKILL');
    const killedItem = /item (\S+) started/.exec(logs[victim])![1];
    await until(() => procs.slice(1).every((p, w) => w === victim || p.exitCode !== null), 120_000);
    const status = await queueStatus(url, 'var-studio-sample');
    expect(status).toMatchObject({ items: 12, completed: 12, waiting: 0, active: 0, failed: 0 });
    const queue = new Queue('var-studio-sample', { connection: { url } });
    const job = await queue.getJob(killedItem);
    await queue.close();
    expect(job!.finishedOn).toBeGreaterThan(0);
    expect(job!.stalledCounter + job!.attemptsMade).toBeGreaterThanOrEqual(1);
    const npz = join(TMP, 'queued.npz');
    const c = await cli(['queue', 'collect', '--redis', url, '--quiet', '--out', npz]);
    expect(c.stderr).toBe('');
    expect(readFileSync(npz).equals(readFileSync(join(TMP, 'whole.npz')))).toBe(true);
    redis.kill('SIGTERM');
  }, 180_000);
});
