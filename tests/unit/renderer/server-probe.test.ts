// The page's probe that tells "server away" from "server back with a new token" after its socket drops.
import { describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpOriginOf, probeServer } from '../../../src/renderer/lib/studio/server-probe';

function serve(status: number): Promise<{ origin: string; close(): Promise<void>; methods: string[] }> {
  const methods: string[] = [];
  const server = http.createServer((req, res) => {
    methods.push(req.method ?? '');
    res.writeHead(status).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    resolve({ origin: `http://127.0.0.1:${port}`, methods, close: () => new Promise((r) => server.close(() => r())) });
  }));
}

describe('probeServer', () => {
  it('reads a 401 as "back with a new token", a 200 as "up", and a refused connection as "down"', async () => {
    const refusing = await serve(401);
    const accepting = await serve(200);
    try {
      expect(await probeServer(refusing.origin)).toBe('new-token');
      expect(await probeServer(accepting.origin)).toBe('up');
      expect(refusing.methods).toEqual(['HEAD']); // a HEAD: the page never reads a body
    } finally {
      await refusing.close();
      await accepting.close();
    }
    expect(await probeServer(refusing.origin)).toBe('down');
  });

  it('maps the socket URL to its http origin', () => {
    expect(httpOriginOf('ws://127.0.0.1:5173/ws')).toBe('http://127.0.0.1:5173');
    expect(httpOriginOf('wss://localhost:8443/ws')).toBe('https://localhost:8443');
  });
});
