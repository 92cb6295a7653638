// Which model bundles the user can pick: the embedded one plus every bundle folder in the user's
// models folder. Only manifest.json is read here (cheap); full validation happens when the engine loads it.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type { ModelSummary } from '../shared/contract';
import { StudioError } from '../shared/errors';

import { defaultModelDir } from '../engine/api';

export { defaultModelDir };

export const EMBEDDED_ID = 'embedded';

/**
 * The studio's id for a bundle folder, as the CLI writes it into a settings record: the embedded model, or
 * a bundle of the user's models folder (`user:<folder name>`, which matches once the folder is copied there).
 */
export function modelIdForDir(dir: string, embeddedDir = defaultModelDir()): string {
  return path.resolve(dir) === path.resolve(embeddedDir) ? EMBEDDED_ID : `user:${path.basename(path.resolve(dir))}`.slice(0, 200);
}

/** The user's models folder in browser mode and the CLI ($VAR_STUDIO_MODELS_DIR overrides it); Electron uses <userData>/models. */
export function defaultUserModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.VAR_STUDIO_MODELS_DIR?.trim() ? path.resolve(env.VAR_STUDIO_MODELS_DIR) : path.join(os.homedir(), '.var-studio', 'models');
}

interface ManifestHead { name?: unknown; title?: unknown; resolution?: unknown; classes?: unknown }

async function summarize(id: string, source: ModelSummary['source'], dir: string): Promise<ModelSummary> {
  const base: ModelSummary = { id, source, dir, name: path.basename(dir), title: path.basename(dir), resolution: null, classCount: null, problem: null };
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, 'manifest.json'), 'utf8');
  } catch {
    return { ...base, problem: `No manifest.json in ${dir}. A model bundle is a folder with manifest.json and its ONNX files (docs/model-bundle.md).` };
  }
  try {
    const m = JSON.parse(text) as ManifestHead;
    return {
      ...base,
      name: typeof m.name === 'string' ? m.name.slice(0, 200) : base.name,
      title: typeof m.title === 'string' ? m.title.slice(0, 300) : base.title,
      resolution: Number.isInteger(m.resolution) && (m.resolution as number) > 0 ? Math.min(m.resolution as number, 8192) : null,
      classCount: Array.isArray(m.classes) ? m.classes.length : null,
    };
  } catch (e) {
    return { ...base, problem: `manifest.json in ${dir} is not valid JSON (${(e as Error).message}).` };
  }
}

export class ModelCatalog {
  constructor(readonly embeddedDir: string, readonly userModelsDir: string) {}

  async list(): Promise<ModelSummary[]> {
    const models = [await summarize(EMBEDDED_ID, 'embedded', this.embeddedDir)];
    let entries: import('node:fs').Dirent[] = [];
    try {
      entries = await fs.readdir(this.userModelsDir, { withFileTypes: true });
    } catch {
      // No models folder yet: only the embedded model. Not an error.
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!e.isDirectory() || !/^[A-Za-z0-9._ -]{1,150}$/.test(e.name) || e.name.startsWith('.')) continue;
      models.push(await summarize(`user:${e.name}`, 'user', path.join(this.userModelsDir, e.name)));
    }
    return models;
  }

  /** The folder of a model id, looked up in the listing (never joined from the id), so no id escapes the folder. */
  async resolve(id: string): Promise<ModelSummary> {
    const found = (await this.list()).find((m) => m.id === id);
    if (!found) throw new StudioError('unknown-model', `There is no model "${id}".`, `Pick a model from the list, or put a bundle folder into ${this.userModelsDir}.`);
    if (found.problem) throw new StudioError('bad-bundle', found.problem, 'Re-export or re-download this model bundle.');
    return found;
  }
}
