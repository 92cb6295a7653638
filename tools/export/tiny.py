"""The tiny random-weight model family used for the committed test bundle and the parity tests.

The weights are drawn so that every path carries signal (unlike the official init, whose AdaLN gains start
at 1e-5 and make each block nearly the identity): Linear/Conv weights N(0, 1/fan_in), biases N(0, 0.1²),
embeddings and the codebook N(0, 1), GroupNorm gains 1 + N(0, 0.1²), attention scale_mul ln 4 + N(0, 0.3²),
AdaLN modulation weights scaled by 0.3 (else the per-class shifts, equal at every position, dominate and all
tokens of a scale get the same argmax), and the head scaled ×2 so that logits spread over a few units
(mean entropy ≈ 2.3 nats of 4.2; a greedy run uses 7 distinct tokens).
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn as nn

from var_ref.config import VARConfig, VQVAEConfig
from var_ref.var import VAR
from var_ref.vqvae import VQVAE

TINY_VAE = VQVAEConfig(vocab_size=64, z_channels=8, ch=32, ch_mult=(1, 1, 1), num_res_blocks=1,
                       patch_nums=(1, 2, 3, 4))
TINY_VAR = VARConfig(depth=2, embed_dim=64, num_heads=2, num_classes=10, patch_nums=(1, 2, 3, 4),
                     vocab_size=64, z_channels=8, cond_drop_rate=0.0)
TINY_CLASSES = [f'class {i}' for i in range(10)]


@torch.no_grad()
def randomize_(model: nn.Module, seed: int, head_gain: float = 2.0, ada_gain: float = 0.3) -> nn.Module:
    g = torch.Generator().manual_seed(seed)

    def normal_(t: torch.Tensor, std: float, mean: float = 0.0):
        t.copy_(torch.randn(t.shape, generator=g) * std + mean)

    for name, p in model.named_parameters():
        leaf = name.rsplit('.', 1)[-1]
        if name.endswith('scale_mul_1H11'):
            normal_(p, 0.3, math.log(4.0))
        elif isinstance(model, VQVAE) and ('norm' in name and leaf == 'weight'):
            normal_(p, 0.1, 1.0)
        elif 'emb' in name or name.startswith('pos_') or name == 'quantize.embedding.weight':
            normal_(p, 1.0 if name != 'pos_1LC' else 0.5)
        elif p.dim() >= 2:
            fan_in = p[0].numel() if p.dim() > 1 else p.numel()
            normal_(p, 1.0 / math.sqrt(fan_in))
        else:
            normal_(p, 0.1)
    if isinstance(model, VAR):
        model.head.weight.mul_(head_gain)
        for name, p in model.named_parameters():
            if 'ada_lin' in name or name.endswith('ada_gss'):
                p.mul_(ada_gain)
    return model


def tiny_models(seed: int = 0, vae_cfg: VQVAEConfig = TINY_VAE, var_cfg: VARConfig = TINY_VAR) -> Tuple[VQVAE, VAR]:
    torch.manual_seed(seed)
    vae = randomize_(VQVAE(vae_cfg), seed * 2 + 1).eval()
    var = randomize_(VAR(var_cfg), seed * 2 + 2).eval()
    return vae, var
