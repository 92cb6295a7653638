import { describe, expect, it } from 'vitest';
import { VarEngine } from '../../../src/engine/index';
import { PROVIDER_NAMES as ENGINE_PROVIDERS, providerChain } from '../../../src/engine/providers';
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
