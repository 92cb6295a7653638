// The lifecycle every canvas module shares (after InvokeAI's control-layer modules): a type, an id,
// initialize (create Konva nodes, subscribe), destroy (remove nodes, unsubscribe) and repr, a plain
// serialisable snapshot that tests and the debug hook read. Modules receive what they need; none reaches
// through a central manager.
export interface CanvasModule {
  readonly type: string;
  readonly id: string;
  initialize(): void;
  destroy(): void;
  repr(): Record<string, unknown>;
}

let counter = 0;
export function moduleId(type: string): string {
  counter += 1;
  return `${type}-${counter}`;
}

/** An offscreen canvas of the given size (document pixels), with its 2D context. */
export function offscreen(width: number, height: number): { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D } {
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, width);
  canvas.height = Math.max(1, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: false });
  if (!ctx) throw new Error('This browser cannot create a 2D canvas.');
  return { canvas, ctx };
}
