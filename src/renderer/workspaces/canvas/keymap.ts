// The Canvas workspace's keys, built with its session and view in hand. Single keys (B, E, [, ], F, Space,
// arrows, Enter) and the redo chords do nothing while typing in a field. Tabs: Ctrl+Tab / Ctrl+Shift+Tab
// and Ctrl+W as in Krita and Photoshop; a browser keeps those for its own tabs, so Alt+PageDown /
// Alt+PageUp and Alt+W do the same there.
import type { CanvasSession } from '../../lib/canvas-state/session.svelte';
import { isTextField, outsideTextFields, type KeyAction, type Keymap } from '../../lib/shortcuts';

export interface CanvasKeyActions {
  openDialog(): void;
  fit(): void;
  /** Space held: the next drag pans. */
  holdSpace(): void;
}

export function canvasKeymap(session: CanvasSession, view: CanvasKeyActions): Keymap {
  const redo = outsideTextFields(() => session.redo());
  const cycle = (delta: number) => outsideTextFields(() => (session.staged ? session.cycle(delta) : false));
  const accept = outsideTextFields((e) => {
    const t = e.target;
    // Enter on a focused control presses that control instead.
    const onControl = t instanceof HTMLButtonElement || t instanceof HTMLSelectElement || (t instanceof HTMLInputElement && t.type !== 'range');
    if (!session.staged || onControl) return false;
    session.accept();
  });
  const withAlt = (action: () => void): KeyAction => (e) => (e.altKey && !isTextField(e.target) ? action() : false);
  const nextTab = () => session.cycleTab(1);
  const previousTab = () => session.cycleTab(-1);
  const closeTab = () => void session.close();
  return {
    'Mod+Tab': nextTab,
    'Mod+Shift+Tab': previousTab,
    'Mod+w': closeTab,
    PageDown: withAlt(nextTab),
    PageUp: withAlt(previousTab),
    w: withAlt(closeTab),
    'Mod+Enter': () => void session.run(),
    Escape: () => {
      if (session.running) session.cancel();
      else session.discard();
    },
    'Mod+s': () => void session.exportImage(),
    'Mod+o': () => view.openDialog(),
    'Mod+z': outsideTextFields(() => session.undo()),
    'Mod+Shift+z': redo,
    'Mod+y': redo,
    'Mod+Shift+y': redo,
    b: outsideTextFields(() => void (session.mode = 'brush')),
    e: outsideTextFields(() => void (session.mode = 'eraser')),
    '[': outsideTextFields(() => void (session.brushSize = Math.max(1, Math.round(session.brushSize / 1.25)))),
    ']': outsideTextFields(() => void (session.brushSize = Math.min(512, Math.max(session.brushSize + 1, Math.round(session.brushSize * 1.25))))),
    f: outsideTextFields(() => view.fit()),
    // Space pans; on a focused button it would click it instead, so take it over while a document is open.
    ' ': outsideTextFields(() => (session.doc ? view.holdSpace() : false)),
    ArrowLeft: cycle(-1),
    'Shift+ArrowLeft': cycle(-1),
    ArrowRight: cycle(1),
    'Shift+ArrowRight': cycle(1),
    Enter: accept,
    'Shift+Enter': accept,
  };
}
