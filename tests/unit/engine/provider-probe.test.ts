// The provider probe that runs before any session is created, on a fake onnxruntime folder with real files
// and the real dynamic loader: a CPU-only machine must never make onnxruntime try (and log about) CUDA.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VarEngine, currentEnvironment, probeEnvironment, probeProvider } from '../../../src/engine/index';
import { TINY_BUNDLE } from './helpers';

const CUDA_LIBS = ['libcuda.so.1', 'libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcudnn.so.9'];
// Any real shared library loads as a stand-in: the loader opens it, and only Node's addon check then fails.
const A_REAL_LIBRARY = '/lib/x86_64-linux-gnu/libz.so.1';

const folders: string[] = [];
function fakeOrtFolder(files: { name: string; real?: boolean }[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'var-ort-bin-'));
  folders.push(dir);
  for (const f of files) {
    if (f.real) copyFileSync(A_REAL_LIBRARY, path.join(dir, f.name));
    else writeFileSync(path.join(dir, f.name), 'not a library');
  }
  return dir;
}
afterEach(() => {
  for (const d of folders.splice(0)) rmSync(d, { recursive: true, force: true });
  vi.restoreAllMocks();
});

describe.runIf(process.platform === 'linux' && process.arch === 'x64')('CUDA probe on a fake onnxruntime folder', () => {
  it('without the CUDA provider library beside the binding, CUDA is not usable and says how to get it', () => {
    const dir = fakeOrtFolder([{ name: 'onnxruntime_binding.node' }]);
    const p = probeProvider('cuda', probeEnvironment(dir, 'linux', 'x64'));
    expect(p.usable).toBe(false);
    expect(p.reason).toMatch(/no CUDA provider library \(libonnxruntime_providers_cuda\.so\)/);
    expect(p.fix).toMatch(/npm run fetch:ort-cuda/);
  });

  it('with the provider library but a CUDA runtime the loader cannot resolve, the missing library is named', () => {
    const dir = fakeOrtFolder([{ name: 'libonnxruntime_providers_cuda.so' }, { name: 'libcuda.so.1', real: true }]);
    const p = probeProvider('cuda', probeEnvironment(dir, 'linux', 'x64'));
    expect(p.usable).toBe(false);
    expect(p.reason).toMatch(/the CUDA 12 runtime is missing \(libcudart\.so\.12/);
  });

  it('a library that is present but broken is reported with the loader\'s own words', () => {
    const dir = fakeOrtFolder([{ name: 'libonnxruntime_providers_cuda.so' }, ...CUDA_LIBS.filter((l) => l !== 'libcudnn.so.9').map((name) => ({ name, real: true })), { name: 'libcudnn.so.9' }]);
    const p = probeProvider('cuda', probeEnvironment(dir, 'linux', 'x64'));
    expect(p.reason).toMatch(/cuDNN 9 \(libcudnn\.so\.9\) failed to load: .*(too short|invalid ELF)/);
  });

  it('when every library resolves, CUDA is usable (then, and only then, the engine tries it)', () => {
    const dir = fakeOrtFolder([{ name: 'libonnxruntime_providers_cuda.so' }, ...CUDA_LIBS.map((name) => ({ name, real: true }))]);
    expect(probeProvider('cuda', probeEnvironment(dir, 'linux', 'x64'))).toMatchObject({ usable: true, reason: null });
  });
});

describe('the engine does not create a session with a provider its probe rules out', () => {
  it.runIf(!probeProvider('cuda', currentEnvironment()).usable)('auto on this CPU-only machine: no CUDA session is attempted, the reason is reported', async () => {
    const create = vi.spyOn(ort.InferenceSession, 'create');
    const e = await VarEngine.create(TINY_BUNDLE, { provider: process.platform === 'linux' ? 'auto' : 'cuda' });
    try {
      expect(e.provider.inUse).toBe('cpu');
      expect(e.provider.skipped.map((s) => s.provider)).toEqual(['cuda']);
      expect(e.provider.skipped[0]!.reason).toBe(probeProvider('cuda', currentEnvironment()).reason);
      const providersTried = create.mock.calls.map((c) => (c[1] as ort.InferenceSession.SessionOptions | undefined)?.executionProviders?.[0]);
      expect(providersTried.length).toBeGreaterThan(0);
      expect(providersTried.every((p) => p === 'cpu')).toBe(true);
    } finally {
      await e.dispose();
    }
  });
});

describe('VAR_STUDIO_PROVIDER_PROBE=off', () => {
  it('tries the provider anyway (onnxruntime then says why it failed)', async () => {
    const create = vi.spyOn(ort.InferenceSession, 'create');
    vi.stubEnv('VAR_STUDIO_PROVIDER_PROBE', 'off');
    try {
      const e = await VarEngine.create(TINY_BUNDLE, { provider: 'cuda' });
      try {
        const tried = create.mock.calls.map((c) => (c[1] as ort.InferenceSession.SessionOptions | undefined)?.executionProviders?.[0]);
        // CUDA is passed with its options ({ name: 'cuda', deviceId }), CPU as a bare name
        expect(tried.map((p) => (typeof p === 'string' ? p : p?.name))).toContain('cuda');
        expect(e.provider.skipped.map((x) => x.provider)).toEqual(e.provider.inUse === 'cuda' ? [] : ['cuda']);
      } finally {
        await e.dispose();
      }
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
