// The CLI's output files: every path problem (a folder where the file should go, a file where a folder
// should be, no permission, a read-only disk, a name too long) becomes one clear line naming the flag.
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type FileToWrite, writeFilesSafely } from '../host/safe-write';
import { UsageError } from './args';

/** One file a command writes, with the flag that named it (--out, --tokens-out). */
export interface OutputFile extends FileToWrite { flag: string }

async function statOrNull(p: string) {
  try {
    return await stat(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    // a path component that is a file gives ENOTDIR: the walk up finds that file
    if (code === 'ENOTDIR') return null;
    throw e;
  }
}

/**
 * Refuses an output path that cannot be written, with what is wrong and what to do: the target is a folder,
 * a folder on the way is a file, or the nearest existing folder is not writable.
 */
export async function checkOutputPath(flag: string, target: string): Promise<void> {
  const full = resolve(target);
  const here = await statOrNull(full).catch(() => null);
  if (here?.isDirectory()) throw new UsageError(`${flag} ${JSON.stringify(target)} is a folder; name a file inside it, e.g. ${JSON.stringify(`${target.replace(/[\\/]+$/, '')}/image.png`)}`);
  let dir = dirname(full);
  for (;;) {
    const st = await statOrNull(dir).catch(() => null);
    if (st && !st.isDirectory()) throw new UsageError(`${flag} ${JSON.stringify(target)} cannot be created: ${dir} is a file, not a folder; choose a path whose folders are folders`);
    if (st) break;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(target)} cannot be written: the folder ${dir} is not writable by this user; choose a folder you can write to`);
  }
}

const WHY: Record<string, string> = {
  EACCES: 'permission denied', EPERM: 'the operation is not permitted', EROFS: 'the disk is read-only',
  ENAMETOOLONG: 'the file name is too long', EISDIR: 'a folder has that name', ENOTDIR: 'a file stands where a folder should be',
  EEXIST: 'a file stands where a folder should be', ELOOP: 'too many symbolic links', EINVAL: 'the name is not valid on this disk',
};

/**
 * Writes a command's outputs as one batch: every file is complete before any replaces its target, so a
 * failure (or a kill) leaves no partial results and every existing file as it was.
 */
export async function writeOutputs(files: OutputFile[]): Promise<void> {
  for (const f of files) await checkOutputPath(f.flag, f.path);
  try {
    for (const dir of new Set(files.map((f) => dirname(resolve(f.path))))) await mkdir(dir, { recursive: true });
    await writeFilesSafely(files);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (!(code in WHY)) throw e;
    const named = files.map((f) => `${f.flag} ${JSON.stringify(f.path)}`).join(', ');
    throw new UsageError(`could not write ${named}: ${WHY[code]} (${code}); nothing was written, existing files are unchanged; choose another path or fix the folder's permissions`);
  }
}
