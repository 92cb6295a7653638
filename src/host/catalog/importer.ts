// How the host gets the bundle assembler (src/engine/import): loaded on first use, in this thread or in a worker.
import { dirname, resolve } from 'node:path';
import type { ImportOptions } from '../../engine/import/index';

/** The bundle assembler (src/engine/import): checkpoints in, bundle folder out. */
export type ImportCheckpoints = (opts: ImportOptions) => Promise<unknown>;

/** The bundle assembler, imported on first use so that listing models never loads ONNX or the readers. */
export async function loadImporter(env: NodeJS.ProcessEnv = process.env): Promise<ImportCheckpoints> {
  const { importCheckpoints, defaultTemplatesDir } = await import('../../engine/import/index');
  // VAR_STUDIO_GRAPH_TEMPLATES: graph templates of other architectures (tests' small models, a mirror's fine-tunes);
  // the class names still come from the app's resources
  const templatesDir = env.VAR_STUDIO_GRAPH_TEMPLATES?.trim();
  return templatesDir ? (o) => importCheckpoints({ templatesDir: resolve(templatesDir), resourcesDir: dirname(defaultTemplatesDir()), ...o }) : importCheckpoints;
}
