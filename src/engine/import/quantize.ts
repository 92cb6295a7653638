/**
 * Reduced-precision variants of an assembled bundle's transformer, in TypeScript (the importer's twin of
 * tools/export/quantize.py; both write the same weight bytes). Every MatMul whose B is `Transpose(W)` of a 2-D
 * initializer (an nn.Linear) becomes onnxruntime's `com.microsoft.MatMulNBits` (int8 / int4: W[N, K] in blocks
 * of `blockSize` along K, one float32 scale per block, codes packed low bits first, W ≈ (code − zp)·scale) or
 * `DynamicQuantizeMatMul` (dq8: int8 per output column). Weights named in `keptFp32` stay float32.
 * fp16: the whole graph in float16 with float32 inputs and outputs.
 */
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Precision } from '../manifest';
import { ImportError } from './checkpoint';
import { type Field, type Message, getInts, getMessages, getString, getStrings, intField, msgField, parseMessage, serializeMessage, strField } from './protobuf';

export const MS_DOMAIN = 'com.microsoft';
const WEIGHT_ALIGN = 64;
/** K = Cvae is tiny for the word embedding; the head writes the logits directly. */
export const DEFAULT_KEEP_FP32 = ['word_embed', 'head.'];

export type QuantPrecision = Exclude<Precision, 'fp32'>;
export interface QuantSpec {
  precision: QuantPrecision;
  method: 'MatMulNBits' | 'DynamicQuantizeMatMul' | 'fp16-cast';
  bits: number;
  blockSize: number;
  symmetric: boolean;
  accuracyLevel: number;
  keptFp32: string[];
}

/** The same presets as tools/export/quantize.py (the manifest's `quantization` record is this object). */
export const QUANT_PRESETS: Record<QuantPrecision, QuantSpec> = {
  int8: { precision: 'int8', method: 'MatMulNBits', bits: 8, blockSize: 128, symmetric: true, accuracyLevel: 4, keptFp32: DEFAULT_KEEP_FP32 },
  int4: { precision: 'int4', method: 'MatMulNBits', bits: 4, blockSize: 32, symmetric: true, accuracyLevel: 4, keptFp32: DEFAULT_KEEP_FP32 },
  dq8: { precision: 'dq8', method: 'DynamicQuantizeMatMul', bits: 8, blockSize: 0, symmetric: true, accuracyLevel: 0, keptFp32: DEFAULT_KEEP_FP32 },
  // the whole graph in float16 with float32 inputs and outputs: for GPUs (slower than fp32 on CPU)
  fp16: { precision: 'fp16', method: 'fp16-cast', bits: 16, blockSize: 0, symmetric: true, accuracyLevel: 0, keptFp32: [] },
};

export function quantSpec(p: QuantPrecision, overrides: Partial<Omit<QuantSpec, 'precision' | 'method'>> = {}): QuantSpec {
  const base = QUANT_PRESETS[p];
  if (!base) throw new ImportError('bad-option', `precision "${p}" cannot be made by the importer (expected ${Object.keys(QUANT_PRESETS).join(', ')})`);
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, x]) => x !== undefined));
  return { ...base, ...defined, keptFp32: [...((defined.keptFp32 as string[] | undefined) ?? base.keptFp32)] };
}

/** `fp32,int8,int4` → the extra precisions to write (fp32 is always there); unknown names are an ImportError. */
export function parsePrecisionList(text: string): QuantPrecision[] {
  const names = text.split(',').map((x) => x.trim()).filter(Boolean);
  const known = Object.keys(QUANT_PRESETS);
  const bad = names.filter((n) => n !== 'fp32' && !known.includes(n));
  if (bad.length) throw new ImportError('bad-option', `--precision: unknown ${bad.join(', ')} (expected a comma list of fp32, ${known.join(', ')})`);
  return [...new Set(names.filter((n) => n !== 'fp32'))] as QuantPrecision[];
}

/** numpy's rint: round half to even. */
export function rintEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const clamp = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);

/** Two 4-bit codes per byte, element 2i in the low nibble; 8-bit codes as they are. */
function pack(codes: Uint8Array, rows: number, cols: number, bits: number): Uint8Array {
  if (bits === 8) return codes;
  const half = Math.ceil(cols / 2);
  const out = new Uint8Array(rows * half);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c += 2) {
      const hi = c + 1 < cols ? codes[r * cols + c + 1] : 0;
      out[r * half + (c >> 1)] = codes[r * cols + c] | (hi << 4);
    }
  }
  return out;
}

export interface BlockwiseResult { codes: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array | null; blocks: number }

/**
 * W [N, K] (row-major float32) → packed codes [N, blocks, blockSize·bits/8], scales [N·blocks], zero points
 * [N, ceil(blocks·bits/8)] (asymmetric only), computed in float64 as tools/export/quantize.py does.
 */
export function quantizeBlockwise(w: Float32Array, N: number, K: number, bits: number, blockSize: number, symmetric: boolean): BlockwiseResult {
  if (bits !== 4 && bits !== 8) throw new ImportError('bad-option', `MatMulNBits bits must be 4 or 8, got ${bits}`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new ImportError('bad-option', `block size must be a power of two ≥ 16, got ${blockSize}`);
  const nb = Math.ceil(K / blockSize);
  const qmax = (1 << bits) - 1;
  const half = 1 << (bits - 1);
  const codes = new Uint8Array(N * nb * blockSize);
  const scales = new Float32Array(N * nb);
  const zps = symmetric ? null : new Uint8Array(N * nb);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nb; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      const row = n * K;
      let scale: number;
      let zp: number;
      if (symmetric) {
        let amax = 0;
        for (let k = k0; k < k1; k++) amax = Math.max(amax, Math.abs(w[row + k]));
        scale = amax / (half - 1);
        if (scale === 0) scale = 1;
        zp = half;
      } else {
        // padding zeros count, as in the Python tool (lo ≤ 0 ≤ hi anyway)
        let lo = 0, hi = 0;
        for (let k = k0; k < k1; k++) { lo = Math.min(lo, w[row + k]); hi = Math.max(hi, w[row + k]); }
        scale = (hi - lo) / qmax;
        if (scale === 0) scale = 1;
        zp = clamp(rintEven(-lo / scale), 0, qmax);
        zps![n * nb + b] = zp;
      }
      scales[n * nb + b] = scale;
      const o = (n * nb + b) * blockSize;
      for (let j = 0; j < blockSize; j++) {
        const x = k0 + j < K ? w[row + k0 + j] : 0;
        codes[o + j] = clamp(rintEven(x / scale) + zp, 0, qmax);
      }
    }
  }
  return {
    codes: pack(codes, N * nb, blockSize, bits), scales,
    zeroPoints: zps ? pack(zps, N, nb, bits) : null, blocks: nb,
  };
}

/** dq8: int8 codes B [K, N] (= Wᵀ) with one float32 scale per output column (float32 arithmetic, as numpy does). */
export function quantizePerColumn(w: Float32Array, N: number, K: number): { codes: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(N);
  const codes = new Int8Array(K * N);
  for (let n = 0; n < N; n++) {
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(w[n * K + k]));
    const s = amax > 0 ? Math.fround(amax / 127) : 1;
    scales[n] = s;
    for (let k = 0; k < K; k++) codes[k * N + n] = clamp(rintEven(Math.fround(w[n * K + k] / s)), -127, 127);
  }
  return { codes, scales };
}

/** float32 → IEEE half bits, round to nearest even (numpy's astype(float16)), overflow to ±inf. */
export function halfBits(f: number): number {
  const u = new Uint32Array(Float32Array.of(f).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112;
  if (e >= 0x1f) return sign | 0x7c00;
  let h: number;
  let rem: number;
  let half: number;
  if (e <= 0) {
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    h = full >>> shift;
    rem = full & ((1 << shift) - 1);
    half = 1 << (shift - 1);
  } else {
    h = (e << 10) | (mant >>> 13);
    rem = mant & 0x1fff;
    half = 0x1000;
  }
  if (rem > half || (rem === half && (h & 1) === 1)) h++; // a carry into the exponent is the right rounding
  return sign | h;
}

function toHalfBytes(f32: Float32Array): Uint8Array {
  const out = new Uint16Array(f32.length);
  for (let i = 0; i < f32.length; i++) out[i] = halfBits(f32[i]);
  return new Uint8Array(out.buffer);
}

// ONNX protobuf field numbers (onnx/onnx.proto)
const MODEL = { opsetImport: 8, graph: 7 };
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12, valueInfo: 13 };
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 };
const ATTR = { name: 1, i: 3, t: 5, ints: 8, type: 20, INT: 2, TENSOR: 4 };
const TENSOR = { dims: 1, dataType: 2, floatData: 4, name: 8, rawData: 9, externalData: 13, dataLocation: 14, FLOAT: 1, UINT8: 2, INT8: 3, FLOAT16: 10 };
const VALUE_INFO = { name: 1, type: 2 };
const DATA_FIELDS = new Set([4, 5, 6, 7, 9, 10, 11, 13, 14]);

function intAttr(name: string, v: number): Field {
  return msgField(NODE.attribute, [strField(ATTR.name, name), intField(ATTR.i, v), intField(ATTR.type, ATTR.INT)]);
}

function externalTensor(keep: Message, location: string, offset: number, length: number): Message {
  const entry = (k: string, v: string) => msgField(TENSOR.externalData, [strField(1, k), strField(2, v)]);
  return [...keep.filter((f) => !DATA_FIELDS.has(f.no)), entry('location', location), entry('offset', String(offset)), entry('length', String(length)), intField(TENSOR.dataLocation, 1)];
}

function newTensor(name: string, dims: number[], dataType: number): Message {
  return [...dims.map((d) => intField(TENSOR.dims, d)), intField(TENSOR.dataType, dataType), strField(TENSOR.name, name)];
}

interface Init { name: string; msg: Message; dims: number[]; data: () => Promise<Uint8Array> }

export interface VariantResult { model: string; weights: string; quantized: string[] }

/**
 * Write `<base>.<precision>.onnx/.weights` next to `model` (an fp32 graph whose initializers live in one
 * external weights file in `dir`): the variant graph and its weights, in tools/export/quantize.py's layout.
 */
export async function writeQuantizedVariant(dir: string, model: string, spec: QuantSpec): Promise<VariantResult> {
  const base = model.replace(/\.onnx$/, '');
  const name = `${base}.${spec.precision}`;
  const modelMsg = parseMessage(await readFile(join(dir, model)));
  const graphIdx = modelMsg.findIndex((f) => f.no === MODEL.graph);
  const graph = parseMessage(modelMsg[graphIdx].value as Uint8Array);
  const nodes = getMessages(graph, GRAPH.node);
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  const readExternal = (t: Message) => async (): Promise<Uint8Array> => {
    const ext = Object.fromEntries(getMessages(t, TENSOR.externalData).map((e) => [getString(e, 1), getString(e, 2)]));
    if (!ext.location) throw new ImportError('bad-template', `${model}: initializer ${getString(t, TENSOR.name)} has no external data`);
    let fh = handles.get(ext.location);
    if (!fh) { fh = await open(join(dir, ext.location), 'r'); handles.set(ext.location, fh); }
    const buf = new Uint8Array(Number(ext.length));
    const { bytesRead } = await fh.read(buf, 0, buf.length, Number(ext.offset ?? 0));
    if (bytesRead !== buf.length) throw new ImportError('bad-template', `${model}: ${ext.location} ends before initializer ${getString(t, TENSOR.name)}`);
    return buf;
  };
  const inits: Init[] = getMessages(graph, GRAPH.initializer).map((t) => ({ name: getString(t, TENSOR.name), msg: t, dims: getInts(t, TENSOR.dims), data: readExternal(t) }));
  const byName = new Map(inits.map((i) => [i.name, i]));
  const producer = new Map<string, Message>();
  for (const n of nodes) for (const o of getStrings(n, NODE.output)) producer.set(o, n);

  const replaced = new Map<Message, Message>();
  const dropped = new Set<Message>();
  const added: Init[] = [];
  const quantized: string[] = [];
  try {
    for (const node of spec.method === 'fp16-cast' ? [] : nodes) {
      if (getString(node, NODE.opType) !== 'MatMul') continue;
      const ins = getStrings(node, NODE.input);
      const tr = producer.get(ins[1]);
      if (!tr || getString(tr, NODE.opType) !== 'Transpose') continue;
      const wName = getStrings(tr, NODE.input)[0];
      const w = byName.get(wName);
      const permAttr = getMessages(tr, NODE.attribute).find((a) => getString(a, ATTR.name) === 'perm');
      const perm = permAttr ? getInts(permAttr, ATTR.ints) : [1, 0];
      if (!w || w.dims.length !== 2 || perm.length !== 2 || perm[0] !== 1 || perm[1] !== 0) continue;
      if (spec.keptFp32.some((s) => wName.includes(s))) continue;
      if (getInts(w.msg, TENSOR.dataType)[0] !== TENSOR.FLOAT) continue;
      const [N, K] = w.dims;
      const raw = await w.data();
      const f32 = new Float32Array(raw.buffer, raw.byteOffset, N * K);
      const qn = `${wName}.${spec.precision}`;
      const outs = getStrings(node, NODE.output);
      let q: Message;
      if (spec.method === 'MatMulNBits') {
        const r = quantizeBlockwise(f32, N, K, spec.bits, spec.blockSize, spec.symmetric);
        const qIns = [ins[0], `${qn}.codes`, `${qn}.scales`];
        added.push(constInit(`${qn}.codes`, [N, r.blocks, (spec.blockSize * spec.bits) / 8], TENSOR.UINT8, r.codes));
        added.push(constInit(`${qn}.scales`, [N * r.blocks], TENSOR.FLOAT, r.scales));
        if (r.zeroPoints) {
          qIns.push(`${qn}.zero_points`);
          added.push(constInit(`${qn}.zero_points`, [N, r.zeroPoints.length / N], TENSOR.UINT8, r.zeroPoints));
        }
        // attributes in sorted order, as onnx.helper.make_node writes them
        q = [...qIns.map((s) => strField(NODE.input, s)), ...outs.map((s) => strField(NODE.output, s)), strField(NODE.name, `${getString(node, NODE.name)}_q`),
          strField(NODE.opType, 'MatMulNBits'), intAttr('K', K), intAttr('N', N), intAttr('accuracy_level', spec.accuracyLevel), intAttr('bits', spec.bits),
          intAttr('block_size', spec.blockSize), strField(NODE.domain, MS_DOMAIN)];
      } else {
        const r = quantizePerColumn(f32, N, K);
        added.push(constInit(`${qn}.codes`, [K, N], TENSOR.INT8, r.codes));
        added.push(constInit(`${qn}.scales`, [N], TENSOR.FLOAT, r.scales));
        q = [...[ins[0], `${qn}.codes`, `${qn}.scales`].map((s) => strField(NODE.input, s)), ...outs.map((s) => strField(NODE.output, s)),
          strField(NODE.name, `${getString(node, NODE.name)}_q`), strField(NODE.opType, 'DynamicQuantizeMatMul'), strField(NODE.domain, MS_DOMAIN)];
      }
      replaced.set(node, q);
      dropped.add(tr);
      quantized.push(wName);
    }
    let newNodes: Message[];
    let finalInits: Init[];
    if (spec.method === 'fp16-cast') {
      ({ nodes: newNodes, inits: finalInits } = toFp16(graph, inits));
    } else {
      if (!quantized.length) throw new ImportError('bad-template', `${model}: no MatMul with an initializer weight to quantize for ${spec.precision}`);
      newNodes = nodes.filter((n) => !dropped.has(n)).map((n) => replaced.get(n) ?? n);
      const used = new Set(newNodes.flatMap((n) => getStrings(n, NODE.input)));
      finalInits = [...inits.filter((i) => used.has(i.name)), ...added];
    }
    const weightsName = `${name}.weights`;
    const tmpWeights = join(dir, `${weightsName}.tmp`);
    const out = await open(tmpWeights, 'w');
    const tensors: Message[] = [];
    try {
      let offset = 0;
      for (const init of finalInits) {
        const data = await init.data();
        const pad = (WEIGHT_ALIGN - (offset % WEIGHT_ALIGN)) % WEIGHT_ALIGN;
        if (pad) await out.write(new Uint8Array(pad), 0, pad, offset);
        offset += pad;
        await out.write(data, 0, data.length, offset);
        tensors.push(externalTensor(init.msg, weightsName, offset, data.length));
        offset += data.length;
      }
    } finally {
      await out.close();
    }
    // the graph: its fields in order, nodes and initializers replaced where they stood
    const g2: Message = [];
    let nodesDone = false, initsDone = false;
    for (const f of graph) {
      if (f.no === GRAPH.node) {
        if (!nodesDone) g2.push(...newNodes.map((n) => msgField(GRAPH.node, n)));
        nodesDone = true;
      } else if (f.no === GRAPH.initializer) {
        if (!initsDone) g2.push(...tensors.map((t) => msgField(GRAPH.initializer, t)));
        initsDone = true;
      } else if (!(f.no === GRAPH.valueInfo && spec.method === 'fp16-cast')) g2.push(f); // fp16: the old float types are stale
    }
    if (!initsDone) g2.push(...tensors.map((t) => msgField(GRAPH.initializer, t)));
    const m2: Message = modelMsg.map((f, i) => (i === graphIdx ? msgField(MODEL.graph, g2) : f));
    if (spec.method !== 'fp16-cast' && !getMessages(modelMsg, MODEL.opsetImport).some((o) => getString(o, 1) === MS_DOMAIN)) {
      const last = m2.map((f) => f.no).lastIndexOf(MODEL.opsetImport);
      m2.splice(last + 1, 0, msgField(MODEL.opsetImport, [strField(1, MS_DOMAIN), intField(2, 1)]));
    }
    const tmpModel = join(dir, `${name}.onnx.tmp`);
    await writeFile(tmpModel, serializeMessage(m2));
    await rename(tmpWeights, join(dir, weightsName));
    await rename(tmpModel, join(dir, `${name}.onnx`));
    return { model: `${name}.onnx`, weights: weightsName, quantized };
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
  }
}

/** The float32 values of a tensor held in the graph (raw_data or float_data). */
function inlineFloats(t: Message): Float32Array {
  const raw = t.find((f) => f.no === TENSOR.rawData);
  if (raw) {
    const b = raw.value as Uint8Array;
    return new Float32Array(b.slice().buffer);
  }
  const out: number[] = [];
  for (const f of t.filter((x) => x.no === TENSOR.floatData)) {
    const b = f.value as Uint8Array; // packed (wire 2) or one fixed32 (wire 5)
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let o = 0; o < b.length; o += 4) out.push(dv.getFloat32(o, true));
  }
  return Float32Array.from(out);
}

/** A float32 tensor attribute (Constant values) as float16: dims, data_type, name, raw_data — as numpy_helper.from_array writes it. */
function halfTensor(t: Message): Message {
  return [...getInts(t, TENSOR.dims).map((d) => intField(TENSOR.dims, d)), intField(TENSOR.dataType, TENSOR.FLOAT16),
    ...(t.some((f) => f.no === TENSOR.name) ? [strField(TENSOR.name, getString(t, TENSOR.name))] : []),
    { no: TENSOR.rawData, wire: 2 as const, value: toHalfBytes(inlineFloats(t)) }];
}

function castNode(input: string, output: string, to: number, name: string): Message {
  return [strField(NODE.input, input), strField(NODE.output, output), strField(NODE.name, name), strField(NODE.opType, 'Cast'), intAttr('to', to)];
}

const elemType = (vi: Message) => {
  const type = getMessages(vi, VALUE_INFO.type)[0];
  const tensor = type && getMessages(type, 1)[0];
  return tensor ? getInts(tensor, 1)[0] : undefined;
};

/**
 * The whole graph in float16 with float32 at its inputs and outputs (a Cast at each), as
 * tools/export/quantize.py's to_fp16: float initializers and Constant values narrowed, Casts to float retargeted.
 */
function toFp16(graph: Message, inits: Init[]): { nodes: Message[]; inits: Init[] } {
  const retype = (n: Message): Message => n.map((f) => {
    if (f.no !== NODE.attribute) return f;
    const a = parseMessage(f.value as Uint8Array);
    const name = getString(a, ATTR.name);
    if (getString(n, NODE.opType) === 'Cast' && name === 'to' && getInts(a, ATTR.i)[0] === TENSOR.FLOAT) {
      return msgField(NODE.attribute, a.map((x) => (x.no === ATTR.i ? intField(ATTR.i, TENSOR.FLOAT16) : x)));
    }
    const t = getInts(a, ATTR.type)[0] === ATTR.TENSOR ? getMessages(a, ATTR.t)[0] : undefined;
    if (t && getInts(t, TENSOR.dataType)[0] === TENSOR.FLOAT) return msgField(NODE.attribute, a.map((x) => (x.no === ATTR.t ? msgField(ATTR.t, halfTensor(t)) : x)));
    return f;
  });
  const rename = (n: Message, field: number, from: string, to: string): Message =>
    n.map((f) => (f.no === field && getString([f], field) === from ? strField(field, to) : f));
  let nodes = getMessages(graph, GRAPH.node).map(retype);
  const head: Message[] = [];
  for (const vi of getMessages(graph, GRAPH.input)) {
    if (elemType(vi) !== TENSOR.FLOAT) continue;
    const name = getString(vi, VALUE_INFO.name);
    nodes = nodes.map((n) => rename(n, NODE.input, name, `${name}_fp16`));
    head.push(castNode(name, `${name}_fp16`, TENSOR.FLOAT16, `${name}_to_fp16`));
  }
  const tail: Message[] = [];
  for (const vi of getMessages(graph, GRAPH.output)) {
    if (elemType(vi) !== TENSOR.FLOAT) continue;
    const name = getString(vi, VALUE_INFO.name);
    nodes = nodes.map((n) => rename(rename(n, NODE.output, name, `${name}_fp16`), NODE.input, name, `${name}_fp16`));
    tail.push(castNode(`${name}_fp16`, name, TENSOR.FLOAT, `${name}_to_fp32`));
  }
  const halfInits = inits.map((i): Init => {
    if (getInts(i.msg, TENSOR.dataType)[0] !== TENSOR.FLOAT) return i;
    const msg = [...i.dims.map((d) => intField(TENSOR.dims, d)), intField(TENSOR.dataType, TENSOR.FLOAT16), strField(TENSOR.name, i.name)];
    return { ...i, msg, data: async () => { const b = await i.data(); return toHalfBytes(new Float32Array(b.slice().buffer)); } };
  });
  return { nodes: [...head, ...nodes, ...tail], inits: halfInits };
}

function constInit(name: string, dims: number[], dataType: number, data: Uint8Array | Float32Array | Int8Array): Init {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims, msg: newTensor(name, dims, dataType), data: async () => bytes };
}

/** The manifest's `quantization` record of a variant (the same fields tools/quantize_bundle.py writes). */
export function quantizationRecord(spec: QuantSpec, quantized: string[]): Record<string, unknown> {
  return { precision: spec.precision, method: spec.method, bits: spec.bits, blockSize: spec.blockSize, symmetric: spec.symmetric,
    accuracyLevel: spec.accuracyLevel, keptFp32: [...spec.keptFp32], ...(quantized.length ? { quantized } : {}) };
}
