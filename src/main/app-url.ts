// The app:// scheme of the desktop window: app://studio/<path> maps to a file under out/renderer and
// nowhere else. Pure (no Electron import) so the resolution is unit-tested without an Electron binary.
import path from 'node:path';

export const APP_SCHEME = 'app';
export const APP_HOST = 'studio';
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/**
 * The file under `rendererDir` that an app:// URL names, or null when the URL is not ours or would leave
 * the folder (".." after decoding, encoded separators, backslashes, NUL, another host).
 */
export function resolveAppRequest(url: string, rendererDir: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.hostname !== APP_HOST || parsed.port || parsed.username || parsed.password) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(parsed.pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return null;
  const parts = pathname.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '..' || p === '.')) return null;
  if (parts.length === 0) parts.push('index.html');
  const root = path.resolve(rendererDir);
  const file = path.join(root, ...parts);
  const rel = path.relative(root, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return file;
}

/** The only URLs the window may request: its own app:// files, devtools, and inline data/blob images. */
export function isAllowedRequest(url: string): boolean {
  return url.startsWith(`${APP_SCHEME}://${APP_HOST}/`) || url.startsWith('devtools://') || url.startsWith('data:') || url.startsWith('blob:');
}

/** Permissions the window's own page may have: notifications only (a long run that ends in the background). */
export function isGrantedPermission(permission: string, requestingUrl: string | undefined): boolean {
  if (permission !== 'notifications' || !requestingUrl) return false;
  try {
    const u = new URL(requestingUrl);
    return u.protocol === `${APP_SCHEME}:` && u.hostname === APP_HOST && !u.port;
  } catch {
    return false;
  }
}
