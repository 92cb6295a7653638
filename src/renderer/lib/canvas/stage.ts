// The stage: one Konva.Stage in the workspace's container, document pixels as world units. Zoom with
// Ctrl+wheel around the pointer (plain wheel scrolls), pan with Space+drag or the middle button, fit.
import Konva from 'konva';
import { moduleId, type CanvasModule } from './module';

export const MIN_ZOOM = 1 / 32;
export const MAX_ZOOM = 64;

export class StageModule implements CanvasModule {
  readonly type = 'stage';
  readonly id = moduleId('stage');
  stage!: Konva.Stage;
  /** Space held: the next drag pans instead of painting. */
  spaceHeld = false;
  private panning: { x: number; y: number; sx: number; sy: number } | null = null;
  private resizeObserver: ResizeObserver | null = null;
  private cleanup: (() => void)[] = [];

  constructor(private readonly container: HTMLDivElement, private readonly onView: () => void) {}

  initialize(): void {
    this.stage = new Konva.Stage({ container: this.container, width: Math.max(1, this.container.clientWidth), height: Math.max(1, this.container.clientHeight) });
    this.resizeObserver = new ResizeObserver(() => {
      this.stage.size({ width: Math.max(1, this.container.clientWidth), height: Math.max(1, this.container.clientHeight) });
      this.onView();
    });
    this.resizeObserver.observe(this.container);
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      if (e.ctrlKey || e.metaKey) {
        const rect = this.container.getBoundingClientRect();
        this.zoomAt({ x: e.clientX - rect.left, y: e.clientY - rect.top }, Math.exp(-e.deltaY * 0.0015));
      } else {
        this.stage.position({ x: this.stage.x() - e.deltaX, y: this.stage.y() - e.deltaY });
        this.onView();
      }
    };
    this.container.addEventListener('wheel', onWheel, { passive: false });
    const onDown = (e: PointerEvent) => {
      if (e.button === 1 || (e.button === 0 && this.spaceHeld)) {
        e.preventDefault();
        e.stopPropagation();
        this.panning = { x: e.clientX, y: e.clientY, sx: this.stage.x(), sy: this.stage.y() };
        this.container.setPointerCapture(e.pointerId);
      }
    };
    const onMove = (e: PointerEvent) => {
      if (!this.panning) return;
      this.stage.position({ x: this.panning.sx + e.clientX - this.panning.x, y: this.panning.sy + e.clientY - this.panning.y });
      this.onView();
    };
    const onUp = () => (this.panning = null);
    // Capture phase: a pan must win over the brush and the region box.
    this.container.addEventListener('pointerdown', onDown, true);
    window.addEventListener('pointermove', onMove);
    window.addEventListener('pointerup', onUp);
    this.cleanup.push(
      () => this.container.removeEventListener('wheel', onWheel),
      () => this.container.removeEventListener('pointerdown', onDown, true),
      () => window.removeEventListener('pointermove', onMove),
      () => window.removeEventListener('pointerup', onUp),
    );
  }

  get isPanning(): boolean {
    return this.panning !== null;
  }

  zoomAt(screen: { x: number; y: number }, factor: number): void {
    const old = this.stage.scaleX();
    const next = Math.min(Math.max(old * factor, MIN_ZOOM), MAX_ZOOM);
    const world = { x: (screen.x - this.stage.x()) / old, y: (screen.y - this.stage.y()) / old };
    this.stage.scale({ x: next, y: next });
    this.stage.position({ x: screen.x - world.x * next, y: screen.y - world.y * next });
    this.onView();
  }

  /** Fits a width×height box (document pixels) in the view with a margin. */
  fit(width: number, height: number, margin = 32): void {
    const w = this.stage.width(), h = this.stage.height();
    const scale = Math.min(Math.max(Math.min((w - 2 * margin) / width, (h - 2 * margin) / height), MIN_ZOOM), MAX_ZOOM);
    this.stage.scale({ x: scale, y: scale });
    this.stage.position({ x: Math.round((w - width * scale) / 2), y: Math.round((h - height * scale) / 2) });
    this.onView();
  }

  /** Pointer position in document pixels (null when the pointer is not over the stage). */
  pointerInDocument(): { x: number; y: number } | null {
    const p = this.stage.getPointerPosition();
    if (!p) return null;
    const s = this.stage.scaleX();
    return { x: (p.x - this.stage.x()) / s, y: (p.y - this.stage.y()) / s };
  }

  /** Zoom and pan as plain numbers (kept per document tab). */
  transform(): { scale: number; x: number; y: number } {
    return { scale: this.stage.scaleX(), x: this.stage.x(), y: this.stage.y() };
  }

  setTransform(t: { scale: number; x: number; y: number }): void {
    const scale = Math.min(Math.max(t.scale, MIN_ZOOM), MAX_ZOOM);
    this.stage.scale({ x: scale, y: scale });
    this.stage.position({ x: t.x, y: t.y });
    this.onView();
  }

  get zoom(): number {
    return this.stage.scaleX();
  }

  destroy(): void {
    for (const f of this.cleanup) f();
    this.resizeObserver?.disconnect();
    this.stage?.destroy();
  }

  repr(): Record<string, unknown> {
    return { type: this.type, id: this.id, scale: this.stage.scaleX(), x: this.stage.x(), y: this.stage.y(), width: this.stage.width(), height: this.stage.height(), spaceHeld: this.spaceHeld };
  }
}
