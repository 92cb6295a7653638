// Keyboard shortcuts: each workspace declares its own keymap; "Mod" is Ctrl (Cmd on macOS).
export type Keymap = Record<string, () => void>;

export function chordOf(e: KeyboardEvent): string {
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  // Shift counts with Ctrl/Cmd (Ctrl+Shift+Z is redo, not undo) and with named keys; a shifted
  // character alone is already a different key (e.g. "{").
  return `${mod ? 'Mod+' : ''}${e.shiftKey && (mod || e.key.length > 1) ? 'Shift+' : ''}${key}`;
}

/** Text fields keep their own Ctrl+Z / Escape (native undo, closing the field). */
export function isTextField(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target instanceof HTMLTextAreaElement) return true;
  return target instanceof HTMLInputElement && ['text', 'search', 'number'].includes(target.type);
}
