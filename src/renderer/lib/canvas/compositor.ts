// The compositor's read-out: checksums of the document image (already flat: accepted results are pasted
// into it, staged candidates are not) and of its mask, for tests and the debug hook.
import type { CanvasDocument } from '../canvas-state/document';
import { moduleId, type CanvasModule } from './module';

/** FNV-1a over the bytes: cheap, stable, good enough to tell images apart in tests. */
export function checksum(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export class CompositorModule implements CanvasModule {
  readonly type = 'compositor';
  readonly id = moduleId('compositor');

  constructor(private readonly getDoc: () => CanvasDocument | null) {}

  initialize(): void {}

  destroy(): void {}

  repr(): Record<string, unknown> {
    const doc = this.getDoc();
    return { type: this.type, id: this.id, width: doc?.width ?? 0, height: doc?.height ?? 0, imageChecksum: doc ? checksum(doc.image) : null, maskChecksum: doc ? checksum(doc.mask) : null };
  }
}
