// Shared pieces of the security suite that need nothing of the app: temp folders and the tiny fixture bundle.
import { cpSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const tinyBundle = path.resolve(import.meta.dirname, '..', 'fixtures', 'tiny', 'bundle');

export function tmp(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `var-sec-${prefix}-`));
}

/** A copy of the tiny bundle whose manifest the test may rewrite. */
export function bundleCopy(): string {
  const dir = path.join(tmp('bundle'), 'bundle');
  cpSync(tinyBundle, dir, { recursive: true });
  return dir;
}

export function rendererDir(): string {
  const dir = tmp('renderer');
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>t</title>');
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'assets', 'a.js'), 'export {}');
  return dir;
}
