#!/usr/bin/python3
"""Write a bundle with random weights in a given shape, for `var-studio bench` (outside git: a cache folder).

    /usr/bin/python3 tools/make_shaped_bundle.py --preset d16 --out DIR        # official VAR-d16 + VQVAE, 256 px (~1.6 GB)
    /usr/bin/python3 tools/make_shaped_bundle.py --preset fashion32 --out DIR  # the embedded model's shape (tools/configs)

Weights: VAR `init_weights()` (the official init) and torch's default VQVAE init, seeded. Timing does not depend
on trained weights (apart from how many tokens top-k/top-p keep), so these stand in for models that are not
at hand. The preview map is fitted on 2 random token pyramids only (a fit on more means hundreds of decodes
at 256 px; timing does not depend on the preview's quality).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from export_bundle import write_bundle
from var_ref.config import OFFICIAL_VAE, OFFICIAL_VAR, VARConfig, vae_config_from_json
from var_ref.var import VAR
from var_ref.vqvae import VQVAE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def imagenet_classes():
    path = os.path.join(REPO, 'resources', 'imagenet-classes.json')
    if not os.path.exists(path):
        return [f'class {i}' for i in range(1000)]
    with open(path, encoding='utf-8') as fh:
        doc = json.load(fh)
    return doc['classes'] if isinstance(doc, dict) else doc


def build(preset: str):
    if preset == 'd16':
        vae = VQVAE(OFFICIAL_VAE)
        var = VAR(OFFICIAL_VAR[16])
        return vae, var, imagenet_classes(), {'cfg': 1.5, 'topK': 900, 'topP': 0.96, 'moreSmooth': False}
    if preset == 'fashion32':
        # The embedded model's shape, built exactly as tools/train_var.py builds it from tools/configs.
        with open(os.path.join(REPO, 'tools', 'configs', 'vqvae_fashion32.json'), encoding='utf-8') as fh:
            vae_cfg = vae_config_from_json(json.load(fh)['vae'])
        with open(os.path.join(REPO, 'tools', 'configs', 'var_fashion32.json'), encoding='utf-8') as fh:
            vc = json.load(fh)['var']
        var_cfg = VARConfig.official(vc['depth'], vae_cfg.patch_nums, shared_aln=vc.get('shared_aln', False),
                                     num_classes=vc['num_classes'], vocab_size=vae_cfg.vocab_size,
                                     z_channels=vae_cfg.z_channels)
        var_cfg = var_cfg.replace(cond_drop_rate=vc['cond_drop_rate'], attn_l2_norm=vc['attn_l2_norm'])
        classes = [f'class {i}' for i in range(var_cfg.num_classes)]
        return VQVAE(vae_cfg), VAR(var_cfg), classes, {'cfg': 3.0, 'topK': 0, 'topP': 0.95, 'moreSmooth': False}
    raise SystemExit(f'unknown preset {preset!r} (d16, fashion32)')


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', required=True, choices=['d16', 'fashion32'])
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.time()
    vae, var, classes, sampling = build(a.preset)
    var.init_weights()
    m = write_bundle(vae, var, a.out, name=f'bench-{a.preset}-random', title=f'{a.preset}-shaped random weights (benchmark only)',
                     description=f'The {a.preset} shapes with random weights; draws noise.',
                     classes=classes, sampling=sampling, license='MIT',
                     source={'recipe': f'tools/make_shaped_bundle.py --preset {a.preset} --seed {a.seed}'},
                     preview_samples=2)
    total = sum(f['bytes'] for f in m['files'].values())
    print(json.dumps({'out': a.out, 'bytes': total, 'seconds': round(time.time() - t0, 1)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
