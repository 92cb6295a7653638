"""Model configurations: the official VAR/VQVAE family and the small members of it we train ourselves.

Every number of the official presets is from docs/var-model.md#configurations-and-scales; the builder rules (C = 64·depth,
heads = depth, FFN 4C, norm eps 1e-6) are the official `build_vae_var` rules.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Sequence, Tuple

PATCH_NUMS_256: Tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
PATCH_NUMS_512: Tuple[int, ...] = (1, 2, 3, 4, 6, 9, 13, 18, 24, 32)


@dataclass(frozen=True)
class VQVAEConfig:
    vocab_size: int = 4096            # V
    z_channels: int = 32              # Cvae
    ch: int = 160
    ch_mult: Tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    beta: float = 0.25
    quant_conv_ks: int = 3
    quant_resi: float = 0.5
    share_quant_resi: int = 4
    patch_nums: Tuple[int, ...] = PATCH_NUMS_256
    using_sa: bool = True
    using_mid_sa: bool = True

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    @property
    def resolution(self) -> int:
        return self.patch_nums[-1] * self.downsample

    def replace(self, **kw) -> "VQVAEConfig":
        d = asdict(self)
        d.update(kw)
        return VQVAEConfig(**_tuples(d))


@dataclass(frozen=True)
class VARConfig:
    depth: int = 16
    embed_dim: int = 1024             # C (= D, the condition width)
    num_heads: int = 16
    num_classes: int = 1000
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6
    shared_aln: bool = False
    attn_l2_norm: bool = True
    cond_drop_rate: float = 0.1
    drop_path_rate: float = 0.0
    patch_nums: Tuple[int, ...] = PATCH_NUMS_256
    vocab_size: int = 4096
    z_channels: int = 32

    @staticmethod
    def official(depth: int, patch_nums: Sequence[int] = PATCH_NUMS_256, shared_aln: bool = False,
                 num_classes: int = 1000, vocab_size: int = 4096, z_channels: int = 32) -> "VARConfig":
        """The official `build_vae_var` rule: width 64·depth, one head per 64 channels, dpr 0.1·depth/24."""
        return VARConfig(depth=depth, embed_dim=64 * depth, num_heads=depth, num_classes=num_classes,
                         shared_aln=shared_aln, drop_path_rate=0.1 * depth / 24, patch_nums=tuple(patch_nums),
                         vocab_size=vocab_size, z_channels=z_channels)

    @property
    def L(self) -> int:
        return sum(p * p for p in self.patch_nums)

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    def replace(self, **kw) -> "VARConfig":
        d = asdict(self)
        d.update(kw)
        return VARConfig(**_tuples(d))


def _tuples(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


OFFICIAL_VAE = VQVAEConfig()
OFFICIAL_VAR = {
    16: VARConfig.official(16),
    20: VARConfig.official(20),
    24: VARConfig.official(24),
    30: VARConfig.official(30),
    36: VARConfig.official(36, PATCH_NUMS_512, shared_aln=True),
}


def phi_index_table(patch_nums: Sequence[int], share_quant_resi: int = 4) -> list:
    """Which φ conv serves each scale (docs/var-model.md#multi-scale-quantizer).

    The official code picks argmin |ticks − si/(SN−1)| in float64 numpy; for the official 10-scale sets
    two scales are exact ties that float64 breaks one way and float32 the other, so those are hard-coded.
    """
    import numpy as np

    sn = len(patch_nums)
    if tuple(patch_nums) in (PATCH_NUMS_256, PATCH_NUMS_512) and share_quant_resi == 4:
        return [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]
    if share_quant_resi == 0:
        return list(range(sn))
    if share_quant_resi == 1:
        return [0] * sn
    k = share_quant_resi
    ticks = np.linspace(1 / 3 / k, 1 - 1 / 3 / k, k) if k == 4 else np.linspace(1 / 2 / k, 1 - 1 / 2 / k, k)
    return [int(np.argmin(np.abs(ticks - (si / (sn - 1) if sn > 1 else 0.0)))) for si in range(sn)]


def config_to_json(cfg) -> dict:
    return json.loads(json.dumps(asdict(cfg)))


def vae_config_from_json(d: dict) -> VQVAEConfig:
    return VQVAEConfig(**_tuples(dict(d)))


def var_config_from_json(d: dict) -> VARConfig:
    return VARConfig(**_tuples(dict(d)))
