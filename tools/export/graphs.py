"""The five exported graphs as small nn.Modules whose forward is exactly the ONNX contract of docs/model-bundle.md.

Each wrapper holds the reference model under the attribute `var` or `vae`, so every ONNX initializer is named
`var.<checkpoint key>` or `vae.<checkpoint key>` and the weight map can be read off the names (no constant
folding: initializers stay the raw checkpoint tensors).
"""
from __future__ import annotations

from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

from var_ref.resample import bicubic_up
from var_ref.var import VAR
from var_ref.vqvae import VQVAE


class TransformerStepGraph(nn.Module):
    """One scale of cached inference (docs/var-model.md#transformer): inputs labels, token_input, begin, past K/V.

    The first scale is selected with arithmetic on `begin` (no If node: docs/python-tools.md): the class-token path
    and the word-embedding path are both computed and mixed with is_first ∈ {0, 1}, which is exact.
    """

    def __init__(self, var: VAR):
        super().__init__()
        if var.patch_nums[0] != 1:
            raise ValueError(f'the transformer graph needs patch_nums[0] = 1 (first_l = 1), got {var.patch_nums[0]}')
        self.var = var

    def forward(self, labels: torch.Tensor, token_input: torch.Tensor, begin: torch.Tensor, *past_flat: torch.Tensor):
        var = self.var
        N, l = token_input.shape[0], token_input.shape[1]
        pos_idx = begin + torch.arange(l, dtype=torch.int64)                     # (l,) L-sequence positions
        lvl_pos = var.lvl_embed(var.lvl_1L[0].index_select(0, pos_idx)) + var.pos_1LC[0].index_select(0, pos_idx)
        cond_ND = var.class_emb(labels)
        sos_N1C = cond_ND.unsqueeze(1) + var.pos_start                           # class token (scale 0)
        words_NlC = var.word_embed(token_input)
        is_first = (begin == 0).to(token_input.dtype).view(1, 1, 1)
        x_NlC = is_first * sos_N1C + (1 - is_first) * words_NlC + lvl_pos.unsqueeze(0)
        cond = var.shared_ada_lin(cond_ND)
        presents: List[torch.Tensor] = []
        for i, blk in enumerate(var.blocks):
            x_NlC, (k, v) = blk(x_NlC, cond, None, (past_flat[2 * i], past_flat[2 * i + 1]))
            presents += [k, v]
        logits = var.get_logits(x_NlC, cond_ND)
        return (logits, *presents)


class FhatStepGraph(nn.Module):
    """f̂ ← f̂ + φ_{phi_index}(bicubic_up(h, h_full)); next = A·f̂·Aᵀ flattened (docs/var-model.md#multi-scale-quantizer).

    The φ conv is chosen by gathering from the stacked φ weights, so one graph serves every scale.
    """

    def __init__(self, vae: VQVAE):
        super().__init__()
        self.vae = vae
        self.size = vae.cfg.patch_nums[-1]
        self.resi_ratio = vae.quantize.quant_resi.qresi_ls[0].resi_ratio

    def forward(self, f_hat: torch.Tensor, h_scale: torch.Tensor, phi_index: torch.Tensor, area_matrix: torch.Tensor):
        phis = self.vae.quantize.quant_resi.qresi_ls
        w = torch.stack([p.weight for p in phis]).index_select(0, phi_index)[0]
        b = torch.stack([p.bias for p in phis]).index_select(0, phi_index)[0]
        h_up = bicubic_up(h_scale, self.size)
        phi_h = h_up * (1 - self.resi_ratio) + F.conv2d(h_up, w, b, padding=1) * self.resi_ratio
        f_hat_next = f_hat + phi_h
        B, C = f_hat_next.shape[0], f_hat_next.shape[1]
        nxt = torch.matmul(torch.matmul(area_matrix, f_hat_next), area_matrix.t())
        q = area_matrix.shape[0]
        next_input = nxt.reshape(B, C, q * q).transpose(1, 2)
        return f_hat_next, next_input


class EncoderGraph(nn.Module):
    """image in [0,1] → (tokens int64 [B, L] coarse → fine, f = quant_conv(encoder(2x−1)))."""

    def __init__(self, vae: VQVAE):
        super().__init__()
        self.vae = vae

    def forward(self, image: torch.Tensor):
        f = self.vae.img_to_f(image * 2 - 1)
        idx = self.vae.quantize.f_to_idxBl_or_fhat(f, to_fhat=False)
        return torch.cat(idx, dim=1), f


class DecoderGraph(nn.Module):
    """f̂ → (clamp(decoder(post_quant_conv(f̂)), −1, 1) + 1) / 2."""

    def __init__(self, vae: VQVAE):
        super().__init__()
        self.vae = vae

    def forward(self, f_hat: torch.Tensor):
        return (self.vae.fhat_to_img(f_hat) + 1) / 2


class PreviewGraph(nn.Module):
    """Fitted linear preview: conv k×k Cvae → 3·s² then pixel shuffle ×s, clamped to [0, 1] (see preview_fit)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, downsample: int):
        super().__init__()
        k = weight.shape[-1]
        self.preview = nn.Conv2d(weight.shape[1], weight.shape[0], k, 1, k // 2)   # initializers preview.weight/.bias
        self.preview.weight.data.copy_(weight)
        self.preview.bias.data.copy_(bias)
        self.downsample = downsample

    def forward(self, f_hat: torch.Tensor):
        y = self.preview(f_hat)
        return F.pixel_shuffle(y, self.downsample).clamp(0, 1)
