// Which skipped execution providers are worth telling the user about. On a machine without a GPU the
// automatic chain's GPU provider fails to load its libraries: expected, not a problem, so not shown.

export interface ProviderSkips { requested: string; skipped: { provider: string; reason: string }[] }

/** A provider that could not load its shared libraries (the GPU runtime is not installed). */
export function isMissingLibrary(reason: string): boolean {
  return /failed to load shared library|cannot open shared object|libcudart|libcublas|libcudnn/i.test(reason);
}

/** The skips to show: all of them when a provider was asked for by name, else those that are not "libraries absent". */
export function noteworthySkips(p: ProviderSkips): { provider: string; reason: string }[] {
  if (p.requested !== 'auto') return p.skipped;
  return p.skipped.filter((s) => !isMissingLibrary(s.reason));
}
