// The brush cursor: the brush's outer circle and its hard core (hardness), in document units so it shows
// exactly what a dab will cover at any zoom; hidden off the stage and while panning.
import Konva from 'konva';
import type { BrushSettings } from '../canvas-state/stroke';
import { moduleId, type CanvasModule } from './module';
import type { StageModule } from './stage';

export class BrushCursorModule implements CanvasModule {
  readonly type = 'brush-cursor';
  readonly id = moduleId('brush-cursor');
  private outer!: Konva.Circle;
  private inner!: Konva.Circle;
  private position: { x: number; y: number } | null = null;

  constructor(private readonly layer: Konva.Layer, private readonly stage: StageModule, private readonly getBrush: () => BrushSettings, private readonly enabled: () => boolean) {}

  initialize(): void {
    this.outer = new Konva.Circle({ radius: 1, stroke: '#ffffff', strokeWidth: 1.5, strokeScaleEnabled: false, listening: false, shadowColor: '#000', shadowBlur: 2, shadowOpacity: 0.8 });
    this.inner = new Konva.Circle({ radius: 1, stroke: '#ffffff', strokeWidth: 1, dash: [3, 3], strokeScaleEnabled: false, listening: false, opacity: 0.7 });
    this.layer.add(this.outer, this.inner);
    const st = this.stage.stage;
    st.on('pointermove.cursor', () => this.follow());
    st.on('pointerleave.cursor', () => {
      this.position = null;
      this.update();
    });
    this.update();
  }

  follow(): void {
    this.position = this.stage.pointerInDocument();
    this.update();
  }

  update(): void {
    const b = this.getBrush();
    const show = !!this.position && this.enabled() && !this.stage.spaceHeld && !this.stage.isPanning;
    this.outer.visible(show);
    this.inner.visible(show && b.hardness < 1);
    if (this.position) {
      this.outer.position(this.position);
      this.inner.position(this.position);
    }
    this.outer.radius(Math.max(b.size / 2, 0.5));
    this.outer.stroke(b.mode === 'eraser' ? '#9ad0ff' : '#ffffff');
    this.inner.radius(Math.max((b.size / 2) * b.hardness, 0.25));
    this.layer.batchDraw();
  }

  destroy(): void {
    this.stage.stage?.off('pointermove.cursor');
    this.stage.stage?.off('pointerleave.cursor');
    this.outer?.destroy();
    this.inner?.destroy();
  }

  repr(): Record<string, unknown> {
    return { type: this.type, id: this.id, visible: this.outer.visible(), radius: this.outer.radius(), innerRadius: this.inner.radius(), at: this.position };
  }
}
