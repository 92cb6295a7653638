import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adviceFor, doctorReport, loaderAnswer, probeProvider, runsOnCpu, type ProbeEnvironment } from '../../../src/host/gpu-doctor';
import { importVariantsFor } from '../../../src/host/catalog/manager';
import { PROVIDER_NAMES } from '../../../src/shared/contract';

const BIN = '/app/ort/bin';

/** A Linux x64 machine on which exactly `present` libraries load and onnxruntime has the given files. */
function linux(present: string[], ortFiles = ['libonnxruntime_providers_cuda.so']): ProbeEnvironment {
  return {
    platform: 'linux', arch: 'x64', ortBinDir: BIN,
    load: (lib) => (present.includes(lib) ? null : `${lib}: cannot open shared object file: No such file or directory`),
    exists: (f) => ortFiles.some((o) => f === path.join(BIN, o)),
  };
}

const FULL_CUDA = ['libcuda.so.1', 'libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcudnn.so.9'];

describe('provider probes', () => {
  it('finds CUDA usable when the driver, CUDA 12 and cuDNN 9 all load', () => {
    expect(probeProvider('cuda', linux(FULL_CUDA))).toMatchObject({ usable: true });
  });

  it('names the missing onnxruntime CUDA provider and how to get it', () => {
    const p = probeProvider('cuda', linux(FULL_CUDA, []));
    expect(p.usable).toBe(false);
    expect(p.reason).toMatch(/libonnxruntime_providers_cuda\.so/);
    expect(p.fix).toMatch(/fetch:ort-cuda/);
  });

  it('tells a missing driver apart from missing CUDA libraries', () => {
    expect(probeProvider('cuda', linux(FULL_CUDA.slice(1))).reason).toMatch(/No NVIDIA driver/);
    expect(probeProvider('cuda', linux(FULL_CUDA.filter((l) => l !== 'libcublas.so.12'))).reason).toMatch(/cuBLAS 12 is missing/);
  });

  it('says when cuDNN or CUDA is installed in a version onnxruntime cannot use', () => {
    const cudnn8 = probeProvider('cuda', linux([...FULL_CUDA.filter((l) => l !== 'libcudnn.so.9'), 'libcudnn.so.8']));
    expect(cudnn8.reason).toMatch(/cuDNN 9 is missing; an older version \(libcudnn\.so\.8\)/);
    expect(cudnn8.fix).toMatch(/cudnn9-cuda-12/);
    const cuda11 = probeProvider('cuda', linux(['libcuda.so.1', 'libcudart.so.11.0']));
    expect(cuda11.reason).toMatch(/CUDA 12 runtime is missing; an older version/);
  });

  it('reports a library that exists but fails to load with the loader text', () => {
    const env = { ...linux(FULL_CUDA), load: (lib: string) => (lib === 'libcudnn.so.9' ? 'libcudnn.so.9: wrong ELF class: ELFCLASS32' : null) };
    expect(probeProvider('cuda', env).reason).toMatch(/cuDNN 9 \(libcudnn\.so\.9\) failed to load: .*wrong ELF class/);
  });

  it('keeps DirectML to Windows and CoreML to Apple-silicon Macs', () => {
    expect(probeProvider('dml', linux([]))).toMatchObject({ usable: false, reason: expect.stringMatching(/Windows/) });
    const win: ProbeEnvironment = { ...linux([]), platform: 'win32', exists: (f) => f.endsWith('DirectML.dll') };
    expect(probeProvider('dml', win).usable).toBe(true);
    expect(probeProvider('cuda', win).fix).toMatch(/DirectML/);
    expect(probeProvider('coreml', { ...linux([]), platform: 'darwin', arch: 'x64' })).toMatchObject({ usable: false });
    expect(probeProvider('coreml', { ...linux([]), platform: 'darwin', arch: 'arm64' })).toMatchObject({ usable: true });
  });

  it('adds what to do to the reason the engine gave when it skipped a provider', () => {
    expect(adviceFor('cuda', 'LoadLibrary failed', linux(FULL_CUDA.slice(0, 3)))).toMatch(/cuBLASLt 12 is missing.*What to do: Install cuBLAS/);
    const win: ProbeEnvironment = { ...linux([]), platform: 'win32', exists: () => true };
    expect(adviceFor('dml', 'no adapter', win)).toMatch(/^no adapter What to do: update the graphics driver/);
  });

  it('asks the real dynamic loader', () => {
    if (process.platform !== 'linux') return;
    expect(loaderAnswer('libc.so.6')).toBeNull();
    expect(loaderAnswer('libno-such-library-var.so.9')).toMatch(/cannot open shared object file/);
  });
});

describe('doctor report', () => {
  it('marks the provider in use, the skipped ones with advice, and the rest as not tried', () => {
    const r = doctorReport({ inUse: 'cpu', requested: 'auto', skipped: [{ provider: 'cuda', reason: 'engine: cuda failed' }] }, 'auto', 4, linux([]), PROVIDER_NAMES);
    expect(r.inUse).toBe('cpu');
    expect(r.threads).toBe(4);
    const by = Object.fromEntries(r.providers.map((p) => [p.provider, p]));
    expect(by.cpu).toMatchObject({ state: 'in use' });
    expect(by.cuda).toMatchObject({ state: 'skipped', reason: expect.stringMatching(/No NVIDIA driver.*What to do/) });
    expect(by.dml).toMatchObject({ state: 'not tried' });
  });

  it('reports no provider when the model did not load', () => {
    expect(doctorReport(null, 'cpu', null, linux([]), PROVIDER_NAMES).inUse).toBeNull();
  });
});

describe('variants an import writes', () => {
  it('dq8 where models run on the CPU (asked for, or no GPU provider passes its probe), none where CUDA will run them', () => {
    expect(runsOnCpu('auto', linux(FULL_CUDA))).toBe(false);
    expect(importVariantsFor('auto', linux(FULL_CUDA))).toEqual([]);
    expect(importVariantsFor('cuda', linux(FULL_CUDA))).toEqual([]);
    expect(importVariantsFor('cpu', linux(FULL_CUDA))).toEqual(['dq8']);
    expect(importVariantsFor('auto', linux(FULL_CUDA.filter((l) => l !== 'libcudnn.so.9')))).toEqual(['dq8']);
    expect(importVariantsFor('auto', linux([]))).toEqual(['dq8']);
    const win: ProbeEnvironment = { ...linux([]), platform: 'win32', exists: () => true };
    expect(importVariantsFor('auto', win)).toEqual([]);
  });
});
