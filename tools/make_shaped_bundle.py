#!/usr/bin/python3
"""Write a bundle with random weights in a given shape, for `var-studio bench` (outside git: a cache folder).

    /usr/bin/python3 tools/make_shaped_bundle.py --preset d16 --out DIR        # official VAR-d16 + VQVAE, 256 px (~1.6 GB)
    /usr/bin/python3 tools/make_shaped_bundle.py --preset fashion32 --out DIR  # the embedded model's shape (tools/configs)
    /usr/bin/python3 tools/make_shaped_bundle.py --preset d24 --out DIR        # official VAR-d24 (~4.2 GB); d30 (~8.3 GB)

Weights: VAR `init_weights()` (the official init) and torch's default VQVAE init, seeded. Timing does not depend
on trained weights (apart from how many tokens top-k/top-p keep), so these stand in for models that are not
at hand. The preview map is fitted on 2 random token pyramids only (a fit on more means hundreds of decodes
at 256 px; timing does not depend on the preview's quality).

d24 and d30 (transformer weights over 2 GiB) cannot go through a normal export: torch serialises the weights
into one protobuf, which is capped at 2 GiB. For them the full-depth model is built without initialising its
weights, each weight is replaced by a zero-stride view (so tracing it costs no memory), the graph is traced
with `export_params=False`, and each weight is streamed into `transformer.weights` from a depth-2 model of the
same width that had the official init (block i takes block i mod 2's tensors, scaled by 1 + 0.001·(i // 2)). The preview map is fitted on
1 random pyramid for these two. torch's ONNX shape inference still copies each weight it meets into its
constant map while it runs (measured peak RSS of the whole build: d30 6.8 GB for 8.0 GB of weights; d24, built
before the stand-ins, 9.3 GB for 4.1 GB), and a build takes 45–60 min on 2 busy cores.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from typing import Dict, List

import numpy as np
import onnx
import torch

import export_bundle
from export.graphs import TransformerStepGraph
from export.onnx_io import WEIGHT_ALIGN, export_onnx, externalize
from export_bundle import transformer_io_names, write_bundle
from var_ref.config import OFFICIAL_VAE, OFFICIAL_VAR, VARConfig, vae_config_from_json
from var_ref.var import VAR
from var_ref.vqvae import VQVAE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def imagenet_classes():
    path = os.path.join(REPO, 'resources', 'imagenet-classes.json')
    if not os.path.exists(path):
        return [f'class {i}' for i in range(1000)]
    with open(path, encoding='utf-8') as fh:
        doc = json.load(fh)
    return doc['classes'] if isinstance(doc, dict) else doc


BIG_DEPTHS = {'d24': 24, 'd30': 30}
IMAGENET_SAMPLING = {'cfg': 1.5, 'topK': 900, 'topP': 0.96, 'moreSmooth': False}


@contextlib.contextmanager
def uninitialised_weights():
    """Modules built inside keep torch.empty weights: never written, so the kernel never backs them with memory."""
    saved = (torch.nn.Linear.reset_parameters, torch.nn.Embedding.reset_parameters, torch.nn.init.trunc_normal_)
    torch.nn.Linear.reset_parameters = lambda self: None
    torch.nn.Embedding.reset_parameters = lambda self: None
    torch.nn.init.trunc_normal_ = lambda tensor, *a, **k: tensor
    try:
        yield
    finally:
        torch.nn.Linear.reset_parameters, torch.nn.Embedding.reset_parameters, torch.nn.init.trunc_normal_ = saved


def template_key(key: str, template_depth: int) -> str:
    """The template model's key whose tensor stands in for `key` (block i → block i mod template_depth)."""
    m = re.match(r'blocks\.(\d+)\.(.*)', key)
    return f'blocks.{int(m.group(1)) % template_depth}.{m.group(2)}' if m else key


def block_copy_gain(key: str, template_depth: int) -> float:
    """Block i ≥ template_depth holds its template tensor × (1 + 0.001·(i // template_depth)): onnxruntime shares
    initializers of identical bytes, so exact copies would make a loaded model look smaller than a real one."""
    m = re.match(r'blocks\.(\d+)\.', key)
    return 1.0 + 1e-3 * (int(m.group(1)) // template_depth) if m else 1.0


def template_tensor(template: Dict[str, torch.Tensor], key: str, template_depth: int) -> np.ndarray:
    src = template[template_key(key, template_depth)].detach().cpu().numpy()
    gain = block_copy_gain(key, template_depth)
    return src if gain == 1.0 or src.dtype != np.float32 else src * np.float32(gain)


def stream_weights(model: onnx.ModelProto, num_inputs: int, weights_name: str, weights_path: str,
                   template: Dict[str, torch.Tensor], template_depth: int) -> List[dict]:
    """Turn the weight inputs of an export_params=False transformer into external-data initializers, writing each
    one's bytes from the template state dict (same layout as export.onnx_io.externalize); returns the weightMap rows."""
    params = list(model.graph.input[num_inputs:])
    del model.graph.input[num_inputs:]
    rows, offset = [], 0
    with open(weights_path, 'wb') as fh:
        for vi in params:
            prefix, _, key = vi.name.partition('.')
            src = template_tensor(template, key, template_depth)
            shape = [int(d.dim_value) for d in vi.type.tensor_type.shape.dim]
            if prefix != 'var' or list(src.shape) != shape:
                raise RuntimeError(f'weight input {vi.name} {shape} has no template tensor of that shape')
            data = src.astype(src.dtype.newbyteorder('<'), copy=False).tobytes()
            pad = (-offset) % WEIGHT_ALIGN
            fh.write(b'\0' * pad)
            offset += pad
            fh.write(data)
            init = model.graph.initializer.add()
            init.name, init.data_type = vi.name, vi.type.tensor_type.elem_type
            init.dims.extend(shape)
            init.data_location = onnx.TensorProto.EXTERNAL
            for k, v in (('location', weights_name), ('offset', str(offset)), ('length', str(len(data)))):
                entry = init.external_data.add()
                entry.key, entry.value = k, v
            rows.append({'graph': 'transformer', 'initializer': vi.name, 'source': 'var', 'key': key,
                         'dtype': str(src.dtype), 'shape': shape, 'offset': offset, 'length': len(data)})
            offset += len(data)
    return rows


@contextlib.contextmanager
def streamed_transformer(template: Dict[str, torch.Tensor], template_depth: int, depth: int):
    """write_bundle exports the transformer without its weights and streams them from the template instead."""
    num_inputs = len(transformer_io_names(depth)[0])

    def export(module, args, ins, outs, axes):
        return export_onnx(module, args, ins, outs, axes, export_params=not isinstance(module, TransformerStepGraph))

    def externalize_or_stream(model, graph_key, weights_name, weights_path, sources, derived=None):
        if graph_key != 'transformer':
            return externalize(model, graph_key, weights_name, weights_path, sources, derived)
        return stream_weights(model, num_inputs, weights_name, weights_path, template, template_depth)

    export_bundle.export_onnx, export_bundle.externalize = export, externalize_or_stream
    try:
        yield
    finally:
        export_bundle.export_onnx, export_bundle.externalize = export_onnx, externalize


def zero_stride_weights_(var: VAR) -> torch.Tensor:
    """Replace every float parameter by a zero-stride view of one zero: tracing reads them without touching memory
    (on some kernels even reading never-written memory allocates it). Returns the shared zero."""
    zero = torch.zeros(())
    for module in var.modules():
        for name, p in list(module._parameters.items()):
            if p is not None and p.dtype == torch.float32:
                module._parameters[name] = torch.nn.Parameter(zero.expand(p.shape), requires_grad=False)
    return zero


@contextlib.contextmanager
def no_clone_of(zero: torch.Tensor):
    """The ONNX tracer clones every parameter once (torch/jit/_trace.py, for `return_inputs`, unused by the
    export); a clone of a zero-stride view would be a full-size tensor, so views of `zero` are returned as is."""
    clone = torch.Tensor.clone

    def lazy_clone(self, *args, **kwargs):
        return self if self.data_ptr() == zero.data_ptr() and self.dim() > 0 else clone(self, *args, **kwargs)

    torch.Tensor.clone = lazy_clone
    try:
        yield
    finally:
        torch.Tensor.clone = clone


def write_streamed(vae: VQVAE, cfg: VARConfig, template: VAR, out: str, meta: dict) -> dict:
    """write_bundle for a VAR of shape `cfg` whose weights are `template`'s, repeated over the depth (see above)."""
    with uninitialised_weights():
        var = VAR(cfg)
    zero = zero_stride_weights_(var)
    with streamed_transformer(template.state_dict(), template.depth, cfg.depth), no_clone_of(zero):
        return write_bundle(vae, var, out, **meta)


def write_big(preset: str, out: str, seed: int) -> dict:
    cfg = OFFICIAL_VAR[BIG_DEPTHS[preset]]
    template = VAR(cfg.replace(depth=2))
    template.init_weights()
    return write_streamed(VQVAE(OFFICIAL_VAE), cfg, template, out,
                          bundle_meta(preset, seed, imagenet_classes(), IMAGENET_SAMPLING))


def bundle_meta(preset: str, seed: int, classes, sampling) -> dict:
    return dict(name=f'bench-{preset}-random', title=f'{preset}-shaped random weights (benchmark only)',
                description=f'The {preset} shapes with random weights; draws noise.',
                classes=classes, sampling=sampling, license='MIT',
                source={'recipe': f'tools/make_shaped_bundle.py --preset {preset} --seed {seed}'},
                preview_samples=1 if preset in BIG_DEPTHS else 2)


def build(preset: str):
    if preset == 'd16':
        vae = VQVAE(OFFICIAL_VAE)
        var = VAR(OFFICIAL_VAR[16])
        return vae, var, imagenet_classes(), IMAGENET_SAMPLING
    if preset == 'fashion32':
        # The embedded model's shape, built exactly as tools/train_var.py builds it from tools/configs.
        with open(os.path.join(REPO, 'tools', 'configs', 'vqvae_fashion32.json'), encoding='utf-8') as fh:
            vae_cfg = vae_config_from_json(json.load(fh)['vae'])
        with open(os.path.join(REPO, 'tools', 'configs', 'var_fashion32.json'), encoding='utf-8') as fh:
            vc = json.load(fh)['var']
        var_cfg = VARConfig.official(vc['depth'], vae_cfg.patch_nums, shared_aln=vc.get('shared_aln', False),
                                     num_classes=vc['num_classes'], vocab_size=vae_cfg.vocab_size,
                                     z_channels=vae_cfg.z_channels)
        var_cfg = var_cfg.replace(cond_drop_rate=vc['cond_drop_rate'], attn_l2_norm=vc['attn_l2_norm'])
        classes = [f'class {i}' for i in range(var_cfg.num_classes)]
        return VQVAE(vae_cfg), VAR(var_cfg), classes, {'cfg': 3.0, 'topK': 0, 'topP': 0.95, 'moreSmooth': False}
    raise SystemExit(f'unknown preset {preset!r} (d16, fashion32, d24, d30)')


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', required=True, choices=['d16', 'fashion32', *BIG_DEPTHS])
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.time()
    if a.preset in BIG_DEPTHS:
        m = write_big(a.preset, a.out, a.seed)
    else:
        vae, var, classes, sampling = build(a.preset)
        var.init_weights()
        m = write_bundle(vae, var, a.out, **bundle_meta(a.preset, a.seed, classes, sampling))
    total = sum(f['bytes'] for f in m['files'].values())
    print(json.dumps({'out': a.out, 'bytes': total, 'seconds': round(time.time() - t0, 1)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
