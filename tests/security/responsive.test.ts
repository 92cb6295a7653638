// Review finding 2 (nothing freezes the host): while the largest legal edit runs, Cancel and another
// window's request are answered within 100 ms, because the engine and image codecs run in a worker thread.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LIMITS } from '../../src/shared/blocks';
import { EDIT_LIMITS } from '../../src/shared/edit';
import { tinyBundle, tmp } from './helpers';
import { call, connect, readWire, requestFrame, sendMessages } from './server-helpers';

// ENGINE_IN_WORKER=0 runs the same measurement on the in-process path (it fails there).
const inWorker = process.env.ENGINE_IN_WORKER !== '0';

/** Sends one request and resolves with the milliseconds until its reply. */
function timed(ws: WebSocket, id: number, kind: string, params: unknown): Promise<number> {
  const t0 = performance.now();
  return call(ws, id, kind, params).then(() => performance.now() - t0);
}

function largestEdit(jobId: string) {
  const size = EDIT_LIMITS.maxRegion;
  const image = new Uint8Array(size * size * 3);
  for (let i = 0; i < image.length; i++) image[i] = (i * 31) & 255;
  return {
    jobId, modelId: 'embedded', operation: 'inpaint', classIndex: null, seed: 5, batch: LIMITS.maxEditBatch,
    sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false }, feather: EDIT_LIMITS.maxFeather,
    image: { width: size, height: size, data: image }, mask: { width: size, height: size, data: new Uint8Array(size * size).fill(255) },
    region: { x: 0, y: 0, size },
  };
}

/** `tsx src/server/main.ts` as its own process (the client's clock must not share the server's event loop). */
async function startServer(): Promise<{ proc: ChildProcess; port: number; token: string }> {
  const tokenFile = path.join(tmp('token'), 'token');
  const env = { ...process.env, VAR_STUDIO_DATA_DIR: tmp('data'), VAR_STUDIO_ENGINE_IN_WORKER: inWorker ? '1' : '0' };
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts', '--port', '0', '--model', tinyBundle, '--models-dir', tmp('models'), '--threads', '1', '--token-file', tokenFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  proc.stderr!.on('data', (d) => log.push(String(d)));
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      const m = /running at http:\/\/127\.0\.0\.1:(\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`the server exited with ${code}: ${log.join('')}`)));
  });
  return { proc, port, token: readFileSync(tokenFile, 'utf8').trim() };
}

describe(`finding 2: the host answers while the largest edit runs (engine ${inWorker ? 'in a worker' : 'in process'})`, () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let a: WebSocket;
  let b: WebSocket;

  beforeAll(async () => {
    server = await startServer();
    const options = { origin: `http://127.0.0.1:${server.port}`, headers: { Cookie: `var-studio-token-${server.port}=${server.token}` } };
    // A zero mask: the sending client does not spend its own event loop masking 22 MB, so only the server's stall is timed.
    a = (await connect(`ws://127.0.0.1:${server.port}/ws`, { ...options, generateMask: (mask) => void mask.fill(0) })).ws;
    b = (await connect(`ws://127.0.0.1:${server.port}/ws`, options)).ws;
    expect((await call(a, 1, 'models.load', { modelId: 'embedded' })).t).toBe('res');
  }, 60_000);
  afterAll(() => {
    a?.close();
    b?.close();
    server?.proc.kill('SIGTERM');
  });

  // Timing on a shared 2-core machine: up to two more tries absorb a scheduler hiccup; the stall this guards
  // against (seconds on the main thread) fails every try.
  it('while the largest legal edit.start is received, decoded and checked, another window\'s app.info is answered within 100 ms', { retry: 2, timeout: 60_000 }, async () => {
    const frame = requestFrame(10, 'edit.start', largestEdit('upload')); // encoded before the clock starts
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const infoMs: number[] = [];
    let polling = true;
    const poll = (async () => {
      for (let id = 100_000; polling; id++) {
        infoMs.push(await timed(b, id, 'app.info', {}));
        await sleep(5);
      }
    })();
    readWire(a);
    const accepted = new Promise<any>((resolve) => a.on('wire', (m) => {
      if (m.t === 'res' && m.id === 10) resolve(m);
    }));
    const ended = new Promise<string>((resolve) => a.on('wire', (m) => {
      if (m.t === 'evt' && m.event.jobId === 'upload' && ['edit.done', 'job.cancelled', 'job.error'].includes(m.event.type)) resolve(m.event.type);
    }));
    await sleep(50);
    const sentAt = performance.now();
    sendMessages(a, frame);
    const reply = await accepted;
    const acceptMs = performance.now() - sentAt;
    await sleep(50);
    polling = false;
    await poll;
    await call(a, 11, 'edit.cancel', { jobId: 'upload' });
    await ended;
    const worst = Math.max(...infoMs);
    console.log(`largest edit.start (${(frame.reduce((n, m) => n + m.length, 0) / 2 ** 20).toFixed(1)} MiB) accepted after ${acceptMs.toFixed(0)} ms; app.info worst ${worst.toFixed(1)} ms over ${infoMs.length} calls meanwhile`);
    expect(reply.ok).toBe(true);
    expect(infoMs.length).toBeGreaterThan(3);
    expect(worst).toBeLessThan(100);
  });

  it('Cancel and a second window\'s app.info are answered within 100 ms; the job ends cancelled', { retry: 2, timeout: 60_000 }, async () => {
    const events: string[] = [];
    const ended = new Promise<string>((resolve) => a.on('wire', (m: { t: string; event?: { type: string } }) => {
      if (m.t !== 'evt' || !m.event) return;
      events.push(m.event.type);
      if (['edit.done', 'job.cancelled', 'job.error'].includes(m.event.type)) resolve(m.event.type);
    }));
    // another window polls from the moment the request is sent; only answers after the edit has started count
    const started = call(a, 2, 'edit.start', largestEdit('big'));
    let running = false;
    const uploadMs: number[] = [];
    const infoMs: number[] = [];
    let polling = true;
    const poll = (async () => {
      for (let id = 100; polling; id++) {
        const during = running;
        const ms = await timed(b, id, 'app.info', {});
        (during ? infoMs : uploadMs).push(ms);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    expect((await started).t).toBe('res');
    running = true;
    await new Promise((r) => setTimeout(r, 300));
    const cancelMs = await timed(a, 3, 'edit.cancel', { jobId: 'big' });
    const outcome = await ended;
    polling = false;
    await poll;
    const worstInfo = Math.max(...infoMs);
    console.log(`engine ${inWorker ? 'in worker' : 'in process'}: cancel answered in ${cancelMs.toFixed(1)} ms; app.info worst ${worstInfo.toFixed(1)} ms over ${infoMs.length} calls while the edit ran (${Math.max(0, ...uploadMs).toFixed(1)} ms worst over ${uploadMs.length} calls while the request was sent and checked); outcome ${outcome}`);
    expect(cancelMs).toBeLessThan(100);
    expect(worstInfo).toBeLessThan(100);
    expect(outcome).toBe('job.cancelled');
  });
});
