// gzip packing of raw image/mask bytes for autosave and export (CompressionStream exists in Chromium,
// Electron and Node ≥ 18): exact bytes, a fraction of the size on the wire.
import { EDIT_LIMITS } from '../../../shared/edit';
import { EditInputError } from './edit-request';
async function pipe(data: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const input = new Blob([data.slice().buffer as ArrayBuffer]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(input).arrayBuffer());
}

export function pack(data: Uint8Array): Promise<Uint8Array> {
  return pipe(data, new CompressionStream('gzip'));
}

export async function unpack(data: Uint8Array, expected: number, what: string): Promise<Uint8Array> {
  const out = await pipe(data, new DecompressionStream('gzip'));
  if (out.length !== expected) throw new Error(`the ${what} holds ${out.length} bytes; ${expected} were expected`);
  return out;
}

/** Refuses, with a message, a packed buffer larger than one message may carry (before it is sent). */
export function checkPacked(packed: Uint8Array, what: string, purpose: 'autosave' | 'export'): Uint8Array {
  if (packed.length <= EDIT_LIMITS.maxPackedBytes) return packed;
  const mb = (n: number) => `${Math.round(n / 1048576)} MB`;
  throw new EditInputError(
    'too-large',
    `The ${what} is ${mb(packed.length)} even compressed; one ${purpose} can carry at most ${mb(EDIT_LIMITS.maxPackedBytes)}.`,
    purpose === 'export' ? 'Extend or crop the image less, or export a smaller copy.' : 'Your document is still open; export it to keep it.',
  );
}
