"""Multi-scale residual quantizer (official `VectorQuantizer2` of models/quant.py, docs/var-model.md#multi-scale-quantizer).

Key layout is the official one: `quant_resi.qresi_ls.{i}.{weight,bias}`, `ema_vocab_hit_SV`, `embedding.weight`.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import phi_index_table
from .resample import area_down, bicubic_up


class Phi(nn.Conv2d):
    """φ(h) = (1−r)·h + r·conv3×3(h), r = quant_resi = 0.5."""

    def __init__(self, embed_dim: int, quant_resi: float):
        super().__init__(embed_dim, embed_dim, kernel_size=3, stride=1, padding=1)
        self.resi_ratio = abs(quant_resi)

    def forward(self, h_BChw: torch.Tensor) -> torch.Tensor:
        return h_BChw.mul(1 - self.resi_ratio) + super().forward(h_BChw).mul(self.resi_ratio)


class PhiPartiallyShared(nn.Module):
    def __init__(self, qresi_ls: nn.ModuleList):
        super().__init__()
        self.qresi_ls = qresi_ls


class VectorQuantizer2(nn.Module):
    def __init__(self, vocab_size: int, Cvae: int, patch_nums: Sequence[int], beta: float = 0.25,
                 quant_resi: float = 0.5, share_quant_resi: int = 4):
        super().__init__()
        if share_quant_resi < 2:
            raise ValueError('only the partially shared φ layout of the official VAE is supported (share_quant_resi ≥ 2)')
        self.vocab_size, self.Cvae = vocab_size, Cvae
        self.patch_nums = tuple(patch_nums)
        self.beta = beta
        self.quant_resi = PhiPartiallyShared(nn.ModuleList([Phi(Cvae, quant_resi) for _ in range(share_quant_resi)]))
        self.register_buffer('ema_vocab_hit_SV', torch.zeros(len(self.patch_nums), vocab_size))
        self.embedding = nn.Embedding(vocab_size, Cvae)
        self.phi_index = phi_index_table(self.patch_nums, share_quant_resi)

    def phi(self, si: int) -> Phi:
        return self.quant_resi.qresi_ls[self.phi_index[si]]

    # ---- nearest-code search: plain squared Euclidean, first index on ties (official quant.py) ----
    def nearest_codes(self, z_NC: torch.Tensor) -> torch.Tensor:
        e_VC = self.embedding.weight
        d_NV = z_NC.square().sum(dim=1, keepdim=True) + e_VC.square().sum(dim=1) - 2 * z_NC @ e_VC.t()
        return torch.argmin(d_NV, dim=1)

    def _scale_step(self, si: int, f_rest: torch.Tensor) -> tuple:
        B, C, H, W = f_rest.shape
        pn, SN = self.patch_nums[si], len(self.patch_nums)
        z = area_down(f_rest, pn) if si != SN - 1 else f_rest
        idx_N = self.nearest_codes(z.permute(0, 2, 3, 1).reshape(-1, C))
        h_BChw = self.embedding(idx_N.view(B, pn, pn)).permute(0, 3, 1, 2)
        if si != SN - 1:
            h_BChw = bicubic_up(h_BChw, H)
        return idx_N.view(B, pn * pn), self.phi(si)(h_BChw)

    def f_to_idxBl_or_fhat(self, f_BChw: torch.Tensor, to_fhat: bool) -> List[torch.Tensor]:
        """Encoding: residual quantization from the coarsest scale to the finest."""
        assert f_BChw.shape[-1] == self.patch_nums[-1], 'the last patch size must equal the latent size'
        f_rest = f_BChw.detach().clone()
        f_hat = torch.zeros_like(f_rest)
        out = []
        for si in range(len(self.patch_nums)):
            idx_Bl, h = self._scale_step(si, f_rest)
            f_hat = f_hat + h
            f_rest = f_rest - h
            out.append(f_hat.clone() if to_fhat else idx_Bl)
        return out

    def forward(self, f_BChw: torch.Tensor):
        """Training forward: straight-through f̂, mean VQ loss over scales, per-code hit counts."""
        f_no_grad = f_BChw.detach()
        f_rest = f_no_grad.clone()
        f_hat = torch.zeros_like(f_rest)
        SN = len(self.patch_nums)
        vq_loss = f_BChw.new_zeros(())
        hits = torch.zeros(self.vocab_size, device=f_BChw.device)
        for si in range(SN):
            pn = self.patch_nums[si]
            z = area_down(f_rest, pn) if si != SN - 1 else f_rest
            idx_N = self.nearest_codes(z.permute(0, 2, 3, 1).reshape(-1, self.Cvae))
            hits += idx_N.bincount(minlength=self.vocab_size).float()
            h_BChw = self.embedding(idx_N.view(-1, pn, pn)).permute(0, 3, 1, 2)
            if si != SN - 1:
                h_BChw = bicubic_up(h_BChw, f_BChw.shape[-1])
            h_BChw = self.phi(si)(h_BChw)
            f_hat = f_hat + h_BChw
            f_rest = f_rest - h_BChw.detach()
            vq_loss = vq_loss + F.mse_loss(f_hat.data, f_BChw).mul(self.beta) + F.mse_loss(f_hat, f_no_grad)
        vq_loss = vq_loss / SN
        f_hat = (f_hat.data - f_no_grad) + f_BChw
        return f_hat, vq_loss, hits

    def embed_to_fhat(self, idx_Bl: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """f̂ after each scale, accumulated at full resolution (all_to_max_scale=True)."""
        B = idx_Bl[0].shape[0]
        H = self.patch_nums[-1]
        SN = len(self.patch_nums)
        f_hat = self.embedding.weight.new_zeros(B, self.Cvae, H, H)
        out = []
        for si, pn in enumerate(self.patch_nums):
            h = self.embedding(idx_Bl[si]).transpose(1, 2).reshape(B, self.Cvae, pn, pn)
            if si != SN - 1:
                h = bicubic_up(h, H)
            f_hat = f_hat + self.phi(si)(h)
            out.append(f_hat.clone())
        return out

    def idxBl_to_var_input(self, idx_Bl: Sequence[torch.Tensor]) -> Optional[torch.Tensor]:
        """Teacher-forcing input (B, L−1, Cvae): area_down(f̂_{<k}, p_k) for k = 2..K, row-major."""
        B = idx_Bl[0].shape[0]
        H = self.patch_nums[-1]
        SN = len(self.patch_nums)
        f_hat = self.embedding.weight.new_zeros(B, self.Cvae, H, H)
        nxt = []
        for si in range(SN - 1):
            pn = self.patch_nums[si]
            h = self.embedding(idx_Bl[si]).transpose(1, 2).reshape(B, self.Cvae, pn, pn)
            f_hat = f_hat + self.phi(si)(bicubic_up(h, H))
            pn_next = self.patch_nums[si + 1]
            nxt.append(area_down(f_hat, pn_next).reshape(B, self.Cvae, -1).transpose(1, 2))
        return torch.cat(nxt, dim=1) if nxt else None

    def get_next_autoregressive_input(self, si: int, f_hat: torch.Tensor, h_BChw: torch.Tensor):
        """Inference: add scale si's embedding to f̂ and return (f̂, next scale's input map)."""
        SN = len(self.patch_nums)
        H = self.patch_nums[-1]
        if si != SN - 1:
            f_hat = f_hat + self.phi(si)(bicubic_up(h_BChw, H))
            return f_hat, area_down(f_hat, self.patch_nums[si + 1])
        f_hat = f_hat + self.phi(si)(h_BChw)
        return f_hat, f_hat
