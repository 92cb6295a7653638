"""The studio sampler and its generator (docs/sampling.md) and the official torch sampler path
(docs/var-model.md, Sampling and Zero-shot editing)."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch

from export.tiny import tiny_models
from var_ref.config import PATCH_NUMS_512
from var_ref.rng import Xoshiro128, image_stream, splitmix32_state
from var_ref.sampler import (box_keep_mask, cfg_mix, draw_tokens, edit_keep_masks, generate, official_filter_,
                             sample_scale_studio, top_k_filter, top_p_filter)

JS_XOSHIRO = r"""
function stream(seed) {
  let x = seed >>> 0; const s = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9E3779B9) >>> 0; let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x21F0AAAD) >>> 0;
    z = Math.imul(z ^ (z >>> 15), 0x735A2D97) >>> 0;
    s.push((z ^ (z >>> 15)) >>> 0);
  }
  const rotl = (v, k) => ((v << k) | (v >>> (32 - k))) >>> 0;
  const next = () => {
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0; const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0; s[3] = (s[3] ^ s[1]) >>> 0; s[1] = (s[1] ^ s[2]) >>> 0; s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0; s[3] = rotl(s[3], 11); return r;
  };
  const u = () => { const a = next() >>> 5, b = next() >>> 6; return (a * 67108864 + b) / 9007199254740992; };
  return { next, u };
}
const out = {};
for (const seed of [0, 1, 42, 4294967295]) { const g = stream(seed); out[seed] = { u32: [1,2,3,4,5,6].map(() => g.next()), u: [1,2,3].map(() => g.u()) }; }
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which('node') is None, reason='node is not installed')
def test_rng_matches_an_independent_uint32_implementation_in_javascript():
    js = json.loads(subprocess.run(['node', '-e', JS_XOSHIRO], capture_output=True, text=True, check=True).stdout)
    for seed, ref in js.items():
        g = Xoshiro128(int(seed))
        assert [g.next_u32() for _ in range(6)] == ref['u32']
        assert g.uniforms(3) == ref['u']  # exact float64 equality


def test_rng_seeding_and_streams():
    assert splitmix32_state(0) != splitmix32_state(1)
    with pytest.raises(ValueError):
        Xoshiro128(2 ** 32)
    u = Xoshiro128(7).uniforms(20000)
    assert min(u) >= 0 and max(u) < 1 and abs(np.mean(u) - 0.5) < 0.01
    # image b of a batch is reproducible alone: stream (seed + b) mod 2^32
    assert image_stream(2 ** 32 - 1, 1).uniforms(3) == Xoshiro128(0).uniforms(3)


@pytest.mark.parametrize('top_k,top_p', [(0, 0.9), (5, 0.0), (20, 0.95), (1, 0.5), (63, 0.3), (0, 0.999)])
def test_studio_filtering_keeps_the_same_set_as_the_official_torch_filter(top_k, top_p):
    g = torch.Generator().manual_seed(top_k * 1000 + int(top_p * 1000))
    for V, scale in ((64, 3.0), (300, 1.0), (4096, 2.0)):
        logits = torch.randn(1, 12, V, generator=g) * scale
        official = official_filter_(logits.clone(), top_k, top_p)[0]
        studio = top_p_filter(top_k_filter(logits[0].numpy().astype(np.float64), top_k), top_p)
        np.testing.assert_array_equal(np.isfinite(studio), torch.isfinite(official).numpy())


def test_top_k_keeps_ties_and_cfg_ramp():
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0]])
    assert np.isfinite(top_k_filter(x, 1)).tolist() == [[False, True, True, False, True]]
    a, b = np.array([[2.0, 1.0]], np.float32), np.array([[1.0, 3.0]], np.float32)
    assert cfg_mix(a, b, 0, 4, 3.0).tolist() == a.tolist()             # no guidance at the 1×1 scale
    t = 3.0 * (2 / 3)
    assert cfg_mix(a, b, 2, 4, 3.0).tolist() == ((1 + t) * a.astype(np.float64) - t * b).tolist()


def test_draw_is_the_inverse_cdf():
    x = np.array([[np.log(0.1), -np.inf, np.log(0.6), np.log(0.3)]])
    assert draw_tokens(x, [0.0]).tolist() == [0]
    assert draw_tokens(x, [0.0999]).tolist() == [0]
    assert draw_tokens(x, [0.1001]).tolist() == [2]                 # token 1 has probability 0
    assert draw_tokens(x, [0.75]).tolist() == [3]
    assert draw_tokens(x, [1 - 2 ** -53]).tolist() == [3]
    rng = Xoshiro128(3)
    logits = np.random.default_rng(0).normal(size=(1, 8)) * 1.5
    p = np.exp(logits[0] - logits.max()); p /= p.sum()
    counts = np.bincount([draw_tokens(logits, [rng.uniform()])[0] for _ in range(20000)], minlength=8) / 20000
    assert np.abs(counts - p).max() < 0.015


def test_more_smooth_consumes_gumbel_draws_and_mixes_the_codebook():
    g = np.random.default_rng(1)
    cond, unc = g.normal(size=(4, 16)).astype(np.float32), g.normal(size=(4, 16)).astype(np.float32)
    cb = g.normal(size=(16, 3)).astype(np.float32)
    r1, r2 = Xoshiro128(9), Xoshiro128(9)
    d = sample_scale_studio(cond, unc, 1, 3, 2.0, 4, 0.0, True, r1, cb)
    assert d.gumbel_uniforms.shape == (4, 16) and d.soft_embedding.shape == (4, 3)
    r2.uniforms(4 + 64)
    assert r1.uniform() == r2.uniform()                              # 4 token + 4·16 Gumbel uniforms consumed
    # filtered-out tokens get zero weight: the soft embedding lies in the span of the kept codes only
    kept = np.isfinite(d.filtered)
    assert kept.sum(axis=1).tolist() == [4, 4, 4, 4]


@pytest.fixture(scope='module')
def tiny():
    torch.set_num_threads(1)
    return tiny_models(seed=5)


def test_greedy_generation_is_sampler_independent_and_matches_teacher_forcing(tiny):
    vae, var = tiny
    a = generate(vae, var, labels=[3, 7], cfg=2.5, top_k=1, seed=1, sampler='studio')
    b = generate(vae, var, labels=[3, 7], cfg=2.5, top_k=1, seed=99, sampler='torch')
    for ta, tb in zip(a.tokens, b.tokens):
        assert torch.equal(ta, tb)
    # the cached logits equal the masked teacher-forced forward on the generated pyramid
    x_in = vae.quantize.idxBl_to_var_input(a.tokens)
    labels_N = torch.tensor([3, 7, var.num_classes, var.num_classes])
    full = var(labels_N, torch.cat([x_in, x_in]), cond_drop=False)
    cached = torch.cat(a.logits, dim=1)
    assert (cached - full).abs().max() / full.abs().max() < 1e-4
    # f̂ after the last scale is the quantizer's accumulation of the tokens
    assert torch.allclose(a.f_hats[-1], vae.quantize.embed_to_fhat(a.tokens)[-1], atol=1e-5)


def test_seeded_generation_is_reproducible_per_image(tiny):
    vae, var = tiny
    kw = dict(cfg=2.0, top_k=20, top_p=0.9, seed=123)
    batch = generate(vae, var, labels=[1, 4], **kw)
    alone = generate(vae, var, labels=[4], **dict(kw, seed=124))   # image 1 of the batch uses seed + 1
    for tb, ta in zip(batch.tokens, alone.tokens):
        assert torch.equal(tb[1:], ta)
    again = generate(vae, var, labels=[1, 4], **kw)
    assert all(torch.equal(x, y) for x, y in zip(batch.tokens, again.tokens))


def test_random_classes_and_torch_path_are_seeded(tiny):
    vae, var = tiny
    s1 = generate(vae, var, labels=None, batch=4, top_k=10, seed=77)
    s2 = generate(vae, var, labels=None, batch=4, top_k=10, seed=77)
    assert torch.equal(s1.labels, s2.labels) and all(0 <= u < 1 for u in s1.label_uniforms)
    assert s1.labels.tolist() == [int(u * var.num_classes) for u in s1.label_uniforms]
    t1 = generate(vae, var, labels=None, batch=4, top_k=10, top_p=0.9, more_smooth=True, seed=77, sampler='torch')
    t2 = generate(vae, var, labels=None, batch=4, top_k=10, top_p=0.9, more_smooth=True, seed=77, sampler='torch')
    assert torch.equal(t1.image, t2.image)


def test_resume_from_scale_reproduces_the_original_generation(tiny):
    vae, var = tiny
    kw = dict(labels=[2, 6], cfg=3.0, top_k=24, top_p=0.95, seed=2024)
    full = generate(vae, var, **kw)
    for k in (1, 2, 3):
        resumed = generate(vae, var, prefix=full.tokens[:k], **kw)
        assert all(torch.equal(x, y) for x, y in zip(full.tokens, resumed.tokens)), f'resume from scale {k}'
        assert torch.allclose(full.image, resumed.image)


def test_edit_keeps_ground_truth_and_draws_the_same_stream(tiny):
    vae, var = tiny
    pn = var.patch_nums
    g = torch.Generator().manual_seed(4)
    gt = [torch.randint(0, var.V, (1, p * p), generator=g) for p in pn]
    mask = box_keep_mask(pn, 0.25, 0.25, 0.75, 0.75, inpainting=True)
    kw = dict(labels=[var.num_classes], cfg=1.0, top_k=0, top_p=0.0, seed=8)
    edited = generate(vae, var, edit={'tokens': gt, 'mask': mask}, **kw)
    plain = generate(vae, var, **kw)
    keeps = edit_keep_masks(mask, pn, 1)
    for si in range(len(pn)):
        assert torch.equal(edited.tokens[si][keeps[si]], gt[si][keeps[si]])
        assert [d.uniforms for d in edited.draws[si]] == [d.uniforms for d in plain.draws[si]]
    assert keeps[-1].sum() == 16 - 4                                   # a 2×2 hole in the 4×4 grid
    everything = generate(vae, var, edit={'tokens': gt, 'mask': torch.ones(4, 4)}, **kw)
    assert all(torch.equal(a, b) for a, b in zip(everything.tokens, gt))


def test_edit_masks_match_the_official_demo_counts():
    # official demo_zero_shot_edit.ipynb, run with random weights: box (0.1,0.1)-(0.8,0.8) at 512 px, in-painting → kept-GT tokens per scale
    mask = box_keep_mask(PATCH_NUMS_512, 0.1, 0.1, 0.8, 0.8, True)
    masks = edit_keep_masks(mask, PATCH_NUMS_512, 1)
    assert [int(m.sum()) for m in masks] == [1, 0, 5, 7, 20, 45, 70, 155, 255, 495]


def test_edit_masks_equal_torch_bilinear_away_from_exact_ties():
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(2, 16, 16, generator=g)                         # soft masks: no exact 0.5 ties
    for p, m in zip((1, 2, 3, 5, 7, 11, 16), edit_keep_masks(mask, (1, 2, 3, 5, 7, 11, 16), 2)):
        ref = torch.nn.functional.interpolate(mask.unsqueeze(1), size=(p, p), mode='bilinear',
                                              align_corners=False).gt(0.5).reshape(2, p * p)
        if p * p <= 3:
            ref[:] = True
        assert torch.equal(m, ref), p
