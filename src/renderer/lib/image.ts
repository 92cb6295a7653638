// RGB (3 bytes/pixel, the contract's image) → what the DOM can show.
import type { RgbImageMsg } from '../../shared/contract';

export function toImageData(img: RgbImageMsg): ImageData {
  const rgba = new Uint8ClampedArray(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.data.length; i += 3, j += 4) {
    rgba[j] = img.data[i];
    rgba[j + 1] = img.data[i + 1];
    rgba[j + 2] = img.data[i + 2];
    rgba[j + 3] = 255;
  }
  return new ImageData(rgba, img.width, img.height);
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
