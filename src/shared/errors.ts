// Errors that cross the contract: a stable code, a message, and what the user can do about it.
import { ContractError } from './schema';
import type { ErrorInfo } from './contract';

export class StudioError extends Error {
  constructor(readonly code: string, message: string, readonly hint: string) {
    super(message);
    this.name = 'StudioError';
  }
  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

const HINTS: Record<string, string> = {
  'bad-message': 'This is a bug in the app or a client speaking an older contract; reload the page. Your settings and history are kept in this window.',
  aborted: 'The run was cancelled; press Generate to start again.',
  busy: 'Wait for the current generation to finish or press Cancel (Esc).',
};

/** Turns anything thrown into ErrorInfo without losing an engine error's code. */
export function toErrorInfo(err: unknown, fallbackHint = 'Check the settings and try again; if it keeps failing, restart the app.'): ErrorInfo {
  if (err instanceof StudioError) return err.toInfo();
  if (err instanceof ContractError) return { code: err.code, message: err.message, hint: HINTS['bad-message'] };
  if (err instanceof Error) {
    const code = typeof (err as { code?: unknown }).code === 'string' ? ((err as unknown as { code: string }).code) : 'internal';
    return { code: code.slice(0, 64) || 'internal', message: err.message.slice(0, 4000), hint: HINTS[code] ?? fallbackHint };
  }
  return { code: 'internal', message: String(err).slice(0, 4000), hint: fallbackHint };
}
