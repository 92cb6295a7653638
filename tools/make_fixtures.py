#!/usr/bin/python3
"""Write the tiny random-weight bundle and the TypeScript engine fixtures under tests/fixtures/tiny/.

    /usr/bin/python3 tools/make_fixtures.py            # bundle + every fixture
    /usr/bin/python3 tools/make_fixtures.py --bundle-only

Deterministic apart from manifest.source.date: the weights come from export.tiny.tiny_models(seed=0).
tests/fixtures/tiny/README.md describes every file and its tolerance.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

from export.tiny import TINY_CLASSES, tiny_models
from export_bundle import write_bundle

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
FIXTURE_DIR = os.path.join(REPO, 'tests', 'fixtures', 'tiny')
BUNDLE_DIR = os.path.join(FIXTURE_DIR, 'bundle')
TINY_SAMPLING = {'cfg': 2.0, 'topK': 16, 'topP': 0.9, 'moreSmooth': False}
MODEL_CARD = """# tiny — random-weight test bundle

Not a generative model: every weight is random (tools/export/tiny.py, seed 0), drawn so that each path of
the network carries signal. It exists so that the engine's tests can check every graph and the sampler
against the PyTorch reference (tests/fixtures/tiny/README.md). VQVAE ch 32, ch_mult (1,1,1), 1 res block,
V 64, Cvae 8, patch_nums (1,2,3,4), 16 px; VAR depth 2, width 64, 2 heads, 10 classes.
"""


def write_tiny_bundle(out_dir: str = BUNDLE_DIR) -> dict:
    vae, var = tiny_models(seed=0)
    return write_bundle(vae, var, out_dir, name='tiny', title='Tiny random test model',
                        description='Random weights for engine tests; draws noise.', classes=TINY_CLASSES,
                        sampling=TINY_SAMPLING, license='MIT',
                        source={'recipe': 'tools/make_fixtures.py: export.tiny.tiny_models(seed=0), random weights'},
                        extra_files={'MODEL_CARD.md': MODEL_CARD})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--bundle-only', action='store_true')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    m = write_tiny_bundle()
    print(f'bundle: {BUNDLE_DIR} ({sum(f["bytes"] for f in m["files"].values())} bytes)')
    if a.bundle_only:
        return 0
    from export.fixtures import write_fixtures
    for name in write_fixtures(FIXTURE_DIR, BUNDLE_DIR):
        print(f'fixture: {name}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
