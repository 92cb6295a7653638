/**
 * One GET that follows redirects by hand (Hugging Face `resolve` answers 302 to a CDN), keeping what the
 * first hops said about the file: Hugging Face puts the LFS sha256 and size on its redirect as
 * X-Linked-Etag / X-Linked-Size, while the CDN's own ETag is usually something else.
 */
import { EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { DownloadError, isNetworkError, offlineError } from './errors';

/**
 * Honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY (read when created). Node 20's own fetch ignores these
 * variables, and undici 8 needs Node ≥ 22.19, hence undici 7's agent.
 */
export function proxyAwareDispatcher(): Dispatcher {
  return new EnvHttpProxyAgent({ headersTimeout: 30_000, bodyTimeout: 60_000 });
}

export interface OpenedResponse {
  /** The URL that answered (after redirects). */
  url: string;
  status: number;
  /** Lower-cased header names, first value only. */
  headers: Record<string, string>;
  body: Dispatcher.ResponseData['body'];
  /** sha256-or-etag and size stated by a redirecting hop (X-Linked-Etag, X-Linked-Size). */
  linkedEtag?: string;
  linkedSize?: number;
  redirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function flat(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v[0] : v;
  return out;
}

export async function openWithRedirects(
  url: string,
  opts: { dispatcher: Dispatcher; headers?: Record<string, string>; signal?: AbortSignal; maxRedirects: number },
): Promise<OpenedResponse> {
  let current = url;
  let linkedEtag: string | undefined, linkedSize: number | undefined;
  for (let redirects = 0; ; redirects++) {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(current, { method: 'GET', headers: opts.headers, signal: opts.signal, dispatcher: opts.dispatcher });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      if (isNetworkError(e)) throw offlineError(new URL(current).host, e);
      throw e;
    }
    const headers = flat(res.headers as Record<string, string | string[] | undefined>);
    linkedEtag ??= headers['x-linked-etag'];
    if (linkedSize === undefined && headers['x-linked-size'] && /^\d+$/.test(headers['x-linked-size'])) linkedSize = Number(headers['x-linked-size']);
    if (!REDIRECTS.has(res.statusCode)) {
      return { url: current, status: res.statusCode, headers, body: res.body, linkedEtag, linkedSize, redirects };
    }
    await res.body.dump();
    const location = headers.location;
    if (!location) throw new DownloadError('bad-response', `${current} answered HTTP ${res.statusCode} without a Location header; try again later.`, res.statusCode);
    if (redirects + 1 > opts.maxRedirects) {
      throw new DownloadError('too-many-redirects', `${url} redirected more than ${opts.maxRedirects} times (last to ${location}); the server or a proxy is misconfigured.`);
    }
    const next = new URL(location, current);
    if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new DownloadError('bad-response', `${current} redirected to an unsupported address ${next.href}.`);
    current = next.href;
  }
}

/** ETag value without W/ and quotes. */
export function bareEtag(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1').trim() || undefined;
}

/** "bytes 100-199/1000" → { start: 100, end: 199, total: 1000 }; "bytes *\/1000" → { total: 1000 }. */
export function parseContentRange(v: string | undefined): { start?: number; end?: number; total?: number } | null {
  if (!v) return null;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(v.trim());
  if (!m) return null;
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    end: m[2] === undefined ? undefined : Number(m[2]),
    total: m[3] === '*' ? undefined : Number(m[3]),
  };
}
