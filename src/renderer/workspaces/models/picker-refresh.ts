// Keeps the model picker in step with the model manager: a model that becomes ready (downloaded and
// imported, from any page or window) is listed at once, without a manual Rescan.
import type { StudioApp } from '../../lib/state/app.svelte';

export function refreshPickerOnNewModels(app: StudioApp): () => void {
  return app.studio.onEvent((e) => {
    if (e.type !== 'models.status' || e.status.state !== 'ready') return;
    const dir = e.status.dir;
    if (!app.models.some((m) => m.source === 'user' && m.dir === dir))
      app.refreshModels().catch((err: unknown) => app.toasts.error('Could not list the models', err));
  });
}
