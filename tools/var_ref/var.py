"""VAR transformer (official `models/var.py` + `basic_var.py`, docs/var-model.md#transformer), any size of the family.

State-dict keys, shapes and buffers are the official ones (docs/var-model.md#checkpoint-keys-and-shapes), including the shared-AdaLN (d36-s) variant.
The KV cache is explicit (passed in and returned) instead of hidden module state, so that the same code
serves training, cached inference and the ONNX export.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import VARConfig

KV = Tuple[torch.Tensor, torch.Tensor]


def layer_norm_no_affine(x: torch.Tensor, eps: float) -> torch.Tensor:
    # Explicit ones/zeros weight: torch 1.13 exports an affine-free LayerNorm as a node with an empty input.
    C = int(x.shape[-1])  # a static int under tracing: layer_norm's normalized_shape must be constant in ONNX
    return F.layer_norm(x, (C,), torch.ones(C, dtype=x.dtype, device=x.device), torch.zeros(C, dtype=x.dtype, device=x.device), eps)


class FFN(nn.Module):
    def __init__(self, C: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(C, hidden)
        self.fc2 = nn.Linear(hidden, C)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate='tanh'))


class SelfAttention(nn.Module):
    def __init__(self, C: int, num_heads: int, attn_l2_norm: bool):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, C // num_heads
        self.attn_l2_norm = attn_l2_norm
        if attn_l2_norm:
            self.scale = 1.0
            self.scale_mul_1H11 = nn.Parameter(torch.full((1, num_heads, 1, 1), 4.0).log())
            self.max_scale_mul = math.log(100)
        else:
            self.scale = 0.25 / math.sqrt(self.head_dim)
        self.q_bias = nn.Parameter(torch.zeros(C))
        self.v_bias = nn.Parameter(torch.zeros(C))
        self.register_buffer('zero_k_bias', torch.zeros(C))
        self.mat_qkv = nn.Linear(C, 3 * C, bias=False)
        self.proj = nn.Linear(C, C)

    def forward(self, x_BLC: torch.Tensor, attn_bias: Optional[torch.Tensor], past: Optional[KV] = None):
        """Returns (output, (k, v) of past+this call). k, v are (B, H, L, head_dim), k already normalised."""
        B, L, C = x_BLC.shape
        bias = torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
        qkv = F.linear(x_BLC, self.mat_qkv.weight, bias).view(B, L, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each B,H,L,c
        if self.attn_l2_norm:
            scale_mul = self.scale_mul_1H11.clamp_max(self.max_scale_mul).exp()
            q = F.normalize(q, dim=-1).mul(scale_mul)
            k = F.normalize(k, dim=-1)
        if past is not None:
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        if attn_bias is not None:
            attn = attn + attn_bias
        out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(B, L, C)), (k, v)


class AdaLNSelfAttn(nn.Module):
    def __init__(self, cfg: VARConfig):
        super().__init__()
        C = cfg.embed_dim
        self.C, self.eps, self.shared_aln = C, cfg.norm_eps, cfg.shared_aln
        if cfg.shared_aln:
            self.ada_gss = nn.Parameter(torch.randn(1, 1, 6, C) / C ** 0.5)
        self.attn = SelfAttention(C, cfg.num_heads, cfg.attn_l2_norm)
        self.ffn = FFN(C, round(C * cfg.mlp_ratio))
        if not cfg.shared_aln:
            self.ada_lin = nn.Sequential(nn.SiLU(inplace=False), nn.Linear(C, 6 * C))

    def forward(self, x, cond_BD_or_gss, attn_bias, past: Optional[KV] = None):
        if self.shared_aln:
            mods = (self.ada_gss + cond_BD_or_gss).unbind(2)          # 6 × (B,1,C)
        else:
            mods = self.ada_lin(cond_BD_or_gss).view(-1, 1, 6, self.C).unbind(2)
        gamma1, gamma2, scale1, scale2, shift1, shift2 = mods
        a, kv = self.attn(layer_norm_no_affine(x, self.eps).mul(scale1 + 1) + shift1, attn_bias, past)
        x = x + a * gamma1
        x = x + self.ffn(layer_norm_no_affine(x, self.eps).mul(scale2 + 1) + shift2) * gamma2
        return x, kv


class AdaLNBeforeHead(nn.Module):
    def __init__(self, C: int, eps: float):
        super().__init__()
        self.C, self.eps = C, eps
        self.ada_lin = nn.Sequential(nn.SiLU(inplace=False), nn.Linear(C, 2 * C))

    def forward(self, x_BLC, cond_BD):
        scale, shift = self.ada_lin(cond_BD).view(-1, 1, 2, self.C).unbind(2)
        return layer_norm_no_affine(x_BLC, self.eps).mul(scale + 1) + shift


class SharedAdaLin(nn.Linear):
    def forward(self, cond_BD):
        C = self.weight.shape[0] // 6
        return super().forward(cond_BD).view(-1, 1, 6, C)


class VAR(nn.Module):
    def __init__(self, cfg: VARConfig):
        super().__init__()
        self.cfg = cfg
        C, L = cfg.embed_dim, cfg.L
        self.C, self.depth, self.num_classes = C, cfg.depth, cfg.num_classes
        self.Cvae, self.V = cfg.z_channels, cfg.vocab_size
        self.patch_nums = tuple(cfg.patch_nums)
        self.first_l = self.patch_nums[0] ** 2
        self.begin_ends = []
        cur = 0
        for pn in self.patch_nums:
            self.begin_ends.append((cur, cur + pn * pn))
            cur += pn * pn
        init_std = math.sqrt(1 / C / 3)
        self.pos_start = nn.Parameter(torch.empty(1, self.first_l, C))
        nn.init.trunc_normal_(self.pos_start, mean=0, std=init_std)
        pos = [torch.empty(1, pn * pn, C) for pn in self.patch_nums]
        for p in pos:
            nn.init.trunc_normal_(p, mean=0, std=init_std)
        self.pos_1LC = nn.Parameter(torch.cat(pos, dim=1))
        lvl_1L = torch.cat([torch.full((pn * pn,), i) for i, pn in enumerate(self.patch_nums)]).view(1, L)
        self.register_buffer('lvl_1L', lvl_1L)
        d = lvl_1L.view(1, L, 1)
        self.register_buffer('attn_bias_for_masking',
                             torch.where(d >= d.transpose(1, 2), 0.0, -torch.inf).reshape(1, 1, L, L))
        self.word_embed = nn.Linear(self.Cvae, C)
        self.class_emb = nn.Embedding(self.num_classes + 1, C)
        nn.init.trunc_normal_(self.class_emb.weight.data, mean=0, std=init_std)
        self.lvl_embed = nn.Embedding(len(self.patch_nums), C)
        nn.init.trunc_normal_(self.lvl_embed.weight.data, mean=0, std=init_std)
        self.shared_ada_lin = nn.Sequential(nn.SiLU(inplace=False), SharedAdaLin(C, 6 * C)) if cfg.shared_aln else nn.Identity()
        self.blocks = nn.ModuleList([AdaLNSelfAttn(cfg) for _ in range(cfg.depth)])
        self.head_nm = AdaLNBeforeHead(C, cfg.norm_eps)
        self.head = nn.Linear(C, self.V)

    # ------------------------------------------------------------------ init (official `init_weights`)
    def init_weights(self, init_adaln=0.5, init_adaln_gamma=1e-5, init_head=0.02, init_std=-1.0):
        if init_std < 0:
            init_std = (1 / self.C / 3) ** 0.5
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight.data, std=init_std)
                if m.bias is not None:
                    m.bias.data.zero_()
            elif isinstance(m, nn.Embedding):
                nn.init.trunc_normal_(m.weight.data, std=init_std)
        self.head.weight.data.mul_(init_head)
        self.head.bias.data.zero_()
        self.head_nm.ada_lin[-1].weight.data.mul_(init_adaln)
        self.head_nm.ada_lin[-1].bias.data.zero_()
        for blk in self.blocks:
            blk.attn.proj.weight.data.div_(math.sqrt(2 * self.depth))
            blk.ffn.fc2.weight.data.div_(math.sqrt(2 * self.depth))
            if hasattr(blk, 'ada_lin'):
                blk.ada_lin[-1].weight.data[2 * self.C:].mul_(init_adaln)
                blk.ada_lin[-1].weight.data[:2 * self.C].mul_(init_adaln_gamma)
                blk.ada_lin[-1].bias.data.zero_()
            else:
                blk.ada_gss.data[:, :, 2:].mul_(init_adaln)
                blk.ada_gss.data[:, :, :2].mul_(init_adaln_gamma)

    # ------------------------------------------------------------------ forward passes
    def get_logits(self, h_BLC, cond_BD):
        return self.head(self.head_nm(h_BLC.float(), cond_BD).float()).float()

    def forward(self, label_B: torch.Tensor, x_BLCv_wo_first_l: torch.Tensor, cond_drop: bool = True) -> torch.Tensor:
        """Teacher-forced forward over the whole pyramid with the block-causal mask → logits (B, L, V).

        The official forward drops labels with prob cond_drop_rate even in eval() (official models/var.py); pass
        cond_drop=False for deterministic evaluation.
        """
        B = x_BLCv_wo_first_l.shape[0]
        if cond_drop and self.cfg.cond_drop_rate > 0:
            label_B = torch.where(torch.rand(B, device=label_B.device) < self.cfg.cond_drop_rate, self.num_classes, label_B)
        sos = cond_BD = self.class_emb(label_B)
        sos = sos.unsqueeze(1).expand(B, self.first_l, -1) + self.pos_start.expand(B, self.first_l, -1)
        x_BLC = torch.cat((sos, self.word_embed(x_BLCv_wo_first_l.float())), dim=1)
        L = x_BLC.shape[1]
        x_BLC = x_BLC + self.lvl_embed(self.lvl_1L[:, :L].expand(B, -1)) + self.pos_1LC[:, :L]
        attn_bias = self.attn_bias_for_masking[:, :, :L, :L]
        cond = self.shared_ada_lin(cond_BD)
        for blk in self.blocks:
            x_BLC, _ = blk(x_BLC, cond, attn_bias)
        return self.get_logits(x_BLC, cond_BD)

    def scale_input(self, si: int, label_N: torch.Tensor, next_input_NlCv: Optional[torch.Tensor]) -> torch.Tensor:
        """Token embeddings of scale si: the class token for si = 0, word_embed of the area-down f̂ after."""
        bg, ed = self.begin_ends[si]
        lvl_pos = self.lvl_embed(self.lvl_1L[:, bg:ed]) + self.pos_1LC[:, bg:ed]
        if si == 0:
            sos = self.class_emb(label_N)
            return sos.unsqueeze(1) + self.pos_start + lvl_pos
        return self.word_embed(next_input_NlCv) + lvl_pos

    def forward_scale(self, label_N: torch.Tensor, x_NlC: torch.Tensor, past: Optional[List[KV]]):
        """One stage of cached inference: logits (N, l, V) for this scale's tokens and the grown KV cache."""
        cond_BD = self.class_emb(label_N)
        cond = self.shared_ada_lin(cond_BD)
        new_past = []
        for i, blk in enumerate(self.blocks):
            x_NlC, kv = blk(x_NlC, cond, None, past[i] if past is not None else None)
            new_past.append(kv)
        return self.get_logits(x_NlC, cond_BD), new_past
