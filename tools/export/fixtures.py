"""Fixtures for the TypeScript engine from the tiny random-weight bundle (tests/fixtures/tiny/README.md).

Tensors are written as {"shape": [...], "data": [...]} (flat, row-major). float32 tensors use the shortest
decimal that identifies the float32 (parse as a double, then Math.fround gives the exact value); float64 values
(uniforms, filtered logits) use the shortest round-trip double. Token maps are nested int lists [B][p²].
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from export.graphs import PreviewGraph
from export.tiny import tiny_models
from var_ref.config import PATCH_NUMS_256, PATCH_NUMS_512
from var_ref.resample import area_matrix, bicubic_matrix
from var_ref.rng import Xoshiro128
from var_ref.sampler import box_keep_mask, edit_keep_masks, generate, sample_scale_studio


def f32(t) -> dict:
    a = np.asarray(t.detach().numpy() if isinstance(t, torch.Tensor) else t, dtype=np.float32)
    return {'shape': list(a.shape), 'data': [float(repr(v)) for v in a.reshape(-1)]}


def f64(a) -> dict:
    a = np.asarray(a, dtype=np.float64)
    return {'shape': list(a.shape), 'data': [float(v) if np.isfinite(v) else None for v in a.reshape(-1)]}


def toks(ts: List[torch.Tensor]) -> List[List[List[int]]]:
    """Per scale: [B][p²] ints."""
    return [t.tolist() for t in ts]


def load_preview(bundle_dir: str, downsample: int) -> PreviewGraph:
    m = onnx.load(os.path.join(bundle_dir, 'preview.onnx'))
    w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    return PreviewGraph(w['preview.weight'], w['preview.bias'], downsample).eval()


def test_image(R: int) -> torch.Tensor:
    """A smooth synthetic RGB image (1, 3, R, R) in [0, 1]: gradients and a disc."""
    y, x = torch.meshgrid(torch.linspace(0, 1, R), torch.linspace(0, 1, R), indexing='ij')
    disc = (((x - 0.6) ** 2 + (y - 0.4) ** 2) < 0.08).float()
    img = torch.stack([0.2 + 0.6 * x, 0.8 - 0.5 * y, 0.3 + 0.5 * disc])
    return img.unsqueeze(0).float()


def _dump(path: str, obj: dict) -> None:
    with open(path, 'w', encoding='utf-8') as fh:
        json.dump(obj, fh, separators=(',', ':'))
        fh.write('\n')


@torch.no_grad()
def build_fixtures(bundle_dir: str) -> Dict[str, dict]:
    vae, var = tiny_models(seed=0)
    pn = list(var.patch_nums)
    K, V, C, nc = len(pn), var.V, var.Cvae, var.num_classes
    h = pn[-1]
    preview = load_preview(bundle_dir, vae.cfg.downsample)
    out: Dict[str, dict] = {}
    common = {'bundle': 'bundle', 'patchNums': pn, 'vocabSize': V, 'cvae': C, 'numClasses': nc}

    # ---- rng.json: the first outputs of the generator
    seeds = []
    for seed in (0, 1, 42, 123456789, 2 ** 32 - 1):
        g = Xoshiro128(seed)
        state = list(g.s)
        u32 = [g.next_u32() for _ in range(8)]
        seeds.append({'seed': seed, 'state': state, 'u32': u32, 'uniforms': Xoshiro128(seed).uniforms(8)})
    out['rng.json'] = {'description': 'xoshiro128** seeded by splitmix32: state after seeding, first next() '
                                      'outputs, and first uniforms of a fresh generator', 'seeds': seeds}

    # ---- resample.json: area (next-scale input) and bicubic (scale → full) matrices
    def mats(p_list, full):
        return {'full': full,
                'area': {str(q): f64(area_matrix(q, full)) for q in p_list},
                'bicubic': {str(p): f64(bicubic_matrix(full, p)) for p in p_list if p != full}}
    out['resample.json'] = {'description': 'area[q] is the (q, h) matrix passed as fhat_step area_matrix for next '
                                           'scale q (identity on the last scale: area[h]); bicubic[p] is the (h, p) '
                                           'matrix of torch bicubic upsampling p → h (the fhat_step graph does '
                                           'this itself; for host-side checks)',
                            'tiny': mats(pn, h), 'official256': mats(PATCH_NUMS_256, 16),
                            'official512': mats(PATCH_NUMS_512, 32)}

    # ---- teacher_forced.json: logits of a fixed class and token pyramid, rows [class, null]
    g = torch.Generator().manual_seed(100)
    pyramid = [torch.randint(0, V, (1, p * p), generator=g) for p in pn]
    x_in = vae.quantize.idxBl_to_var_input(pyramid)
    label = 3
    logits = var(torch.tensor([label, nc]), torch.cat([x_in, x_in]), cond_drop=False)   # (2, L, V)
    per_scale = [f32(logits[:, bg:ed]) for bg, ed in var.begin_ends]
    inputs = [f32(x_in[:, bg - 1:ed - 1]) for bg, ed in var.begin_ends[1:]]
    out['teacher_forced.json'] = dict(common, description=(
        'teacher-forced transformer logits for label `label` (row 0) and the null class (row 1) on the token '
        'pyramid `tokens`; tokenInputs[k-1] is the token_input of scale k (area_down of f̂ after scale k-1, '
        'row-major); logits[k] is (2, p_k², V)'), label=label, tokens=toks(pyramid), tokenInputs=inputs,
        logits=per_scale, tolerance={'relative': 1e-4})

    # ---- greedy.json: top-k 1 generation
    gen = generate(vae, var, labels=[label], cfg=2.0, top_k=1, top_p=0.0, seed=0, sampler='studio')
    out['greedy.json'] = dict(common, description=(
        'greedy (top-k 1) generation with CFG ramp: tokens per scale, hScales (embedding added at each scale), '
        'fHats (f̂ after each scale), previews (preview graph on each f̂), final image in [0,1]'),
        label=label, cfg=2.0, topK=1, topP=0.0, moreSmooth=False, tokens=toks(gen.tokens),
        hScales=[f32(x) for x in gen.h_scales], fHats=[f32(x) for x in gen.f_hats],
        previews=[f32(preview(x)) for x in gen.f_hats], image=f32(gen.image),
        tolerance={'tokens': 'exact', 'relative': 1e-4})

    # ---- encoder.json
    img = test_image(vae.cfg.resolution)
    enc_tokens = vae.img_to_idxBl(img * 2 - 1)
    out['encoder.json'] = dict(common, description=(
        'encoder graph on `image` (1,3,R,R) in [0,1]: token maps per scale (coarse → fine, row-major) and the '
        'continuous latent f; decoded is the decoder output on f̂ of those tokens (a reconstruction)'),
        image=f32(img), tokens=toks(enc_tokens), f=f32(vae.img_to_f(img * 2 - 1)),
        decoded=f32((vae.idxBl_to_img(enc_tokens) + 1) / 2), tolerance={'tokens': 'exact', 'relative': 1e-4})

    # ---- sampling.json: one image, one scale of the studio sampler on real tiny-model logits
    codebook = vae.quantize.embedding.weight.numpy()
    cases = []
    settings = [
        ('top-k 8', 1, 1.5, 8, 0.0, False, 11), ('top-p 0.8', 2, 1.5, 0, 0.8, False, 12),
        ('top-k 16 + top-p 0.9', 3, 2.0, 16, 0.9, False, 13), ('cfg ramp scale 0 (no guidance)', 0, 4.0, 0, 0.0, False, 14),
        ('cfg ramp scale 1', 1, 4.0, 0, 0.0, False, 14), ('cfg ramp scale 3', 3, 4.0, 0, 0.0, False, 14),
        ('greedy', 2, 3.0, 1, 0.0, False, 15), ('more-smooth top-k 16 top-p 0.9', 2, 3.0, 16, 0.9, True, 16),
        ('more-smooth last scale no filter', 3, 1.0, 0, 0.0, True, 17)]
    for name, si, cfg, k, p, smooth, seed in settings:
        bg, ed = var.begin_ends[si]
        cond, unc = logits[0, bg:ed].numpy(), logits[1, bg:ed].numpy()
        rng = Xoshiro128(seed)
        d = sample_scale_studio(cond, unc, si, K, cfg, k, p, smooth, rng, codebook)
        case = {'name': name, 'scale': si, 'numScales': K, 'cfg': cfg, 'topK': k, 'topP': p, 'moreSmooth': smooth,
                'seed': seed, 'cond': f32(cond), 'uncond': f32(unc), 'uniforms': d.uniforms,
                'kept': [np.nonzero(np.isfinite(row))[0].tolist() for row in d.filtered],
                'filtered': f64(d.filtered), 'tokens': d.tokens.tolist(), 'nextUniform': rng.uniform()}
        if smooth:
            case['gumbelUniforms'] = f64(d.gumbel_uniforms)
            case['softEmbedding'] = f32(d.soft_embedding)
        cases.append(case)
    out['sampling.json'] = dict(common, description=(
        'studio sampler, one image, one scale: cond/uncond are the raw logits rows (l, V) of the teacher-forced '
        'case; a fresh generator seeded `seed` draws `uniforms` (l), then with more-smooth `gumbelUniforms` '
        '(l, V); kept = token ids left finite by top-k/top-p per row; filtered = x after CFG, top-k, top-p '
        '(null = -inf); tokens = drawn tokens; softEmbedding = (l, Cvae) Gumbel-soft mix of the bundle '
        'codebook; nextUniform = the generator\'s next uniform after the case (proves the draw count)'),
        cases=cases, tolerance={'tokens': 'exact', 'kept': 'exact', 'uniforms': 'exact', 'filtered': 1e-12,
                                'softEmbedding': 1e-5})

    # ---- edit_masks.json
    tiny_mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 1], [1, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.float32)
    soft_mask = torch.tensor([[1, .9, .7, .6], [.8, .2, .4, .9], [.6, .1, .45, .3], [1, .55, .5, 1]])
    mask_cases = [('tiny hole', pn, tiny_mask), ('tiny soft', pn, soft_mask),
                  ('official 512 demo box (0.1,0.1)-(0.8,0.8) in-painting', list(PATCH_NUMS_512),
                   box_keep_mask(PATCH_NUMS_512, 0.1, 0.1, 0.8, 0.8, True)),
                  ('official 256 box (0.2,0.3)-(0.7,0.9) out-painting', list(PATCH_NUMS_256),
                   box_keep_mask(PATCH_NUMS_256, 0.2, 0.3, 0.7, 0.9, False))]
    out['edit_masks.json'] = {'description': 'per-scale keep masks (1 = keep ground truth) from a finest-grid mask: '
                                             'bilinear (align_corners=False, float64, exact ties) > 0.5, scales with '
                                             'p² ≤ 3 all kept (docs/sampling.md "Editing masks")',
                              'cases': [{'name': n, 'patchNums': list(p), 'mask': f32(m),
                                         'keep': [k[0].int().tolist() for k in edit_keep_masks(m, p, 1)]}
                                        for n, p, m in mask_cases], 'tolerance': 'exact'}

    # ---- generation_seeded.json: full studio generations
    gens = []
    for name, kw in [
        ('two classes, top-k 16 top-p 0.9', dict(labels=[3, 7], cfg=2.0, top_k=16, top_p=0.9, seed=42)),
        ('random classes, more-smooth, top-p 0.95', dict(labels=None, batch=2, cfg=3.0, top_k=0, top_p=0.95,
                                                         more_smooth=True, seed=7)),
        ('unconditional, no filtering', dict(labels=[-1], cfg=1.0, top_k=0, top_p=0.0, seed=4294967295)),
    ]:
        gsd = generate(vae, var, **kw)
        gens.append({'name': name, 'labels': None if kw['labels'] is None else gsd.labels.tolist(),
                     'batch': int(gsd.labels.numel()), 'cfg': kw['cfg'], 'topK': kw['top_k'], 'topP': kw['top_p'],
                     'moreSmooth': kw.get('more_smooth', False), 'seed': kw['seed'],
                     'drawnLabels': gsd.labels.tolist(), 'labelUniforms': gsd.label_uniforms,
                     'tokens': toks(gsd.tokens), 'fHatLast': f32(gsd.f_hats[-1]), 'image': f32(gsd.image)})
    base = generate(vae, var, labels=[3, 7], cfg=2.0, top_k=16, top_p=0.9, seed=42)
    resumed = generate(vae, var, labels=[3, 7], cfg=2.0, top_k=16, top_p=0.9, seed=42, prefix=base.tokens[:2])
    assert all(torch.equal(a, b) for a, b in zip(base.tokens, resumed.tokens))
    gens.append({'name': 'resume from scale 2 of the first case', 'labels': [3, 7], 'batch': 2, 'cfg': 2.0,
                 'topK': 16, 'topP': 0.9, 'moreSmooth': False, 'seed': 42, 'prefixScales': 2,
                 'drawnLabels': [3, 7], 'labelUniforms': [None, None], 'tokens': toks(resumed.tokens),
                 'fHatLast': f32(resumed.f_hats[-1]), 'image': f32(resumed.image)})
    edit_mask = tiny_mask
    edited = generate(vae, var, labels=[nc], cfg=3.0, top_k=0, top_p=0.95, more_smooth=True, seed=5,
                      edit={'tokens': enc_tokens, 'mask': edit_mask})
    gens.append({'name': 'in-painting the encoder.json image (unconditional), more-smooth', 'labels': [nc],
                 'batch': 1, 'cfg': 3.0, 'topK': 0, 'topP': 0.95, 'moreSmooth': True, 'seed': 5,
                 'edit': {'tokensFrom': 'encoder.json', 'mask': f32(edit_mask)}, 'drawnLabels': [nc],
                 'labelUniforms': [None], 'tokens': toks(edited.tokens), 'fHatLast': f32(edited.f_hats[-1]),
                 'image': f32(edited.image)})
    out['generation_seeded.json'] = dict(common, description=(
        'full generations with the studio sampler (per-image streams seeded seed + b); labels null = random '
        'classes drawn first (drawnLabels, labelUniforms); prefixScales = resume with the first scales\' tokens '
        'of the case itself; edit = keep mask on the finest grid with ground-truth tokens of encoder.json; '
        'tokens per scale [B][p²] are the effective tokens'),
        generations=gens, tolerance={'tokens': 'exact', 'relative': 1e-4})
    return out


def write_fixtures(fixture_dir: str, bundle_dir: str) -> List[str]:
    fx = build_fixtures(bundle_dir)
    for name, obj in fx.items():
        _dump(os.path.join(fixture_dir, name), obj)
    return sorted(fx)
