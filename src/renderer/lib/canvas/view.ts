// Builds the canvas from its modules and wires each with exactly what it needs. Layer order, bottom to
// top: the document image; the mask overlay; staged candidates and the live preview; the region box and
// the brush cursor.
import Konva from 'konva';
import type { Region } from '../../../shared/edit';
import type { CanvasDocument, Change } from '../canvas-state/document';
import type { BrushSettings } from '../canvas-state/stroke';
import type { Rect } from '../canvas-state/raster';
import { StageModule } from './stage';
import { ImageLayerModule } from './image-layer';
import { MaskLayerModule } from './mask-layer';
import { BrushToolModule } from './brush';
import { BrushCursorModule } from './brush-cursor';
import { RegionBoxModule } from './region';
import { ProgressImageModule } from './progress';
import { StagingModule } from './staging';
import { CompositorModule } from './compositor';
import type { CanvasModule } from './module';

export interface CanvasViewDeps {
  getDoc(): CanvasDocument | null;
  getBrush(): BrushSettings;
  /** Painting allowed now (a document, no run, nothing staged). */
  canPaint(): boolean;
  modelResolution(): number | null;
  onRegion(region: Region): void;
  onStroke(label: string, forward: Change, inverse: Change): void;
  /** Zoom or pan changed (for the zoom read-out). */
  onView(): void;
}

export class CanvasView {
  readonly stage: StageModule;
  readonly image: ImageLayerModule;
  readonly mask: MaskLayerModule;
  readonly brush: BrushToolModule;
  readonly cursor: BrushCursorModule;
  readonly region: RegionBoxModule;
  readonly progress: ProgressImageModule;
  readonly staging: StagingModule;
  readonly compositor: CompositorModule;
  private readonly modules: CanvasModule[];
  private layers: Konva.Layer[] = [];

  constructor(container: HTMLDivElement, private readonly deps: CanvasViewDeps) {
    this.stage = new StageModule(container, () => {
      this.region?.apply();
      deps.onView();
    });
    this.stage.initialize();
    const [imageLayer, maskLayer, resultLayer, uiLayer] = (this.layers = [
      // Pixels stay sharp when zoomed in (a creative tool shows the real pixels).
      new Konva.Layer({ listening: false, imageSmoothingEnabled: false }), new Konva.Layer({ listening: false, imageSmoothingEnabled: false }),
      new Konva.Layer({ listening: false, imageSmoothingEnabled: false }), new Konva.Layer(),
    ]);
    for (const l of this.layers) this.stage.stage.add(l);
    this.image = new ImageLayerModule(imageLayer, deps.getDoc);
    this.mask = new MaskLayerModule(maskLayer, deps.getDoc);
    this.progress = new ProgressImageModule(resultLayer);
    this.staging = new StagingModule(resultLayer);
    this.region = new RegionBoxModule(uiLayer, deps.onRegion, deps.modelResolution);
    this.cursor = new BrushCursorModule(uiLayer, this.stage, deps.getBrush, deps.canPaint);
    this.compositor = new CompositorModule(deps.getDoc);
    this.brush = new BrushToolModule({
      stage: this.stage, getDoc: deps.getDoc, getBrush: deps.getBrush, canPaint: deps.canPaint,
      isRegionNode: (node) => this.region.owns(node),
      onDirty: (rect: Rect) => this.mask.update(rect),
      onStroke: deps.onStroke,
    });
    this.modules = [this.image, this.mask, this.progress, this.staging, this.region, this.cursor, this.brush, this.compositor];
    for (const m of this.modules) m.initialize();
  }

  /** Redraws everything from the document (after open, undo/redo, accept, mask operations). */
  refresh(opts: { fit?: boolean } = {}): void {
    const doc = this.deps.getDoc();
    this.image.update();
    this.mask.update();
    this.region.setVisible(!!doc);
    if (doc) {
      this.region.set(doc.region);
      if (opts.fit) this.fit();
    }
  }

  fit(): void {
    const doc = this.deps.getDoc();
    if (!doc) return;
    const r = doc.region;
    // Fit the image and the region box together (the box may reach past the image).
    const x0 = Math.min(0, r.x), y0 = Math.min(0, r.y);
    const x1 = Math.max(doc.width, r.x + r.size), y1 = Math.max(doc.height, r.y + r.size);
    this.stage.fit(x1 - x0, y1 - y0);
    const s = this.stage.stage.scaleX();
    this.stage.stage.position({ x: this.stage.stage.x() - x0 * s, y: this.stage.stage.y() - y0 * s });
    this.region.apply();
    this.deps.onView();
  }

  destroy(): void {
    for (const m of [...this.modules].reverse()) m.destroy();
    this.stage.destroy();
  }

  repr(): Record<string, unknown> {
    return { stage: this.stage.repr(), modules: this.modules.map((m) => m.repr()) };
  }
}
