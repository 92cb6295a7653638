import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { VarEngine } from '../../../src/engine/index';
import { COREML_FLAG_CREATE_MLPROGRAM, PROVIDER_NAMES as ENGINE_PROVIDERS, executionProviderEntry, providerChain, sessionOptions } from '../../../src/engine/providers';
import { PROVIDER_NAMES } from '../../../src/shared/contract';
import { TINY_BUNDLE } from './helpers';

describe('execution providers', () => {
  it('explicit chain per platform; webgpu never automatic', () => {
    expect(providerChain('auto', 'linux')).toEqual(['cuda', 'cpu']);
    expect(providerChain('auto', 'win32')).toEqual(['dml', 'cpu']);
    expect(providerChain('auto', 'darwin')).toEqual(['coreml', 'cpu']);
    expect(providerChain('webgpu', 'linux')).toEqual(['webgpu', 'cpu']);
    expect(providerChain('cpu', 'linux')).toEqual(['cpu']);
  });

  it('per-provider options: only what onnxruntime-node 1.30 parses for each provider (docs/gpu.md)', () => {
    expect(executionProviderEntry('cuda')).toEqual({ name: 'cuda', deviceId: 0 });
    expect(executionProviderEntry('cuda', 1)).toEqual({ name: 'cuda', deviceId: 1 });
    expect(executionProviderEntry('dml', 2)).toEqual({ name: 'dml', deviceId: 2 });
    expect(executionProviderEntry('coreml', 3)).toEqual({ name: 'coreml', coreMlFlags: 0x010 });
    expect(COREML_FLAG_CREATE_MLPROGRAM).toBe(0x010);
    // the WebGPU binding throws on any key it does not know, deviceId included: the bare name only
    expect(executionProviderEntry('webgpu', 1)).toBe('webgpu');
    expect(executionProviderEntry('cpu', 1)).toBe('cpu');
  });

  it('the binding rejects any WebGPU option it does not parse (why WebGPU gets no deviceId)', async () => {
    await expect(ort.InferenceSession.create(join(TINY_BUNDLE, 'preview.onnx'), { executionProviders: [{ name: 'webgpu', deviceId: 0 } as never], logSeverityLevel: 4 }))
      .rejects.toThrow(/unrecognized option: 'deviceId'/);
  });

  it('session options: the device id reaches CUDA, DirectML runs without memory patterns, CPU options are unchanged', () => {
    expect(sessionOptions('cuda', { deviceId: 1 }).executionProviders).toEqual([{ name: 'cuda', deviceId: 1 }]);
    expect(sessionOptions('dml', {}).enableMemPattern).toBe(false);
    expect(sessionOptions('cuda', {})).not.toHaveProperty('enableMemPattern');
    expect(sessionOptions('cpu', { deviceId: 1, intraOpNumThreads: 2 })).toEqual({
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: 2,
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
  });

  it('session options: only the graphs named in cpuMemArenaOff run without the CPU arena', () => {
    const tuning = { cpuMemArenaOff: ['decoder'] };
    expect(sessionOptions('cpu', tuning, 'decoder').enableCpuMemArena).toBe(false);
    expect(sessionOptions('cpu', tuning, 'transformer')).not.toHaveProperty('enableCpuMemArena');
    expect(sessionOptions('cpu', tuning)).not.toHaveProperty('enableCpuMemArena');
  });

  it('the contract offers exactly the providers the engine knows (the engine keeps its own list: it imports nothing of ours)', () => {
    expect([...PROVIDER_NAMES]).toEqual([...ENGINE_PROVIDERS]);
  });

  it('asking for CUDA where its libraries are missing falls back to CPU and says why', async () => {
    const e = await VarEngine.create(TINY_BUNDLE, { provider: 'cuda' });
    try {
      expect(e.provider.requested).toBe('cuda');
      expect(e.provider.inUse).toBe('cpu');
      expect(e.provider.skipped).toHaveLength(1);
      expect(e.provider.skipped[0].provider).toBe('cuda');
      expect(e.provider.skipped[0].reason.length).toBeGreaterThan(5);
    } finally {
      await e.dispose();
    }
  });

  it('forcing CPU uses CPU with nothing skipped', async () => {
    const e = await VarEngine.create(TINY_BUNDLE, { provider: 'cpu' });
    expect(e.provider).toEqual({ inUse: 'cpu', requested: 'cpu', skipped: [] });
    await e.dispose();
  });
});
