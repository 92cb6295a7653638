// Button and text colours of the theme meet WCAG AA (4.5:1 for normal text), computed from app.css itself.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const css = readFileSync(path.join(import.meta.dirname, '..', '..', '..', 'src', 'renderer', 'app.css'), 'utf8');
const vars = Object.fromEntries([...css.matchAll(/--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;/g)].map((m) => [m[1], m[2]]));

/** A rule's declaration value, with var(--x) resolved. */
function decl(selector: string, prop: string): string {
  const rule = new RegExp(`(^|\\n)${selector.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\{([^}]*)\\}`).exec(css);
  if (!rule) throw new Error(`no rule ${selector} in app.css`);
  const m = new RegExp(`(?:^|;|\\s)${prop}:\\s*([^;]+);`).exec(rule[2]);
  if (!m) throw new Error(`${selector} sets no ${prop}`);
  const v = m[1].trim();
  const ref = /^var\(--([a-z0-9-]+)\)$/.exec(v);
  return ref ? vars[ref[1]] : v;
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
const white = (c: string) => (c === '#fff' ? '#ffffff' : c);

describe('theme contrast (WCAG AA, 4.5:1)', () => {
  it('computes the known ratio of black on white', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
  });
  it('primary buttons, at rest and hovered', () => {
    expect(contrast(white(decl('button.primary', 'color')), decl('button.primary', 'background'))).toBeGreaterThanOrEqual(4.5);
    expect(contrast(white(decl('button.primary', 'color')), decl('button.primary:hover:not(:disabled)', 'background'))).toBeGreaterThanOrEqual(4.5);
  });
  it('plain and danger buttons, muted help text', () => {
    expect(contrast(vars.text, decl('button', 'background'))).toBeGreaterThanOrEqual(4.5);
    expect(contrast(vars.danger, decl('button', 'background'))).toBeGreaterThanOrEqual(4.5);
    expect(contrast(vars.muted, vars.panel)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(vars.accent, vars.panel)).toBeGreaterThanOrEqual(4.5);
  });
});
