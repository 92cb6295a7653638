"""Export the trained default model as the shipped bundle models/var-fashion-32/ (docs/model-bundle.md).

    /usr/bin/python3 tools/export_default_model.py [--defaults tools/runs/eval/defaults.json] [--out models/var-fashion-32]

Uses tools/export_bundle.write_bundle (the same exporter as for official checkpoints), with the sampling
defaults chosen by measurement (tools/eval_samples.py sweep → defaults.json), 1,500 real training images
to fit the preview map, and the model card (if present in --card) as a bundle file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS_DIR)
RUNS = os.path.join(TOOLS_DIR, 'runs')

NAME = 'var-fashion-32'
TITLE = 'VAR Fashion-MNIST 32×32 (embedded default)'
DESCRIPTION = ('A small member of the official VAR family trained on this project\'s machine on Fashion-MNIST '
               '(10 clothing classes, 32×32, 6 scales 1-2-3-4-6-8): VQVAE V=512 Cvae=16, VAR depth 4 '
               '(width 256, 4 heads). See MODEL_CARD.md for how it was trained and how well it works.')
LICENSE = 'MIT (weights trained by VAR Studio on Fashion-MNIST, MIT licence, Zalando Research)'


def main(argv=None) -> int:
    from train_common import set_threads_before_torch
    ap = argparse.ArgumentParser(description='export the default model bundle')
    ap.add_argument('--vae', default=os.path.join(RUNS, 'vqvae', 'vqvae_final.pt'))
    ap.add_argument('--var', default=os.path.join(RUNS, 'var', 'var_final.pt'))
    ap.add_argument('--defaults', default=os.path.join(RUNS, 'eval', 'defaults.json'),
                    help='JSON {"cfg", "topK", "topP", "moreSmooth"} chosen by the sweep')
    ap.add_argument('--out', default=os.path.join(REPO, 'models', NAME))
    ap.add_argument('--card', default=os.path.join(REPO, 'models', NAME, 'MODEL_CARD.md'))
    ap.add_argument('--preview-images', type=int, default=1500)
    a = ap.parse_args(argv)
    set_threads_before_torch(1, 1)
    import numpy as np
    import torch
    from data_fashion_mnist import CLASS_NAMES, load_arrays
    from eval_vqvae import load_vae
    from export_bundle import write_bundle
    from train_var import load_var
    if not os.path.exists(a.defaults):
        print(f'error: {a.defaults} not found: run `tools/eval_samples.py sweep` and choose defaults first', file=sys.stderr)
        return 2
    with open(a.defaults) as f:
        sampling = json.load(f)
    vae, var = load_vae(a.vae), load_var(a.var)
    x, _ = load_arrays('train')
    pick = np.random.default_rng(0).choice(len(x), a.preview_images, replace=False)
    preview = torch.from_numpy(x[np.sort(pick)]).permute(0, 3, 1, 2).float() / 255.0
    extra = {}
    if os.path.exists(a.card):
        with open(a.card, encoding='utf-8') as f:
            extra['MODEL_CARD.md'] = f.read()
    var_ck = torch.load(a.var, map_location='cpu')
    m = write_bundle(vae, var, a.out, name=NAME, title=TITLE, description=DESCRIPTION, classes=list(CLASS_NAMES),
                     sampling={k: sampling[k] for k in ('cfg', 'topK', 'topP', 'moreSmooth')}, license=LICENSE,
                     source={'training': 'tools/build_default_model.sh', 'dataset': 'Fashion-MNIST (Debian dataset-fashion-mnist)',
                             'varWeights': var_ck.get('which', 'raw')},
                     preview_images=preview, extra_files=extra)
    total = sum(f['bytes'] for f in m['files'].values())
    print(json.dumps({'out': a.out, 'files': len(m['files']), 'bytes': total, 'sampling': m['sampling'],
                      'preview': {k: v for k, v in m['preview'].items() if k != 'description'}}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
