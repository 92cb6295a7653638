// The studio's workspaces. Each is a full-height area under the top bar with its own keymap; they all
// share one StudioApp (model, settings, history, export). The canvas editor (issue 6) registers here
// as a second workspace: { id: 'canvas', title: 'Canvas', component: CanvasWorkspace, keymap }.
import type { Component } from 'svelte';
import type { StudioApp } from '../lib/state/app.svelte';
import type { Keymap } from '../lib/shortcuts';
import GenerateWorkspace from './generate/GenerateWorkspace.svelte';
import CanvasWorkspace from './canvas/CanvasWorkspace.svelte';
import { activeCanvas } from './canvas/active';

export interface WorkspaceDef {
  id: string;
  title: string;
  component: Component;
  keymap(app: StudioApp, actions: { openFile(): void }): Keymap;
}

export const workspaces: WorkspaceDef[] = [
  {
    id: 'generate',
    title: 'Generate',
    component: GenerateWorkspace,
    keymap: (app, actions) => ({
      'Mod+Enter': () => void app.generate(),
      Escape: () => app.cancel(),
      'Mod+s': () => void app.exportActive(),
      'Mod+z': () => app.undo(),
      'Mod+o': () => actions.openFile(),
    }),
  },
  {
    // Issue 6. Single keys (B, E, [, ], F, Space, arrows, Enter) and Ctrl+Z / Ctrl+Shift+Z are handled in
    // CanvasWorkspace itself: they must not fire while typing in a field, and Shift+Z has no chord here.
    id: 'canvas',
    title: 'Canvas',
    component: CanvasWorkspace,
    keymap: () => ({
      'Mod+Enter': () => void activeCanvas()?.session.run(),
      Escape: () => {
        const c = activeCanvas()?.session;
        if (c?.running) c.cancel();
        else c?.discard();
      },
      'Mod+s': () => void activeCanvas()?.session.exportImage('png'),
      'Mod+o': () => activeCanvas()?.openDialog(),
    }),
  },
];
