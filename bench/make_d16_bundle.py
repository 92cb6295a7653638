#!/usr/bin/python3
"""Write a d16-shaped bundle with random weights (official VAR-d16 + vae_ch160v4096z32 shapes, 256 px) for
`var-studio bench`. ~1.6 GB: it goes into a cache folder outside git (default ~/.cache/var-studio/bench-d16).

    /usr/bin/python3 bench/make_d16_bundle.py --out DIR [--seed 0]

Weights: VAR `init_weights()` (the official init) and torch's default VQVAE init, seeded. The preview map is
fitted on 2 random token pyramids only (fitting on more means hundreds of 256-px decodes; timing does not
depend on the preview's quality).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tools'))

import torch  # noqa: E402

from export_bundle import write_bundle  # noqa: E402
from var_ref.config import OFFICIAL_VAE, OFFICIAL_VAR  # noqa: E402
from var_ref.var import VAR  # noqa: E402
from var_ref.vqvae import VQVAE  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.time()
    vae = VQVAE(OFFICIAL_VAE)
    var = VAR(OFFICIAL_VAR[16])
    var.init_weights()
    classes_path = os.path.join(REPO, 'resources', 'imagenet-classes.json')
    if os.path.exists(classes_path):
        with open(classes_path, encoding='utf-8') as fh:
            doc = json.load(fh)
        classes = doc['classes'] if isinstance(doc, dict) else doc
    else:
        classes = [f'class {i}' for i in range(1000)]
    m = write_bundle(vae, var, a.out, name='bench-d16-random', title='d16-shaped random weights (benchmark only)',
                     description='VAR-d16 and the official VQVAE shapes with random weights; draws noise.',
                     classes=classes, sampling={'cfg': 1.5, 'topK': 900, 'topP': 0.96, 'moreSmooth': False},
                     license='MIT', source={'recipe': f'bench/make_d16_bundle.py --seed {a.seed}'},
                     preview_samples=2)
    total = sum(f['bytes'] for f in m['files'].values())
    print(json.dumps({'out': a.out, 'bytes': total, 'seconds': round(time.time() - t0, 1)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
