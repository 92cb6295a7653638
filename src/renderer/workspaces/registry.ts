// The studio's workspaces: full-height areas under the top bar. Each one's component builds its own
// state view and installs its own keymap (through the shell context) while it is shown.
import type { Component } from 'svelte';
import GenerateWorkspace from './generate/GenerateWorkspace.svelte';
import CanvasWorkspace from './canvas/CanvasWorkspace.svelte';
import ModelsWorkspace from './models/ModelsWorkspace.svelte';

export interface WorkspaceDef {
  id: string;
  title: string;
  component: Component;
}

export const workspaces: WorkspaceDef[] = [
  { id: 'generate', title: 'Generate', component: GenerateWorkspace },
  { id: 'canvas', title: 'Canvas', component: CanvasWorkspace },
  { id: 'models', title: 'Models', component: ModelsWorkspace },
];
