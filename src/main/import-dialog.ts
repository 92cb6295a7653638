// "Import checkpoint files…" in the desktop app: main shows the open dialogs and hands the chosen paths to
// the host; the page only asks and never sees or sends a path.
import { dialog, type OpenDialogOptions } from 'electron';
import type { StudioSession } from '../host/service';
import { windowOf } from './ipc';

const CHECKPOINTS = [{ name: 'PyTorch or safetensors checkpoint', extensions: ['pth', 'pt', 'bin', 'safetensors'] }];

async function pickOne(session: StudioSession, title: string, message: string, defaultPath?: string): Promise<string | null> {
  const win = windowOf(session);
  const options: OpenDialogOptions = { title, message, buttonLabel: 'Choose', filters: CHECKPOINTS, properties: ['openFile'], ...(defaultPath ? { defaultPath } : {}) };
  const choice = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
  return choice.canceled || !choice.filePaths[0] ? null : choice.filePaths[0];
}

/** Two dialogs: the VAR checkpoint, then its VQVAE (opened in the same folder). null when either is cancelled. */
export async function pickCheckpointFiles(session: StudioSession): Promise<{ varFile: string; vaeFile: string } | null> {
  const varFile = await pickOne(session, 'Import: choose the VAR checkpoint (1 of 2)', 'The transformer checkpoint, e.g. var_d16.pth or a fine-tune (.safetensors).');
  if (!varFile) return null;
  const vaeFile = await pickOne(session, 'Import: choose its VQVAE checkpoint (2 of 2)', 'The VQVAE it was trained with: vae_ch160v4096z32.pth for the official models.', varFile.replace(/[^/\\]+$/, ''));
  return vaeFile ? { varFile, vaeFile } : null;
}
