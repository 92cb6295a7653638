#!/usr/bin/python3
"""Write a VAR Studio model bundle (docs/model-bundle.md) from a reference VQVAE + VAR pair.

Python API (others code against it):
    write_bundle(vae, var, out_dir, *, name, title, description, classes, sampling, license='', source=None,
                 preview_images=None, extra_files=None, preview_samples=24) -> manifest dict

CLI:
    tools/export_bundle.py --vae-ckpt vae.pth --var-ckpt var.pth --config cfg.json --out DIR
cfg.json: {"vae": {VQVAEConfig fields}, "var": {VARConfig fields}, "name", "title", "description", "classes",
           "sampling": {"cfg", "topK", "topP", "moreSmooth"}, optional "license", "source"}
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import torch

from export.graphs import (DecoderGraph, EncoderGraph, FhatStepGraph, PreviewGraph,
                           TransformerStepGraph)
from export.onnx_io import ExportError, export_onnx, externalize, file_sha256, save_and_check
from export.preview_fit import fit_preview, preview_cost
from var_ref.config import vae_config_from_json, var_config_from_json
from var_ref.resample import area_matrix
from quantize_bundle import add_variants, parse_precisions
from var_ref.var import VAR
from var_ref.vqvae import VQVAE

FORMAT = 'var-studio-bundle'
FORMAT_VERSION = 1
TOOL_VERSION = '1.0.0'
GRAPH_FILES = {'transformer': 'transformer', 'fhatStep': 'fhat_step', 'encoder': 'encoder', 'decoder': 'decoder',
               'preview': 'preview'}
SAMPLING_KEYS = {'cfg': (int, float), 'topK': (int,), 'topP': (int, float), 'moreSmooth': (bool,)}


def transformer_io_names(depth: int):
    past = [n for i in range(depth) for n in (f'past_key_{i}', f'past_value_{i}')]
    present = [n for i in range(depth) for n in (f'present_key_{i}', f'present_value_{i}')]
    return ['labels', 'token_input', 'begin'] + past, ['logits'] + present


def _check_pair(vae: VQVAE, var: VAR, classes: List[str], sampling: dict) -> None:
    vc, tc = vae.cfg, var.cfg
    if tuple(vc.patch_nums) != tuple(tc.patch_nums):
        raise ExportError(f'VAE patch_nums {tuple(vc.patch_nums)} differ from VAR patch_nums {tuple(tc.patch_nums)}')
    if vc.vocab_size != tc.vocab_size or vc.z_channels != tc.z_channels:
        raise ExportError(f'VAE (V={vc.vocab_size}, Cvae={vc.z_channels}) does not match VAR '
                          f'(V={tc.vocab_size}, Cvae={tc.z_channels})')
    if len(classes) != tc.num_classes:
        raise ExportError(f'{len(classes)} class names given for a VAR with num_classes={tc.num_classes}')
    if set(sampling) != set(SAMPLING_KEYS):
        raise ExportError(f'sampling must have exactly the keys {sorted(SAMPLING_KEYS)}, got {sorted(sampling)}')
    for k, types in SAMPLING_KEYS.items():
        if not isinstance(sampling[k], types) or (k != 'moreSmooth' and isinstance(sampling[k], bool)):
            raise ExportError(f'sampling.{k} must be {"/".join(t.__name__ for t in types)}, got {sampling[k]!r}')


@dataclass
class GraphSpec:
    """One bundle graph to trace: its wrapper module, example inputs and the contract's names and dynamic axes."""
    key: str
    module: torch.nn.Module
    args: tuple
    inputs: List[str]
    outputs: List[str]
    axes: Dict[str, Dict[int, str]]
    derived: Optional[Dict[str, str]] = None


def graph_specs(vae: Optional[VQVAE], var: Optional[VAR], preview_w: Optional[torch.Tensor] = None,
                preview_b: Optional[torch.Tensor] = None, preview_desc: str = '') -> List[GraphSpec]:
    """The bundle's graphs in bundle order; the VAR-only graph when `vae` is None, the VQVAE ones when `var` is None.

    Shared by the bundle writer and the graph-template tool, so a template traces exactly what an export traces.
    """
    specs: List[GraphSpec] = []
    gen = torch.Generator().manual_seed(1234)
    if var is not None:
        pn = list(var.cfg.patch_nums)
        H, c, Cvae = var.cfg.num_heads, var.cfg.head_dim, var.cfg.z_channels
        # transformer: traced at a middle scale with a non-empty cache; every length is a dynamic axis
        si = min(2, len(pn) - 1)
        begin = sum(p * p for p in pn[:si])
        l, N = pn[si] ** 2, 3
        ins, outs = transformer_io_names(var.depth)
        past = [torch.randn(N, H, begin, c, generator=gen) for _ in range(2 * var.depth)]
        args = (torch.tensor([0, 1, var.num_classes][:N]), torch.randn(N, l, Cvae, generator=gen),
                torch.tensor([begin], dtype=torch.int64), *past)
        axes = {'labels': {0: 'N'}, 'token_input': {0: 'N', 1: 'l'}, 'logits': {0: 'N', 1: 'l'}}
        for n in ins[3:]:
            axes[n] = {0: 'N', 2: 'P'}
        for n in outs[1:]:
            axes[n] = {0: 'N', 2: 'P_plus_l'}
        specs.append(GraphSpec('transformer', TransformerStepGraph(var), args, ins, outs, axes))
    if vae is None:
        return specs
    # separate stream for the VQVAE graphs, so that they trace the same inputs with or without the VAR
    gen = torch.Generator().manual_seed(4321)
    vc = vae.cfg
    pn = list(vc.patch_nums)
    h, Cvae, R = pn[-1], vc.z_channels, vc.resolution

    # fhat_step: traced at scale 1 (p = pn[1]) → q = pn[2]
    p, q = pn[min(1, len(pn) - 1)], pn[min(2, len(pn) - 1)]
    args = (torch.randn(2, Cvae, h, h, generator=gen), torch.randn(2, Cvae, p, p, generator=gen),
            torch.tensor([1 % len(vae.quantize.quant_resi.qresi_ls)], dtype=torch.int64),
            torch.from_numpy(area_matrix(q, h)).float())
    specs.append(GraphSpec('fhatStep', FhatStepGraph(vae), args, ['f_hat', 'h_scale', 'phi_index', 'area_matrix'],
                           ['f_hat_next', 'next_input'],
                           {'f_hat': {0: 'B'}, 'h_scale': {0: 'B', 2: 'p', 3: 'p'}, 'area_matrix': {0: 'q'},
                            'f_hat_next': {0: 'B'}, 'next_input': {0: 'B', 1: 'q_squared'}}))
    specs.append(GraphSpec('encoder', EncoderGraph(vae), (torch.rand(2, 3, R, R, generator=gen),), ['image'],
                           ['tokens', 'f'], {'image': {0: 'B'}, 'tokens': {0: 'B'}, 'f': {0: 'B'}}))
    specs.append(GraphSpec('decoder', DecoderGraph(vae), (torch.randn(2, Cvae, h, h, generator=gen),), ['f_hat'],
                           ['image'], {'f_hat': {0: 'B'}, 'image': {0: 'B'}}))
    if preview_w is not None:
        prev = PreviewGraph(preview_w, preview_b, vc.downsample)
        specs.append(GraphSpec('preview', prev, (torch.randn(2, Cvae, h, h, generator=gen),), ['f_hat'], ['image'],
                               {'f_hat': {0: 'B'}, 'image': {0: 'B'}},
                               derived={'preview.weight': f'preview.weight: {preview_desc}',
                                        'preview.bias': f'preview.bias: {preview_desc}'}))
    return specs


def _export_graphs(vae: VQVAE, var: VAR, out_dir: str, preview_w: torch.Tensor, preview_b: torch.Tensor,
                   preview_desc: str) -> List[dict]:
    sources = {'var': var.state_dict(), 'vae': vae.state_dict()}
    weight_map: List[dict] = []
    for spec in graph_specs(vae, var, preview_w, preview_b, preview_desc):
        model = export_onnx(spec.module, spec.args, spec.inputs, spec.outputs, spec.axes)
        base = GRAPH_FILES[spec.key]
        weight_map.extend(externalize(model, spec.key, f'{base}.weights', os.path.join(out_dir, f'{base}.weights'),
                                      sources, spec.derived))
        save_and_check(model, os.path.join(out_dir, f'{base}.onnx'))
    return weight_map


def write_bundle(vae: VQVAE, var: VAR, out_dir: str, *, name: str, title: str, description: str,
                 classes: List[str], sampling: dict, license: str = '', source: Optional[dict] = None,
                 preview_images: Optional[torch.Tensor] = None, extra_files: Optional[Dict[str, str]] = None,
                 preview_samples: int = 24, preview_kernel: int = 5) -> dict:
    """Export `vae` + `var` as a bundle folder `out_dir` and return the manifest (also written as manifest.json).

    preview_images: (N, 3, R, R) in [0, 1]; the preview map is fitted on their f̂ after each scale, else on
    `preview_samples` random token pyramids. extra_files: name → text written into the bundle (e.g. MODEL_CARD.md).
    """
    _check_pair(vae, var, classes, sampling)
    was_training = (vae.training, var.training)
    try:
        vae.eval()
        var.eval()
        return _write_bundle(vae, var, out_dir, name=name, title=title, description=description, classes=classes,
                             sampling=sampling, license=license, source=source, preview_images=preview_images,
                             extra_files=extra_files, preview_samples=preview_samples,
                             preview_kernel=preview_kernel)
    finally:
        vae.train(was_training[0])
        var.train(was_training[1])


def _write_bundle(vae: VQVAE, var: VAR, out_dir: str, *, name, title, description, classes, sampling, license,
                  source, preview_images, extra_files, preview_samples, preview_kernel) -> dict:
    vc, tc = vae.cfg, var.cfg
    os.makedirs(out_dir, exist_ok=True)

    if preview_kernel < 1 or preview_kernel % 2 == 0:
        raise ExportError(f'preview_kernel must be an odd positive size, got {preview_kernel}')
    pw, pb, fit_stats = fit_preview(vae, preview_images, num_random=preview_samples, kernel=preview_kernel)
    cost = preview_cost(vae, pw)
    s = vc.downsample
    preview_desc = (f'ridge least-squares fit of a {preview_kernel}x{preview_kernel} conv {vc.z_channels}->{3 * s * s} '
                    f'(+pixel shuffle x{s}) to '
                    f'decoder outputs on f_hat after every scale of {fit_stats["fitSamples"] // len(vc.patch_nums)} '
                    f'{"real images" if preview_images is not None else "random token pyramids"}')
    with torch.no_grad():
        weight_map = _export_graphs(vae, var, out_dir, pw, pb, preview_desc)

    codebook = vae.quantize.embedding.weight.detach().cpu().numpy().astype('<f4')
    codebook.tofile(os.path.join(out_dir, 'codebook.f32'))
    for fname, text in (extra_files or {}).items():
        if os.path.basename(fname) != fname or fname == 'manifest.json':
            raise ExportError(f'extra file name {fname!r} must be a plain file name other than manifest.json')
        with open(os.path.join(out_dir, fname), 'w', encoding='utf-8') as fh:
            fh.write(text)

    file_names = [f'{b}.{ext}' for b in GRAPH_FILES.values() for ext in ('onnx', 'weights')] + ['codebook.f32']
    file_names += sorted((extra_files or {}).keys())
    files = {f: {'sha256': file_sha256(os.path.join(out_dir, f)), 'bytes': os.path.getsize(os.path.join(out_dir, f))}
             for f in file_names}
    src = {'tool': 'tools/export_bundle.py', 'toolVersion': TOOL_VERSION,
           'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
           'torch': torch.__version__}
    src.update(source or {})
    manifest = {
        'format': FORMAT, 'formatVersion': FORMAT_VERSION,
        'name': name, 'title': title, 'description': description, 'license': license,
        'resolution': vc.resolution, 'downsample': vc.downsample, 'patchNums': list(vc.patch_nums),
        'vocabSize': vc.vocab_size, 'cvae': vc.z_channels, 'phiIndex': list(vae.quantize.phi_index),
        'classes': list(classes),
        'transformer': {'depth': tc.depth, 'embedDim': tc.embed_dim, 'numHeads': tc.num_heads,
                        'headDim': tc.head_dim, 'sharedAdaLN': tc.shared_aln, 'attnL2Norm': tc.attn_l2_norm,
                        'numClasses': tc.num_classes},
        'vae': {'ch': vc.ch, 'chMult': list(vc.ch_mult), 'numResBlocks': vc.num_res_blocks,
                'quantResi': vc.quant_resi, 'shareQuantResi': vc.share_quant_resi},
        'sampling': {'cfg': float(sampling['cfg']), 'topK': int(sampling['topK']), 'topP': float(sampling['topP']),
                     'moreSmooth': bool(sampling['moreSmooth'])},
        'preview': {'method': 'linear-conv-pixelshuffle', 'description': preview_desc, **fit_stats, **cost},
        'graphs': {k: {'model': f'{b}.onnx', 'weights': f'{b}.weights'} for k, b in GRAPH_FILES.items()},
        'codebook': {'file': 'codebook.f32', 'shape': [vc.vocab_size, vc.z_channels], 'dtype': 'float32',
                     'key': 'quantize.embedding.weight'},
        'weightMap': weight_map,
        'files': files,
        'source': src,
    }
    with open(os.path.join(out_dir, 'manifest.json'), 'w', encoding='utf-8') as fh:
        json.dump(manifest, fh, indent=1)
        fh.write('\n')
    return manifest


def _load_state(path: str) -> dict:
    sd = torch.load(path, map_location='cpu')
    for wrapper in ('state_dict', 'model'):   # plain state dicts, or training checkpoints that wrap one
        if isinstance(sd, dict) and isinstance(sd.get(wrapper), dict):
            sd = sd[wrapper]
            break
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ExportError(f'{path} is not a state-dict checkpoint (nor a dict holding one under "state_dict"/"model")')
    return sd


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--vae-ckpt', required=True)
    ap.add_argument('--var-ckpt', required=True)
    ap.add_argument('--config', required=True, help='JSON with vae/var configs and bundle metadata')
    ap.add_argument('--out', required=True)
    ap.add_argument('--precision', default='fp32',
                    help='comma list of fp32, int8, int4, fp16, dq8: transformer variants to add (docs/model-bundle.md)')
    a = ap.parse_args(argv)
    try:
        return _cli(a)
    except (ExportError, KeyError, OSError, RuntimeError) as e:
        what = f'missing config field {e}' if isinstance(e, KeyError) else ' '.join(str(e).split())[:600]
        print(f'export_bundle: {what}', file=sys.stderr)
        return 2


def _cli(a) -> int:
    with open(a.config, encoding='utf-8') as fh:
        cfg = json.load(fh)
    vae = VQVAE(vae_config_from_json(cfg['vae']))
    var = VAR(var_config_from_json(cfg['var']))
    vae.load_state_dict(_load_state(a.vae_ckpt), strict=True)
    var.load_state_dict(_load_state(a.var_ckpt), strict=True)
    m = write_bundle(vae, var, a.out, name=cfg['name'], title=cfg.get('title', cfg['name']),
                     description=cfg.get('description', ''), classes=cfg['classes'], sampling=cfg['sampling'],
                     license=cfg.get('license', ''), source=cfg.get('source'))
    precisions = parse_precisions(a.precision)
    if precisions:
        m = add_variants(a.out, precisions)
    print(f'wrote {a.out}: {len(m["files"])} files, {sum(f["bytes"] for f in m["files"].values())} bytes')
    return 0


if __name__ == '__main__':
    sys.exit(main())
