// Review findings 3 and 6: files are replaced atomically (a kill mid-write leaves the old or the new file,
// never a torn one), crash debris is swept, a full disk is a clear error that does not poison later
// saves, and one data folder has one owner.
import { describe, expect, it, vi } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promises as fsp, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sweepTempFiles, writeFileSafely } from '../../src/host/safe-write';
import { lockDataFolder } from '../../src/host/data-lock';
import { tmp } from './helpers';

function child(script: string, args: string[]): { proc: ChildProcess; line: Promise<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'children', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = new Promise<string>((resolve, reject) => {
    proc.stdout!.once('data', (d) => resolve(String(d).trim()));
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { proc, line };
}

function killed(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

describe('finding 6: a write killed mid-way leaves the previous file intact', () => {
  it('SIGKILL at random moments during 8 MiB rewrites: the target is always one whole version', async () => {
    const dir = tmp('kill');
    const target = path.join(dir, 'out.png');
    const size = 8 * 1024 * 1024;
    for (let run = 0; run < 4; run++) {
      const { proc, line } = child('write-forever.ts', [target, String(size)]);
      expect(await line).toBe('ready');
      await new Promise((r) => setTimeout(r, 40 + run * 53));
      await killed(proc);
      const bytes = readFileSync(target);
      expect(bytes.length, `run ${run}`).toBe(size);
      expect(bytes[0] === 0x41 || bytes[0] === 0x42).toBe(true);
      expect(bytes.every((b) => b === bytes[0]), `run ${run}: torn file`).toBe(true);
    }
    // The killed writers' temp files are debris: the sweep removes them all and nothing else.
    const swept = await sweepTempFiles(dir);
    expect(swept.length, 'at least one kill landed inside a write').toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual(['out.png']);
  }, 120_000);
});

describe('finding 3: a full disk is a clear error and later saves still work', () => {
  it('ENOSPC mid-write: typed error, previous file kept, no temp file left, the next save succeeds', async () => {
    const dir = tmp('full');
    const target = path.join(dir, 'document.json');
    writeFileSync(target, 'previous');
    const realOpen = fsp.open;
    const spy = vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      const handle = await realOpen(...args);
      handle.writeFile = async () => {
        await handle.write(Buffer.from('partial'));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      };
      return handle;
    });
    const failure = await writeFileSafely(target, 'new content').then(() => null, (e: { code: string; message: string; hint: string }) => e);
    spy.mockRestore();
    expect(failure).toMatchObject({ code: 'disk-full' });
    expect(failure!.message).toContain('is full');
    expect(failure!.hint).toMatch(/Free some disk space/);
    expect(readFileSync(target, 'utf8')).toBe('previous');
    expect(readdirSync(dir)).toEqual(['document.json']);
    await writeFileSafely(target, 'next');
    expect(readFileSync(target, 'utf8')).toBe('next');
  });
});

describe('finding 3: one data folder, one owner', () => {
  it('a second process is refused while the first holds the folder, and takes over once it is gone', async () => {
    const dir = tmp('lock');
    const { proc, line } = child('hold-lock.ts', [dir]);
    expect(await line).toBe('locked');
    await expect(lockDataFolder(dir)).rejects.toMatchObject({ code: 'data-folder-in-use' });
    await killed(proc);
    const lock = await lockDataFolder(dir);
    await expect(lockDataFolder(dir)).rejects.toMatchObject({ code: 'data-folder-in-use' });
    await lock.release();
    await (await lockDataFolder(dir)).release();
  }, 60_000);

  it('a second `serve` on a data folder in use exits at once, naming the first one', async () => {
    const dir = tmp('lock');
    const lock = await lockDataFolder(dir);
    const main = path.resolve(import.meta.dirname, '..', '..', 'src', 'server', 'main.ts');
    const r = spawnSync(process.execPath, ['--import', 'tsx', main, '--port', '0'], { env: { ...process.env, VAR_STUDIO_DATA_DIR: dir }, encoding: 'utf8', timeout: 60_000 });
    await lock.release();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Another VAR Studio (pid ${process.pid}`);
    expect(r.stderr).toContain('VAR_STUDIO_DATA_DIR');
  }, 90_000);
});
