// Hand-written runtime validators for the contract (no dependency). A Schema<T> checks an unknown value
// and returns it typed, or throws ContractError naming the path of the first problem, e.g.
// "params.settings.topP: expected a number between 0 and 1, got 3".
// Pure TypeScript: imports nothing from Node, Electron or the DOM (it runs in every process).

export class ContractError extends Error {
  readonly code = 'bad-message';
  constructor(readonly path: string, readonly expected: string, got: unknown) {
    super(`${path || 'message'}: expected ${expected}, got ${describe(got)}`);
    this.name = 'ContractError';
  }
}

export interface Schema<T> {
  /** What the schema accepts, for error messages. */
  readonly expected: string;
  parse(value: unknown, path?: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (value instanceof Int32Array) return `Int32Array(${value.length})`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;

/**
 * The path of a member in error messages. Keys come from the client, so anything but a short plain
 * identifier is quoted with JSON.stringify: a key cannot forge the message's structure or a log line.
 */
export function keyPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (!PLAIN_KEY.test(key)) return `${path}[${JSON.stringify(key.length > 80 ? key.slice(0, 77) + '...' : key)}]`;
  return path ? `${path}.${key}` : key;
}

const join = keyPath;

function make<T>(expected: string, check: (value: unknown, path: string) => T): Schema<T> {
  return { expected, parse: (value, path = '') => check(value, path) };
}

export function str(opts: { min?: number; max: number; pattern?: RegExp }): Schema<string> {
  const min = opts.min ?? 0;
  const expected = `a string of ${min}..${opts.max} characters${opts.pattern ? ` matching ${opts.pattern}` : ''}`;
  return make(expected, (v, p) => {
    if (typeof v !== 'string' || v.length < min || v.length > opts.max || (opts.pattern && !opts.pattern.test(v)))
      throw new ContractError(p, expected, v);
    return v;
  });
}

export function num(min: number, max: number): Schema<number> {
  const expected = `a number between ${min} and ${max}`;
  return make(expected, (v, p) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ContractError(p, expected, v);
    return v;
  });
}

export function int(min: number, max: number): Schema<number> {
  const expected = `an integer between ${min} and ${max}`;
  return make(expected, (v, p) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ContractError(p, expected, v);
    return v;
  });
}

export const bool: Schema<boolean> = make('true or false', (v, p) => {
  if (typeof v !== 'boolean') throw new ContractError(p, 'true or false', v);
  return v;
});

export function literal<const L extends string | number | boolean>(value: L): Schema<L> {
  const expected = JSON.stringify(value);
  return make(expected, (v, p) => {
    if (v !== value) throw new ContractError(p, expected, v);
    return value;
  });
}

export function oneOf<const L extends readonly string[]>(values: L): Schema<L[number]> {
  const expected = `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
  return make(expected, (v, p) => {
    if (typeof v !== 'string' || !values.includes(v)) throw new ContractError(p, expected, v);
    return v as L[number];
  });
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  const expected = `${inner.expected} or null`;
  return make(expected, (v, p) => (v === null ? null : inner.parse(v, p)));
}

export function arr<T>(item: Schema<T>, opts: { min?: number; max: number }): Schema<T[]> {
  const min = opts.min ?? 0;
  const expected = `a list of ${min}..${opts.max} items`;
  return make(expected, (v, p) => {
    if (!Array.isArray(v) || v.length < min || v.length > opts.max) throw new ContractError(p, expected, v);
    return v.map((x, i) => item.parse(x, join(p, i)));
  });
}

export function bytes(maxLength: number): Schema<Uint8Array> {
  const expected = `a Uint8Array of at most ${maxLength} bytes`;
  return make(expected, (v, p) => {
    if (!(v instanceof Uint8Array) || v.length > maxLength) throw new ContractError(p, expected, v);
    return v;
  });
}

export function int32s(maxLength: number, minValue: number, maxValue: number): Schema<Int32Array> {
  const expected = `an Int32Array of at most ${maxLength} values in ${minValue}..${maxValue}`;
  return make(expected, (v, p) => {
    if (!(v instanceof Int32Array) || v.length > maxLength) throw new ContractError(p, expected, v);
    for (let i = 0; i < v.length; i++) {
      if (v[i] < minValue || v[i] > maxValue) throw new ContractError(join(p, i), `a value in ${minValue}..${maxValue}`, v[i]);
    }
    return v;
  });
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type Obj<S extends Shape> = { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional: true;
}

export function optional<T>(inner: Schema<T>): OptionalSchema<T> {
  return {
    optional: true,
    expected: `${inner.expected} (optional)`,
    parse: (v, p = '') => (v === undefined ? undefined : inner.parse(v, p)),
  };
}

/** A plain object with exactly these keys: unknown keys are rejected (a typo must not pass silently). */
export function obj<S extends Shape>(shape: S): Schema<Obj<S>> {
  const keys = Object.keys(shape);
  const expected = `an object with keys ${keys.join(', ') || '(none)'}`;
  return make(expected, (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) throw new ContractError(p, expected, v);
    const record = v as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!(key in shape)) throw new ContractError(join(p, key), 'no such key', record[key]);
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const parsed = shape[key].parse(record[key], join(p, key));
      if (parsed !== undefined) out[key] = parsed;
    }
    return out as Obj<S>;
  });
}

/** A union told apart by a string tag field (e.g. `type`). */
export function tagged<K extends string, M extends Record<string, Schema<unknown>>>(
  tag: K,
  members: M,
): Schema<Infer<M[keyof M]>> {
  const expected = `an object whose "${tag}" is one of ${Object.keys(members).join(', ')}`;
  return make(expected, (v, p) => {
    if (typeof v !== 'object' || v === null) throw new ContractError(p, expected, v);
    const t = (v as Record<string, unknown>)[tag];
    if (typeof t !== 'string' || !Object.prototype.hasOwnProperty.call(members, t)) throw new ContractError(join(p, tag), expected, t);
    return members[t].parse(v, p) as Infer<M[keyof M]>;
  });
}

/** A schema that also checks a relation between fields after the shape is known. */
export function refine<T>(inner: Schema<T>, check: (value: T) => string | null): Schema<T> {
  return make(inner.expected, (v, p) => {
    const value = inner.parse(v, p);
    const problem = check(value);
    if (problem) throw new ContractError(p, problem, v);
    return value;
  });
}
