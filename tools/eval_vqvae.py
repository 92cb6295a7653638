"""VQVAE reconstruction quality on the Fashion-MNIST test split (PSNR, codebook usage).

    /usr/bin/python3 tools/eval_vqvae.py --ckpt tools/runs/vqvae/vqvae_final.pt [--split test]

PSNR is on [0,1] pixels after the decoder's clamp to [-1,1]; reported both as the mean of per-image
PSNRs and from the mean squared error over the whole split.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys


def images_to_pm1(images_u8):
    import torch
    return torch.from_numpy(images_u8).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def reconstruct(vae, x_pm1):
    import torch
    with torch.no_grad():
        f = vae.img_to_f(x_pm1)
        fhats = vae.quantize.f_to_idxBl_or_fhat(f, to_fhat=True)
        return vae.fhat_to_img(fhats[-1])


def eval_reconstruction(vae, images_u8, batch: int = 500) -> dict:
    import numpy as np
    import torch
    vae.eval()
    per_image, sq_sum, n_px = [], 0.0, 0
    hits = torch.zeros(len(vae.quantize.patch_nums), vae.quantize.vocab_size)
    with torch.no_grad():
        for i in range(0, len(images_u8), batch):
            x = images_to_pm1(images_u8[i:i + batch])
            rec = reconstruct(vae, x)
            err01 = ((rec - x) / 2).square()
            mse_img = err01.flatten(1).mean(1)
            per_image.append(10 * torch.log10(1.0 / mse_img.clamp_min(1e-10)))
            sq_sum += float(err01.sum())
            n_px += err01.numel()
            for si, idx in enumerate(vae.img_to_idxBl(x)):
                hits[si] += idx.flatten().bincount(minlength=hits.shape[1]).float()
    psnr = torch.cat(per_image)
    used = (hits.sum(0) > 0).sum().item()
    return {'psnr_mean_per_image_db': float(psnr.mean()), 'psnr_global_db': 10 * math.log10(n_px / sq_sum),
            'n_images': int(len(images_u8)), 'codes_used': int(used), 'vocab_size': int(hits.shape[1]),
            'codes_used_per_scale': [int((h > 0).sum()) for h in hits]}


def load_vae(path: str):
    import torch
    from var_ref.config import vae_config_from_json
    from var_ref.vqvae import VQVAE
    ck = torch.load(path, map_location='cpu')
    vae = VQVAE(vae_config_from_json(ck['config']))
    vae.load_state_dict(ck['model'])
    return vae.eval()


def main(argv=None) -> int:
    from train_common import set_threads_before_torch
    ap = argparse.ArgumentParser(description='VQVAE reconstruction PSNR')
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--split', default='test')
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args(argv)
    set_threads_before_torch(a.threads, 1)
    from data_fashion_mnist import load_arrays
    images, _ = load_arrays(a.split)
    print(json.dumps(eval_reconstruction(load_vae(a.ckpt), images), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
