/** Command-line parsing helpers: every bad value is a UsageError with a one-line reason naming the flag and the allowed range. */
import { SAMPLING_BOUNDS } from '../engine/index';
import { EDIT_LIMITS } from '../shared/edit';

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

interface Range { min: number; max: number }

/** The ranges of the decimal flags: the same bounds the engine and the app enforce. */
export const FLOAT_RANGES: Readonly<Record<string, Range>> = {
  cfg: SAMPLING_BOUNDS.cfg,
  'top-p': SAMPLING_BOUNDS.topP,
  feather: { min: 0, max: EDIT_LIMITS.maxFeather },
};

// Plain decimal notation only: Number() would also take "0x10", "0b1", "Infinity", " " and "".
const INTEGER_TEXT = /^[+-]?\d{1,16}$/;
const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$/;

export function parseIntArg(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!INTEGER_TEXT.test(v) || n < min || n > max) throw new UsageError(`--${name} must be a whole number in ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

export function parseFloatArg(name: string, v: string | undefined, range: Range | undefined = FLOAT_RANGES[name]): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  const ok = DECIMAL_TEXT.test(v) && Number.isFinite(n) && (!range || (n >= range.min && n <= range.max));
  if (!ok) throw new UsageError(`--${name} must be a ${range ? `number in ${range.min}..${range.max}` : 'finite number'}, got ${JSON.stringify(v)}`);
  return n;
}

export function parseRegion(v: string | undefined): { x: number; y: number; size: number } | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((s) => s.trim());
  const reach = EDIT_LIMITS.maxSide;
  const usage = `--region must be x,y,size in image pixels (whole numbers; x and y in -${reach}..${reach}, may be negative; size in 1..${EDIT_LIMITS.maxRegion}), got ${JSON.stringify(v)}`;
  if (parts.length !== 3 || !parts.every((p) => INTEGER_TEXT.test(p))) throw new UsageError(usage);
  const [x, y, size] = parts.map(Number);
  if (Math.abs(x) > reach || Math.abs(y) > reach || size < 1 || size > EDIT_LIMITS.maxRegion) throw new UsageError(usage);
  return { x, y, size };
}

export type OutputFormat = 'png' | 'jpeg' | 'webp';
const OUTPUT_FORMATS: Readonly<Record<string, OutputFormat>> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp' };

/** The format an --out file is written in, from its extension; any other extension (or none) is refused. */
export function outputFormat(out: string): OutputFormat {
  const slash = Math.max(out.lastIndexOf('/'), out.lastIndexOf('\\'));
  const dot = out.lastIndexOf('.');
  const format = dot > slash + 1 ? OUTPUT_FORMATS[out.slice(dot).toLowerCase()] : undefined;
  if (!format) throw new UsageError(`--out must name a .png, .jpg, .jpeg or .webp file (the format written), got ${JSON.stringify(out)}`);
  return format;
}

/** FILE.png → FILE-b.png for images of a batch (FILE.png itself when the batch has one image). */
export function batchPath(out: string, b: number, batch: number): string {
  if (batch === 1) return out;
  const dot = out.lastIndexOf('.');
  const slash = Math.max(out.lastIndexOf('/'), out.lastIndexOf('\\'));
  return dot > slash ? `${out.slice(0, dot)}-${b}${out.slice(dot)}` : `${out}-${b}`;
}
