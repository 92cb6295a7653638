"""Generation with the VAR reference: the studio sampler (docs/sampling.md) and the official torch sampler
(docs/var-model.md#sampling).

* `sampler='studio'`: per-image xoshiro128** streams (var_ref.rng), every step of CFG / top-k / top-p / draw /
  Gumbel smoothing in float64 on the host, in the exact arithmetic order of docs/sampling.md so that the
  TypeScript engine reproduces the same tokens (tests/fixtures/tiny/sampling.json, generation_seeded.json).
* `sampler='torch'`: the official `autoregressive_infer_cfg` path (models/var.py, docs/var-model.md#sampling): float32 CFG mix,
  in-place top-k/top-p, `torch.multinomial` and Gumbel noise from one CPU `torch.Generator` seeded with `seed`.

Both support resume-from-scale (`prefix`: the token maps of the first k scales are kept) and zero-shot editing
(`edit`: ground-truth tokens + a keep mask, docs/var-model.md#zero-shot-editing). Kept positions replace the scale's embedding
by the ground-truth code embedding; the recorded tokens are the effective ones (ground truth where kept).
Draws happen for every token, kept or not, so the random stream does not depend on the mask.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from .rng import Xoshiro128, image_stream


class SamplingError(ValueError):
    """Invalid generation settings; the message names the setting."""


# ----------------------------------------------------------------------------------------------------------
# studio sampler: small float64 steps on (l, V) arrays (docs/sampling.md "Per token")
# ----------------------------------------------------------------------------------------------------------
def guidance_ratio(si: int, num_scales: int) -> float:
    return si / (num_scales - 1) if num_scales > 1 else 0.0


def cfg_mix(cond_lV: np.ndarray, uncond_lV: np.ndarray, si: int, num_scales: int, cfg: float) -> np.ndarray:
    """x = (1 + t)·a − t·b with t = cfg·k/(K−1), float64."""
    t = cfg * guidance_ratio(si, num_scales)
    return (1 + t) * cond_lV.astype(np.float64) - t * uncond_lV.astype(np.float64)


def top_k_filter(x_lV: np.ndarray, k: int) -> np.ndarray:
    """−∞ where x < the k-th largest value of the row (ties with it all stay); no-op unless 0 < k < V."""
    V = x_lV.shape[-1]
    if not 0 < k < V:
        return x_lV
    kth = np.sort(x_lV, axis=-1)[:, V - k:V - k + 1]
    return np.where(x_lV < kth, -np.inf, x_lV)


def _seq_cumsum(a: np.ndarray) -> np.ndarray:
    # numpy's cumsum adds strictly left to right (unlike np.sum, which is pairwise): the engine's loop order
    return np.cumsum(a, axis=-1)


def top_p_filter(x_lV: np.ndarray, p: float) -> np.ndarray:
    """Nucleus filter in the stable (x_v, v) ascending order; no-op unless 0 < p < 1.

    e_i = exp(x_i − max) in that order, Z = running sum of e (left to right), q_i = e_i / Z, c_i = running sum
    of q; remove where c_i ≤ 1 − p, except the last (largest) token.
    """
    if not 0 < p < 1:
        return x_lV
    out = x_lV.copy()
    V = x_lV.shape[-1]
    threshold = 1 - p
    for row in range(x_lV.shape[0]):
        order = np.lexsort((np.arange(V), x_lV[row]))       # primary key x, then index
        xs = x_lV[row, order]
        e = np.exp(xs - xs[-1])
        q = e / _seq_cumsum(e)[-1]
        remove = _seq_cumsum(q) <= threshold
        remove[-1] = False
        out[row, order[remove]] = -np.inf
    return out


def draw_tokens(x_lV: np.ndarray, u_l: Sequence[float]) -> np.ndarray:
    """Inverse-CDF draw: smallest v with Σ_{j≤v} e_j > u·S (running sums left to right), e = exp(x − max)."""
    out = np.empty(x_lV.shape[0], dtype=np.int64)
    for row in range(x_lV.shape[0]):
        e = np.exp(x_lV[row] - x_lV[row].max())
        cum = _seq_cumsum(e)
        hit = np.nonzero(cum > u_l[row] * cum[-1])[0]
        out[row] = hit[0] if len(hit) else np.nonzero(e > 0)[0][-1]
    return out


def gumbel_soft_embedding(x_lV: np.ndarray, u_lV: np.ndarray, si: int, num_scales: int,
                          codebook_VC: np.ndarray) -> np.ndarray:
    """more-smooth (docs/var-model.md#sampling): y = softmax((x·(1+r) + g)/τ), g = −log(−log1p(−u)); returns y·codebook (l, Cvae) f32."""
    r = guidance_ratio(si, num_scales)
    tau = max(0.27 * (1 - 0.95 * r), 0.005)
    g = -np.log(-np.log1p(-u_lV))
    z = (x_lV * (1 + r) + g) / tau
    y = np.exp(z - z.max(axis=-1, keepdims=True))
    y = y / _seq_cumsum(y)[:, -1:]
    return (y @ codebook_VC.astype(np.float64)).astype(np.float32)


@dataclass
class ScaleDraw:
    tokens: np.ndarray                      # (l,) int64
    uniforms: List[float]                   # the l token uniforms
    filtered: np.ndarray                    # (l, V) float64 logits after CFG, top-k, top-p
    gumbel_uniforms: Optional[np.ndarray] = None   # (l, V) with more-smooth
    soft_embedding: Optional[np.ndarray] = None    # (l, Cvae) float32 with more-smooth


def sample_scale_studio(cond_lV: np.ndarray, uncond_lV: np.ndarray, si: int, num_scales: int, cfg: float,
                        top_k: int, top_p: float, more_smooth: bool, rng: Xoshiro128,
                        codebook_VC: Optional[np.ndarray] = None) -> ScaleDraw:
    """One image, one scale of the studio sampler; consumes l (+ l·V with more-smooth) uniforms from rng."""
    l, V = cond_lV.shape
    x = top_p_filter(top_k_filter(cfg_mix(cond_lV, uncond_lV, si, num_scales, cfg), top_k), top_p)
    u = rng.uniforms(l)
    draw = ScaleDraw(tokens=draw_tokens(x, u), uniforms=u, filtered=x)
    if more_smooth:
        if codebook_VC is None:
            raise SamplingError('more_smooth needs the codebook')
        gu = np.array(rng.uniforms(l * V), dtype=np.float64).reshape(l, V)
        draw.gumbel_uniforms = gu
        draw.soft_embedding = gumbel_soft_embedding(x, gu, si, num_scales, codebook_VC)
    return draw


# ----------------------------------------------------------------------------------------------------------
# official torch sampler (models/var.py + models/helpers.py semantics), float32, in place
# ----------------------------------------------------------------------------------------------------------
def official_filter_(logits_BlV: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """The official top-k then top-p masking, in place (−inf), float32."""
    V = logits_BlV.shape[-1]
    if top_k > 0:
        kth = logits_BlV.topk(top_k, largest=True, sorted=False, dim=-1)[0].amin(dim=-1, keepdim=True)
        logits_BlV.masked_fill_(logits_BlV < kth, -torch.inf)
    if top_p > 0:
        sorted_logits, sorted_idx = logits_BlV.sort(dim=-1, descending=False)
        remove_sorted = sorted_logits.softmax(dim=-1).cumsum_(dim=-1) <= (1 - top_p)
        remove_sorted[..., -1:] = False
        logits_BlV.masked_fill_(remove_sorted.scatter(sorted_idx.ndim - 1, sorted_idx, remove_sorted), -torch.inf)
    return logits_BlV


def official_sample_(logits_BlV: torch.Tensor, top_k: int, top_p: float, rng: torch.Generator) -> torch.Tensor:
    B, l, V = logits_BlV.shape
    official_filter_(logits_BlV, top_k, top_p)
    return torch.multinomial(logits_BlV.softmax(dim=-1).view(-1, V), num_samples=1, replacement=True,
                             generator=rng).view(B, l)


def official_gumbel_soft(logits_BlV: torch.Tensor, tau: float, rng: torch.Generator) -> torch.Tensor:
    gumbels = -torch.empty_like(logits_BlV).exponential_(generator=rng).log()
    return ((logits_BlV + gumbels) / tau).softmax(dim=-1)


# ----------------------------------------------------------------------------------------------------------
# editing masks (docs/sampling.md, Editing masks)
# ----------------------------------------------------------------------------------------------------------
def box_keep_mask(patch_nums: Sequence[int], y0: float, x0: float, y1: float, x1: float,
                  inpainting: bool = True) -> torch.Tensor:
    """The official demo's mask on the finest token grid (p_K × p_K): the box [round(y0·p):round(y1·p)] ×
    [round(x0·p):round(x1·p)] is 1; in-painting inverts it (1 = keep the ground truth outside the box)."""
    p = patch_nums[-1]
    m = torch.zeros(p, p)
    m[round(y0 * p):round(y1 * p), round(x0 * p):round(x1 * p)] = 1
    return 1 - m if inpainting else m


def bilinear_taps(out_size: int, in_size: int):
    """PyTorch bilinear taps (align_corners=False): src = ((2i+1)·in − out) / (2·out), clamped at 0 — computed
    from integers with one float64 division so that half-way points are exactly 0.5."""
    i0, i1, w = [], [], []
    for i in range(out_size):
        src = max(((2 * i + 1) * in_size - out_size) / (2 * out_size), 0.0)
        lo = int(math.floor(src))
        i0.append(lo)
        i1.append(min(lo + 1, in_size - 1))
        w.append(src - lo)
    return np.array(i0), np.array(i1), np.array(w, dtype=np.float64)


def bilinear_resize64(m_hw: np.ndarray, size: int) -> np.ndarray:
    """(1−wy)·[(1−wx)·m00 + wx·m01] + wy·[(1−wx)·m10 + wx·m11] in float64 (the engine: same order, float32)."""
    y0, y1, wy = bilinear_taps(size, m_hw.shape[0])
    x0, x1, wx = bilinear_taps(size, m_hw.shape[1])
    wy, wx = wy[:, None], wx[None, :]
    m = m_hw.astype(np.float64)
    top = (1 - wx) * m[np.ix_(y0, x0)] + wx * m[np.ix_(y0, x1)]
    bot = (1 - wx) * m[np.ix_(y1, x0)] + wx * m[np.ix_(y1, x1)]
    return (1 - wy) * top + wy * bot


def edit_keep_masks(mask: torch.Tensor, patch_nums: Sequence[int], batch: int) -> List[torch.Tensor]:
    """Per-scale keep masks (B, p²) bool (docs/sampling.md): bilinear resize (align_corners=False) of the keep
    mask to p×p, > 0.5; scales with p² ≤ 3 tokens are kept entirely. `mask`: (h, w) or (B, h, w), 1 = keep.

    Computed in float64 with exact half-way weights, so a cell exactly half inside the box is *not* kept: this is
    the rule of docs/sampling.md. The engine evaluates it in float32 arithmetic, which gives the same masks on
    every 0/1 mask of the official and shipped grids (tests/unit/engine/edit.test.ts). torch's own interpolate
    is not what is matched: its ties fall either way with rounding (torch 1.13 CPU keeps some: 287 instead of
    255 kept tokens at p = 24 for the demo box at 512 px).
    """
    m = torch.as_tensor(mask).double()
    if m.dim() == 2:
        m = m.unsqueeze(0).expand(batch, -1, -1)
    if m.dim() != 3 or m.shape[0] != batch:
        raise SamplingError(f'edit mask must be (h, w) or ({batch}, h, w), got {tuple(mask.shape)}')
    out = []
    for p in patch_nums:
        k = np.stack([bilinear_resize64(m[b].numpy(), p) > 0.5 for b in range(batch)])
        if p * p <= 3:
            k[:] = True
        out.append(torch.from_numpy(k.reshape(batch, p * p)))
    return out


# ----------------------------------------------------------------------------------------------------------
# generation
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Generation:
    labels: torch.Tensor                     # (B,) int64; num_classes = unconditional
    tokens: List[torch.Tensor]               # per scale (B, p²) int64, effective tokens
    f_hats: List[torch.Tensor]               # per scale (B, Cvae, h, w): f̂ after that scale
    h_scales: List[torch.Tensor]             # per scale (B, Cvae, p, p): the embedding added at that scale
    image: torch.Tensor                      # (B, 3, R, R) in [0, 1]
    logits: List[torch.Tensor] = field(default_factory=list)   # per scale (2B, p², V) raw transformer logits
    draws: List[List[ScaleDraw]] = field(default_factory=list)  # studio: per scale, per image
    label_uniforms: List[Optional[float]] = field(default_factory=list)  # studio: the class draw per image


def _labels(var, labels, batch: Optional[int]) -> Optional[torch.Tensor]:
    nc = var.num_classes
    if labels is None:
        return None
    if isinstance(labels, int):
        return torch.full((batch or 1,), nc if labels < 0 else labels, dtype=torch.int64)
    t = torch.as_tensor(labels, dtype=torch.int64).reshape(-1)
    t = torch.where(t < 0, torch.full_like(t, nc), t)
    if (t > nc).any():
        raise SamplingError(f'labels must be < {nc} (or {nc} / negative for unconditional), got {t.tolist()}')
    if batch is not None and t.numel() != batch:
        raise SamplingError(f'{t.numel()} labels given for batch {batch}')
    return t


@torch.no_grad()
def generate(vae, var, labels: Union[None, int, Sequence[int], torch.Tensor] = None, cfg: float = 1.5,
             top_k: int = 0, top_p: float = 0.0, more_smooth: bool = False, seed: int = 0,
             sampler: str = 'studio', prefix: Optional[Sequence[torch.Tensor]] = None,
             edit: Optional[dict] = None, batch: Optional[int] = None) -> Generation:
    """Class-conditional generation with CFG (2B rows: labels, then the null class), scale by scale with the KV cache.

    labels: None (random classes; then `batch` images, default 1), an int (broadcast; negative = unconditional)
    or a sequence. prefix: token maps (B, p²) of scales 0..k−1 to keep (resume from scale k). edit:
    {'tokens': per-scale (B, p²) ground-truth token maps, 'mask': (h, w) or (B, h, w) keep mask in [0, 1]}.
    """
    if sampler not in ('studio', 'torch'):
        raise SamplingError(f"sampler must be 'studio' or 'torch', got {sampler!r}")
    if not 0 <= seed < 2 ** 32:
        raise SamplingError(f'seed must be in [0, 2^32), got {seed}')
    if top_k < 0 or not 0 <= top_p <= 1:
        raise SamplingError(f'top_k must be ≥ 0 and top_p in [0, 1], got {top_k}, {top_p}')
    vae.eval()
    var.eval()
    pn = var.patch_nums
    K, V, C, nc = len(pn), var.V, var.Cvae, var.num_classes
    lab = _labels(var, labels, batch)
    B = lab.numel() if lab is not None else (batch or 1)
    codebook = vae.quantize.embedding.weight
    codebook_np = codebook.detach().numpy()

    streams = [image_stream(seed, b) for b in range(B)] if sampler == 'studio' else None
    rng = torch.Generator().manual_seed(seed) if sampler == 'torch' else None
    label_u: List[Optional[float]] = [None] * B
    if lab is None:
        if sampler == 'studio':
            label_u = [s.uniform() for s in streams]
            lab = torch.tensor([min(int(math.floor(u * nc)), nc - 1) for u in label_u], dtype=torch.int64)
        else:
            lab = torch.multinomial(torch.full((nc,), 1.0 / nc), num_samples=B, replacement=True, generator=rng)

    keep: List[Optional[torch.Tensor]] = [None] * K
    gt: List[Optional[torch.Tensor]] = [None] * K
    if edit is not None:
        masks = edit_keep_masks(edit['mask'], pn, B)
        for si in range(K):
            gt[si] = torch.as_tensor(edit['tokens'][si], dtype=torch.int64).reshape(B, pn[si] ** 2)
            keep[si] = masks[si]
    for si, toks in enumerate(prefix or []):
        gt[si] = torch.as_tensor(toks, dtype=torch.int64).reshape(B, pn[si] ** 2)
        keep[si] = torch.ones(B, pn[si] ** 2, dtype=torch.bool)

    labels_N = torch.cat([lab, torch.full_like(lab, nc)])
    f_hat = torch.zeros(B, C, pn[-1], pn[-1])
    past, next_in = None, None
    out = Generation(labels=lab, tokens=[], f_hats=[], h_scales=[], image=torch.empty(0), label_uniforms=label_u)
    for si, p in enumerate(pn):
        x = var.scale_input(si, labels_N, next_in)
        logits_NlV, past = var.forward_scale(labels_N, x, past)
        out.logits.append(logits_NlV.clone())
        ratio = guidance_ratio(si, K)
        if sampler == 'studio':
            draws = [sample_scale_studio(logits_NlV[b].numpy(), logits_NlV[B + b].numpy(), si, K, cfg, top_k, top_p,
                                         more_smooth, streams[b], codebook_np) for b in range(B)]
            out.draws.append(draws)
            idx_Bl = torch.from_numpy(np.stack([d.tokens for d in draws]))
            if more_smooth:
                h_BlC = torch.from_numpy(np.stack([d.soft_embedding for d in draws]))
            else:
                h_BlC = codebook[idx_Bl]
        else:
            t = cfg * ratio
            mixed = (1 + t) * logits_NlV[:B] - t * logits_NlV[B:]
            idx_Bl = official_sample_(mixed, top_k, top_p, rng)      # masks `mixed` in place, as the official code
            if more_smooth:
                tau = max(0.27 * (1 - ratio * 0.95), 0.005)
                h_BlC = official_gumbel_soft(mixed.mul(1 + ratio), tau, rng) @ codebook.unsqueeze(0)
            else:
                h_BlC = codebook[idx_Bl]
        if keep[si] is not None:
            idx_Bl = torch.where(keep[si], gt[si], idx_Bl)
            h_BlC = torch.where(keep[si].unsqueeze(-1), codebook[gt[si]], h_BlC)
        h_BChw = h_BlC.transpose(1, 2).reshape(B, C, p, p)
        f_hat, nxt = vae.quantize.get_next_autoregressive_input(si, f_hat, h_BChw)
        out.tokens.append(idx_Bl)
        out.h_scales.append(h_BChw.clone())
        out.f_hats.append(f_hat.clone())
        if si != K - 1:
            next_in = nxt.reshape(B, C, -1).transpose(1, 2).repeat(2, 1, 1)
    out.image = (vae.fhat_to_img(f_hat) + 1) / 2
    return out
