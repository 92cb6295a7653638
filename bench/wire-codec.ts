// The browser-mode wire, measured three ways (numbers in docs/security.md):
// 1. base64 on 20 MiB as ratios to Node's own base64 (the JSON text form the gallery's files still use);
// 2. decode + contract validation of the largest legal edit.start (2048² region, batch 8): the old JSON
//    text with base64 inside against the binary frame, as the server runs them;
// 3. the server's event loop while it receives that request over a real WebSocket: a client in a worker
//    thread sends it (a browser-like random mask) while a second connection polls app.info every 5 ms.
// Run: npx tsx bench/wire-codec.ts
import { Worker } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  REQUEST_LIMITS, decodeFrame, decodeWire, encodeFrame, encodeWire, fromBase64, joinParts, parseWireRequest, toBase64,
} from '../src/shared/wire';
import { LIMITS, parseParams } from '../src/shared/contract';
import { EDIT_LIMITS } from '../src/shared/edit';
import { startStudioServer } from '../src/server/server';
import type { StudioHost } from '../src/host/service';

function best(f: () => unknown, rounds = 3): number {
  let ms = Infinity;
  for (let k = 0; k < rounds; k++) {
    const t = performance.now();
    f();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

// ---------- 1. base64 ----------
const n = 20 * 1024 * 1024;
const data = new Uint8Array(n);
for (let i = 0; i < n; i++) data[i] = (i * 2654435761) >>> 24;
const buffer = Buffer.from(data.buffer);
const text = buffer.toString('base64');
const wire = encodeWire({ t: 'res', id: 1, ok: true, result: { bytes: data } });
const floorEncode = best(() => buffer.toString('base64'));
const floorDecode = best(() => Buffer.from(text, 'base64'));
const rows = {
  toBase64: best(() => toBase64(data)) / floorEncode,
  fromBase64: best(() => fromBase64(text, 'x')) / floorDecode,
  encodeWire: best(() => encodeWire({ t: 'res', id: 1, ok: true, result: { bytes: data } })) / floorEncode,
  decodeWire: best(() => decodeWire(wire)) / floorDecode,
};
console.log(`1. 20 MiB, ratio to Buffer base64 (encode ${floorEncode.toFixed(0)} ms, decode ${floorDecode.toFixed(0)} ms):`);
for (const [name, ratio] of Object.entries(rows)) console.log(`  ${name.padEnd(10)} ${ratio.toFixed(2)}×`);

// ---------- 2. decode + validate the largest legal edit.start ----------
function largestEdit() {
  const size = EDIT_LIMITS.maxRegion;
  const image = new Uint8Array(size * size * 3);
  for (let i = 0; i < image.length; i++) image[i] = (i * 31) & 255;
  return {
    jobId: 'big', modelId: 'embedded', operation: 'inpaint', classIndex: null, seed: 5, batch: LIMITS.maxEditBatch,
    sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false }, feather: EDIT_LIMITS.maxFeather,
    image: { width: size, height: size, data: image }, mask: { width: size, height: size, data: new Uint8Array(size * size).fill(255) },
    region: { x: 0, y: 0, size },
  };
}
const request = { t: 'req', id: 1, kind: 'edit.start', params: largestEdit() };
const asText = Buffer.from(encodeWire(request));
const asFrame = encodeFrame(request).messages.map((parts) => Buffer.from(joinParts(parts)));
const frameBytes = asFrame.reduce((n, m) => n + m.length, 0);
const checkRequest = (raw: unknown) => {
  const req = parseWireRequest(raw);
  parseParams(req.kind, req.params);
};
const textMs = best(() => checkRequest(decodeWire(asText.toString())), 5);
const frameMs = best(() => checkRequest(decodeFrame(asFrame, REQUEST_LIMITS)), 5);
console.log(`2. largest legal edit.start, decode + validate on the server (best of 5; the binary wire is read chunk by chunk, each a turn of its own):`);
console.log(`  JSON text + base64 (${(asText.length / 2 ** 20).toFixed(1)} MiB): ${textMs.toFixed(1)} ms`);
console.log(`  binary wire         (${(frameBytes / 2 ** 20).toFixed(1)} MiB in ${asFrame.length} messages): ${frameMs.toFixed(1)} ms  (${(textMs / frameMs).toFixed(0)}× less)`);

// ---------- 3. the server's event loop while it receives that request ----------
// The host stand-in validates params as StudioHost.handle does and accepts the job; no engine runs.
const host = {
  async handle(kind: never, params: unknown) {
    parseParams(kind, params);
    return kind === 'edit.start' ? { jobId: 'big' } : { version: 'bench', host: 'browser', modelsDir: '/' };
  },
  sessionClosed() {},
} as unknown as StudioHost;
const rendererDir = mkdtempSync(path.join(os.tmpdir(), 'wire-bench-'));
writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html>');
const server = await startStudioServer({ port: 0, rendererDir, host });
const wsPath = createRequire(import.meta.url).resolve('ws');
// Two client threads: one sends the request (masking it, as a browser does), one polls app.info.
const client = `
const { parentPort, workerData: w } = require('node:worker_threads');
const WebSocket = require(w.wsPath);
const socket = new WebSocket(w.url, { origin: w.origin, headers: { Cookie: w.cookie } });
socket.on('open', async () => {
  if (w.role === 'send') {
    const t = performance.now();
    await new Promise((r) => { socket.once('message', r); for (const m of w.big) socket.send(m); });
    parentPort.postMessage({ acceptMs: performance.now() - t });
    return socket.close();
  }
  const waits = [];
  let polling = true;
  parentPort.once('message', () => (polling = false));
  parentPort.postMessage('polling');
  while (polling) {
    const t = performance.now();
    await new Promise((r) => { socket.once('message', r); socket.send(w.info); });
    waits.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  parentPort.postMessage({ worstInfoMs: Math.max(...waits), polls: waits.length });
  socket.close();
});`;
const info = joinParts(encodeFrame({ t: 'req', id: 2, kind: 'app.info', params: {} }).messages[0]);
const common = { wsPath, url: `ws://127.0.0.1:${server.port}/ws`, origin: server.origin.replace(/\/$/, ''), cookie: `var-studio-token-${server.port}=${server.token}` };
const delay = monitorEventLoopDelay({ resolution: 1 });
const poller = new Worker(client, { eval: true, workerData: { ...common, role: 'poll', info } });
await new Promise((r) => poller.once('message', r));
// The baseline: the same polling for a second with nothing else sent (on a shared machine, scheduling alone delays the loop).
const idle = monitorEventLoopDelay({ resolution: 1 });
idle.enable();
await new Promise((r) => setTimeout(r, 1000));
idle.disable();
delay.enable();
const sender = new Worker(client, { eval: true, workerData: { ...common, role: 'send', big: asFrame } });
const { acceptMs } = await new Promise<{ acceptMs: number }>((r) => sender.once('message', r));
await new Promise((r) => setTimeout(r, 50));
poller.postMessage('stop');
const outcome = { acceptMs, ...(await new Promise<{ worstInfoMs: number; polls: number }>((r) => poller.once('message', r))) };
delay.disable();
await server.close();
console.log(`3. receiving it over a WebSocket (server and client threads in one process):`);
console.log(`  accepted after ${outcome.acceptMs.toFixed(0)} ms; server event loop blocked at most ${(delay.max / 1e6).toFixed(1)} ms (p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms); app.info worst ${outcome.worstInfoMs.toFixed(1)} ms over ${outcome.polls} polls`);
console.log(`  baseline (1 s of polling only): event loop blocked at most ${(idle.max / 1e6).toFixed(1)} ms (p99 ${(idle.percentile(99) / 1e6).toFixed(1)} ms)`);
console.log(`load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`);
