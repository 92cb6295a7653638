// An output folder of a sampling run: run.json (the SampleSpec), one PNG per image (named by class and
// index, written by temp + rename) and records in samples*.jsonl, one JSON line per image. A single machine
// writes samples.jsonl; each queue worker writes its own samples.<worker>.jsonl so no two processes append
// to one file. A record is appended only after its PNG is in place, so a record names a complete file.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { StudioError } from '../../shared/errors';
import { type ImageRef, type SampleSpec, type SamplingSettings, imageFileName, imageKey, specDifference } from './plan';

export const SPEC_FILE = 'run.json';

export interface SampleRecord {
  class: number;
  index: number;
  seed: number;
  file: string;
  settings: SamplingSettings;
  model: { name: string; sha256: string };
}

/** sha256 over the bundle's manifest.json: it lists every weight file's own sha256, so it names the weights. */
export async function modelSha256(modelDir: string): Promise<string> {
  return createHash('sha256').update(await readFile(join(modelDir, 'manifest.json'))).digest('hex');
}

async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

export async function readSpec(dir: string): Promise<SampleSpec | null> {
  let text: string;
  try {
    text = await readFile(join(dir, SPEC_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const spec = JSON.parse(text) as SampleSpec;
    if (spec.format !== 'var-studio-sample-run') throw new Error('not a run description');
    return spec;
  } catch (e) {
    throw new StudioError('bad-run-folder', `${join(dir, SPEC_FILE)} is unreadable (${(e as Error).message})`, 'Start the run again in an empty folder.');
  }
}

/**
 * Prepares `dir` for `spec`: a fresh folder gets run.json; a folder of another run is refused; a folder of
 * this run is refused unless `resume` (so nobody mixes two runs by accident).
 */
export async function openRunFolder(dir: string, spec: SampleSpec, resume: boolean): Promise<void> {
  await mkdir(dir, { recursive: true });
  const old = await readSpec(dir);
  if (old) {
    const diff = specDifference(old, spec);
    if (diff) throw new StudioError('other-run', `${dir} holds another run (${diff})`, 'Use another --out folder, or the same settings as that run.');
    if (!resume) throw new StudioError('run-exists', `${dir} already holds this run; pass --resume to continue it`, 'Add --resume, or use another --out folder.');
    return;
  }
  await writeAtomic(join(dir, SPEC_FILE), `${JSON.stringify(spec, null, 1)}\n`);
}

/** Every record of the folder by image key; lines cut short by a killed process are skipped. */
export async function readRecords(dir: string): Promise<Map<string, SampleRecord & { log: string }>> {
  const out = new Map<string, SampleRecord & { log: string }>();
  const names = (await readdir(dir)).filter((n) => /^samples(\.[\w.-]+)?\.jsonl$/.test(n)).sort();
  for (const name of names) {
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      let r: SampleRecord;
      try {
        r = JSON.parse(line) as SampleRecord;
      } catch {
        continue;
      }
      if (Number.isInteger(r.class) && Number.isInteger(r.index)) out.set(imageKey({ classIndex: r.class, index: r.index }), { ...r, log: name });
    }
  }
  return out;
}

/** The RGB pixels of an image's PNG, or null when it is missing, does not decode, or has the wrong size. */
export async function readImagePixels(dir: string, ref: ImageRef, resolution: number): Promise<Uint8Array | null> {
  try {
    const { data, info } = await sharp(await readFile(join(dir, imageFileName(ref)))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.width !== resolution || info.height !== resolution || info.channels !== 3) return null;
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch {
    return null;
  }
}

export async function writeImageFile(dir: string, ref: ImageRef, png: Uint8Array): Promise<void> {
  await writeAtomic(join(dir, imageFileName(ref)), png);
}

/** Appends records to one log; a line left unfinished by a killed writer is closed first so it spoils nothing. */
export class RecordLog {
  private checked = false;
  constructor(readonly path: string) {}

  async append(r: SampleRecord): Promise<void> {
    if (!this.checked) {
      const old = await readFile(this.path).catch(() => null);
      if (old && old.length > 0 && old[old.length - 1] !== 0x0a) await appendFile(this.path, '\n');
      this.checked = true;
    }
    await appendFile(this.path, `${JSON.stringify(r)}\n`);
  }
}

/** Images of `refs` already done in `dir`: a record with the right seed and a PNG that decodes at the right size. */
export async function doneImages(dir: string, spec: SampleSpec, refs: ImageRef[], seedOf: (r: ImageRef) => number): Promise<Set<string>> {
  const records = await readRecords(dir);
  const done = new Set<string>();
  for (const ref of refs) {
    const rec = records.get(imageKey(ref));
    if (!rec || rec.seed !== seedOf(ref)) continue;
    if (await readImagePixels(dir, ref, spec.model.resolution)) done.add(imageKey(ref));
  }
  return done;
}

export async function removeStaleTemps(dir: string): Promise<void> {
  for (const n of await readdir(dir)) if (/\.\d+\.tmp$/.test(n)) await rm(join(dir, n), { force: true });
}
