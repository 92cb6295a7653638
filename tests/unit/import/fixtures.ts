/** Checkpoints written by torch from the Python reference (tools/write_test_checkpoints.py) into a temp folder. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CheckpointDType } from '../../../src/engine/import/checkpoint';

export const REPO = resolve(__dirname, '../../..');

export interface ExpectedTensor {
  dtype: string;
  shape: number[];
  offset: number;
  bytes: number;
}

export interface Manifest {
  files: Record<string, Record<string, ExpectedTensor>>;
  configs: Record<string, { var: Record<string, unknown>; vae: Record<string, unknown> }>;
  errors: Record<string, { message: string; key: string }>;
  layouts?: Record<string, { var: any; vae: any; var_layout: [string, number[]][]; vae_layout: [string, number[]][] }>;
  big?: { file: string; bytes: number; tensors: number; largest_key: string; largest_bytes: number };
}

export interface TestCheckpoints {
  dir: string;
  manifest: Manifest;
  path(name: string): string;
  /** Torch's own widening of a tensor of `file` (float32 for floats, int64 for integers). */
  expected(file: string, key: string): Float32Array | BigInt64Array;
  cleanup(): void;
}

/** Runs the writer with the given flags (--pairs, --variants, --tables, --layouts, --big). */
export function writeTestCheckpoints(...flags: string[]): TestCheckpoints {
  const dir = mkdtempSync(join(tmpdir(), 'var-import-test-'));
  execFileSync('/usr/bin/python3', [join(REPO, 'tools/write_test_checkpoints.py'), '--out', dir, ...flags], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const blobs = new Map<string, Buffer>();
  return {
    dir,
    manifest,
    path: (name) => join(dir, name),
    expected(file, key) {
      const t = manifest.files[file]?.[key];
      if (!t) throw new Error(`no expected tensor ${file}:${key}`);
      let blob = blobs.get(file);
      if (!blob) {
        blob = readFileSync(join(dir, `${file}.expected.bin`));
        blobs.set(file, blob);
      }
      const bytes = new Uint8Array(t.bytes);
      bytes.set(blob.subarray(t.offset, t.offset + t.bytes));
      return t.dtype === 'int64' ? new BigInt64Array(bytes.buffer) : new Float32Array(bytes.buffer);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** torch's dtype names → the reader's. */
export function readerDType(torchDType: string): CheckpointDType {
  return ({ float32: 'float32', float16: 'float16', bfloat16: 'bfloat16', int64: 'int64' } as const)[torchDType as 'float32']
    ?? (() => { throw new Error(`unexpected dtype ${torchDType}`); })();
}
