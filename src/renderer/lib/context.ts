// What the components reach through Svelte context: the shared StudioApp, the workspace sessions, and the
// shell's keymap slot (each workspace installs its own keymap while it is shown).
import { getContext, setContext } from 'svelte';
import type { StudioApp } from './state/app.svelte';
import type { Sessions } from './sessions';
import type { GenerateSession } from './generate-state/session.svelte';
import type { CanvasSession } from './canvas-state/session.svelte';
import type { Keymap } from './shortcuts';
import type { UiPrefsStore } from './state/ui-prefs';

const KEY = Symbol('var-studio-app');

export interface ShellContext {
  sessions: Sessions;
  /** Opens the shell's "Open image" dialog (into the gallery). */
  openFile(): void;
  /** Installs the shown workspace's keymap; returns its removal (which leaves a newer keymap in place). */
  installKeymap(keymap: Keymap): () => void;
  /** Shows the workspace with this registry id (e.g. Models → "Use" opens Generate). */
  showWorkspace(id: string): void;
  /** The page's remembered layout (last workspace, dismissed hints). */
  uiPrefs: UiPrefsStore;
}

export function provideShell(shell: ShellContext): void {
  setContext(KEY, shell);
}

export function useShell(): ShellContext {
  const shell = getContext<ShellContext | undefined>(KEY);
  if (!shell) throw new Error('useShell() outside <Shell>');
  return shell;
}

export function useApp(): StudioApp {
  return useShell().sessions.app;
}

export function useGenerate(): GenerateSession {
  return useShell().sessions.generate;
}

export function useCanvas(): CanvasSession {
  return useShell().sessions.canvas;
}
