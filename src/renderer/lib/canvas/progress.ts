// The live preview of a running edit: the latest scale's preview (model resolution) stretched over the
// region box with nearest-neighbour pixels, so the region visibly grows from coarse to fine.
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

export class ProgressImageModule implements CanvasModule {
  readonly type = 'progress-image';
  readonly id = moduleId('progress-image');
  private node!: Konva.Image;
  private shown: { scale: number; width: number } | null = null;

  constructor(private readonly layer: Konva.Layer) {}

  initialize(): void {
    this.node = new Konva.Image({ image: undefined, listening: false, visible: false });
    this.layer.add(this.node);
  }

  show(region: Region, preview: RgbImageMsg, scaleIndex: number): void {
    this.node.setAttrs({ image: rgbToCanvas(preview), x: region.x, y: region.y, width: region.size, height: region.size, visible: true });
    this.shown = { scale: scaleIndex, width: preview.width };
    this.layer.batchDraw();
  }

  clear(): void {
    this.node.visible(false);
    this.shown = null;
    this.layer.batchDraw();
  }

  destroy(): void {
    this.node?.destroy();
  }

  repr(): Record<string, unknown> {
    return { type: this.type, id: this.id, visible: this.node.visible(), scaleIndex: this.shown?.scale ?? null, previewWidth: this.shown?.width ?? null };
  }
}
