"""The cheap per-scale preview: a linear map f̂ → RGB fitted to the decoder (docs/model-bundle.md, preview).

Form: a k×k conv Cvae → 3·s² (s = VQVAE downsample, k = 5 by default) followed by pixel shuffle ×s and a clamp
to [0, 1]. Each latent cell predicts its own s×s pixel block from its k×k latent neighbourhood. Measured on the
Fashion-MNIST VQVAE (32 px, s 4) against its decoder on held-out images, f̂ after each scale: k = 3 gives
17.0–19.9 dB, k = 5 gives 18.8–22.2 dB; fitting on random token pyramids instead of images loses ~5 dB. The weights are a ridge
least-squares fit (float64 normal equations, bias not penalised) to the decoder's [0, 1] output on f̂ after
*every* scale of many token pyramids, so coarse-scale previews are fitted as well as the final one.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from var_ref.vqvae import VQVAE


def _pyramid_fhats(vae: VQVAE, preview_images: Optional[torch.Tensor], num_random: int,
                   generator: torch.Generator) -> torch.Tensor:
    """f̂ after each scale, (N·K, Cvae, h, w): of real images' token pyramids, else of random token pyramids."""
    q = vae.quantize
    if preview_images is not None:
        idx = vae.img_to_idxBl(preview_images.float() * 2 - 1)
    else:
        idx = [torch.randint(0, q.vocab_size, (num_random, pn * pn), generator=generator) for pn in q.patch_nums]
    return torch.cat(q.embed_to_fhat(idx), dim=0)


def decode01(vae: VQVAE, f_hat: torch.Tensor, batch: int = 16) -> torch.Tensor:
    return torch.cat([(vae.fhat_to_img(f_hat[i:i + batch]) + 1) / 2 for i in range(0, f_hat.shape[0], batch)])


def fit_preview(vae: VQVAE, preview_images: Optional[torch.Tensor] = None, num_random: int = 24,
                ridge: float = 1e-3, seed: int = 0, kernel: int = 5) -> Tuple[torch.Tensor, torch.Tensor, Dict]:
    """Returns (weight [3s², Cvae, k, k], bias [3s²], stats) of the preview conv (k = kernel, odd)."""
    vae.eval()
    s = vae.cfg.downsample
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        fh = _pyramid_fhats(vae, preview_images, num_random, gen)
        target = decode01(vae, fh)                                             # (M, 3, R, R)
        M, C, h, w = fh.shape
        k = kernel
        X = F.unfold(fh.double(), k, padding=k // 2).transpose(1, 2).reshape(M * h * w, C * k * k)  # (C,kh,kw)
        X = torch.cat([X, torch.ones(M * h * w, 1, dtype=torch.float64)], dim=1)
        Y = F.pixel_unshuffle(target.double(), s).permute(0, 2, 3, 1).reshape(M * h * w, 3 * s * s)
        gram = X.t() @ X
        reg = torch.eye(gram.shape[0], dtype=torch.float64) * ridge * gram.diagonal()[:-1].mean()
        reg[-1, -1] = 0
        sol = torch.linalg.solve(gram + reg, X.t() @ Y)                        # (C·9+1, 3s²)
        weight = sol[:-1].t().reshape(3 * s * s, C, k, k).float()
        bias = sol[-1].float()
        pred = F.pixel_shuffle(F.conv2d(fh, weight, bias, padding=k // 2), s).clamp(0, 1)
        mse = (pred - target).square().mean().item()
        psnr = float('inf') if mse == 0 else -10 * torch.log10(torch.tensor(mse)).item()
        # baseline: the best constant colour per channel (what a preview that ignores f̂ would score)
        base_mse = (target - target.mean(dim=(0, 2, 3), keepdim=True)).square().mean().item()
        base_psnr = float('inf') if base_mse == 0 else -10 * torch.log10(torch.tensor(base_mse)).item()
    stats = {'kernel': kernel, 'fitSamples': int(M), 'fitSource': 'images' if preview_images is not None else 'random-token-pyramids',
             'ridge': ridge, 'psnrVsDecoder': round(psnr, 3), 'psnrConstantBaseline': round(base_psnr, 3)}
    return weight, bias, stats


def count_macs(module: nn.Module, *args) -> int:
    """Multiply-accumulates of the convs, linears and attention products of one forward (batch 1)."""
    total = [0]

    def conv_hook(m, inp, out):
        total[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, inp, out):
        total[0] += out.numel() * m.in_features

    hooks = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
        elif type(m).__name__ == 'AttnBlock':
            def attn_hook(m, inp, out):
                B, Cc, H, W = out.shape
                total[0] += 2 * B * (H * W) ** 2 * Cc  # qᵀk and v·wᵀ
            hooks.append(m.register_forward_hook(attn_hook))
    try:
        with torch.no_grad():
            module(*args)
    finally:
        for h in hooks:
            h.remove()
    return total[0]


def preview_cost(vae: VQVAE, weight: torch.Tensor) -> Dict:
    h = vae.cfg.patch_nums[-1]
    # on the model's device: a shape-only (meta) model counts the same MACs without computing anything
    f = torch.zeros(1, vae.cfg.z_channels, h, h, device=next(vae.parameters()).device)
    decoder_macs = count_macs(nn.Sequential(vae.post_quant_conv, vae.decoder), f)
    preview_macs = h * h * weight.numel()
    return {'previewMacs': int(preview_macs), 'decoderMacs': int(decoder_macs),
            'costRatio': round(preview_macs / decoder_macs, 6)}
