/**
 * The five ONNX sessions of a bundle, created through the provider chain, with their I/O checked
 * against the contract of docs/model-bundle.md ("Graph contracts", names exact).
 */
import * as ort from 'onnxruntime-node';
import { bundleFilePath } from './bundle';
import { BundleError } from './errors';
import { GRAPH_NAMES, type GraphName, type Manifest, PRECISIONS, type Precision, availablePrecisions } from './manifest';
import { type ProviderName, type ProviderReport, type SessionTuning, firstLine, providerChain, sessionOptions } from './providers';
import { currentEnvironment, probeProvider, type ProbeEnvironment } from './provider-probe';

type Dim = number | string; // string = symbolic (dynamic) in the contract
interface IoSpec { name: string; type: 'float32' | 'int64'; shape: Dim[] }
interface GraphContract { inputs: IoSpec[]; outputs: IoSpec[] }

/** The exact I/O of each graph for this manifest (docs/model-bundle.md "Graph contracts"). */
export function graphContracts(m: Manifest): Record<GraphName, GraphContract> {
  const { depth, numHeads: H, headDim: c } = m.transformer;
  const h = m.patchNums[m.patchNums.length - 1];
  const R = m.resolution;
  const V = m.vocabSize;
  const Cv = m.cvae;
  const past: IoSpec[] = [];
  const present: IoSpec[] = [];
  for (let i = 0; i < depth; i++) {
    past.push({ name: `past_key_${i}`, type: 'float32', shape: ['N', H, 'P', c] }, { name: `past_value_${i}`, type: 'float32', shape: ['N', H, 'P', c] });
    present.push({ name: `present_key_${i}`, type: 'float32', shape: ['N', H, 'P+l', c] }, { name: `present_value_${i}`, type: 'float32', shape: ['N', H, 'P+l', c] });
  }
  const image = (name: string): IoSpec => ({ name, type: 'float32', shape: ['B', 3, R, R] });
  const fhat = (name: string): IoSpec => ({ name, type: 'float32', shape: ['B', Cv, h, h] });
  return {
    transformer: {
      inputs: [
        { name: 'labels', type: 'int64', shape: ['N'] },
        { name: 'token_input', type: 'float32', shape: ['N', 'l', Cv] },
        { name: 'begin', type: 'int64', shape: [1] },
        ...past,
      ],
      outputs: [{ name: 'logits', type: 'float32', shape: ['N', 'l', V] }, ...present],
    },
    fhatStep: {
      inputs: [
        fhat('f_hat'),
        { name: 'h_scale', type: 'float32', shape: ['B', Cv, 'p', 'p'] },
        { name: 'phi_index', type: 'int64', shape: [1] },
        { name: 'area_matrix', type: 'float32', shape: ['q', h] },
      ],
      outputs: [fhat('f_hat_next'), { name: 'next_input', type: 'float32', shape: ['B', 'q2', Cv] }],
    },
    encoder: { inputs: [image('image')], outputs: [{ name: 'tokens', type: 'int64', shape: ['B', m.patchNums.reduce((s, p) => s + p * p, 0)] }, fhat('f')] },
    decoder: { inputs: [fhat('f_hat')], outputs: [image('image')] },
    preview: { inputs: [fhat('f_hat')], outputs: [image('image')] },
  };
}

function checkIo(dir: string, file: string, kind: 'input' | 'output', expected: IoSpec[], found: readonly ort.InferenceSession.ValueMetadata[]): void {
  const fail = (what: string, exp: string, got: string): never => {
    throw new BundleError('graph-io-mismatch', `${dir}: ${file}: ${kind} ${what}: expected ${exp}, found ${got}`, dir, file);
  };
  const names = found.map((f) => f.name);
  const expNames = expected.map((e) => e.name);
  const missing = expNames.filter((n) => !names.includes(n));
  const extra = names.filter((n) => !expNames.includes(n));
  if (missing.length || extra.length) {
    fail('names', `[${expNames.join(', ')}]`, `[${names.join(', ')}]${missing.length ? ` (missing: ${missing.join(', ')})` : ''}${extra.length ? ` (unexpected: ${extra.join(', ')})` : ''}`);
  }
  for (const e of expected) {
    const f = found.find((x) => x.name === e.name)!;
    if (!f.isTensor) fail(`"${e.name}"`, `a ${e.type} tensor`, 'a non-tensor value');
    const t = f as ort.InferenceSession.TensorValueMetadata;
    if (t.type !== e.type) fail(`"${e.name}" type`, e.type, t.type);
    // Shapes: ranks must agree; fixed sizes must agree where both sides are fixed.
    if (t.shape.length === 0) continue; // shape unknown to ORT: nothing more to check
    if (t.shape.length !== e.shape.length) fail(`"${e.name}" rank`, `${e.shape.length} [${e.shape.join(', ')}]`, `${t.shape.length} [${t.shape.join(', ')}]`);
    e.shape.forEach((d, i) => {
      const g = t.shape[i];
      if (typeof d === 'number' && typeof g === 'number' && g >= 0 && d !== g) {
        fail(`"${e.name}" dimension ${i}`, `${d} ([${e.shape.join(', ')}])`, `${g} ([${t.shape.join(', ')}])`);
      }
    });
  }
}

/**
 * fhat_step and preview are tiny graphs run once per scale: one intra-op thread saves waking a pool thread
 * per call, which is most of their cost (measured, bench/RESULTS.md); the others use the caller's tuning.
 */
export function graphTuning(g: GraphName, tuning: SessionTuning): SessionTuning {
  return g === 'fhatStep' || g === 'preview' ? { ...tuning, intraOpNumThreads: 1 } : tuning;
}

/** What a provider is, for the per-device speed records of variants. */
export function deviceKind(provider: ProviderName): 'cpu' | 'gpu' {
  return provider === 'cpu' ? 'cpu' : 'gpu';
}

/**
 * The precision to run graph `g` in: the one asked for, or with 'auto' the variant of that graph measured
 * fastest on this kind of device among those whose recorded fidelity meets the bar (fp32 when none was
 * measured faster). Each graph chooses on its own records, so a decoder variant needs no transformer one.
 */
export function choosePrecision(m: Manifest, requested: Precision | 'auto', provider: ProviderName, dir = '', g: GraphName = 'transformer'): Precision {
  const variants = m.graphs[g].variants ?? {};
  if (requested !== 'auto') {
    if (requested !== 'fp32' && !availablePrecisions(m).includes(requested)) {
      throw new BundleError('no-such-precision', `${dir}: precision "${requested}" was asked for, but this bundle has only ${availablePrecisions(m).join(', ')} (re-export with tools/quantize_bundle.py --precision ${requested})`, dir, 'manifest.json', 'graphs.transformer.variants');
    }
    return requested;
  }
  const kind = deviceKind(provider);
  let best: Precision = 'fp32';
  let bestRatio = 1;
  for (const p of PRECISIONS) {
    const f = p === 'fp32' ? undefined : variants[p]?.fidelity;
    const ratio = f?.speedVsFp32?.[kind];
    if (f?.noVisibleLoss === true && typeof ratio === 'number' && ratio < bestRatio) {
      best = p;
      bestRatio = ratio;
    }
  }
  return best;
}

/** The model and weights files of graph `g` at `precision` (graphs without that variant stay fp32). */
export function graphFiles(m: Manifest, g: GraphName, precision: Precision): { model: string; weights: string; precision: Precision } {
  const v = precision === 'fp32' ? undefined : m.graphs[g].variants?.[precision];
  return v ? { model: v.model, weights: v.weights, precision } : { model: m.graphs[g].model, weights: m.graphs[g].weights, precision: 'fp32' };
}

/** Graphs created on first use: generation never runs the encoder, so only an encode or edit pays its memory. */
export const LAZY_GRAPHS: readonly GraphName[] = ['encoder'];
type EagerGraph = Exclude<GraphName, 'encoder'>;

/** Create one graph's session; a graph that fails on CPU is a broken bundle file (BundleError naming it). */
async function openGraph(dir: string, manifest: Manifest, g: GraphName, precision: Precision, provider: ProviderName, tuning: SessionTuning): Promise<{ session: ort.InferenceSession; ms: number }> {
  const files = graphFiles(manifest, g, precision);
  const modelPath = await bundleFilePath(dir, files.model, 'an ONNX graph');
  try {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(modelPath, sessionOptions(provider, graphTuning(g, tuning), g));
    return { session, ms: performance.now() - t0 };
  } catch (e) {
    if (provider === 'cpu') {
      throw new BundleError('bad-onnx', `${dir}: ${files.model}: expected a loadable ONNX graph (with its weights file ${files.weights}), found an error: ${firstLine(e)}`, dir, files.model);
    }
    throw e;
  }
}

function checkGraphIo(dir: string, manifest: Manifest, g: GraphName, precision: Precision, session: ort.InferenceSession): void {
  const contract = graphContracts(manifest)[g];
  const file = graphFiles(manifest, g, precision).model;
  checkIo(dir, file, 'input', contract.inputs, session.inputMetadata);
  checkIo(dir, file, 'output', contract.outputs, session.outputMetadata);
}

export class BundleSessions {
  private encoderOpening: Promise<ort.InferenceSession> | null = null;

  private constructor(
    private readonly dir: string,
    private readonly manifest: Manifest,
    private readonly tuning: SessionTuning,
    private readonly eager: Record<EagerGraph, ort.InferenceSession>,
    readonly provider: ProviderReport,
    /** Milliseconds each session took to create with the provider in use (big models: mostly reading weights);
     * the encoder's appears once an encode created it. */
    readonly loadMs: Partial<Record<GraphName, number>>,
    /** The precision each graph runs (or will run, for one not created yet) in. */
    readonly precision: Record<GraphName, Precision>,
  ) {}

  get transformer() { return this.eager.transformer; }
  get fhatStep() { return this.eager.fhatStep; }
  get decoder() { return this.eager.decoder; }
  get preview() { return this.eager.preview; }

  /** Whether the encoder session exists yet (it is created by the first encode). */
  get encoderOpen(): boolean { return this.encoderOpening !== null; }

  /**
   * The encoder session, created on the first call with the provider in use (CPU if that provider cannot
   * create it: the encoder's output is tokens, the same on any device) and checked against its contract.
   */
  encoder(): Promise<ort.InferenceSession> {
    this.encoderOpening ??= (async () => {
      const p = this.precision.encoder;
      let opened: { session: ort.InferenceSession; ms: number };
      try {
        opened = await openGraph(this.dir, this.manifest, 'encoder', p, this.provider.inUse, this.tuning);
      } catch (e) {
        if (this.provider.inUse === 'cpu') throw e;
        opened = await openGraph(this.dir, this.manifest, 'encoder', p, 'cpu', this.tuning);
      }
      this.loadMs.encoder = opened.ms;
      try {
        checkGraphIo(this.dir, this.manifest, 'encoder', p, opened.session);
      } catch (e) {
        await opened.session.release();
        throw e;
      }
      return opened.session;
    })();
    // A failed creation is not cached: the next encode tries again (and reports the same error).
    this.encoderOpening.catch(() => { this.encoderOpening = null; });
    return this.encoderOpening;
  }

  /**
   * Walk the provider chain: with each provider, create the sessions a generation needs (the encoder waits
   * for its first use); the first provider for which all succeed is used.
   */
  static async create(dir: string, manifest: Manifest, requested: ProviderName | 'auto', tuning: SessionTuning, precision: Precision | 'auto' = 'auto', probeEnv: () => ProbeEnvironment = currentEnvironment): Promise<BundleSessions> {
    const chain = providerChain(requested);
    const skipped: ProviderReport['skipped'] = [];
    const eagerGraphs = GRAPH_NAMES.filter((g): g is EagerGraph => !LAZY_GRAPHS.includes(g));
    for (const provider of chain) {
      // A provider whose libraries are not there is not tried: onnxruntime would only fail (and log) loading them.
      // VAR_STUDIO_PROVIDER_PROBE=off tries every provider anyway (for a set-up the probe misjudges).
      const probe = provider === 'cpu' || process.env.VAR_STUDIO_PROVIDER_PROBE === 'off' ? null : probeProvider(provider, probeEnv());
      if (probe && !probe.usable) {
        skipped.push({ provider, reason: probe.reason ?? `${provider} cannot run here` });
        continue;
      }
      const used = {} as Record<GraphName, Precision>;
      for (const g of GRAPH_NAMES) used[g] = graphFiles(manifest, g, choosePrecision(manifest, precision, provider, dir, g)).precision;
      const opened: Partial<Record<EagerGraph, ort.InferenceSession>> = {};
      const loadMs: Partial<Record<GraphName, number>> = {};
      try {
        for (const g of eagerGraphs) {
          const o = await openGraph(dir, manifest, g, used[g], provider, tuning);
          opened[g] = o.session;
          loadMs[g] = o.ms;
        }
      } catch (e) {
        await Promise.all(Object.values(opened).map((s) => s!.release()));
        if (e instanceof BundleError) throw e;
        skipped.push({ provider, reason: firstLine(e) });
        continue;
      }
      const sessions = opened as Record<EagerGraph, ort.InferenceSession>;
      try {
        for (const g of eagerGraphs) checkGraphIo(dir, manifest, g, used[g], sessions[g]);
      } catch (e) {
        await Promise.all(Object.values(sessions).map((s) => s.release()));
        throw e;
      }
      return new BundleSessions(dir, manifest, tuning, sessions, { inUse: provider, requested, skipped }, loadMs, used);
    }
    // Only reachable if CPU itself failed for a non-bundle reason.
    throw new BundleError('no-provider', `${dir}: no execution provider could run this bundle: ${skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ')}`, dir);
  }

  async release(): Promise<void> {
    const encoder = this.encoderOpening?.catch(() => null);
    await Promise.all(Object.values(this.eager).map((s) => s.release()));
    const e = await encoder;
    if (e) await e.release();
  }
}
