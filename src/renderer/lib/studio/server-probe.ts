// Why a WebSocket could not be opened. Browsers report every refused upgrade alike (a bare "error", close
// 1006), so the page asks its own origin over plain HTTP with the same cookie the socket would carry: a
// 401 means the server is back but no longer accepts this page's cookie, i.e. it restarted with a new
// per-launch token. Only the status code is read; the server answers HEAD with no body.

/** 'down': nothing answers; 'new-token': the server answers but refuses this page's cookie; 'up': it accepts it. */
export type ServerReach = 'down' | 'new-token' | 'up';

/** The http(s) origin of a ws(s) URL (the page's own server). */
export function httpOriginOf(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.origin;
}

export async function probeServer(origin: string, fetchFn: typeof fetch = fetch): Promise<ServerReach> {
  let status: number;
  try {
    const res = await fetchFn(`${origin}/`, { method: 'HEAD', cache: 'no-store', credentials: 'same-origin', redirect: 'manual' });
    status = res.status;
  } catch {
    return 'down';
  }
  return status === 401 ? 'new-token' : 'up';
}
