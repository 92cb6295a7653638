// Serves the window's page from app://studio/ (a standard, secure scheme) instead of file://, so the page
// has a real origin and no file:// URL needs to be let through: only files under out/renderer are reachable.
import { protocol } from 'electron';
import { promises as fs } from 'node:fs';
import { staticTypeOf } from '../shared/static-types';
import { APP_SCHEME, resolveAppRequest } from './app-url';

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

export function serveAppProtocol(rendererDir: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const file = resolveAppRequest(request.url, rendererDir);
    if (!file) return new Response('Not found', { status: 404 });
    try {
      const body = await fs.readFile(file);
      return new Response(body, { headers: { 'Content-Type': staticTypeOf(file), 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' } });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}
