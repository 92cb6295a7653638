// Number fields that tell the truth: what a field shows after it loses focus is what a run uses.
// A value out of range is clamped to the nearest bound; text that is no number keeps the old value.

export interface FieldBounds { min: number; max: number; integer: boolean }

/** The value a field takes for typed text: clamped into [min, max], rounded for integer fields; null for no number. */
export function fieldValue(text: string, b: FieldBounds): number | null {
  const t = text.trim();
  if (t === '') return null;
  const v = Number(t);
  if (!Number.isFinite(v)) return null;
  const r = b.integer ? Math.round(v) : v;
  return Math.min(b.max, Math.max(b.min, r));
}

/** Shown under a field whose typed value was changed to fit. */
export function clampNote(text: string, value: number, b: FieldBounds): string | null {
  const typed = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(typed)) return `Not a number; kept ${value}.`;
  if (typed > b.max) return `At most ${b.max}; set to ${value}.`;
  if (typed < b.min) return `At least ${b.min}; set to ${value}.`;
  return null;
}
