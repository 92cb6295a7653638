/** Command-line parsing helpers: every bad value is a UsageError with a one-line reason. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

export function parseIntArg(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw new UsageError(`--${name} must be an integer, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be in ${min}..${max}, got ${n}`);
  return n;
}

export function parseFloatArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a finite number, got "${v}"`);
  return n;
}

export function parseRegion(v: string | undefined): { x: number; y: number; size: number } | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length !== 3 || !parts.every((p) => /^-?\d+$/.test(p))) {
    throw new UsageError(`--region must be x,y,size in image pixels (integers; x and y may be negative), got "${v}"`);
  }
  const [x, y, size] = parts.map(Number);
  if (size < 1) throw new UsageError(`--region size must be ≥ 1, got ${size}`);
  return { x, y, size };
}

/** FILE.png → FILE-b.png for images of a batch (FILE.png itself when the batch has one image). */
export function batchPath(out: string, b: number, batch: number): string {
  if (batch === 1) return out;
  const dot = out.lastIndexOf('.');
  const slash = Math.max(out.lastIndexOf('/'), out.lastIndexOf('\\'));
  return dot > slash ? `${out.slice(0, dot)}-${b}${out.slice(dot)}` : `${out}-${b}`;
}
