"""The two resamplers of the multi-scale quantizer, exactly as the official models/quant.py calls them
(docs/var-model.md#multi-scale-quantizer).

* `area_down`: PyTorch `mode='area'` (adaptive average pooling). ONNX has no op for non-integer ratios
  (16→13, 8→3 …), so inside an ONNX export it becomes two constant matrix products A·X·Aᵀ, which is the
  same arithmetic.
* `bicubic_up`: PyTorch `mode='bicubic'`, align_corners=False, A=−0.75, border clamp; it exports as an
  ONNX Resize(cubic, half_pixel) which matches it.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def area_matrix(out_size: int, in_size: int) -> np.ndarray:
    """(out, in) averaging matrix of adaptive average pooling: window [⌊i·In/Out⌋, ⌈(i+1)·In/Out⌉)."""
    m = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        lo = (i * in_size) // out_size
        hi = -((-(i + 1) * in_size) // out_size)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


def bicubic_matrix(out_size: int, in_size: int, a: float = -0.75) -> np.ndarray:
    """(out, in) matrix of PyTorch's bicubic upsampling (align_corners=False, border-clamped taps)."""
    def cubic(x: float) -> float:
        x = abs(x)
        if x <= 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2:
            return (((x - 5) * x + 8) * x - 4) * a
        return 0.0

    m = np.zeros((out_size, in_size), dtype=np.float64)
    scale = in_size / out_size
    for i in range(out_size):
        src = (i + 0.5) * scale - 0.5
        f = int(np.floor(src))
        t = src - f
        for tap in range(-1, 3):
            j = min(max(f + tap, 0), in_size - 1)
            m[i, j] += cubic(tap - t)
    return m


def area_down(x_BChw: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x_BChw.shape[-2:]
    if size == h and size == w:
        return x_BChw
    if torch.onnx.is_in_onnx_export():
        ah = torch.from_numpy(area_matrix(size, int(h))).to(x_BChw.dtype)
        aw = torch.from_numpy(area_matrix(size, int(w))).to(x_BChw.dtype)
        return torch.matmul(torch.matmul(ah, x_BChw), aw.t())
    return F.interpolate(x_BChw, size=(size, size), mode='area')


def bicubic_up(x_BChw: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x_BChw, size=(size, size), mode='bicubic')
