// The per-launch secret of browser mode (the Jupyter convention): a random token in the printed URL,
// exchanged on the first page load for an HttpOnly, SameSite=Strict cookie, and required for every file
// and for the WebSocket. Loopback alone is not a boundary: every user of a shared box can reach 127.0.0.1.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes (256 bits), URL-safe base64: 43 characters. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Tokens a user may pass in: URL-safe, long enough to be a secret, short enough to be a line. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,256}$/;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Constant-time comparison: both sides are hashed first so the lengths are equal and leak nothing. */
export function tokenMatches(candidate: string | null | undefined, token: string): boolean {
  if (typeof candidate !== 'string') return false;
  return timingSafeEqual(digest(candidate), digest(token));
}

/** Cookies are shared by every port of a host name, so the name carries the port. */
export function cookieName(port: number): string {
  return `var-studio-token-${port}`;
}

export function tokenCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/** The value of one cookie from a Cookie header (the last one wins if a name repeats). */
export function readCookie(header: string | undefined, name: string): string | null {
  let found: string | null = null;
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) found = part.slice(eq + 1).trim();
  }
  return found;
}
