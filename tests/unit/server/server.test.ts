// The browser-mode server and the host service against the real engine on the tiny fixture bundle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import WebSocket from 'ws';
import sharp from 'sharp';
import extractChunks from 'png-chunks-extract';
import { ModelCatalog } from '../../../src/host/models';
import { StudioHost, type StudioSession } from '../../../src/host/service';
import { startStudioServer, type StudioServer } from '../../../src/server/server';
import { encodeExport, inspectImage, readPngText, withPngText } from '../../../src/host/image-io';
import type { ImageSettings, StudioEvent } from '../../../src/shared/contract';
import { parseEvent } from '../../../src/shared/contract';
import { REPLY_LIMITS, WireReader, encodeFrame, joinParts } from '../../../src/shared/wire';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { parseServeArgs, tokenFromFile } from '../../../src/server/main';

const tinyBundle = path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'tiny', 'bundle');

function tmp(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

function collector(): StudioSession & { events: StudioEvent[]; until(type: string): Promise<StudioEvent> } {
  const events: StudioEvent[] = [];
  const waiters: { type: string; resolve(e: StudioEvent): void }[] = [];
  return {
    id: `s-${Math.random()}`,
    events,
    emit(e) {
      events.push(parseEvent(e)); // what the host emits must satisfy the contract too
      for (const w of waiters.filter((w) => w.type === e.type)) w.resolve(e);
    },
    until(type) {
      const seen = events.find((e) => e.type === type);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ type, resolve }));
    },
  };
}

const baseSettings = { modelId: 'embedded', classIndex: 1, seed: 7, batch: 2, sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false } };

describe('StudioHost on the real engine (tiny fixture bundle)', () => {
  let host: StudioHost;
  const userModels = tmp('var-models-');
  beforeAll(async () => {
    mkdirSync(path.join(userModels, 'broken'));
    writeFileSync(path.join(userModels, 'broken', 'manifest.json'), '{ not json');
    host = new StudioHost({ version: 't', host: 'browser', catalog: new ModelCatalog(tinyBundle, userModels), threads: 1, deliverExport: async (f) => ({ kind: 'download', ...f }) });
  });
  afterAll(() => host.dispose());

  it('lists the embedded model and names what is wrong with a broken user bundle', async () => {
    const s = collector();
    const { models } = await host.handle('models.list', {}, s);
    expect(models.map((m) => m.id)).toEqual(['embedded', 'user:broken']);
    expect(models[0]).toMatchObject({ name: 'tiny', problem: null, classCount: 10 });
    expect(models[1].problem).toMatch(/not valid JSON/);
    await expect(host.handle('models.load', { modelId: 'user:broken' }, s)).rejects.toMatchObject({ code: 'bad-bundle' });
    await expect(host.handle('models.load', { modelId: 'user:elsewhere' }, s)).rejects.toMatchObject({ code: 'unknown-model' });
    await expect(host.handle('models.load', { modelId: 'user:../../etc' }, s)).rejects.toMatchObject({ code: 'bad-message' });
  });

  it('streams start, one preview per scale in order, then done; same seed gives the same images', async () => {
    const s = collector();
    const model = await host.handle('models.load', { modelId: 'embedded' }, s);
    expect(model.provider.inUse).toBe('cpu');
    await host.handle('generate.start', { jobId: 'a', settings: baseSettings }, s);
    const done = (await s.until('job.done')) as Extract<StudioEvent, { type: 'job.done' }>;
    expect(s.events.map((e) => (e.type === 'job.scale' ? e.index : e.type))).toEqual(['job.start', 0, 1, 2, 3, 'job.done']);
    expect(done.images).toHaveLength(2);
    expect(done.seeds).toEqual([7, 8]);
    const again = collector();
    await host.handle('generate.start', { jobId: 'b', settings: { ...baseSettings, batch: 1, seed: 8 } }, again);
    const single = (await again.until('job.done')) as Extract<StudioEvent, { type: 'job.done' }>;
    expect(single.images[0].data).toEqual(done.images[1].data); // image b of a batch = seed + b alone
  });

  it('vary: a prefix keeps the given scales exactly', async () => {
    const s = collector();
    await host.handle('generate.start', { jobId: 'c', settings: { ...baseSettings, batch: 1 } }, s);
    const first = (await s.until('job.done')) as Extract<StudioEvent, { type: 'job.done' }>;
    const v = collector();
    const prefix = { fromScale: 2, tokens: first.tokens[0].slice(0, 2) };
    await host.handle('generate.start', { jobId: 'd', settings: { ...baseSettings, batch: 2, seed: 999, prefix } }, v);
    const varied = (await v.until('job.done')) as Extract<StudioEvent, { type: 'job.done' }>;
    for (const pyramid of varied.tokens) {
      expect(pyramid[0]).toEqual(first.tokens[0][0]);
      expect(pyramid[1]).toEqual(first.tokens[0][1]);
    }
    await expect(host.handle('generate.start', { jobId: 'e', settings: { ...baseSettings, prefix: { fromScale: 4, tokens: first.tokens[0] } } }, v)).rejects.toMatchObject({ code: 'bad-prefix' });
  });

  it('cancel stops the run before its next scale and frees the engine', async () => {
    const s = collector();
    await host.handle('generate.start', { jobId: 'f', settings: baseSettings }, s);
    await expect(host.handle('generate.start', { jobId: 'g', settings: baseSettings }, s)).rejects.toMatchObject({ code: 'busy' });
    expect(host.cancel('f', collector())).toBe(false); // another session cannot cancel it
    expect((await host.handle('generate.cancel', { jobId: 'f' }, s)).cancelled).toBe(true);
    const end = await s.until('job.cancelled');
    // It stopped where it was: no final image, and it reports exactly the scales it had streamed.
    const streamed = s.events.filter((e) => e.type === 'job.scale').length;
    expect(end).toMatchObject({ jobId: 'f', completedScales: streamed });
    expect(streamed).toBeLessThan(4);
    expect(s.events.some((e) => e.type === 'job.done')).toBe(false);
    // The slot is free as soon as the last event is out (no wait on host.idle()).
    await host.handle('generate.start', { jobId: 'h', settings: baseSettings }, s);
    await s.until('job.done');
  });

  it('refuses a class the model does not have, with what to do', async () => {
    await expect(host.handle('generate.start', { jobId: 'i', settings: { ...baseSettings, classIndex: 10 } }, collector())).rejects.toMatchObject({ code: 'bad-class' });
  });
});

describe('export and inspect', () => {
  const image = { width: 4, height: 4, data: Uint8Array.from({ length: 48 }, (_, i) => (i * 37) & 255) };
  const settings: ImageSettings = {
    format: 'var-studio-settings', version: 2, model: { id: 'embedded', name: 'tiny', title: 'Tiny ü', resolution: 4 },
    classIndex: 2, resolvedClassIndex: 2, className: 'Ankle boot — 靴', seed: 99, sampling: { cfg: 1.5, topK: 0, topP: 1, moreSmooth: false },
    prefix: { fromScale: 1, tokens: [Int32Array.of(3)] }, createdAt: '2026-01-01T00:00:00.000Z',
  };
  const base = { image, settings, fileName: 'shot', quality: 90, kernel: 'nearest' as const };

  it('PNG: tEXt right after IHDR, exact pixels, settings back exactly (non-Latin-1 names too)', async () => {
    const out = await encodeExport({ ...base, format: 'png', upscale: 1 });
    expect(out.fileName).toBe('shot.png');
    const chunks = extractChunks(out.bytes);
    expect(chunks.slice(0, 2).map((c) => c.name)).toEqual(['IHDR', 'tEXt']);
    expect(JSON.parse(readPngText(out.bytes)['var-studio']).className).toBe(settings.className);
    const { data } = await sharp(out.bytes).raw().toBuffer({ resolveWithObject: true });
    expect(new Uint8Array(data)).toEqual(image.data);
    const back = await inspectImage(out.bytes);
    expect(back.settings).toEqual(settings);
    expect(back.image.data).toEqual(image.data);
  });

  it('an exported PNG of the old form (version 1, sampling flat) opens with its settings', async () => {
    const { sampling, ...rest } = settings;
    const v1 = JSON.stringify({ ...rest, version: 1, ...sampling, prefix: { fromScale: 1, tokens: [[3]] } });
    const png = withPngText((await encodeExport({ ...base, format: 'png', upscale: 1 })).bytes, { 'var-studio': v1 });
    const back = await inspectImage(png);
    expect(back.settings).toEqual(settings);
  });

  it('JPEG and WebP: XMP carries the settings; upscale ×8 nearest repeats pixels', async () => {
    for (const format of ['jpeg', 'webp'] as const) {
      const out = await encodeExport({ ...base, format, upscale: 8 });
      const meta = await sharp(out.bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual([format, 32, 32]);
      expect((await inspectImage(out.bytes)).settings).toEqual(settings);
    }
    const png = await encodeExport({ ...base, format: 'png', upscale: 8 });
    const { data } = await sharp(png.bytes).raw().toBuffer({ resolveWithObject: true });
    expect([...data.subarray(0, 3)]).toEqual([...image.data.subarray(0, 3)]);
    expect([...data.subarray(7 * 3, 7 * 3 + 3)]).toEqual([...image.data.subarray(0, 3)]); // x = 7 still source pixel 0
    expect([...data.subarray(8 * 3, 8 * 3 + 3)]).toEqual([...image.data.subarray(3, 6)]);
  });

  it('a file without settings or a damaged one opens with a note; a non-image is refused', async () => {
    const plain = await sharp(Buffer.from(image.data), { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer();
    expect((await inspectImage(plain)).settings).toBeNull();
    await expect(inspectImage(new Uint8Array([1, 2, 3]))).rejects.toMatchObject({ code: 'unreadable-image' });
  });
});

describe('browser-mode server', () => {
  let server: StudioServer;
  let host: StudioHost;
  const rendererDir = tmp('var-renderer-');
  beforeAll(async () => {
    mkdirSync(path.join(rendererDir, 'assets'));
    writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(path.join(rendererDir, 'assets', 'a.js'), 'export {}');
    host = new StudioHost({ version: 't', host: 'browser', catalog: new ModelCatalog(tinyBundle, tmp('var-none-')), threads: 1, deliverExport: async (f) => ({ kind: 'download', ...f }) });
    server = await startStudioServer({ port: 0, rendererDir, host });
  });
  afterAll(async () => {
    await server.close();
    await host.dispose();
  });

  const withCookie = () => ({ Cookie: `var-studio-token-${server.port}=${server.token}` });
  function get(pathname: string, headers: Record<string, string> = withCookie()): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, path: pathname, headers }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('listens on 127.0.0.1 and serves only its own files, with the CSP header', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    expect(server.origin).toBe(`http://127.0.0.1:${server.port}/`);
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect((await get('/assets/a.js')).status).toBe(200);
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/assets/../../package.json', '/etc/passwd', '/assets/%2e%2e%2f%2e%2e%2fpackage.json'])
      expect((await get(p)).status, p).toBe(404);
    expect((await get('/', { ...withCookie(), Host: 'evil.example:80' })).status).toBe(421);
  });

  it('serves nothing without the token; the URL token becomes an HttpOnly SameSite=Strict cookie', async () => {
    for (const p of ['/', '/index.html', '/assets/a.js', '/?token=', `/?token=${server.token.slice(1)}`]) {
      const r = await get(p, {});
      expect(r.status, p).toBe(401);
      expect(r.body, p).toContain('?token=');
    }
    expect((await get('/', { Cookie: `var-studio-token-${server.port}=${server.token}x` })).status).toBe(401);
    const first = await get(`/?token=${server.token}`, {});
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    expect(first.headers['set-cookie']).toEqual([`var-studio-token-${server.port}=${server.token}; HttpOnly; SameSite=Strict; Path=/`]);
    const deep = await get(`/.//evil.example/?token=${server.token}&x=1`, {});
    expect(deep.headers.location).toBe('/evil.example/?x=1');
    expect((await get('/assets/a.js', { Cookie: `other=1; var-studio-token-${server.port}=${server.token}` })).status).toBe(200);
  });

  it('refuses WebSocket upgrades without the token, with it from the cookie or the query', async () => {
    const outcome = (url: string, headers: Record<string, string> = {}) => new Promise<string>((r) => {
      const ws = new WebSocket(url, { origin: `http://127.0.0.1:${server.port}`, headers });
      ws.on('open', () => { r('open'); ws.close(); });
      ws.on('unexpected-response', (_req, res) => r(String(res.statusCode)));
      ws.on('error', () => r('error'));
    });
    expect(await outcome(`ws://127.0.0.1:${server.port}/ws`)).toBe('401');
    expect(await outcome(`ws://127.0.0.1:${server.port}/ws?token=nope`)).toBe('401');
    expect(await outcome(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`)).toBe('open');
    expect(await outcome(`ws://127.0.0.1:${server.port}/ws`, withCookie())).toBe('open');
  });

  it('says what to do when the port is taken', async () => {
    await expect(startStudioServer({ port: server.port, rendererDir, host })).rejects.toThrow(/already in use.*--port 0/);
  });

  it('refuses WebSocket upgrades from another origin', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`, { origin: 'http://evil.example' });
    const outcome = await new Promise<string>((r) => {
      ws.on('open', () => r('open'));
      ws.on('error', () => r('refused'));
    });
    expect(outcome).toBe('refused');
  });

  it('answers malformed messages with an error and keeps the connection working', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { origin: `http://127.0.0.1:${server.port}`, headers: withCookie() });
    await new Promise((r) => ws.on('open', r));
    const reader = new WireReader(REPLY_LIMITS);
    const next = () => new Promise<any>((r) => {
      const onMessage = (d: Buffer) => {
        const step = reader.push(d);
        if (step.done) {
          ws.off('message', onMessage);
          r(step.value);
        }
      };
      ws.on('message', onMessage);
    });
    const frame = (m: unknown) => encodeFrame(m).messages.map(joinParts);
    const bad: (string | Uint8Array)[][] = [['garbage'], [new Uint8Array([1, 2, 3])], frame([]), frame({ t: 'req' }),
      frame({ t: 'req', id: 5, kind: 'nope', params: {} }), frame({ t: 'req', id: 6, kind: 'models.load', params: { modelId: 'embedded', x: 1 } })];
    const replies: any[] = [];
    for (const messages of bad) {
      for (const m of messages) ws.send(m);
      replies.push(await next());
    }
    expect(replies.slice(0, 4).map((r) => [r.t, r.error.code])).toEqual([['err', 'bad-message'], ['err', 'bad-message'], ['err', 'bad-message'], ['err', 'bad-message']]);
    expect(replies[0].error.message).toContain('binary');
    expect(replies[4]).toMatchObject({ t: 'res', id: 5, ok: false, error: { code: 'bad-message' } });
    expect(replies[5].error.message).toContain('params.x');
    for (const m of frame({ t: 'req', id: 7, kind: 'models.list', params: {} })) ws.send(m);
    expect(await next()).toMatchObject({ t: 'res', id: 7, ok: true });
    ws.close();
  });
});

describe('--gpu', () => {
  it('takes the CUDA/DirectML device id 0..3 and refuses anything else with the range', () => {
    expect(parseServeArgs([]).gpu).toBe(0);
    expect(parseServeArgs(['--gpu', '1']).gpu).toBe(1);
    expect(parseServeArgs(['--gpu=3']).gpu).toBe(3);
    for (const bad of ['4', '-1', '1.5', 'x']) expect(() => parseServeArgs(['--gpu', bad])).toThrow(/--gpu must be an integer 0\.\.3/);
  });
});

describe('--token-file', () => {
  it('creates the file with mode 0600 and a fresh token, then reads the same token back', async () => {
    const file = path.join(tmp('var-token-'), 'token');
    expect(parseServeArgs(['--token-file', file]).tokenFile).toBe(file);
    const token = await tokenFromFile(file);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${token}\n`);
    expect(await tokenFromFile(file)).toBe(token);
  });

  it('refuses a token file other users can read, and one that holds no usable token', async () => {
    const dir = tmp('var-token-');
    const open = path.join(dir, 'open');
    writeFileSync(open, 'a'.repeat(40));
    chmodSync(open, 0o644);
    await expect(tokenFromFile(open)).rejects.toThrow(/can be read by other users.*chmod 600/);
    const short = path.join(dir, 'short');
    writeFileSync(short, 'secret', { mode: 0o600 });
    await expect(tokenFromFile(short)).rejects.toThrow(/32\.\.256 characters/);
  });
});
