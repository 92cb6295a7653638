// Keyboard shortcuts: each workspace installs its own keymap, built with its session in hand; "Mod" is
// Ctrl (Cmd on macOS). One chord parser serves them all.
/** An action returns false when the key is not for it now (the key then keeps its default behaviour). */
export type KeyAction = (e: KeyboardEvent) => void | false;
export type Keymap = Record<string, KeyAction>;

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

/** Runs the keymap's action for a key press; the press is consumed unless the action declines it. */
export function dispatchKey(keymap: Keymap | null, e: KeyboardEvent): void {
  const chord = chordOf(e);
  // Text fields keep native undo; Escape in a non-empty search field clears it rather than cancelling.
  if (isTextField(e.target) && (chord === 'Mod+z' || (chord === 'Escape' && (e.target as HTMLInputElement).value !== ''))) return;
  const action = keymap?.[chord];
  if (action && action(e) !== false) e.preventDefault();
}

/** An action for a key that means something else while typing or with Alt held (single keys, redo chords). */
export function outsideTextFields(action: KeyAction): KeyAction {
  return (e) => (isTextField(e.target) || e.altKey ? false : action(e));
}
