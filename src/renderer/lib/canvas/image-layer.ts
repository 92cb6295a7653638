// The document image: an offscreen canvas holding the full-size RGB pixels, shown as one Konva.Image.
// Updates copy only the changed rectangle; the offscreen canvas is rebuilt when the document's size changes.
import Konva from 'konva';
import type { CanvasDocument } from '../canvas-state/document';
import type { Rect } from '../canvas-state/raster';
import { toImageData } from '../image';
import { moduleId, offscreen, type CanvasModule } from './module';

export class ImageLayerModule implements CanvasModule {
  readonly type = 'image-layer';
  readonly id = moduleId('image-layer');
  private node!: Konva.Image;
  private frame!: Konva.Rect;
  private surface: { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D } | null = null;

  constructor(private readonly layer: Konva.Layer, private readonly getDoc: () => CanvasDocument | null) {}

  initialize(): void {
    this.frame = new Konva.Rect({ x: 0, y: 0, width: 1, height: 1, stroke: '#3a404c', strokeWidth: 1, strokeScaleEnabled: false, listening: false });
    this.node = new Konva.Image({ x: 0, y: 0, image: undefined, listening: false });
    this.layer.add(this.frame, this.node);
  }

  /** Redraws a rectangle of the document (all of it when `rect` is omitted or the size changed). */
  update(rect?: Rect): void {
    const doc = this.getDoc();
    if (!doc) {
      this.node.visible(false);
      this.frame.visible(false);
      this.layer.batchDraw();
      return;
    }
    if (!this.surface || this.surface.canvas.width !== doc.width || this.surface.canvas.height !== doc.height) {
      this.surface = offscreen(doc.width, doc.height);
      rect = undefined;
    }
    const r = rect ?? { x: 0, y: 0, width: doc.width, height: doc.height };
    this.surface.ctx.putImageData(toImageData({ width: doc.width, height: doc.height, data: doc.image }, r), r.x, r.y);
    this.node.image(this.surface.canvas);
    this.node.size({ width: doc.width, height: doc.height });
    this.frame.size({ width: doc.width, height: doc.height });
    this.node.visible(true);
    this.frame.visible(true);
    this.layer.batchDraw();
  }

  destroy(): void {
    this.node?.destroy();
    this.frame?.destroy();
    this.surface = null;
  }

  repr(): Record<string, unknown> {
    return { type: this.type, id: this.id, visible: this.node.visible(), width: this.node.width(), height: this.node.height() };
  }
}
