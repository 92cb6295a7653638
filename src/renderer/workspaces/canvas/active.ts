// The canvas session of the mounted Canvas workspace, for the keymap in workspaces/registry.ts (the keymap
// is built outside the component tree). Set on mount, cleared on destroy.
import type { CanvasSession } from '../../lib/canvas-state/session.svelte';

let current: { session: CanvasSession; openDialog(): void; fit(): void } | null = null;

export function setActiveCanvas(value: typeof current): void {
  current = value;
}

export function activeCanvas(): typeof current {
  return current;
}
