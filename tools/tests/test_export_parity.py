"""Every exported graph vs PyTorch through onnxruntime-node: max relative error ≤ 1e-4 in float32.

Relative error = max|onnx − torch| / max|torch| over the tensor. Two random-weight configs: the committed tiny
one, and a wider one that exercises what the tiny one lacks (channel-changing ResBlocks with nin_shortcut,
2 res blocks per level, shared AdaLN, 6 scales with non-dividing area ratios). Each check asserts where it
measures; the worst error per graph output of a bundle is printed when its tests are done (pytest -s).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from export.graphs import TransformerStepGraph
from export.ort import FromRun, ort_available, run_ort
from export.tiny import TINY_CLASSES, TINY_VAE, TINY_VAR, tiny_models
from export_bundle import write_bundle
from var_ref.config import PATCH_NUMS_256, PATCH_NUMS_512, phi_index_table
from var_ref.resample import area_matrix

pytestmark = pytest.mark.skipif(not ort_available(), reason='node_modules/onnxruntime-node is missing (npm install)')

TOL = 1e-4
WIDE_VAE = TINY_VAE.replace(ch_mult=(1, 2, 2), num_res_blocks=2, vocab_size=96, z_channels=16,
                            patch_nums=(1, 2, 3, 5, 6, 8))
WIDE_VAR = TINY_VAR.replace(depth=3, embed_dim=96, num_heads=3, shared_aln=True, vocab_size=96, z_channels=16,
                            patch_nums=(1, 2, 3, 5, 6, 8), num_classes=7)
# the official 10-scale 256 set (φ index [0,0,1,1,1,2,2,3,3,3], area 16→13/10/6/5/3) on a 2× VQVAE
PN256_VAE = TINY_VAE.replace(ch_mult=(1, 1), vocab_size=128, patch_nums=PATCH_NUMS_256)
PN256_VAR = TINY_VAR.replace(vocab_size=128, patch_nums=PATCH_NUMS_256)
SAMPLING = {'cfg': 2.0, 'topK': 8, 'topP': 0.9, 'moreSmooth': False}


def note(worst: dict, what: str, err: float) -> float:
    """Record err as a candidate for the bundle's worst error of output `what`; returns err for the assert."""
    worst[what] = max(worst.get(what, 0.0), err)
    return err


def rel_err(got: np.ndarray, ref: torch.Tensor) -> float:
    ref = ref.detach().numpy()
    assert got.shape == ref.shape, (got.shape, ref.shape)
    return float(np.abs(got.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-12))


@pytest.fixture(scope='module', params=['tiny', 'wide', 'pn256'])
def bundle(request, tmp_path_factory):
    torch.set_num_threads(1)
    if request.param == 'tiny':
        vae, var = tiny_models(seed=7)
        classes = TINY_CLASSES
    elif request.param == 'wide':
        vae, var = tiny_models(seed=8, vae_cfg=WIDE_VAE, var_cfg=WIDE_VAR)
        classes = [f'c{i}' for i in range(7)]
    else:
        vae, var = tiny_models(seed=9, vae_cfg=PN256_VAE, var_cfg=PN256_VAR)
        classes = TINY_CLASSES
        assert vae.quantize.phi_index == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]
    out = str(tmp_path_factory.mktemp(f'bundle_{request.param}'))
    manifest = write_bundle(vae, var, out, name=request.param, title=request.param, description='parity test',
                            classes=classes, sampling=SAMPLING, preview_samples=4)
    worst = {}
    yield vae, var, out, manifest, worst
    for what, err in sorted(worst.items()):
        print(f'{request.param:6s} {what:40s} {err:.2e}')


def test_phi_index_official_sets():
    assert phi_index_table(PATCH_NUMS_256, 4) == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]
    assert phi_index_table(PATCH_NUMS_512, 4) == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]


@torch.no_grad()
def test_transformer_cached_matches_masked_forward_and_onnx(bundle):
    vae, var, out, manifest, worst = bundle
    g = torch.Generator().manual_seed(11)
    pn = var.patch_nums
    B = 2
    labels_B = torch.tensor([1, var.num_classes - 1])
    idx = [torch.randint(0, var.V, (B, p * p), generator=g) for p in pn]
    x_in = vae.quantize.idxBl_to_var_input(idx)                          # (B, L−1, Cvae)
    labels_N = torch.cat([labels_B, torch.full((B,), var.num_classes)])  # CFG doubling: null class second half
    x_in_N = torch.cat([x_in, x_in])
    full = var(labels_N, x_in_N, cond_drop=False)                        # block-causal masked forward (N, L, V)

    step = TransformerStepGraph(var)
    past = [torch.zeros(2 * B, var.cfg.num_heads, 0, var.cfg.head_dim) for _ in range(2 * var.depth)]
    runs, torch_steps = [], []
    model = os.path.join(out, 'transformer.onnx')
    for si, (bg, ed) in enumerate(var.begin_ends):
        tok = torch.zeros(2 * B, 1, var.Cvae) if si == 0 else x_in_N[:, bg - 1:ed - 1]
        outs = step(labels_N, tok, torch.tensor([bg]), *past)
        torch_steps.append(outs)
        # official per-scale API gives the same logits
        ref_logits, _ = var.forward_scale(labels_N, var.scale_input(si, labels_N, tok if si else None),
                                          [(past[2 * i], past[2 * i + 1]) for i in range(var.depth)] if si else None)
        assert rel_err(outs[0].numpy(), ref_logits) < 1e-6
        assert note(worst, 'torch cached vs masked logits', rel_err(outs[0].numpy(), full[:, bg:ed])) <= TOL, \
            f'cached vs masked forward at scale {si}'
        feeds = {'labels': labels_N.numpy(), 'token_input': tok.numpy(), 'begin': np.array([bg], dtype=np.int64)}
        for i in range(var.depth):
            for kind, j in (('key', 2 * i), ('value', 2 * i + 1)):
                feeds[f'past_{kind}_{i}'] = (past[j].numpy() if si == 0 else FromRun(si - 1, f'present_{kind}_{i}'))
        runs.append((model, feeds))
        past = list(outs[1:])
    ort_out = run_ort(runs)
    for si, (o, t) in enumerate(zip(ort_out, torch_steps)):
        e = note(worst, 'transformer logits', rel_err(o['logits'], t[0]))
        assert e <= TOL, f'scale {si}: logits rel err {e:.2e}'
        for i in range(var.depth):
            assert note(worst, 'transformer present_key', rel_err(o[f'present_key_{i}'], t[1 + 2 * i])) <= TOL
            assert note(worst, 'transformer present_value', rel_err(o[f'present_value_{i}'], t[2 + 2 * i])) <= TOL
        # chained ONNX logits vs the masked full forward too
        bg, ed = var.begin_ends[si]
        assert note(worst, 'onnx cached vs torch masked logits', rel_err(o['logits'], full[:, bg:ed])) <= TOL


@torch.no_grad()
def test_fhat_step_matches_quantizer(bundle):
    vae, var, out, manifest, worst = bundle
    q = vae.quantize
    pn = q.patch_nums
    h = pn[-1]
    g = torch.Generator().manual_seed(12)
    runs, refs = [], []
    for si, p in enumerate(pn):
        f_hat = torch.randn(3, q.Cvae, h, h, generator=g)
        h_scale = torch.randn(3, q.Cvae, p, p, generator=g)
        nxt_size = pn[si + 1] if si + 1 < len(pn) else h
        A = area_matrix(nxt_size, h).astype(np.float32)
        refs.append(q.get_next_autoregressive_input(si, f_hat, h_scale))
        runs.append((os.path.join(out, 'fhat_step.onnx'),
                     {'f_hat': f_hat.numpy(), 'h_scale': h_scale.numpy(),
                      'phi_index': np.array([manifest['phiIndex'][si]], dtype=np.int64), 'area_matrix': A}))
    for si, (o, (f_next, nxt)) in enumerate(zip(run_ort(runs), refs)):
        assert note(worst, 'fhat_step f_hat_next', rel_err(o['f_hat_next'], f_next)) <= TOL, f'scale {si}'
        B, C = nxt.shape[:2]
        assert note(worst, 'fhat_step next_input',
                    rel_err(o['next_input'], nxt.reshape(B, C, -1).transpose(1, 2))) <= TOL, f'scale {si}'


@torch.no_grad()
def test_encoder_decoder_preview(bundle):
    vae, var, out, manifest, worst = bundle
    R = vae.cfg.resolution
    g = torch.Generator().manual_seed(13)
    img = torch.rand(3, 3, R, R, generator=g)
    f_hat = vae.quantize.embed_to_fhat([torch.randint(0, vae.cfg.vocab_size, (3, p * p), generator=g)
                                        for p in vae.cfg.patch_nums])[-1]
    enc, dec, prev = run_ort([(os.path.join(out, 'encoder.onnx'), {'image': img.numpy()}),
                              (os.path.join(out, 'decoder.onnx'), {'f_hat': f_hat.numpy()}),
                              (os.path.join(out, 'preview.onnx'), {'f_hat': f_hat.numpy()})])
    tokens = torch.cat(vae.img_to_idxBl(img * 2 - 1), dim=1)
    assert enc['tokens'].dtype == np.int64
    np.testing.assert_array_equal(enc['tokens'], tokens.numpy())
    assert note(worst, 'encoder f', rel_err(enc['f'], vae.img_to_f(img * 2 - 1))) <= TOL
    assert note(worst, 'decoder image', rel_err(dec['image'], (vae.fhat_to_img(f_hat) + 1) / 2)) <= TOL
    from export.graphs import PreviewGraph
    import onnx
    from onnx import numpy_helper
    m = onnx.load(os.path.join(out, 'preview.onnx'))  # loads external data relative to the file
    w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    ref_prev = PreviewGraph(w['preview.weight'], w['preview.bias'], vae.cfg.downsample)(f_hat)
    assert note(worst, 'preview image', rel_err(prev['image'], ref_prev)) <= TOL
    assert prev['image'].min() >= 0 and prev['image'].max() <= 1
    assert manifest['preview']['costRatio'] < 0.05

