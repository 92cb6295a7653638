// Runs ONNX graphs with onnxruntime-node for the Python parity tests (tools/export/ort.py writes the job).
// Usage: node tools/ort_run.mjs JOB_DIR
// JOB_DIR/job.json: { "runs": [ { "model": "/abs/x.onnx", "outputs_dir": "/abs/dir",
//   "inputs": [ { "name": "f_hat", "dtype": "float32"|"int64", "shape": [..], "file": "/abs/in.bin" }
//             | { "name": "past_key_0", "from_run": 0, "output": "present_key_0" } ] } ] }
// Each run writes <outputs_dir>/<output name>.bin (raw little-endian) and <outputs_dir>/outputs.json
// ({ name: { dtype, shape, file } }). Sessions are cached per model path; one CPU thread.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const ARRAYS = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array, float64: Float64Array };

function readTensor(spec) {
  const Ctor = ARRAYS[spec.dtype];
  if (!Ctor) throw new Error(`unsupported dtype ${spec.dtype} for input ${spec.name}`);
  const buf = readFileSync(spec.file);
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return new ort.Tensor(spec.dtype, new Ctor(copy.buffer), spec.shape);
}

async function main() {
  const jobDir = process.argv[2];
  if (!jobDir) throw new Error('usage: node tools/ort_run.mjs JOB_DIR');
  const job = JSON.parse(readFileSync(join(jobDir, 'job.json'), 'utf8'));
  const sessions = new Map();
  const results = [];
  for (const [i, run] of job.runs.entries()) {
    if (!sessions.has(run.model)) {
      sessions.set(run.model, await ort.InferenceSession.create(run.model, {
        intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: run.optimization ?? 'all',
      }));
    }
    const feeds = {};
    for (const spec of run.inputs) {
      feeds[spec.name] = spec.from_run !== undefined ? results[spec.from_run][spec.output] : readTensor(spec);
    }
    const out = await sessions.get(run.model).run(feeds);
    results[i] = out;
    mkdirSync(run.outputs_dir, { recursive: true });
    const index = {};
    for (const [name, t] of Object.entries(out)) {
      const file = join(run.outputs_dir, `${name}.bin`);
      writeFileSync(file, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      index[name] = { dtype: t.type, shape: t.dims, file };
    }
    writeFileSync(join(run.outputs_dir, 'outputs.json'), JSON.stringify(index));
  }
}

main().catch((err) => { console.error(err?.stack ?? String(err)); process.exit(1); });
