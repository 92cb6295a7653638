"""VQVAE of VAR (official `models/basic_vae.py` + `vqvae.py`, docs/var-model.md#vqvae), any size of the family.

Module names are the official ones so that `vae_ch160v4096z32.pth` loads with strict=True.
"""
from __future__ import annotations

from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import VQVAEConfig
from .quant import VectorQuantizer2


def Normalize(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=c, eps=1e-6, affine=True)


class Upsample2x(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode='nearest'))


class Downsample2x(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, pad=(0, 1, 0, 1), mode='constant', value=0))  # right/bottom pad (official basic_vae.py)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1 = Normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = Normalize(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1, 1, 0) if in_channels != out_channels else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.nin_shortcut(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all H·W positions; q, k, v are channel chunks of one 1×1 conv."""

    def __init__(self, c: int):
        super().__init__()
        self.C = c
        self.norm = Normalize(c)
        self.qkv = nn.Conv2d(c, 3 * c, 1, 1, 0)
        self.w_ratio = c ** -0.5
        self.proj_out = nn.Conv2d(c, c, 1, 1, 0)

    def forward(self, x):
        qkv = self.qkv(self.norm(x))
        B, _, H, W = qkv.shape
        C = self.C
        q, k, v = qkv.reshape(B, 3, C, H * W).unbind(1)
        w_BQK = torch.softmax(torch.bmm(q.permute(0, 2, 1), k) * self.w_ratio, dim=2)
        h = torch.bmm(v, w_BQK.permute(0, 2, 1)).reshape(B, C, H, W)
        return x + self.proj_out(h)


class _Level(nn.Module):
    pass


class _Mid(nn.Module):
    pass


class Encoder(nn.Module):
    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        ch, ch_mult, nrb = cfg.ch, cfg.ch_mult, cfg.num_res_blocks
        self.num_resolutions = len(ch_mult)
        self.conv_in = nn.Conv2d(3, ch, 3, 1, 1)
        in_ch_mult = (1,) + tuple(ch_mult)
        self.down = nn.ModuleList()
        block_in = ch
        for i in range(self.num_resolutions):
            level = _Level()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_in, block_out = ch * in_ch_mult[i], ch * ch_mult[i]
            for _ in range(nrb):
                level.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if i == self.num_resolutions - 1 and cfg.using_sa:
                    level.attn.append(AttnBlock(block_in))
            if i != self.num_resolutions - 1:
                level.downsample = Downsample2x(block_in)
            self.down.append(level)
        self.mid = _Mid()
        self.mid.block_1 = ResnetBlock(block_in, block_in)
        self.mid.attn_1 = AttnBlock(block_in) if cfg.using_mid_sa else nn.Identity()
        self.mid.block_2 = ResnetBlock(block_in, block_in)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.z_channels, 3, 1, 1)

    def forward(self, x):
        h = self.conv_in(x)
        for i, level in enumerate(self.down):
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h)
            if i != self.num_resolutions - 1:
                h = level.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        ch, ch_mult, nrb = cfg.ch, cfg.ch_mult, cfg.num_res_blocks
        self.num_resolutions = len(ch_mult)
        block_in = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(cfg.z_channels, block_in, 3, 1, 1)
        self.mid = _Mid()
        self.mid.block_1 = ResnetBlock(block_in, block_in)
        self.mid.attn_1 = AttnBlock(block_in) if cfg.using_mid_sa else nn.Identity()
        self.mid.block_2 = ResnetBlock(block_in, block_in)
        ups = []
        for i in reversed(range(self.num_resolutions)):
            level = _Level()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_out = ch * ch_mult[i]
            for _ in range(nrb + 1):
                level.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if i == self.num_resolutions - 1 and cfg.using_sa:
                    level.attn.append(AttnBlock(block_in))
            if i != 0:
                level.upsample = Upsample2x(block_in)
            ups.insert(0, level)
        self.up = nn.ModuleList(ups)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, 3, 3, 1, 1)

    def forward(self, z):
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        for i in reversed(range(self.num_resolutions)):
            level = self.up[i]
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn):
                    h = level.attn[j](h)
            if i != 0:
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VQVAE(nn.Module):
    def __init__(self, cfg: VQVAEConfig = VQVAEConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantize = VectorQuantizer2(cfg.vocab_size, cfg.z_channels, cfg.patch_nums, cfg.beta,
                                         cfg.quant_resi, cfg.share_quant_resi)
        k = cfg.quant_conv_ks
        self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.z_channels, k, 1, k // 2)
        self.post_quant_conv = nn.Conv2d(cfg.z_channels, cfg.z_channels, k, 1, k // 2)

    def forward(self, img_pm1: torch.Tensor):
        """Training forward: (reconstruction in [-1,1] unclamped, vq loss, code hits)."""
        f_hat, vq_loss, hits = self.quantize(self.quant_conv(self.encoder(img_pm1)))
        return self.decoder(self.post_quant_conv(f_hat)), vq_loss, hits

    def img_to_f(self, img_pm1: torch.Tensor) -> torch.Tensor:
        return self.quant_conv(self.encoder(img_pm1))

    def img_to_idxBl(self, img_pm1: torch.Tensor) -> List[torch.Tensor]:
        return self.quantize.f_to_idxBl_or_fhat(self.img_to_f(img_pm1), to_fhat=False)

    def fhat_to_img(self, f_hat: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(f_hat)).clamp(-1, 1)

    def idxBl_to_img(self, idx_Bl, last_only: bool = True):
        fhats = self.quantize.embed_to_fhat(idx_Bl)
        if last_only:
            return self.fhat_to_img(fhats[-1])
        return [self.fhat_to_img(f) for f in fhats]

    def load_state_dict(self, state_dict, strict: bool = True):
        # The official loader swaps in its own ema_vocab_hit_SV when the scale count differs (official vqvae.py).
        key = 'quantize.ema_vocab_hit_SV'
        if key in state_dict and state_dict[key].shape[0] != self.quantize.ema_vocab_hit_SV.shape[0]:
            state_dict = dict(state_dict)
            state_dict[key] = self.quantize.ema_vocab_hit_SV
        return super().load_state_dict(state_dict, strict=strict)
