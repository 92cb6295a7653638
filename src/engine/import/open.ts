/** Opens a checkpoint file of either supported format, recognised by its first bytes, not its name. */
import { open as openFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { type CheckpointReader, ImportError } from './checkpoint';
import { type CheckpointRole, openPth } from './pth';
import { openSafetensors } from './safetensors';

export type CheckpointFormat = 'pth' | 'safetensors';

/** The format of a file's first bytes: a zip local header (torch.save), or a safetensors header length + '{'. */
export function detectFormat(head: Uint8Array): CheckpointFormat | 'legacy-pth' | undefined {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'pth';
  // torch.save before PyTorch 1.6 wrote a bare pickle (protocol 2 starts 0x80 0x02).
  if (head.length >= 2 && head[0] === 0x80 && head[1] === 0x02) return 'legacy-pth';
  if (head.length >= 9 && head[8] === 0x7b) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (n >= 2n) return 'safetensors';
  }
  return undefined;
}

export interface OpenCheckpointOptions {
  /** Which model to read from an official trainer checkpoint ('trainer.var_wo_ddp' / 'trainer.vae_local'). */
  role?: CheckpointRole;
}

export async function openCheckpoint(path: string, opts: OpenCheckpointOptions = {}): Promise<CheckpointReader> {
  const file = basename(path);
  let head: Uint8Array;
  try {
    const fh = await openFile(path, 'r');
    try {
      const buf = new Uint8Array(16);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a checkpoint file' : (e as Error).message;
    throw new ImportError('unreadable', `${path}: ${why}`, file);
  }
  if (head.length === 0) throw new ImportError('not-checkpoint', `${file}: is empty (0 bytes), not a checkpoint`, file);
  const format = detectFormat(head);
  if (format === 'pth') return openPth(path, opts.role);
  if (format === 'safetensors') return openSafetensors(path);
  if (format === 'legacy-pth') {
    throw new ImportError('not-checkpoint', `${file}: is a PyTorch checkpoint in the pre-1.6 format; load it in PyTorch and save it again with torch.save`, file);
  }
  throw new ImportError('not-checkpoint', `${file}: not a PyTorch checkpoint or safetensors file`, file);
}
