/**
 * Importing official VAR checkpoints as a model bundle, in TypeScript (no Python at run time):
 * `importCheckpoints({ varFile, vaeFile, outDir })` hashes both files, opens them, infers and checks the
 * architecture, assembles the bundle from the graph templates and fits its preview map.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { type ImportProgress, checkAbort } from './assemble';
import { type AssembleOptions, type AssembleResult, type InputFileDigest, assembleBundle } from './bundle-writer';
import { type CheckpointReader, ImportError } from './checkpoint';
import { openCheckpoint } from './open';

export interface ImportOptions extends AssembleOptions {
  varFile: string;
  vaeFile: string;
  /** Known sha256 of the inputs (e.g. from the catalogue): a mismatch stops the import before anything is written. */
  expectedSha256?: { var?: string; vae?: string };
}

/** sha256 and size of a file, streamed; reports progress as it goes. */
export async function digestFile(path: string, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<InputFileDigest> {
  let bytes: number;
  try {
    bytes = (await stat(path)).size;
  } catch {
    throw new ImportError('missing-file', `${path}: no such file`, path);
  }
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) {
    checkAbort(signal);
    h.update(chunk as Buffer);
    onBytes?.((chunk as Buffer).length);
  }
  return { file: basename(path), sha256: h.digest('hex'), bytes };
}

export async function importCheckpoints(opts: ImportOptions): Promise<AssembleResult> {
  const progress = (p: ImportProgress) => opts.onProgress?.(p);
  const sizes = await Promise.all([opts.varFile, opts.vaeFile].map((f) => stat(f).then((s) => s.size, () => 0)));
  const bytesTotal = sizes[0] + sizes[1];
  let bytesDone = 0;
  const onBytes = (n: number) => {
    bytesDone += n;
    progress({ phase: 'hashing', bytesDone, bytesTotal });
  };
  const inputs = {
    var: await digestFile(opts.varFile, onBytes, opts.signal),
    vae: await digestFile(opts.vaeFile, onBytes, opts.signal),
  };
  for (const role of ['var', 'vae'] as const) {
    const want = opts.expectedSha256?.[role]?.toLowerCase();
    if (want && want !== inputs[role].sha256) {
      const file = role === 'var' ? opts.varFile : opts.vaeFile;
      throw new ImportError('sha256-mismatch', `${file}: expected sha256 ${want}, found ${inputs[role].sha256} (the file is corrupt or is another file; download it again)`, file);
    }
  }
  const readers: Partial<Record<'var' | 'vae', CheckpointReader>> = {};
  try {
    readers.var = await openCheckpoint(opts.varFile, { role: 'var' });
    readers.vae = await openCheckpoint(opts.vaeFile, { role: 'vae' });
    return await assembleBundle(readers as { var: CheckpointReader; vae: CheckpointReader }, inputs, opts);
  } finally {
    await Promise.all(Object.values(readers).map((r) => r.close()));
  }
}

export { ImportError } from './checkpoint';
export type { CheckpointReader } from './checkpoint';
export type { ImportPhase, ImportProgress } from './assemble';
export type { AssembleOptions, AssembleResult } from './bundle-writer';
export { OFFICIAL_DEMO_SAMPLING, assembleBundle, defaultNames } from './bundle-writer';
export { defaultTemplatesDir } from './templates';
