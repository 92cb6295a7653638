/** Typed errors of the engine. Messages say what is wrong and what was expected, so a user can act on them. */

/** A model bundle is unusable: names the bundle folder, the file and/or manifest field, expected vs found. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
  constructor(
    readonly code: string,
    message: string,
    readonly bundleDir?: string,
    readonly file?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A request the engine refuses (class out of range, NaN setting, mask of the wrong size…) or a run that was aborted. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export function isAbortError(e: unknown): boolean {
  return e instanceof EngineError && e.code === 'aborted';
}
