// Review finding 9: the desktop page comes from app://studio/, which maps only to files under
// out/renderer; file:// is no longer let through. (Electron itself cannot run here: this tests the
// pure resolution the protocol handler and the request filter use.)
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { APP_INDEX_URL, isAllowedRequest, resolveAppRequest } from '../../src/main/app-url';

const root = path.resolve('/opt/var-studio/out/renderer');

describe('finding 9: app:// instead of file://', () => {
  it('maps the page and its assets under out/renderer', () => {
    expect(APP_INDEX_URL).toBe('app://studio/index.html');
    expect(resolveAppRequest('app://studio/index.html', root)).toBe(path.join(root, 'index.html'));
    expect(resolveAppRequest('app://studio/', root)).toBe(path.join(root, 'index.html'));
    expect(resolveAppRequest('app://studio/assets/index-3f2a.js?v=1#x', root)).toBe(path.join(root, 'assets', 'index-3f2a.js'));
  });

  it('refuses traversal, encoded separators, other hosts and schemes', () => {
    // Plain dot segments are resolved by the URL parser itself: they land inside the folder, never above it.
    for (const url of ['app://studio/../../etc/passwd', 'app://studio/%2e%2e/%2e%2e/etc/passwd']) expect(resolveAppRequest(url, root), url).toBe(path.join(root, 'etc', 'passwd'));
    for (const url of [ 'app://studio/assets/..%2f..%2f..%2fetc%2fpasswd',
      'app://studio/..%5c..%5cetc%5cpasswd', 'app://studio/a%00.js', 'app://other/index.html', 'app://studio:8080/index.html',
      'file:///etc/passwd', 'https://studio/index.html', 'app://studio/%E0%A4%A', 'not a url',
    ]) expect(resolveAppRequest(url, root), url).toBeNull();
  });

  it('the request filter lets app:// through and no file:// URL', () => {
    expect(isAllowedRequest('app://studio/assets/a.js')).toBe(true);
    expect(isAllowedRequest('data:image/png;base64,AA==')).toBe(true);
    for (const url of ['file:///etc/passwd', 'file:///opt/var-studio/out/renderer/index.html', 'https://example.com/', 'app://other/x']) expect(isAllowedRequest(url), url).toBe(false);
  });
});
