import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppLog } from '../../../src/main/app-log';

describe('app log file', () => {
  it('appends timestamped lines and indents continuation lines', () => {
    const log = new AppLog(mkdtempSync(path.join(os.tmpdir(), 'var-log-')));
    log.write('info', 'started');
    log.write('error', 'failed\nat line 2');
    const lines = readFileSync(log.file, 'utf8').split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT.*Z info  started$/);
    expect(lines[1]).toMatch(/error failed$/);
    expect(lines[2]).toBe('    at line 2');
  });

  it('moves a file over the limit aside and starts a new one', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'var-log-'));
    const log = new AppLog(dir, 100);
    for (let i = 0; i < 5; i++) log.write('info', `line ${i} ${'x'.repeat(30)}`);
    expect(readdirSync(dir).sort()).toEqual(['var-studio.log', 'var-studio.old.log']);
    expect(readFileSync(log.file, 'utf8')).toMatch(/line 4/);
    expect(readFileSync(log.file, 'utf8').length).toBeLessThan(200);
  });
});
