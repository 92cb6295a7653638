// Text that reaches a log or a terminal: control characters (C0, DEL, C1 — ESC/CSI sequences can retitle
// or clear a terminal), line and paragraph separators and bidi overrides are written as \uXXXX escapes,
// so client-controlled text can neither fake a log line nor drive the terminal. Long text is cut.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function forLog(text: string, maxLength = 2000): string {
  const cut = text.length > maxLength ? `${text.slice(0, maxLength)}… (${text.length - maxLength} more characters)` : text;
  return cut.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
