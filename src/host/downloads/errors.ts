/** Typed download failures: a stable code, one line saying what went wrong and what to do. */

export type DownloadErrorCode =
  | 'offline' // no route to the server: DNS failure, refused or reset connection, timeout
  | 'not-found' // HTTP 404
  | 'range-not-satisfiable' // HTTP 416: the partial file no longer fits the file on the server
  | 'http' // any other HTTP failure status
  | 'too-many-redirects'
  | 'disk-full' // not enough free space before starting, or ENOSPC while writing
  | 'hash-mismatch' // the finished file's sha256 is not the expected one (the file was deleted)
  | 'etag-mismatch' // the server's ETag names another sha256 than the catalogue
  | 'size-mismatch' // the server's size differs from the catalogue's exact size
  | 'bad-response' // a 206 for the wrong range, more bytes than announced, …
  | 'io'; // reading or writing the local files failed

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(readonly code: DownloadErrorCode, message: string, readonly status?: number) {
    super(message);
  }
}

/** Node / undici error codes that mean "cannot reach the server" rather than "the server said no". */
const NETWORK_CODES = new Set([
  'ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
]);

/** The first error code found on the error or its cause chain (undici wraps socket errors). */
export function errorCode(e: unknown): string | undefined {
  for (let cur = e as { code?: unknown; cause?: unknown } | undefined, depth = 0; cur && depth < 5; cur = cur.cause as typeof cur, depth++) {
    if (typeof cur.code === 'string') return cur.code;
  }
  return undefined;
}

export function isNetworkError(e: unknown): boolean {
  const code = errorCode(e);
  if (code && NETWORK_CODES.has(code)) return true;
  // undici ends a body whose socket closed early with a plain "terminated" TypeError
  return e instanceof Error && /terminated|other side closed|socket hang up/i.test(e.message);
}

export function offlineError(host: string, e: unknown): DownloadError {
  const code = errorCode(e) ?? (e as Error)?.message ?? 'unknown error';
  return new DownloadError('offline', `Cannot reach ${host} (${code}): check the internet connection or the HTTPS_PROXY setting, then resume the download.`);
}
