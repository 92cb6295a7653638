#!/usr/bin/env node
// var-studio launcher: runs the TypeScript CLI (src/cli) through tsx, so no separate build step is needed
// after `npm install`. Usage: var-studio --help
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let register;
try {
  ({ register } = await import('tsx/esm/api'));
} catch {
  process.stderr.write('var-studio: error: the "tsx" package is missing; run `npm install` in ' + root + '\n');
  process.exit(1);
}
register();
const entry = join(root, 'src/cli/run.ts');
if (!existsSync(entry)) {
  process.stderr.write(`var-studio: error: ${entry} is missing\n`);
  process.exit(1);
}
await import(pathToFileURL(entry).href);
