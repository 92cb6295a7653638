// The window's workspace sessions over the shared StudioApp. The canvas session is created on the first
// visit to the Canvas workspace (it restores its document tabs then) and kept while the user visits others,
// so the documents, their undo histories and running edits survive a workspace switch.
import type { StudioApp } from './state/app.svelte';
import { GenerateSession } from './generate-state/session.svelte';
import { CanvasSession } from './canvas-state/session.svelte';

export class Sessions {
  readonly generate: GenerateSession;
  private canvasSession: CanvasSession | null = null;

  constructor(readonly app: StudioApp) {
    this.generate = new GenerateSession(app);
  }

  get canvas(): CanvasSession {
    if (!this.canvasSession) {
      const created = new CanvasSession(this.app);
      this.canvasSession = created;
      void created.restoreTabs().finally(() => (created.ready = true));
    }
    return this.canvasSession;
  }
}
