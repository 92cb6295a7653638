#!/usr/bin/python3
"""Graph templates: a bundle's ONNX graphs without their weights, for assembling bundles without Python.

A template is what `export_bundle.write_bundle` writes for one half of a model, minus every `.weights` byte:
the `.onnx` files (initializers as external-data references: location, offset, length, exactly as in a
bundle) and `template.json` with the weightMap rows, the architecture and the bundle fields that depend only
on it. The in-app importer (src/engine/import) copies the `.onnx` files and writes each checkpoint tensor at
its weightMap offset; the preview map is fitted at import.

Two kinds: `var` (transformer.onnx; one per VAR architecture and patch schedule) and `vae` (fhat_step,
encoder, decoder and preview .onnx; one per VQVAE architecture and patch schedule).

The graphs are traced from models whose weights are zero-stride views (right shapes, no memory) and exported
with `export_params=False`, so a d30 template needs neither the 8 GB of weights nor their serialisation.
`structure_only` turns the weight inputs into external-data initializers; the
result is byte-for-byte the `.onnx` that a normal export writes (tests/test_graph_templates.py).

    tools/graph_templates.py --official all --out resources/graph-templates
    tools/graph_templates.py --official vae-256 var-d16 --out DIR
    tools/graph_templates.py --config cfg.json --out DIR      # cfg.json: {"vae": {...}, "var": {...}} (config_to_json)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from typing import Dict, List, Optional


import onnx  # noqa: E402
import torch  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

from checkpoints import _skip_init, shape_only  # noqa: E402
from export.onnx_io import export_onnx, file_sha256, save_and_check, structure_only  # noqa: E402
from export.preview_fit import preview_cost  # noqa: E402
from export_bundle import GRAPH_FILES, graph_specs  # noqa: E402
from var_ref.config import (OFFICIAL_VAE, PATCH_NUMS_256, PATCH_NUMS_512, VARConfig, VQVAEConfig,  # noqa: E402
                            config_to_json, vae_config_from_json, var_config_from_json)
from var_ref.var import VAR  # noqa: E402
from var_ref.vqvae import VQVAE  # noqa: E402

TEMPLATE_FORMAT = 'var-studio-graph-template'
TEMPLATE_FORMAT_VERSION = 1
PREVIEW_KERNEL = 5
SCHEDULES = {PATCH_NUMS_256: '256', PATCH_NUMS_512: '512'}

OFFICIAL_TEMPLATES = {
    'vae-256': ('vae', OFFICIAL_VAE),
    'vae-512': ('vae', OFFICIAL_VAE.replace(patch_nums=PATCH_NUMS_512)),
    **{f'var-d{d}': ('var', VARConfig.official(d)) for d in (12, 16, 20, 24, 30)},
    'var-d36-s': ('var', VARConfig.official(36, PATCH_NUMS_512, shared_aln=True)),
}


def schedule_tag(patch_nums) -> str:
    return SCHEDULES.get(tuple(patch_nums), 'pn' + '-'.join(str(p) for p in patch_nums))


def template_name(kind: str, cfg) -> str:
    """Folder name of a template: var-d16-256, var-d36-s-512, vae-ch160-v4096-z32-256 …"""
    if kind == 'var':
        return f'var-d{cfg.depth}{"-s" if cfg.shared_aln else ""}-c{cfg.embed_dim}-{schedule_tag(cfg.patch_nums)}'
    return f'vae-ch{cfg.ch}-v{cfg.vocab_size}-z{cfg.z_channels}-{schedule_tag(cfg.patch_nums)}'


def _empty_model(build):
    """A model whose floating-point weights are zero-stride views of one zero: the right shapes, no memory.

    Their values are irrelevant to the traced structure (the byte-for-byte comparison with a real export in
    tests/test_graph_templates.py shows it); integer buffers (`lvl_1L`) keep their real values.
    """
    with _skip_init(), torch.no_grad():
        model = build().eval()
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point() and t.numel() > 1:
                t.data = torch.zeros((), dtype=t.dtype).expand(t.shape)
    return model


class _ZeroStrideClones(TorchFunctionMode):
    """The tracer clones every module state tensor (only to warn if an input changed); cloning a zero-stride
    weight would materialise it, so its clone stays a zero-stride view. Nothing else is touched."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.Tensor.clone and args and _is_zero_stride(args[0]):
            t = args[0]
            return torch.zeros((), dtype=t.dtype).expand(t.shape)
        return func(*args, **(kwargs or {}))


def _is_zero_stride(t) -> bool:
    return isinstance(t, torch.Tensor) and t.dim() > 0 and t.numel() > 1 and all(s == 0 for s in t.stride())


class _weights_unknown_to_exporter:
    """torch 1.13's ONNX shape inference serialises the value of every weight it is told about (a full copy
    of the model); told about none, it infers the same types from the traced graph's inputs."""

    def __enter__(self):
        self._saved = torch.onnx.utils._get_named_param_dict
        torch.onnx.utils._get_named_param_dict = lambda graph, params: {}
        return self

    def __exit__(self, *exc):
        torch.onnx.utils._get_named_param_dict = self._saved
        return False


def write_template(kind: str, cfg, out_root: str, log=print) -> dict:
    """Write the template of one VAR (kind 'var') or VQVAE (kind 'vae') configuration into out_root/<name>/."""
    t0 = time.perf_counter()
    name = template_name(kind, cfg)
    out = os.path.join(out_root, name)
    os.makedirs(out, exist_ok=True)
    if kind == 'var':
        var = _empty_model(lambda: VAR(cfg.replace(cond_drop_rate=0.0)))
        vae = None
        specs = graph_specs(None, var)
        sources = {'var': list(var.state_dict().keys())}
    else:
        vae = _empty_model(lambda: VQVAE(cfg))
        var = None
        s = cfg.downsample
        pw = torch.zeros(3 * s * s, cfg.z_channels, PREVIEW_KERNEL, PREVIEW_KERNEL)
        pb = torch.zeros(3 * s * s)
        specs = graph_specs(vae, None, pw, pb)
        for spec in specs:   # the fit's description is only known at import; it replaces these keys
            if spec.derived:
                spec.derived = {k: k for k in spec.derived}
        sources = {'vae': list(vae.state_dict().keys())}
    weight_map: List[dict] = []
    graphs: Dict[str, dict] = {}
    with torch.no_grad():
        for spec in specs:
            with _ZeroStrideClones(), _weights_unknown_to_exporter():
                model = export_onnx(spec.module, spec.args, spec.inputs, spec.outputs, spec.axes, export_params=False)
            base = GRAPH_FILES[spec.key]
            weight_map += structure_only(model, len(spec.inputs), spec.key, f'{base}.weights', sources, spec.derived)
            path = os.path.join(out, f'{base}.onnx')
            rows = [r for r in weight_map if r['graph'] == spec.key]
            weights_bytes = max((r['offset'] + r['length'] for r in rows), default=0)
            save_and_check(model, path, weights_bytes=weights_bytes)
            graphs[spec.key] = {'model': f'{base}.onnx', 'weights': f'{base}.weights', 'sha256': file_sha256(path),
                                'bytes': os.path.getsize(path), 'weightsBytes': weights_bytes}
            del model
    template = {'format': TEMPLATE_FORMAT, 'formatVersion': TEMPLATE_FORMAT_VERSION, 'kind': kind, 'name': name,
                'architecture': config_to_json(cfg)}
    if kind == 'var':
        template['bundle'] = {
            'patchNums': list(cfg.patch_nums), 'vocabSize': cfg.vocab_size, 'cvae': cfg.z_channels,
            'transformer': {'depth': cfg.depth, 'embedDim': cfg.embed_dim, 'numHeads': cfg.num_heads,
                            'headDim': cfg.head_dim, 'sharedAdaLN': cfg.shared_aln, 'attnL2Norm': cfg.attn_l2_norm,
                            'numClasses': cfg.num_classes}}
    else:
        pw = torch.zeros(3 * cfg.downsample ** 2, cfg.z_channels, PREVIEW_KERNEL, PREVIEW_KERNEL)
        cost = preview_cost(shape_only(lambda: VQVAE(cfg)), pw)
        template['bundle'] = {
            'resolution': cfg.resolution, 'downsample': cfg.downsample, 'patchNums': list(cfg.patch_nums),
            'vocabSize': cfg.vocab_size, 'cvae': cfg.z_channels, 'phiIndex': list(vae.quantize.phi_index),
            'vae': {'ch': cfg.ch, 'chMult': list(cfg.ch_mult), 'numResBlocks': cfg.num_res_blocks,
                    'quantResi': cfg.quant_resi, 'shareQuantResi': cfg.share_quant_resi},
            'preview': {'kernel': PREVIEW_KERNEL, **cost},
            'codebook': {'key': 'quantize.embedding.weight', 'shape': [cfg.vocab_size, cfg.z_channels]}}
    template.update({'graphs': graphs, 'weightMap': weight_map,
                     'tool': {'name': 'tools/graph_templates.py', 'torch': torch.__version__,
                              'onnx': onnx.__version__}})
    with open(os.path.join(out, 'template.json'), 'w', encoding='utf-8') as fh:
        json.dump(template, fh, indent=1)
        fh.write('\n')
    del var, vae
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(g['bytes'] for g in graphs.values())
    log(f'{name}: {len(weight_map)} weights, graphs {size / 1024:.0f} KiB, '
        f'{time.perf_counter() - t0:.1f} s, peak RSS so far {rss:.0f} MiB')
    return template


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument('--official', nargs='+', metavar='NAME', help=f'all, or some of {sorted(OFFICIAL_TEMPLATES)}')
    g.add_argument('--config', help='JSON with "vae" and/or "var" configs as var_ref.config.config_to_json writes them')
    ap.add_argument('--out', required=True, help='folder that receives one sub-folder per template')
    ap.add_argument('--threads', type=int, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    jobs = []
    if a.official:
        names = sorted(OFFICIAL_TEMPLATES) if a.official == ['all'] else a.official
        unknown = [n for n in names if n not in OFFICIAL_TEMPLATES]
        if unknown:
            print(f'graph_templates: unknown template {unknown}; known: {sorted(OFFICIAL_TEMPLATES)}', file=sys.stderr)
            return 2
        jobs = [OFFICIAL_TEMPLATES[n] for n in names]
    else:
        with open(a.config, encoding='utf-8') as fh:
            cfg = json.load(fh)
        if 'vae' in cfg:
            jobs.append(('vae', vae_config_from_json(cfg['vae'])))
        if 'var' in cfg:
            jobs.append(('var', var_config_from_json(cfg['var'])))
    for kind, cfg in jobs:
        write_template(kind, cfg, a.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
