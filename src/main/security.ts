// Hardening that applies to every web contents the app creates: no navigation, no new windows,
// no webviews, no permissions but notifications for the app's own page. The window itself is created with contextIsolation + sandbox on and
// nodeIntegration off (createWindow in index.ts).
import { app, session, type WebContents } from 'electron';
import { isAllowedRequest, isGrantedPermission } from './app-url';

export function hardenApp(): void {
  app.enableSandbox();
  app.on('web-contents-created', (_event, contents: WebContents) => {
    contents.on('will-navigate', (e) => e.preventDefault());
    contents.on('will-redirect', (e) => e.preventDefault());
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

export function hardenSession(): void {
  const s = session.defaultSession;
  s.setPermissionRequestHandler((_wc, permission, callback, details) => callback(isGrantedPermission(permission, details.requestingUrl)));
  s.setPermissionCheckHandler((_wc, permission, requestingOrigin) => isGrantedPermission(permission, requestingOrigin));
  // The app loads only its own files (app://studio/, see app-protocol.ts); refuse file:// and any network
  // request a bug might try to make.
  s.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequest(details.url) }));
}
