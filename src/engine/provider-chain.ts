// The provider chain on its own (no onnxruntime import), so a host that only probes providers never loads the binding.
import type { ProviderName } from './providers';

/**
 * The automatic chain per platform. WebGPU is not in any automatic chain: it needs Vulkan/Metal/D3D12 at
 * run time and was not proven to work here; it is used only when asked for (then CPU if it fails).
 */
export function providerChain(requested: ProviderName | 'auto', platform: NodeJS.Platform = process.platform): ProviderName[] {
  if (requested !== 'auto') return requested === 'cpu' ? ['cpu'] : [requested, 'cpu'];
  switch (platform) {
    case 'linux': return ['cuda', 'cpu'];
    case 'win32': return ['dml', 'cpu'];
    case 'darwin': return ['coreml', 'cpu'];
    default: return ['cpu'];
  }
}
