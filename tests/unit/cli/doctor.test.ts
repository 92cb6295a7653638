// var-studio doctor, spawned: which provider runs, which were tried, and why the others cannot run here.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, TINY_BUNDLE } from '../engine/helpers';

const BIN = join(REPO, 'bin/var-studio.mjs');
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('var-studio doctor', () => {
  it('--json names the provider in use and a line for every provider', () => {
    const r = cli('doctor', '--model', TINY_BUNDLE, '--provider', 'cpu', '--threads', '2', '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ ok: true, command: 'doctor', requested: 'cpu', inUse: 'cpu', threads: 2, platform: process.platform });
    expect(res.providers.map((p: { provider: string }) => p.provider)).toEqual(['cuda', 'dml', 'coreml', 'webgpu', 'cpu']);
    expect(res.providers.find((p: { provider: string }) => p.provider === 'cpu').state).toBe('in use');
    if (process.platform !== 'win32') expect(res.providers.find((p: { provider: string }) => p.provider === 'dml').reason).toMatch(/Windows/);
  });

  it('explains a requested provider that could not run and says the fallback', () => {
    const r = cli('doctor', '--model', TINY_BUNDLE, '--provider', process.platform === 'darwin' ? 'dml' : 'coreml');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/provider in use: cpu/);
    expect(r.stdout).toMatch(/(coreml|dml)\s+skipped\s+\S+/);
  });

  it('--gpu picks the CUDA/DirectML device id and says so; out of range is a usage error', () => {
    const r = cli('doctor', '--model', TINY_BUNDLE, '--provider', 'cpu', '--gpu', '1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^GPU \(CUDA, DirectML\): 1$/m);
    const bad = cli('doctor', '--gpu', '4');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--gpu must be a whole number in 0\.\.3/);
  });

  it('refuses a provider name it does not know', () => {
    const r = cli('doctor', '--provider', 'tpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--provider must be/);
  });
});
