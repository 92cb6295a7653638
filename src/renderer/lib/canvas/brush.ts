// Brush and eraser: pointer strokes painted straight into the document's mask (canvas-state/stroke.ts)
// with coalesced pointer events, redrawing only the touched rectangle of the mask layer. A finished
// stroke is handed over as an undo entry. Presses on the region box's border or handles are not strokes.
import type Konva from 'konva';
import type { CanvasDocument, Change } from '../canvas-state/document';
import { union, type Rect } from '../canvas-state/raster';
import { Stroke, type BrushSettings } from '../canvas-state/stroke';
import { moduleId, type CanvasModule } from './module';
import type { StageModule } from './stage';

export interface BrushDeps {
  stage: StageModule;
  getDoc(): CanvasDocument | null;
  getBrush(): BrushSettings;
  /** False while an edit runs or candidates are staged (the mask must not change under them). */
  canPaint(): boolean;
  /** Returns true when a Konva node belongs to the region box (its border or a handle). */
  isRegionNode(node: Konva.Node): boolean;
  onDirty(rect: Rect): void;
  onStroke(label: string, forward: Change, inverse: Change): void;
}

export class BrushToolModule implements CanvasModule {
  readonly type = 'brush-tool';
  readonly id = moduleId('brush-tool');
  private stroke: Stroke | null = null;
  private pointerId: number | null = null;
  strokes = 0;
  /** Time to handle each pointer move (dabs + mask redraw) of the last stroke, in ms: painting must keep up with the pointer. */
  private moveMs: number[] = [];

  constructor(private readonly deps: BrushDeps) {}

  private toDocument(e: PointerEvent): { x: number; y: number } {
    const st = this.deps.stage.stage;
    const rect = st.container().getBoundingClientRect();
    const s = st.scaleX();
    return { x: (e.clientX - rect.left - st.x()) / s, y: (e.clientY - rect.top - st.y()) / s };
  }

  private readonly onMove = (e: PointerEvent) => {
    if (!this.stroke || e.pointerId !== this.pointerId) return;
    const t0 = performance.now();
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    let dirty: Rect | null = null;
    for (const ev of events.length ? events : [e]) {
      const p = this.toDocument(ev);
      dirty = union(dirty, this.stroke.to(p.x, p.y));
    }
    // One redraw per pointer event, of the rectangle all its coalesced points touched.
    if (dirty) this.deps.onDirty(dirty);
    this.moveMs.push(performance.now() - t0);
  };

  private readonly onUp = (e: PointerEvent) => {
    if (!this.stroke || e.pointerId !== this.pointerId) return;
    const stroke = this.stroke;
    this.stroke = null;
    this.pointerId = null;
    const done = stroke.finish();
    if (done) {
      this.strokes += 1;
      this.deps.onStroke(stroke.brush.mode === 'brush' ? 'brush stroke' : 'eraser stroke', done.forward, done.inverse);
    }
  };

  initialize(): void {
    const st = this.deps.stage.stage;
    st.on('pointerdown.brush', (ke) => {
      const e = ke.evt as PointerEvent;
      const doc = this.deps.getDoc();
      if (!doc || e.button !== 0 || this.deps.stage.spaceHeld || this.deps.stage.isPanning || !this.deps.canPaint()) return;
      if (this.deps.isRegionNode(ke.target)) return;
      e.preventDefault();
      this.stroke = new Stroke(doc, { ...this.deps.getBrush() });
      this.moveMs = [];
      this.pointerId = e.pointerId;
      const p = this.toDocument(e);
      const r = this.stroke.to(p.x, p.y);
      if (r) this.deps.onDirty(r);
    });
    window.addEventListener('pointermove', this.onMove);
    window.addEventListener('pointerup', this.onUp);
    window.addEventListener('pointercancel', this.onUp);
  }

  private moveTimes(): { count: number; median: number; max: number } {
    const sorted = [...this.moveMs].sort((a, b) => a - b);
    const round = (v: number) => Math.round(v * 10) / 10;
    return { count: sorted.length, median: round(sorted[Math.floor(sorted.length / 2)] ?? 0), max: round(sorted.at(-1) ?? 0) };
  }

  get painting(): boolean {
    return this.stroke !== null;
  }

  destroy(): void {
    this.deps.stage.stage?.off('pointerdown.brush');
    window.removeEventListener('pointermove', this.onMove);
    window.removeEventListener('pointerup', this.onUp);
    window.removeEventListener('pointercancel', this.onUp);
  }

  repr(): Record<string, unknown> {
    return { type: this.type, id: this.id, painting: this.painting, strokes: this.strokes, moveMs: this.moveTimes(), brush: this.deps.getBrush() };
  }
}
