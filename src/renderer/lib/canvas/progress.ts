// The live preview of a running edit: the latest scale's preview (model resolution) stretched over the
// region box with nearest-neighbour pixels, shown only where the edit may change pixels (the mask, and the
// part past the image edge), so everything else keeps showing the document while the region grows from
// coarse to fine.
import Konva from 'konva';
import type { Region } from '../../../shared/edit';
import type { RgbImageMsg } from '../../../shared/contract';
import { toImageData } from '../image';
import { moduleId, offscreen, type CanvasModule } from './module';

export function rgbToCanvas(img: RgbImageMsg): HTMLCanvasElement {
  const { canvas, ctx } = offscreen(img.width, img.height);
  ctx.putImageData(toImageData(img), 0, 0);
  return canvas;
}

/** A canvas whose alpha is the given bytes (one per pixel of a size×size square). */
function alphaCanvas(alpha: Uint8Array, size: number): HTMLCanvasElement {
  const { canvas, ctx } = offscreen(size, size);
  const data = new ImageData(size, size);
  for (let i = 0; i < alpha.length; i++) data.data[i * 4 + 3] = alpha[i];
  ctx.putImageData(data, 0, 0);
  return canvas;
}

export class ProgressImageModule implements CanvasModule {
  readonly type = 'progress-image';
  readonly id = moduleId('progress-image');
  private node!: Konva.Image;
  private shown: { scale: number; width: number } | null = null;
  /** The region-sized alpha of the running edit, drawn once and reused for every scale. */
  private cut: { alpha: Uint8Array; canvas: HTMLCanvasElement } | null = null;
  private surface: { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D } | null = null;

  constructor(private readonly layer: Konva.Layer) {}

  initialize(): void {
    this.node = new Konva.Image({ image: undefined, listening: false, visible: false });
    this.layer.add(this.node);
  }

  show(region: Region, preview: RgbImageMsg, scaleIndex: number, alpha: Uint8Array): void {
    const size = region.size;
    if (this.cut?.alpha !== alpha) this.cut = { alpha, canvas: alphaCanvas(alpha, size) };
    if (!this.surface || this.surface.canvas.width !== size) this.surface = offscreen(size, size);
    const { ctx } = this.surface;
    ctx.globalCompositeOperation = 'source-over';
    ctx.clearRect(0, 0, size, size);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(rgbToCanvas(preview), 0, 0, size, size);
    ctx.globalCompositeOperation = 'destination-in';
    ctx.drawImage(this.cut.canvas, 0, 0);
    ctx.globalCompositeOperation = 'source-over';
    this.node.setAttrs({ image: this.surface.canvas, x: region.x, y: region.y, width: size, height: size, visible: true });
    this.shown = { scale: scaleIndex, width: preview.width };
    this.layer.batchDraw();
  }

  clear(): void {
    this.node.visible(false);
    this.shown = null;
    this.cut = null;
    this.layer.batchDraw();
  }

  destroy(): void {
    this.node?.destroy();
  }

  repr(): Record<string, unknown> {
    return { type: this.type, id: this.id, visible: this.node.visible(), scaleIndex: this.shown?.scale ?? null, previewWidth: this.shown?.width ?? null, maskedPreview: this.cut !== null };
  }
}
