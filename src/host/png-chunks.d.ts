// Minimal typings for the PNG chunk helpers (they ship none).
declare module 'png-chunks-extract' {
  function extract(data: Uint8Array): { name: string; data: Uint8Array }[];
  export default extract;
}
declare module 'png-chunks-encode' {
  function encode(chunks: { name: string; data: Uint8Array }[]): Uint8Array;
  export default encode;
}
declare module 'png-chunk-text' {
  export function encode(keyword: string, content: string): { name: 'tEXt'; data: Uint8Array };
  export function decode(data: Uint8Array | { name: string; data: Uint8Array }): { keyword: string; text: string };
}
