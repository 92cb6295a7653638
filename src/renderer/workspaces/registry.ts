// The studio's workspaces: full-height areas under the top bar. Each one's component builds its own
// state view and installs its own keymap (through the shell context) while it is shown.
import type { Component } from 'svelte';
import GenerateWorkspace from './generate/GenerateWorkspace.svelte';
import CanvasWorkspace from './canvas/CanvasWorkspace.svelte';
import ModelsWorkspace from './models/ModelsWorkspace.svelte';

/** One line of the footer and the shortcut overview (? / F1). */
export interface ShortcutHelp { keys: string; action: string; inFooter?: boolean }

export interface WorkspaceDef {
  id: string;
  title: string;
  component: Component;
  /** What this workspace's keys do (the footer shows those marked inFooter). */
  shortcuts?: ShortcutHelp[];
}

const GENERATE_KEYS: ShortcutHelp[] = [
  { keys: 'Ctrl+Enter', action: 'Generate (queues it while a run is in flight)', inFooter: true },
  { keys: 'Esc', action: 'Cancel the run; leave compare', inFooter: true },
  { keys: 'Ctrl+S', action: 'Export the shown image', inFooter: true },
  { keys: 'Ctrl+Z', action: 'Undo (settings, gallery deletions)', inFooter: true },
  { keys: 'Ctrl+Shift+Z / Ctrl+Y', action: 'Redo' },
  { keys: 'Ctrl+O', action: 'Open an image into the gallery', inFooter: true },
  { keys: '+ / − / 0 / 1', action: 'Zoom in / out / fit / 1:1 (main view)' },
  { keys: '↑ / ↓, Enter', action: 'Class list: move the highlight, pick' },
  { keys: '? / F1', action: 'This overview', inFooter: true },
];

const CANVAS_KEYS: ShortcutHelp[] = [
  { keys: 'Ctrl+Enter', action: 'Run the operation (inpaint, outpaint, class edit)', inFooter: true },
  { keys: 'Esc', action: 'Cancel the edit / discard the candidates', inFooter: true },
  { keys: 'Enter', action: 'Accept the shown candidate', inFooter: true },
  { keys: '← / →', action: 'Previous / next candidate' },
  { keys: 'B / E', action: 'Brush / eraser', inFooter: true },
  { keys: '[ / ]', action: 'Smaller / larger brush' },
  { keys: 'F', action: 'Fit the view' },
  { keys: 'Space (hold)', action: 'Pan' },
  { keys: 'Ctrl+Z', action: 'Undo', inFooter: true },
  { keys: 'Ctrl+Shift+Z / Ctrl+Y', action: 'Redo' },
  { keys: 'Ctrl+S', action: 'Export (the format chosen under Export)' },
  { keys: 'Ctrl+O', action: 'Open an image into the canvas (in a new tab)' },
  { keys: 'Ctrl+Tab / Ctrl+Shift+Tab', action: 'Next / previous document tab (in a browser: Alt+PageDown / Alt+PageUp)' },
  { keys: 'Ctrl+W', action: 'Close the document tab; asks when its edits were not exported (in a browser: Alt+W)' },
  { keys: '? / F1', action: 'This overview', inFooter: true },
];

export const workspaces: WorkspaceDef[] = [
  { id: 'generate', title: 'Generate', component: GenerateWorkspace, shortcuts: GENERATE_KEYS },
  { id: 'canvas', title: 'Canvas', component: CanvasWorkspace, shortcuts: CANVAS_KEYS },
  { id: 'models', title: 'Models', component: ModelsWorkspace },
];
