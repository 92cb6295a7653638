// Whether an execution provider can work on this machine as installed, checked before any session is
// created: onnxruntime's provider library beside its binding, and the dynamic loader's answer for each CUDA
// library. A provider that cannot work is skipped with the reason instead of being tried, so a CPU-only
// machine never makes onnxruntime load (and log about) CUDA libraries that are not there.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ProviderName } from './providers';

export interface ProviderProbe {
  provider: ProviderName;
  /** false: this provider cannot work on this machine as installed (reason and fix say why and what to do). */
  usable: boolean;
  reason: string | null;
  fix: string | null;
}

export interface ProbeEnvironment {
  platform: NodeJS.Platform;
  arch: string;
  /** onnxruntime-node's folder of native libraries for this platform (null when it cannot be found). */
  ortBinDir: string | null;
  /** Asks the dynamic loader for a library by file name: null if it loads, else the loader's error text. */
  load(library: string): string | null;
  exists(file: string): boolean;
}

/** The loader's own answer: process.dlopen opens the library first, then fails only because it is no Node addon. */
export function loaderAnswer(library: string): string | null {
  try {
    process.dlopen({ exports: {} } as unknown as NodeJS.Module, library);
    return null;
  } catch (e) {
    const msg = (e as Error).message;
    return /did not self-register|Module did not|napi_register|no.*register/i.test(msg) ? null : msg.split('\n')[0]!;
  }
}

export function ortBinaryDir(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    // A packaged app loads native files from app.asar.unpacked, the copy electron-builder leaves on disk.
    const dir = path.join(path.dirname(pkg).replace(`app.asar${path.sep}`, `app.asar.unpacked${path.sep}`), 'bin', 'napi-v6', platform, arch);
    return dir;
  } catch {
    return null;
  }
}

/**
 * The probe environment of a machine: `ortBinDir` is onnxruntime-node's native folder, and a library found
 * there is loaded from there (the release build ships the CUDA provider's libraries beside it); any other is
 * looked up by the dynamic loader as onnxruntime would.
 */
export function probeEnvironment(ortBinDir: string | null, platform: NodeJS.Platform = process.platform, arch: string = process.arch): ProbeEnvironment {
  const load = (library: string): string | null => {
    const beside = ortBinDir ? path.join(ortBinDir, library) : null;
    return loaderAnswer(beside && existsSync(beside) ? beside : library);
  };
  return { platform, arch, ortBinDir, load, exists: existsSync };
}

export function currentEnvironment(): ProbeEnvironment {
  return probeEnvironment(ortBinaryDir());
}

const NOT_FOUND = /cannot open shared object|no such file|not found|image not found|could not be found|specified module/i;

/** CUDA 12 libraries the CUDA provider of onnxruntime 1.30 links against, with the older major that points to a wrong install. */
const CUDA_LIBRARIES = [
  { name: 'libcudart.so.12', older: 'libcudart.so.11.0', what: 'the CUDA 12 runtime', fix: 'Install the CUDA 12 runtime (Ubuntu/Debian: the cuda-cudart-12-x package from NVIDIA\'s repository) and make it visible to the loader (sudo ldconfig, or LD_LIBRARY_PATH=/usr/local/cuda-12/lib64).' },
  { name: 'libcublas.so.12', older: 'libcublas.so.11', what: 'cuBLAS 12', fix: 'Install cuBLAS for CUDA 12 (libcublas-12-x) and make it visible to the loader.' },
  { name: 'libcublasLt.so.12', older: 'libcublasLt.so.11', what: 'cuBLASLt 12', fix: 'Install cuBLAS for CUDA 12 (libcublas-12-x), which includes cuBLASLt.' },
  { name: 'libcufft.so.11', older: 'libcufft.so.10', what: 'cuFFT for CUDA 12', fix: 'Install cuFFT for CUDA 12 (libcufft-12-x).' },
  { name: 'libcudnn.so.9', older: 'libcudnn.so.8', what: 'cuDNN 9', fix: 'Install cuDNN 9 for CUDA 12 (Ubuntu/Debian: cudnn9-cuda-12 from NVIDIA\'s repository).' },
] as const;

function probeCuda(env: ProbeEnvironment): ProviderProbe {
  const no = (reason: string, fix: string): ProviderProbe => ({ provider: 'cuda', usable: false, reason, fix });
  if (env.platform !== 'linux' || env.arch !== 'x64') return no(`CUDA is used on Linux x64 only (this is ${env.platform} ${env.arch}).`, env.platform === 'win32' ? 'On Windows the GPU runs through DirectML (provider "dml").' : 'Use the CPU provider.');
  if (!env.ortBinDir || !env.exists(path.join(env.ortBinDir, 'libonnxruntime_providers_cuda.so')))
    return no('This copy of onnxruntime-node has no CUDA provider library (libonnxruntime_providers_cuda.so).', 'Use the Linux release build (AppImage or .deb), which includes it; from the source tree: npm run fetch:ort-cuda.');
  const driver = env.load('libcuda.so.1');
  if (driver) return no(`No NVIDIA driver: ${driver}`, 'Install the NVIDIA driver for your GPU (version 525 or newer for CUDA 12) and restart.');
  for (const lib of CUDA_LIBRARIES) {
    const err = env.load(lib.name);
    if (!err) continue;
    if (!NOT_FOUND.test(err)) return no(`${lib.what} (${lib.name}) failed to load: ${err}`, lib.fix);
    const olderFound = env.load(lib.older) === null;
    return no(olderFound ? `${lib.what} is missing; an older version (${lib.older}) is installed, which onnxruntime 1.30 cannot use.` : `${lib.what} is missing (${lib.name}: ${err}).`, lib.fix);
  }
  return { provider: 'cuda', usable: true, reason: null, fix: null };
}

export function probeProvider(provider: ProviderName, env: ProbeEnvironment): ProviderProbe {
  const ok: ProviderProbe = { provider, usable: true, reason: null, fix: null };
  switch (provider) {
    case 'cpu':
      return ok;
    case 'cuda':
      return probeCuda(env);
    case 'dml':
      if (env.platform !== 'win32') return { provider, usable: false, reason: `DirectML is a Windows API (this is ${env.platform}).`, fix: null };
      if (!env.ortBinDir || !env.exists(path.join(env.ortBinDir, 'DirectML.dll'))) return { provider, usable: false, reason: 'DirectML.dll is missing beside onnxruntime.', fix: 'Reinstall VAR Studio.' };
      return ok;
    case 'coreml':
      if (env.platform !== 'darwin' || env.arch !== 'arm64') return { provider, usable: false, reason: `CoreML is used on Apple-silicon Macs only (this is ${env.platform} ${env.arch}).`, fix: null };
      return ok;
    case 'webgpu':
      return { ...ok, reason: 'Used only when chosen explicitly; needs Vulkan (Linux), Metal (macOS) or Direct3D 12 (Windows).' };
  }
}
