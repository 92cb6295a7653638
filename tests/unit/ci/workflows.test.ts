// The GitHub Actions workflows cannot run here; this checks what can be checked locally: each file is YAML
// of the expected shape, and every `npm run X` it names is a script in package.json.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const dir = path.join(root, '.github', 'workflows');
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
const scripts = Object.keys((JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

interface Step { run?: string; uses?: string; if?: string; name?: string }
interface Workflow { on: unknown; jobs: Record<string, { 'runs-on': string; steps: Step[]; strategy?: { matrix?: { include?: { os: string }[] } } }> }

/** Every script name after `npm run` in a shell text. */
export function npmRunNames(text: string): string[] {
  return [...text.matchAll(/npm run ([\w:.-]+)/g)].map((m) => m[1]!);
}

describe('GitHub Actions workflows', () => {
  it('finds the release workflow', () => {
    expect(files).toContain('release.yml');
  });

  it.each(files)('%s parses and names only existing npm scripts', (file) => {
    const wf = parse(readFileSync(path.join(dir, file), 'utf8'), { strict: true, uniqueKeys: true }) as Workflow;
    expect(wf.on).toBeTruthy();
    expect(Object.keys(wf.jobs).length).toBeGreaterThan(0);
    for (const job of Object.values(wf.jobs)) {
      expect(job['runs-on']).toBeTruthy();
      for (const step of job.steps) {
        expect(step.run !== undefined || step.uses !== undefined, JSON.stringify(step)).toBe(true);
        for (const name of npmRunNames(step.run ?? '')) expect(scripts, `${file}: npm run ${name}`).toContain(name);
      }
    }
  });

  it('release builds on Windows, macOS and Linux and uploads only on a tag', () => {
    const wf = parse(readFileSync(path.join(dir, 'release.yml'), 'utf8')) as Workflow;
    const job = Object.values(wf.jobs)[0]!;
    expect(job.strategy?.matrix?.include?.map((i) => i.os).sort()).toEqual(['macos-latest', 'ubuntu-latest', 'windows-latest']);
    const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'));
    expect(upload?.if).toMatch(/refs\/tags\//);
    expect(job.steps.some((s) => npmRunNames(s.run ?? '').includes('dist'))).toBe(true);
    expect(job.steps.some((s) => npmRunNames(s.run ?? '').includes('test:e2e') && /Linux/.test(s.if ?? ''))).toBe(true);
  });

  it('reads script names out of shell text', () => {
    expect(npmRunNames('npm ci\nnpm run dist -- --win && npm run test:e2e')).toEqual(['dist', 'test:e2e']);
  });
});
