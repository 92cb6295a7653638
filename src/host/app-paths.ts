// Where the app's own files are, in development and when packaged. electron-builder copies models/ and
// resources/ next to the asar archive (extraResources), so the same relative layout holds in both cases.
import path from 'node:path';
import { setAppRoot } from '../engine/api';

export interface AppLocation {
  /** app.isPackaged in Electron. */
  packaged: boolean;
  /** process.resourcesPath in Electron: <install>/resources (Windows, Linux) or <App>.app/Contents/Resources. */
  resourcesPath: string;
  /** app.getAppPath(): the repository root in development, <resourcesPath>/app.asar when packaged. */
  appPath: string;
}

/** The folder holding models/ and resources/ (never inside the asar: ONNX Runtime reads those files natively). */
export function appRoot(loc: AppLocation): string {
  return loc.packaged ? loc.resourcesPath : loc.appPath;
}

export interface AppFolders {
  embeddedModelDir: string;
  resourcesDir: string;
  graphTemplatesDir: string;
  classListFile: string;
}

export function appFolders(root: string): AppFolders {
  const resourcesDir = path.join(root, 'resources');
  return {
    embeddedModelDir: path.join(root, 'models', 'var-fashion-32'),
    resourcesDir,
    graphTemplatesDir: path.join(resourcesDir, 'graph-templates'),
    classListFile: path.join(resourcesDir, 'imagenet-classes.json'),
  };
}

/** Makes the engine's defaults (embedded model, graph templates) point into `root`. */
export function useAppRoot(root: string): AppFolders {
  setAppRoot(root);
  return appFolders(root);
}
