// Re-measures the browser-mode count of the security review: hostile connections and messages against a
// real server (tiny model, engine in a worker); each must be refused, and the server must still answer after.
// Run: npx tsx bench/browser-attacks.ts
import WebSocket from 'ws';
import { ModelCatalog } from '../src/host/models';
import { StudioHost } from '../src/host/service';
import { startStudioServer } from '../src/server/server';
import { MAX_REQUEST_PIECE_BYTES, encodeFrame, joinParts } from '../src/shared/wire';
import { rendererDir, tinyBundle, tmp } from '../tests/security/helpers';
import { call, connect } from '../tests/security/server-helpers';

/** Any value as the wire's WebSocket messages (src/shared/wire.ts). */
const frame = (m: unknown) => encodeFrame(m).messages.map(joinParts);

/** A head built by hand around this header text; the lengths may lie. */
function head(json: string, opts: { headerBytes?: number; payloadBytes?: number } = {}): Uint8Array[] {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(12 + text.length);
  out.set([0x56, 0x53, 0x42, 0x31]);
  const view = new DataView(out.buffer);
  view.setUint32(4, opts.headerBytes ?? text.length, true);
  view.setUint32(8, opts.payloadBytes ?? 0, true);
  out.set(text, 12);
  return [out];
}


const host = new StudioHost({ version: 't', host: 'browser', catalog: new ModelCatalog(tinyBundle, tmp('models')), threads: 1, dataDir: tmp('data'), engineInWorker: true, deliverExport: async (f) => ({ kind: 'download', ...f }) });
const server = await startStudioServer({ port: 0, rendererDir: rendererDir(), host });
const origin = `http://127.0.0.1:${server.port}`;
const url = `ws://127.0.0.1:${server.port}/ws`;
const cookie = { Cookie: `var-studio-token-${server.port}=${server.token}` };
const good = { origin, headers: cookie };

/** Connection-level attacks: refused when the socket does not open. */
const CONNECTIONS: [string, WebSocket.ClientOptions][] = [
  ['no token', { origin }], ['wrong token', { origin, headers: { Cookie: `var-studio-token-${server.port}=${'A'.repeat(43)}` } }],
  ['token of another port', { origin, headers: { Cookie: `var-studio-token-1=${server.token}` } }],
  ['evil origin with token', { origin: 'http://evil.example', headers: cookie }], ['no origin with token', { headers: cookie }],
  ['localhost origin (DNS-rebinding name)', { origin: `http://localhost.evil:${server.port}`, headers: cookie }],
  ['null origin', { origin: 'null', headers: cookie }], ['file origin', { origin: 'file://', headers: cookie }],
  ['empty cookie', { origin, headers: { Cookie: '' } }], ['token in a wrong cookie name', { origin, headers: { Cookie: `token=${server.token}` } }],
];

const size = 64;
const img = (w: number, h: number, n = w * h * 3) => ({ width: w, height: h, data: new Uint8Array(n) });
const sampling = { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false };
const editBase = { jobId: 'e', modelId: 'embedded', operation: 'inpaint', classIndex: null, seed: 1, batch: 1, sampling, feather: 0, image: img(size, size), mask: { width: size, height: size, data: new Uint8Array(size * size).fill(255) }, region: { x: 0, y: 0, size } };

/** Message-level attacks over an authenticated socket: refused when the reply is an error (or the socket is closed). */
const MESSAGES: [string, (string | Uint8Array)[]][] = [
  ['a text message', ['{"t":"req","id":1,"kind":"app.info","params":{}}']],
  ['not JSON', head('{{{')], ['JSON array', head('[]')], ['JSON number', head('42')], ['deep nesting', head(`${'['.repeat(100000)}${']'.repeat(100000)}`)],
  ['not a wire head', [Buffer.from([0, 1, 2, 3])]], ['unknown kind', frame({ t: 'req', id: 1, kind: 'fs.readFile', params: { path: '/etc/passwd' } })],
  ['prototype kind', frame({ t: 'req', id: 1, kind: '__proto__', params: {} })], ['constructor kind', frame({ t: 'req', id: 1, kind: 'constructor', params: {} })],
  ['no id', frame({ t: 'req', kind: 'app.info', params: {} })], ['string id', frame({ t: 'req', id: 'x', kind: 'app.info', params: {} })],
  ['event from client', frame({ t: 'evt', event: { type: 'job.done' } })], ['__proto__ params', head('{"t":"req","id":1,"kind":"app.info","params":{"__proto__":{"x":1}}}')],
  ['model id traversal', frame({ t: 'req', id: 1, kind: 'models.load', params: { modelId: '../../../etc' } })],
  ['model id absolute path', frame({ t: 'req', id: 1, kind: 'models.load', params: { modelId: '/etc' } })],
  ['model id huge', frame({ t: 'req', id: 1, kind: 'models.load', params: { modelId: 'a'.repeat(1_000_000) } })],
  ['generate unknown model', frame({ t: 'req', id: 1, kind: 'generate.start', params: { jobId: 'g', settings: { modelId: 'nope', classIndex: 0, seed: 1, batch: 1, sampling } } })],
  ['generate batch over cap', frame({ t: 'req', id: 1, kind: 'generate.start', params: { jobId: 'g', settings: { modelId: 'embedded', classIndex: 0, seed: 1, batch: 10_000, sampling } } })],
  ['generate NaN cfg', head('{"t":"req","id":1,"kind":"generate.start","params":{"jobId":"g","settings":{"modelId":"embedded","classIndex":0,"seed":1,"batch":1,"sampling":{"cfg":1e999,"topK":1,"topP":1,"moreSmooth":false}}}}')],
  ['edit region over cap', frame({ t: 'req', id: 1, kind: 'edit.start', params: { ...editBase, region: { x: 0, y: 0, size: 100_000 } } })],
  ['edit batch over cap', frame({ t: 'req', id: 1, kind: 'edit.start', params: { ...editBase, batch: 1000 } })],
  ['edit image bytes short', frame({ t: 'req', id: 1, kind: 'edit.start', params: { ...editBase, image: img(size, size, 10) } })],
  ['edit mask size mismatch', frame({ t: 'req', id: 1, kind: 'edit.start', params: { ...editBase, mask: { width: 2, height: 2, data: new Uint8Array(4) } } })],
  ['edit image 100000 wide', frame({ t: 'req', id: 1, kind: 'edit.start', params: { ...editBase, image: img(100_000, 1, 3) } })],
  ['canvas.open not an image', frame({ t: 'req', id: 1, kind: 'canvas.open', params: { bytes: new Uint8Array(1000).fill(7), fileName: 'a.png' } })],
  ['canvas.open path name', frame({ t: 'req', id: 1, kind: 'canvas.open', params: { bytes: new Uint8Array(10), fileName: '../../etc/passwd' } })],
  ['image.inspect text', frame({ t: 'req', id: 1, kind: 'image.inspect', params: { bytes: new TextEncoder().encode('<svg onload=alert(1)>') } })],
  ['image.export 0 scale', frame({ t: 'req', id: 1, kind: 'image.export', params: { image: img(4, 4), format: 'png', scale: 0 } })],
  ['document.save junk', frame({ t: 'req', id: 1, kind: 'document.save', params: { meta: { docId: '../../x' }, image: new Uint8Array(3), mask: new Uint8Array(3) } })],
  ['cancel of another job', frame({ t: 'req', id: 1, kind: 'generate.cancel', params: { jobId: 'not-mine' } })],
  ['models.pull unknown', frame({ t: 'req', id: 1, kind: 'models.pull', params: { modelId: 'no-such-model' } })],
  ['head length that lies', head('{"t":"req","id":1}', { headerBytes: 4000 })],
  ['payload range past the declared bytes', head('{"t":"req","id":1,"kind":"canvas.open","params":{"fileName":"a.png","bytes":{"$u8":[0,1000]}}}', { payloadBytes: 8 })],
  ['overlapping payload ranges', head('{"t":"req","id":1,"kind":"app.info","params":{"a":{"$u8":[0,16]},"b":{"$u8":[8,8]}}}', { payloadBytes: 24 })],
  ['chunk longer than declared', [...head('{"t":"req","id":1,"kind":"canvas.open","params":{"fileName":"a.png","bytes":{"$u8":[0,4]}}}', { payloadBytes: 4 }), new Uint8Array(64)]],
  ['message over the request cap', head('{"t":"req","id":1}', { payloadBytes: 0xffffffff })],
  ['one WebSocket message over the piece cap', [new Uint8Array(MAX_REQUEST_PIECE_BYTES + 1)]],
];

function send(ws: WebSocket, messages: (string | Uint8Array)[]): Promise<'refused' | 'accepted'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('accepted'), 5000);
    ws.once('message', (d) => {
      clearTimeout(timer);
      const text = String(d);
      resolve(/"ok":true/.test(text) && !/"cancelled":false/.test(text) ? 'accepted' : 'refused');
    });
    ws.once('close', () => { clearTimeout(timer); resolve('refused'); });
    for (const m of messages) ws.send(m);
  });
}

async function alive(): Promise<boolean> {
  const { outcome, ws } = await connect(url, good);
  if (outcome !== 'open') return false;
  const r = await Promise.race([call(ws, 9, 'app.info', {}), new Promise((r) => setTimeout(() => r(null), 2000))]);
  ws.close();
  return (r as { ok?: boolean } | null)?.ok === true;
}

let tried = 0;
let refused = 0;
const notRefused: string[] = [];
let downAfter = 0;
{
  const { ws } = await connect(url, good);
  await call(ws, 1, 'models.load', { modelId: 'embedded' });
  // the control: a legitimate request counts as accepted, so a refusal below is a real one
  if ((await send(ws, frame({ t: 'req', id: 2, kind: 'app.info', params: {} }))) !== 'accepted') throw new Error('the control request was not accepted');
  ws.close();
}
for (const [name, options] of CONNECTIONS) {
  tried++;
  const { outcome, ws } = await connect(url, options);
  if (outcome !== 'open') refused++;
  else notRefused.push(name);
  ws.terminate();
  if (!(await alive())) downAfter++;
}
for (const [name, data] of MESSAGES) {
  tried++;
  const { ws } = await connect(url, good);
  if ((await send(ws, data)) === 'refused') refused++;
  else notRefused.push(name);
  ws.terminate();
  if (!(await alive())) downAfter++;
}
console.log(`browser mode: ${tried} attacks tried, ${refused} refused, ${notRefused.length} not refused${notRefused.length ? ` (${notRefused.join('; ')})` : ''}; server unresponsive after ${downAfter}`);
await server.close();
await host.dispose();
