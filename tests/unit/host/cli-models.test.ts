// `var-studio models …` spawned as a user would run it, against the in-process HTTP server
// (VAR_STUDIO_MODEL_BASE_URL) with a test catalogue (VAR_STUDIO_MODEL_CATALOG).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentEnvironment, runsOnCpu } from '../../../src/host/gpu-doctor';
import { FileServer, randomFile } from './file-server';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const BIN = join(REPO, 'bin/var-studio.mjs');
const REV = 'fedcba9876543210fedcba9876543210fedcba98';
const server = new FileServer();
const tmp = mkdtempSync(join(tmpdir(), 'var-cli-models-'));
const modelsDir = join(tmp, 'models');
const vae = randomFile(200_000), a = randomFile(600_000);

function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [BIN, 'models', ...args, '--models-dir', modelsDir], {
      cwd: REPO,
      env: { ...process.env, VAR_STUDIO_MODEL_BASE_URL: server.resolveBase, VAR_STUDIO_MODEL_CATALOG: join(tmp, 'catalog.json'), NO_PROXY: '127.0.0.1,localhost' },
    });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => done({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  await server.start();
  server.add('vae.pth', vae.data);
  server.add('var_a.pth', a.data);
  const sampling = { cfg: 4, topK: 900, topP: 0.95, moreSmooth: false };
  writeFileSync(join(tmp, 'catalog.json'), JSON.stringify({
    schemaVersion: 1, repo: 'test/var', revision: REV, baseUrl: `https://example.invalid/${REV}`, licence: 'MIT', licenceUrl: 'https://example.invalid/LICENSE', notes: [],
    files: [
      { kind: 'vqvae', name: 'vae', file: 'vae.pth', title: 'VQVAE', parameters: 10, sha256: vae.sha256, bytes: vae.data.length, licence: 'MIT' },
      {
        kind: 'var', name: 'var-a', file: 'var_a.pth', title: 'Test A', parameters: 150_000, sha256: a.sha256, bytesApprox: 600_000, licence: 'MIT',
        depth: 1, resolution: 64, patchNums: [1, 2, 4], sharedAdaLN: false, vqvae: 'vae.pth', readme: { fid: 9.5, relCost: null, paramsLabel: '150k' }, paper: null, sampling, fidSampling: sampling,
      },
    ],
  }));
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('var-studio models (spawned)', () => {
  it('list --json: the catalogue with sizes and statuses; the human form is a table', async () => {
    const r = await cli('list', '--json');
    expect(r.code).toBe(0);
    // on a machine where models run on the CPU, the disk needed counts the dq8 variant the import writes
    const onCpu = runsOnCpu('auto', currentEnvironment());
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ ok: true, command: 'models list', modelsDir, baseUrl: server.resolveBase });
    expect(res.models).toEqual([expect.objectContaining({
      name: 'var-a', fid: 9.5, bytes: null, bytesApprox: 600_000, downloadBytes: 800_000, diskNeeded: 1_600_000 + (onCpu ? 0.52 * 600_000 : 0), approximate: true, status: { state: 'not-downloaded' },
    })]);
    const human = await cli('list');
    expect(human.stdout).toMatch(new RegExp(String.raw`^name\s+res\s+params\s+FID\s+download\s+disk needed\s+status\nvar-a\s+64\s+150k\s+9\.50\s+≈ 800 kB\s+≈ ${onCpu ? '1\\.91' : '1\\.60'} MB\s+not downloaded\n`));
  });

  it('pull: downloads and verifies both files with progress on stderr (the import of these random bytes then fails cleanly)', async () => {
    const r = await cli('pull', 'var-a', '--json');
    expect(existsSync(join(modelsDir, '.downloads', 'vae.pth'))).toBe(true);
    expect(sha(join(modelsDir, '.downloads', 'vae.pth'))).toBe(vae.sha256);
    expect(sha(join(modelsDir, '.downloads', 'var_a.pth'))).toBe(a.sha256);
    expect(r.stderr).toMatch(/\] 100\/100 var_a\.pth 800 kB of 800 kB/);
    expect(r.stderr).toMatch(/\d+\/100 vae\.pth /);
    // random bytes are no checkpoint: one error line, a JSON error, exit 2, and no bundle
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('var-studio: error:'))).toHaveLength(1);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ ok: false });
    expect(existsSync(join(modelsDir, 'var-a'))).toBe(false);
    const list = JSON.parse((await cli('list', '--json')).stdout);
    expect(list.models[0].status.state).toBe('failed');
  });

  it('rm --json deletes the checkpoints (the VQVAE too: no other model uses it)', async () => {
    const r = await cli('rm', 'var-a', '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ ok: true, command: 'models rm', name: 'var-a', keptShared: null });
    expect(res.removed).toEqual([join(modelsDir, '.downloads', 'var_a.pth'), join(modelsDir, '.downloads', 'vae.pth')]);
    expect(JSON.parse((await cli('list', '--json')).stdout).models[0].status).toEqual({ state: 'not-downloaded' });
  });

  it('bad input: unknown model, missing import flags — exit 2 with one line', async () => {
    const r = await cli('pull', 'nope', '--json');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('var-studio: error: There is no model "nope" in the catalogue; known: var-a.');
    const i = await cli('import', '--var', 'x.pth');
    expect(i.code).toBe(2);
    expect(i.stderr).toContain('Unknown option');
  });
});
