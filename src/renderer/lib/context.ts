import { getContext, setContext } from 'svelte';
import type { StudioApp } from './state/app.svelte';

const KEY = Symbol('var-studio-app');

export function provideApp(app: StudioApp): void {
  setContext(KEY, app);
}

export function useApp(): StudioApp {
  const app = getContext<StudioApp | undefined>(KEY);
  if (!app) throw new Error('useApp() outside <App>');
  return app;
}
