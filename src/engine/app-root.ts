// Where the engine finds its default files; no onnxruntime here, so a host that only asks for paths does not load it.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

let appRootOverride: string | null = null;

/**
 * Where models/ and resources/ live when that is not the source tree: a packaged app keeps them in its
 * resources folder, outside the asar archive, because ONNX Runtime opens the model files itself.
 */
export function setAppRoot(dir: string | null): void {
  appRootOverride = dir;
}

/** The folder set by setAppRoot, or null: a worker that resolves the same defaults is given it. */
export function appRootSetting(): string | null {
  return appRootOverride;
}

/** The embedded default model: <repo>/models/var-fashion-32 (also right for the electron-vite out/main layout). */
export function defaultModelDir(): string {
  if (appRootOverride) return join(appRootOverride, 'models', 'var-fashion-32');
  return fileURLToPath(new URL('../../models/var-fashion-32', import.meta.url));
}
