// Review findings 1, 2 (reply caps), 8 (server log) and 10 (socket hygiene) against the browser-mode server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { StudioHost } from '../../src/host/service';
import { tmp } from './helpers';
import { call, connect, originOf, realHost, serve, tokenCookie } from './server-helpers';

function get(port: number, pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('finding 1: browser mode needs the per-launch token', () => {
  const dataDir = tmp('data');
  const host = realHost(dataDir);
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    server = await serve({ host });
  });
  afterAll(async () => {
    await server.close();
    await host.dispose();
  });

  it('a local client that forges the Origin header gets no page, no socket, no model list and no document', async () => {
    writeFileSync(path.join(dataDir, 'marker'), 'x');
    expect((await get(server.port, '/')).status).toBe(401);
    expect((await get(server.port, '/index.html', { Origin: originOf(server) })).status).toBe(401);
    const { outcome, ws } = await connect(`ws://127.0.0.1:${server.port}/ws`, { origin: originOf(server) });
    let reply: unknown = null;
    if (outcome === 'open') reply = await call(ws, 1, 'models.list', {});
    ws.close();
    expect(reply).toBeNull();
    expect(outcome).toBe('401');
  });

  it('a wrong token of the right length is refused as well', async () => {
    const wrong = 'A'.repeat(43);
    expect((await get(server.port, `/?token=${wrong}`)).status).toBe(401);
    const { outcome, ws } = await connect(`ws://127.0.0.1:${server.port}/ws`, { origin: originOf(server), headers: { Cookie: `var-studio-token-${server.port}=${wrong}` } });
    ws.close();
    expect(outcome).toBe('401');
  });
});

describe('finding 2: every reply is checked against the contract before it is sent', () => {
  it('an export over the 64 MiB result cap comes back as a clear error, not as bytes the client rejects', async () => {
    const big = new Uint8Array(64 * 1024 * 1024 + 1);
    const host = { handle: async () => ({ kind: 'download', fileName: 'x.png', mime: 'image/png', bytes: big }), sessionClosed: () => undefined } as unknown as StudioHost;
    const server = await serve({ host });
    try {
      const { outcome, ws } = await connect(`ws://127.0.0.1:${server.port}/ws`, { origin: originOf(server), headers: tokenCookie(server) });
      expect(outcome).toBe('open');
      const settings = {
        format: 'var-studio-settings', version: 2, model: { id: 'embedded', name: 'tiny', title: 'Tiny', resolution: 4 },
        classIndex: 2, resolvedClassIndex: 2, className: 'c', seed: 9, sampling: { cfg: 1.5, topK: 0, topP: 1, moreSmooth: false }, createdAt: '2026-01-01T00:00:00.000Z',
      };
      const exportParams = { image: { width: 1, height: 1, data: new Uint8Array(3) }, settings, format: 'png', upscale: 8, kernel: 'lanczos3', quality: 90, fileName: 'x' };
      const reply = await call(ws, 1, 'image.export', exportParams);
      ws.close();
      expect(reply).toMatchObject({ t: 'res', id: 1, ok: false, error: { code: 'reply-too-large' } });
      expect(reply.error.message).toMatch(/image\.export/);
    } finally {
      await server.close();
    }
  });
});

describe('finding 8: client-controlled text reaches the server log escaped', () => {
  it('a key with terminal escapes and a newline is logged without any control character', async () => {
    const lines: string[] = [];
    const host = realHost();
    const server = await serve({ host, log: (l) => lines.push(l) });
    try {
      const { ws } = await connect(`ws://127.0.0.1:${server.port}/ws`, { origin: originOf(server), headers: tokenCookie(server) });
      const evil = '\u001b]0;pwned\u0007\u001b[2J\n2026-11-30 FAKE LOG LINE\u009b31m';
      const reply = await call(ws, 1, 'models.load', { modelId: 'embedded', [evil]: 1 });
      ws.close();
      expect(reply.ok).toBe(false);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      expect(lines.join('')).toContain('FAKE LOG LINE'); // still readable, just inert
    } finally {
      await server.close();
      await host.dispose();
    }
  });
});

describe('finding 10: WebSocket hygiene', () => {
  it('a half-open socket (half a frame header, no pong) is closed by the heartbeat', async () => {
    const host = realHost();
    const server = await serve({ host, heartbeatMs: 150 });
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const response = new Promise<string>((r) => socket.once('data', (d) => r(String(d))));
      socket.write([
        'GET /ws HTTP/1.1', `Host: 127.0.0.1:${server.port}`, `Origin: ${originOf(server)}`, 'Upgrade: websocket', 'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', `Cookie: var-studio-token-${server.port}=${server.token}`, '', '',
      ].join('\r\n'));
      expect(await response).toMatch(/^HTTP\/1\.1 101/);
      socket.write(Buffer.from([0x81])); // the first byte of a frame header, then silence
      const closed = await new Promise<boolean>((r) => {
        const timer = setTimeout(() => r(false), 3000);
        socket.once('close', () => { clearTimeout(timer); r(true); });
      });
      socket.destroy();
      expect(closed).toBe(true);
    } finally {
      await server.close();
      await host.dispose();
    }
  });

  it('connections beyond the cap are closed with a reason that says what to do', async () => {
    const host = realHost();
    const server = await serve({ host, maxConnections: 2 });
    const opts = { origin: originOf(server), headers: tokenCookie(server) };
    try {
      const first = await connect(`ws://127.0.0.1:${server.port}/ws`, opts);
      const second = await connect(`ws://127.0.0.1:${server.port}/ws`, opts);
      const third = await connect(`ws://127.0.0.1:${server.port}/ws`, opts);
      const closed = await new Promise<{ code: number; reason: string } | null>((r) => {
        const timer = setTimeout(() => r(null), 2000);
        third.ws.once('close', (code, reason) => { clearTimeout(timer); r({ code, reason: String(reason) }); });
      });
      for (const c of [first, second, third]) c.ws.close();
      expect([first.outcome, second.outcome]).toEqual(['open', 'open']);
      expect(closed).toMatchObject({ code: 1013 });
      expect(closed?.reason).toMatch(/at most 2 connections/);
    } finally {
      await server.close();
      await host.dispose();
    }
  });
});
