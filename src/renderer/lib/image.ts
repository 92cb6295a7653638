// RGB (3 bytes/pixel, the contract's image) → what the DOM can show.
import type { RgbImageMsg } from '../../shared/contract';

/** Opaque RGBA pixels of an RGB image, or of one rectangle of it (whole pixels inside the image). */
export function toImageData(img: RgbImageMsg, rect?: { x: number; y: number; width: number; height: number }): ImageData {
  const r = rect ?? { x: 0, y: 0, width: img.width, height: img.height };
  const rgba = new Uint8ClampedArray(r.width * r.height * 4);
  for (let y = 0, o = 0; y < r.height; y++) {
    for (let x = 0, s = ((r.y + y) * img.width + r.x) * 3; x < r.width; x++, s += 3, o += 4) {
      rgba[o] = img.data[s];
      rgba[o + 1] = img.data[s + 1];
      rgba[o + 2] = img.data[s + 2];
      rgba[o + 3] = 255;
    }
  }
  return new ImageData(rgba, r.width, r.height);
}

export function drawRgb(canvas: HTMLCanvasElement, img: RgbImageMsg): void {
  if (canvas.width !== img.width) canvas.width = img.width;
  if (canvas.height !== img.height) canvas.height = img.height;
  canvas.getContext('2d')?.putImageData(toImageData(img), 0, 0);
}

export function sameImage(a: RgbImageMsg, b: RgbImageMsg): boolean {
  if (a.width !== b.width || a.height !== b.height || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Browser-mode download of bytes the server returned (the server itself never writes files). */
export function downloadBytes(bytes: Uint8Array, mime: string, fileName: string): void {
  const blob = new Blob([bytes.slice().buffer as ArrayBuffer], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
