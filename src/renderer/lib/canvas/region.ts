// The region box: the square sent to the model. Drag it by its border, resize it from a corner (it stays
// square, whole pixels); it may reach past the image edge, which is outpainted. Locked while an edit runs.
import Konva from 'konva';
import type { Region } from '../../../shared/edit';
import { EDIT_LIMITS } from '../../../shared/edit';
import { MIN_REGION } from '../canvas-state/geometry';
import { moduleId, type CanvasModule } from './module';

export class RegionBoxModule implements CanvasModule {
  readonly type = 'region-box';
  readonly id = moduleId('region-box');
  private rect!: Konva.Rect;
  private transformer!: Konva.Transformer;
  private label!: Konva.Text;
  private region: Region = { x: 0, y: 0, size: 64 };
  private locked = false;

  constructor(private readonly layer: Konva.Layer, private readonly onChange: (r: Region) => void, private readonly modelResolution: () => number | null) {}

  initialize(): void {
    this.rect = new Konva.Rect({
      stroke: '#6ea8fe', strokeWidth: 2, dash: [8, 5], strokeScaleEnabled: false, fillEnabled: false, hitStrokeWidth: 14, draggable: true, name: 'region-box',
    });
    this.label = new Konva.Text({ fontSize: 12, fill: '#cfe0ff', listening: false, padding: 3 });
    this.transformer = new Konva.Transformer({
      nodes: [this.rect], keepRatio: true, rotateEnabled: false, flipEnabled: false, ignoreStroke: true, name: 'region-transformer',
      enabledAnchors: ['top-left', 'top-right', 'bottom-left', 'bottom-right'], anchorSize: 10, anchorStroke: '#6ea8fe', borderEnabled: false,
      boundBoxFunc: (old, next) => (next.width < 4 || next.height < 4 ? old : next),
    });
    this.rect.on('dragmove', () => {
      this.rect.position({ x: Math.round(this.rect.x()), y: Math.round(this.rect.y()) });
      this.readBack(false);
    });
    this.rect.on('dragend', () => this.readBack(true));
    this.rect.on('transform', () => this.placeLabel());
    this.rect.on('transformend', () => this.readBack(true));
    this.layer.add(this.rect, this.transformer, this.label);
    this.apply();
  }

  /** True for the box's own nodes (the brush must not start a stroke on them). */
  owns(node: Konva.Node): boolean {
    return node === this.rect || node.getParent() === this.transformer || node === this.transformer;
  }

  private readBack(commit: boolean): void {
    const size = Math.round(Math.min(Math.max(Math.max(this.rect.width() * this.rect.scaleX(), this.rect.height() * this.rect.scaleY()), MIN_REGION), EDIT_LIMITS.maxRegion));
    this.region = { x: Math.round(this.rect.x()), y: Math.round(this.rect.y()), size };
    if (commit) this.apply();
    else this.placeLabel();
    this.onChange({ ...this.region });
  }

  set(region: Region): void {
    this.region = { ...region };
    this.apply();
  }

  get(): Region {
    return { ...this.region };
  }

  setLocked(locked: boolean): void {
    this.locked = locked;
    this.rect.draggable(!locked);
    this.transformer.visible(!locked);
    this.layer.batchDraw();
  }

  setVisible(visible: boolean): void {
    this.rect.visible(visible);
    this.transformer.visible(visible && !this.locked);
    this.label.visible(visible);
    this.layer.batchDraw();
  }

  private placeLabel(): void {
    const R = this.modelResolution();
    const size = Math.round(this.rect.width() * this.rect.scaleX());
    const scale = this.layer.getStage()?.scaleX() ?? 1;
    this.label.text(`${size}×${size}${R ? ` → ${R}×${R}` : ''}`);
    this.label.scale({ x: 1 / scale, y: 1 / scale });
    this.label.position({ x: this.rect.x(), y: this.rect.y() - 20 / scale });
  }

  /** Re-applies the box after a zoom (the label keeps its screen size). */
  apply(): void {
    const { x, y, size } = this.region;
    this.rect.setAttrs({ x, y, width: size, height: size, scaleX: 1, scaleY: 1 });
    this.transformer.forceUpdate();
    this.placeLabel();
    this.layer.batchDraw();
  }

  destroy(): void {
    this.transformer?.destroy();
    this.rect?.destroy();
    this.label?.destroy();
  }

  repr(): Record<string, unknown> {
    return { type: this.type, id: this.id, region: { ...this.region }, locked: this.locked, visible: this.rect.visible() };
  }
}
