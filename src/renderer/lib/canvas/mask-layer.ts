// The mask overlay: the document's mask (one byte per pixel) drawn as a tinted, semi-transparent layer.
// Brush strokes update only the rectangle they touched, so painting stays fluid on large images.
import Konva from 'konva';
import type { CanvasDocument } from '../canvas-state/document';
import type { Rect } from '../canvas-state/raster';
import { moduleId, offscreen, type CanvasModule } from './module';

const TINT = [255, 64, 96] as const;

export class MaskLayerModule implements CanvasModule {
  readonly type = 'mask-layer';
  readonly id = moduleId('mask-layer');
  private node!: Konva.Image;
  private surface: { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D } | null = null;
  private opacity = 0.5;
  /** Hidden while candidates are staged (the result is judged without the overlay). */
  private hidden = false;

  constructor(private readonly layer: Konva.Layer, private readonly getDoc: () => CanvasDocument | null) {}

  initialize(): void {
    this.node = new Konva.Image({ x: 0, y: 0, image: undefined, listening: false, opacity: this.opacity });
    this.layer.add(this.node);
  }

  setOpacity(opacity: number): void {
    this.opacity = opacity;
    this.node.opacity(opacity);
    this.layer.batchDraw();
  }

  setVisible(visible: boolean): void {
    this.hidden = !visible;
    this.node.visible(visible && !!this.getDoc());
    this.layer.batchDraw();
  }

  update(rect?: Rect | null): void {
    const doc = this.getDoc();
    if (!doc) {
      this.node.visible(false);
      this.layer.batchDraw();
      return;
    }
    if (!this.surface || this.surface.canvas.width !== doc.width || this.surface.canvas.height !== doc.height) {
      this.surface = offscreen(doc.width, doc.height);
      rect = undefined;
    }
    const r = rect ?? { x: 0, y: 0, width: doc.width, height: doc.height };
    const data = new ImageData(r.width, r.height);
    for (let y = 0; y < r.height; y++) {
      let s = (r.y + y) * doc.width + r.x;
      let o = y * r.width * 4;
      for (let x = 0; x < r.width; x++, s++, o += 4) {
        data.data[o] = TINT[0];
        data.data[o + 1] = TINT[1];
        data.data[o + 2] = TINT[2];
        data.data[o + 3] = doc.mask[s];
      }
    }
    this.surface.ctx.putImageData(data, r.x, r.y);
    this.node.image(this.surface.canvas);
    this.node.size({ width: doc.width, height: doc.height });
    this.node.visible(!this.hidden);
    this.layer.batchDraw();
  }

  destroy(): void {
    this.node?.destroy();
    this.surface = null;
  }

  repr(): Record<string, unknown> {
    const doc = this.getDoc();
    let masked = 0;
    if (doc) for (let i = 0; i < doc.mask.length; i++) if (doc.mask[i] >= 128) masked++;
    return { type: this.type, id: this.id, visible: this.node.visible(), opacity: this.opacity, maskedPixels: masked };
  }
}
