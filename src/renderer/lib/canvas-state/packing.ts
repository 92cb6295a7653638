// gzip packing of raw image/mask bytes for autosave and export (CompressionStream exists in Chromium,
// Electron and Node ≥ 18): exact bytes, a fraction of the size on the wire.
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
