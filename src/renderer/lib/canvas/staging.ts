// Candidates of a finished edit, staged over the document at the region's place before the user accepts
// one: the shown candidate is drawn as it would be pasted (the engine already feathered it over the source).
import Konva from 'konva';
import type { Region } from '../../../shared/edit';
import type { RgbImageMsg } from '../../../shared/contract';
import { moduleId, type CanvasModule } from './module';
import { rgbToCanvas } from './progress';

export class StagingModule implements CanvasModule {
  readonly type = 'staging';
  readonly id = moduleId('staging');
  private node!: Konva.Image;
  private outline!: Konva.Rect;
  private state: { index: number; count: number; region: Region } | null = null;

  constructor(private readonly layer: Konva.Layer) {}

  initialize(): void {
    this.node = new Konva.Image({ image: undefined, listening: false, visible: false });
    this.outline = new Konva.Rect({ stroke: '#6fd39a', strokeWidth: 2, strokeScaleEnabled: false, fillEnabled: false, listening: false, visible: false });
    this.layer.add(this.node, this.outline);
  }

  show(region: Region, candidate: RgbImageMsg, index: number, count: number): void {
    this.node.setAttrs({ image: rgbToCanvas(candidate), x: region.x, y: region.y, width: region.size, height: region.size, visible: true });
    this.outline.setAttrs({ x: region.x, y: region.y, width: region.size, height: region.size, visible: true });
    this.state = { index, count, region: { ...region } };
    this.layer.batchDraw();
  }

  clear(): void {
    this.node.visible(false);
    this.outline.visible(false);
    this.state = null;
    this.layer.batchDraw();
  }

  destroy(): void {
    this.node?.destroy();
    this.outline?.destroy();
  }

  repr(): Record<string, unknown> {
    return { type: this.type, id: this.id, staged: this.state };
  }
}
