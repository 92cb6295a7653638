"""Random-weight checkpoints in the official layout, for tests (no official weights can be downloaded here).

They are written exactly the way the released files are: `torch.save(model.state_dict(), path)`, a plain
dict of tensors (docs/var-model.md#checkpoint-keys-and-shapes; the demo loads them with `torch.load(...)` + `strict=True`).
The full-size d16 + official VQVAE pair is written once per pytest process and shared by the tests that
need it (layout, converter), because writing 1.7 GB twice would cost ~20 s.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from checkpoints import _skip_init
from var_ref.config import OFFICIAL_VAE, OFFICIAL_VAR, VARConfig, VQVAEConfig
from var_ref.var import VAR
from var_ref.vqvae import VQVAE


def random_fill_(module: nn.Module, seed: int, std: float = 0.02) -> nn.Module:
    """Overwrite every parameter with seeded N(0, std²) values (buffers keep their deterministic values)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return module


@dataclass
class OfficialFiles:
    var_path: str
    vae_path: str
    var_cfg: VARConfig
    vae_cfg: VQVAEConfig


def write_official_pair(out_dir: str, var_cfg: VARConfig, vae_cfg: VQVAEConfig, seed: int = 0,
                        var_name: Optional[str] = None, vae_name: str = 'vae.pth') -> OfficialFiles:
    """Write a random-weight VAR + VQVAE pair the way the official .pth files are written."""
    os.makedirs(out_dir, exist_ok=True)
    with _skip_init():
        var = random_fill_(VAR(var_cfg), seed)
        vae = random_fill_(VQVAE(vae_cfg), seed + 1)
    # A real codebook has distinct entries of O(1) norm; N(0, 1) keeps nearest-code search meaningful.
    with torch.no_grad():
        vae.quantize.embedding.weight.normal_(generator=torch.Generator().manual_seed(seed + 2))
    var_path = os.path.join(out_dir, var_name or f'var_d{var_cfg.depth}.pth')
    vae_path = os.path.join(out_dir, vae_name)
    torch.save(var.state_dict(), var_path)
    torch.save(vae.state_dict(), vae_path)
    return OfficialFiles(var_path, vae_path, var_cfg, vae_cfg)


_D16: Optional[OfficialFiles] = None


def official_d16_files() -> OfficialFiles:
    """var_d16.pth + vae_ch160v4096z32.pth with random weights at full size, written once per process."""
    global _D16
    if _D16 is None:
        tmp = tempfile.mkdtemp(prefix='var-official-d16-')
        atexit.register(shutil.rmtree, tmp, True)
        _D16 = write_official_pair(tmp, OFFICIAL_VAR[16], OFFICIAL_VAE, seed=16,
                                   var_name='var_d16.pth', vae_name='vae_ch160v4096z32.pth')
    return _D16
