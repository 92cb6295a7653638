// The resumable downloader against a real HTTP server on 127.0.0.1 (redirects, Range, dropped sockets).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Download, DownloadError, type DownloadEvent, type DownloadOptions, RateMeter, formatBytes, formatDuration, partPath, partStatePath,
} from '../../../src/host/downloads/index';
import { ConnectProxy, FileServer, randomFile } from './file-server';

const SIZE = 1_500_000;
const server = new FileServer();
const agent = new Agent();
const tmp = mkdtempSync(join(tmpdir(), 'var-dl-test-'));
let n = 0;

beforeAll(async () => { await server.start(); });
afterAll(async () => {
  await server.close();
  await agent.close();
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => { server.log.length = 0; });

/** A fresh file on the server and a fresh destination path. */
function setup(faults: Parameters<FileServer['add']>[2] = {}, size = SIZE) {
  const name = `f${++n}.bin`;
  const file = randomFile(size);
  server.add(name, file.data, faults);
  const dest = join(tmp, `out-${n}`, name);
  const events: DownloadEvent[] = [];
  const opts = (extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
    url: `${server.resolveBase}/${name}`, dest, sha256: file.sha256, dispatcher: agent, retryDelayMs: 5, progressIntervalMs: 0,
    onEvent: (e) => events.push(e), ...extra,
  });
  return { name, file, dest, events, opts };
}

async function failure(p: Promise<unknown>): Promise<DownloadError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(DownloadError);
  return e as DownloadError;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What an earlier process leaves behind: a .part with these bytes and its state file. */
function leavePart(dest: string, bytes: Buffer | null, state: { sha256: string; total: number | null; etag?: string | null }) {
  mkdirSync(join(dest, '..'), { recursive: true });
  if (bytes) writeFileSync(partPath(dest), bytes);
  writeFileSync(partStatePath(dest), JSON.stringify({ version: 1, url: 'earlier', etag: null, updatedAt: '', ...state }));
}

describe('Download', () => {
  it('follows the resolve → CDN redirect, streams, verifies and renames; the redirect\'s X-Linked-Etag is the sha256', async () => {
    const { file, dest, events, opts } = setup();
    const r = await new Download(opts()).start();
    expect(r).toEqual({ status: 'complete', path: dest, bytes: SIZE, sha256: file.sha256 });
    expect(readFileSync(dest).equals(file.data)).toBe(true);
    expect(existsSync(partPath(dest)) || existsSync(partStatePath(dest))).toBe(false);
    expect(server.log.map((l) => [l.path.split('/')[1], l.status])).toEqual([['resolve', 302], ['cdn', 200]]);
    const connected = events.find((e) => e.type === 'connected');
    expect(connected).toMatchObject({ redirects: 1, total: SIZE, resumeFrom: 0, etag: file.sha256, etagIsSha256: true });
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.at(-1)).toMatchObject({ received: SIZE, total: SIZE });
    expect(events.at(-1)).toEqual({ type: 'done', path: dest, bytes: SIZE, sha256: file.sha256 });
  });

  it('a transfer cut mid-body reconnects with Range and ends with the right hash', async () => {
    const { file, dest, events, opts } = setup({ dropAfter: { bytes: 400_000, times: 2 } });
    const r = await new Download(opts()).start();
    expect(r.status).toBe('complete');
    expect(sha(readFileSync(dest))).toBe(file.sha256);
    // undici may drop the last buffered chunk of a cut body: each reconnect starts where the file on disk ends
    const resumedAt = events.filter((e) => e.type === 'retry').map((e) => (e as { received: number }).received);
    expect(resumedAt).toHaveLength(2);
    expect(resumedAt[0]).toBeGreaterThan(0);
    expect(resumedAt[0]).toBeLessThanOrEqual(400_000);
    expect(resumedAt[1]).toBeGreaterThan(resumedAt[0]);
    expect(resumedAt[1]).toBeLessThanOrEqual(resumedAt[0] + 400_000);
    const cdn = server.log.filter((l) => l.path.startsWith('/cdn/'));
    expect(cdn.map((l) => [l.range, l.status])).toEqual([[undefined, 200], [`bytes=${resumedAt[0]}-`, 206], [`bytes=${resumedAt[1]}-`, 206]]);
  });

  it('gives up after `retries` reconnections without progress, keeps the .part and says offline', async () => {
    const { dest, opts } = setup({ dropAfter: { bytes: 0, times: 99 } });
    const e = await failure(new Download(opts({ retries: 2 })).start());
    expect(e.code).toBe('offline');
    expect(e.message).toMatch(/^Cannot reach 127\.0\.0\.1:\d+ \(.+\): check the internet connection or the HTTPS_PROXY setting/);
    expect(existsSync(partStatePath(dest))).toBe(true);
  });

  it('a corrupted transfer is rejected: hash-mismatch, nothing at dest, the .part deleted', async () => {
    const { file, dest, opts } = setup({ corruptAt: 777_777 });
    const e = await failure(new Download(opts()).start());
    expect(e.code).toBe('hash-mismatch');
    expect(e.message).toContain(`should be ${file.sha256}; the downloaded file was deleted`);
    expect(existsSync(dest) || existsSync(partPath(dest)) || existsSync(partStatePath(dest))).toBe(false);
  });

  it('404 says which file and URL', async () => {
    const { dest, file } = setup();
    const url = `${server.resolveBase}/missing.pth`;
    const e = await failure(new Download({ url, dest, sha256: file.sha256, dispatcher: agent }).start());
    expect(e.code).toBe('not-found');
    expect(e.status).toBe(404);
    expect(e.message).toBe(`${dest.split('/').at(-1)} was not found at ${url} (HTTP 404): the catalogue's revision or the base URL (VAR_STUDIO_MODEL_BASE_URL) is wrong.`);
  });

  it('416 on resume: one-line message, the unusable .part deleted', async () => {
    const { file, dest, opts } = setup({ always416: true });
    const d = new Download(opts());
    // a previous run left 1000 bytes
    leavePart(dest, file.data.subarray(0, 1000), { sha256: file.sha256, total: SIZE });
    const e = await failure(d.start());
    expect(e.code).toBe('range-not-satisfiable');
    expect(e.message).toBe(`The server refused to resume ${dest.split('/').at(-1)} at byte 1000 (HTTP 416; its file has ${SIZE} bytes); the partial file did not fit and was deleted — start the download again.`);
    expect(existsSync(partPath(dest))).toBe(false);
  });

  it('resumes a .part left by an earlier process: re-hashes the prefix, asks for the rest only', async () => {
    const { file, dest, events, opts } = setup();
    leavePart(dest, file.data.subarray(0, 600_000), { sha256: file.sha256, total: SIZE, etag: file.sha256 });
    const r = await new Download(opts()).start();
    expect(r.status).toBe('complete');
    expect(sha(readFileSync(dest))).toBe(file.sha256);
    expect(server.log.filter((l) => l.path.startsWith('/cdn/')).map((l) => l.range)).toEqual(['bytes=600000-']);
    expect(events.find((e) => e.type === 'checking' && e.checked === 600_000)).toBeTruthy();
    expect(events.find((e) => e.type === 'connected')).toMatchObject({ resumeFrom: 600_000 });
  });

  it('a .part whose bytes were damaged on disk fails the final hash and is deleted (the prefix is re-hashed, not trusted)', async () => {
    const { file, dest, opts } = setup();
    const bad = Buffer.from(file.data.subarray(0, 500_000));
    bad[10] ^= 1;
    leavePart(dest, bad, { sha256: file.sha256, total: SIZE });
    expect((await failure(new Download(opts()).start())).code).toBe('hash-mismatch');
    expect(existsSync(partPath(dest))).toBe(false);
  });

  it('a .part from another file (other sha256 in its state) is discarded, not resumed', async () => {
    const { file, dest, opts } = setup();
    leavePart(dest, Buffer.alloc(1000, 7), { sha256: 'a'.repeat(64), total: 5000 });
    expect((await new Download(opts()).start()).status).toBe('complete');
    expect(server.log.filter((l) => l.path.startsWith('/cdn/')).map((l) => l.range)).toEqual([undefined]);
    expect(sha(readFileSync(dest))).toBe(file.sha256);
  });

  it('a server that ignores Range (200) restarts the file from byte 0 and still verifies', async () => {
    const { file, dest, events, opts } = setup({ ignoreRange: true, dropAfter: { bytes: 300_000, times: 1 } });
    expect((await new Download(opts()).start()).status).toBe('complete');
    expect(sha(readFileSync(dest))).toBe(file.sha256);
    const resumedAt = (events.find((e) => e.type === 'retry') as { received: number }).received;
    expect(server.log.filter((l) => l.path.startsWith('/cdn/')).map((l) => [l.range, l.status])).toEqual([[undefined, 200], [`bytes=${resumedAt}-`, 200]]);
    expect(events.filter((e) => e.type === 'connected').map((e) => (e as { resumeFrom: number }).resumeFrom)).toEqual([0, 0]);
  });

  it('pause keeps the .part; a new Download resumes it', async () => {
    const { file, dest, opts } = setup({ chunkDelayMs: 5 });
    const d = new Download(opts({ onEvent: (e) => { if (e.type === 'progress' && e.received >= 200_000) d.pause(); } }));
    const r = await d.start();
    expect(r.status).toBe('paused');
    const kept = statSync(partPath(dest)).size;
    expect(r).toMatchObject({ status: 'paused', total: SIZE });
    expect(kept).toBeGreaterThanOrEqual(200_000);
    expect(kept).toBeLessThan(SIZE);
    const r2 = await new Download(opts()).start();
    expect(r2.status).toBe('complete');
    expect(sha(readFileSync(dest))).toBe(file.sha256);
    expect(server.log.filter((l) => l.path.startsWith('/cdn/')).at(-1)!.range).toBe(`bytes=${kept}-`);
  });

  it('cancel deletes the .part and its state', async () => {
    const { dest, opts } = setup({ chunkDelayMs: 5 });
    const d = new Download(opts({ onEvent: (e) => { if (e.type === 'progress' && e.received >= 200_000) d.cancel(); } }));
    expect(await d.start()).toEqual({ status: 'cancelled' });
    expect(existsSync(partPath(dest)) || existsSync(partStatePath(dest)) || existsSync(dest)).toBe(false);
  });

  it('refuses before downloading when the server\'s ETag names another sha256 than the catalogue', async () => {
    const other = 'b'.repeat(64);
    const { file, dest, opts } = setup({ etag: other });
    const e = await failure(new Download(opts()).start());
    expect(e.code).toBe('etag-mismatch');
    expect(e.message).toContain(`has sha256 ${other} (its ETag) but the catalogue expects ${file.sha256}`);
    expect(existsSync(partPath(dest)) ? statSync(partPath(dest)).size : 0).toBe(0);
  });

  it('refuses when the server\'s size differs from the catalogue\'s exact size', async () => {
    const { opts } = setup();
    const e = await failure(new Download(opts({ bytes: SIZE + 1 })).start());
    expect(e.code).toBe('size-mismatch');
    expect(e.message).toContain(`has ${SIZE} bytes but the catalogue expects ${SIZE + 1}`);
  });

  it('checks free disk space before writing', async () => {
    const { dest, opts } = setup();
    const e = await failure(new Download(opts({ freeBytes: async () => 10_000_000 })).start());
    expect(e.code).toBe('disk-full');
    expect(e.message).toMatch(/^Not enough disk space for f\d+\.bin: it needs 1\.50 MB more in .+, only 10\.0 MB are free\. Free some space/);
    expect(existsSync(partPath(dest))).toBe(false);
  });

  it('a full disk while writing (ENOSPC) is disk-full', async () => {
    if (!existsSync('/dev/full')) return;
    const { file, dest, opts } = setup();
    leavePart(dest, null, { sha256: file.sha256, total: null });
    symlinkSync('/dev/full', partPath(dest));
    const e = await failure(new Download(opts({ freeBytes: async () => 1e12 })).start());
    expect(e.code).toBe('disk-full');
    expect(e.message).toContain('(ENOSPC); the partial file is kept');
  });

  it('offline (connection refused) fails at once with one line', async () => {
    const { dest, file } = setup();
    const t0 = Date.now();
    const e = await failure(new Download({ url: 'http://127.0.0.1:9/x.pth', dest, sha256: file.sha256, dispatcher: agent }).start());
    expect(e.code).toBe('offline');
    expect(e.message).toBe('Cannot reach 127.0.0.1:9 (ECONNREFUSED): check the internet connection or the HTTPS_PROXY setting, then resume the download.');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('caps the number of redirects', async () => {
    const { opts } = setup();
    server.redirectHops = 6;
    try {
      const e = await failure(new Download(opts({ maxRedirects: 3 })).start());
      expect(e.code).toBe('too-many-redirects');
      expect(e.message).toMatch(/redirected more than 3 times/);
    } finally {
      server.redirectHops = 1;
    }
  });

  it('honours HTTP_PROXY (undici EnvHttpProxyAgent) when no dispatcher is given', async () => {
    const proxy = await new ConnectProxy().start();
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
    process.env.HTTP_PROXY = proxy.url;
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    try {
      const { file, dest, opts } = setup();
      const r = await new Download({ ...opts(), dispatcher: undefined }).start();
      expect(r.status).toBe('complete');
      expect(sha(readFileSync(dest))).toBe(file.sha256);
      expect(proxy.tunnels.length).toBeGreaterThan(0);
      expect(proxy.tunnels[0]).toBe(new URL(server.base).host);
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      await proxy.close();
    }
  });
});

describe('RateMeter and units', () => {
  it('rate over the window and ETA', () => {
    const m = new RateMeter(2000);
    expect(m.rate()).toBe(0);
    expect(m.eta(100)).toBeNull();
    m.sample(0, 0);
    m.sample(1000, 1_000_000);
    expect(m.rate()).toBe(1_000_000);
    expect(m.eta(5_000_000)).toBe(5);
    m.sample(2000, 1_000_000);
    m.sample(3000, 1_000_000); // stalled for 2 s: the window forgets the burst
    expect(m.rate()).toBe(0);
  });

  it('formats bytes and durations', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_243_116_346)).toBe('1.24 GB');
    expect(formatBytes(9_436_153_085)).toBe('9.44 GB');
    expect(formatDuration(9)).toBe('9 s');
    expect(formatDuration(75)).toBe('1 min 15 s');
    expect(formatDuration(3725)).toBe('1 h 02 min');
  });
});
