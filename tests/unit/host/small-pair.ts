// A small official-layout checkpoint pair written by torch (tools/make_import_fixtures.py's pair "a": VAR d2,
// width 64, 256-px schedule, random weights) with its graph templates — what the pull tests download and import.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..', '..');

const WRITE_PAIR = `
import os, sys
sys.path.insert(0, 'tools')
import torch; torch.set_num_threads(1)
from make_import_fixtures import PAIRS
from graph_templates import write_template
from tests.official_checkpoints import write_official_pair
out = sys.argv[1]
v, q = PAIRS['a']
write_official_pair(os.path.join(out, 'a'), v, q, seed=97, var_name='var.pth', vae_name='vae.pth')
write_template('var', v, os.path.join(out, 'templates'), log=lambda *_: None)
write_template('vae', q, os.path.join(out, 'templates'), log=lambda *_: None)
`;

/** Writes <out>/a/var.pth, <out>/a/vae.pth and <out>/templates (tens of seconds: torch starts). */
export function writeSmallPair(out: string): { varFile: string; vaeFile: string; templatesDir: string } {
  execFileSync('/usr/bin/python3', ['-c', WRITE_PAIR, out], { cwd: REPO, stdio: 'pipe', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  return { varFile: join(out, 'a', 'var.pth'), vaeFile: join(out, 'a', 'vae.pth'), templatesDir: join(out, 'templates') };
}
