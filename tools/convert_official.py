#!/usr/bin/python3
"""Convert the official VAR checkpoints (FoundationVision/VAR) into a VAR Studio model bundle.

    /usr/bin/python3 tools/convert_official.py --var var_d16.pth --vae vae_ch160v4096z32.pth --out DIR
        [--name var-d16] [--title ...] [--description ...] [--license MIT]
        [--resolution 256|512 | --patch-nums 1,2,3,...] [--depth N]
        [--cfg 4 --top-k 900 --top-p 0.95 --more-smooth] [--preview-samples 4] [--trust-pickle] [--overwrite]
        [--precision fp32,int8,int4,fp16,dq8]

What it does (docs/model-bundle.md, docs/var-model.md#checkpoint-keys-and-shapes):
1. Loads both `.pth` files on the CPU (`torch.load(weights_only=True)`): a plain state dict, as the released
   files are, or the official trainer's checkpoint (`trainer.var_wo_ddp` / `trainer.vae_local`).
2. Reads the configuration off the tensors: depth from `blocks.*`, width from `class_emb`, heads from
   `scale_mul_1H11`, shared AdaLN from `shared_ada_lin.*` (d36-s), patch sizes from `lvl_1L` (680 tokens =
   the 256-px set, 2240 = the 512-px set), V and Cvae from the VQVAE codebook and VAR head; VQVAE widths
   from its convs. `--resolution`/`--patch-nums`/`--depth` state what you expect instead of inferring it.
3. Checks every key and shape strictly against the reference models (`var_ref/`), the VAR against the
   VQVAE (codebook V × Cvae), and the deterministic buffers; builds the models and loads them strict.
4. Writes the bundle with `export_bundle.write_bundle`: the 1000 ImageNet-1k class names
   (resources/imagenet-classes.json) and default sampling settings.

Default sampling: cfg 4, top-k 900, top-p 0.95, more-smooth off — the official demo's settings
(official demo_sample.ipynb, docs/var-model.md#sampling), chosen because the studio is for looking at images. The FID
setting (cfg 1.5, top-p 0.96) gives more diverse, less clean samples; pass --cfg 1.5 --top-p 0.96 for it.

Exit status: 0 written; 2 unusable input (not a checkpoint, missing/extra keys, wrong shapes, a VQVAE of
another configuration, a checkpoint of another resolution than asked) with one line on stderr naming the
file, the key and the expected versus found shape; 1 an export failure.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from typing import List, Optional

import torch

from checkpoints import (PATCH_SETS_BY_RESOLUTION, CheckpointError, build_models, load_state_dict_file,
                         validate_pair)
from imagenet_classes import load_imagenet_classes

# The official demo_sample.ipynb settings: the visual-quality choice.
OFFICIAL_DEMO_SAMPLING = {'cfg': 4.0, 'topK': 900, 'topP': 0.95, 'moreSmooth': False}
UPSTREAM = {'code': 'https://github.com/FoundationVision/VAR', 'weights': 'https://huggingface.co/FoundationVision/var',
            'paper': 'arXiv:2404.02905'}


class UsageError(Exception):
    pass


def file_digest(path: str) -> dict:
    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b''):
            h.update(chunk)
    return {'file': os.path.basename(path), 'sha256': h.hexdigest(), 'bytes': os.path.getsize(path)}


def parse_patch_nums(text: Optional[str]):
    if text is None:
        return None
    try:
        pns = tuple(int(x) for x in text.replace(' ', '').split(',') if x)
    except ValueError:
        raise UsageError(f'--patch-nums {text!r}: expected comma-separated integers like 1,2,3,4,5,6,8,10,13,16') from None
    if not pns or any(p <= 0 for p in pns) or list(pns) != sorted(set(pns)):
        raise UsageError(f'--patch-nums {text!r}: expected strictly increasing positive integers')
    return pns


def default_names(depth: int, shared: bool, resolution: int):
    tag = f'd{depth}' + ('-s' if shared else '')
    name = f'var-{tag}' + ('' if resolution == 256 else f'-{resolution}')
    title = f'VAR-{tag} · ImageNet {resolution}×{resolution}'
    return name, title


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog='convert_official.py', description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--var', required=True, help='VAR transformer checkpoint, e.g. var_d16.pth')
    ap.add_argument('--vae', required=True, help='VQVAE checkpoint, e.g. vae_ch160v4096z32.pth')
    ap.add_argument('--out', required=True, help='bundle folder to write')
    ap.add_argument('--name', help='bundle name (default var-d16, var-d36-s-512, …)')
    ap.add_argument('--title')
    ap.add_argument('--description')
    ap.add_argument('--license', default='MIT (FoundationVision/VAR code and released weights)')
    g = ap.add_mutually_exclusive_group()
    g.add_argument('--resolution', type=int, choices=sorted(PATCH_SETS_BY_RESOLUTION),
                   help='expected resolution: 256 (d16–d30) or 512 (d36-s); checked against the checkpoint')
    g.add_argument('--patch-nums', help='expected patch sizes, comma-separated (default: read from lvl_1L)')
    ap.add_argument('--depth', type=int, help='expected depth (default: the number of blocks.* in the checkpoint)')
    ap.add_argument('--cfg', type=float, default=OFFICIAL_DEMO_SAMPLING['cfg'])
    ap.add_argument('--top-k', type=int, default=OFFICIAL_DEMO_SAMPLING['topK'])
    ap.add_argument('--top-p', type=float, default=OFFICIAL_DEMO_SAMPLING['topP'])
    ap.add_argument('--more-smooth', action='store_true', default=OFFICIAL_DEMO_SAMPLING['moreSmooth'])
    # The preview fit decodes every scale of each pyramid with the full VQVAE decoder (197 GMAC per 256-px
    # image): d16 with 8 pyramids took 16 min on a busy 2-core machine. 4 pyramids = 10,240 fitted latent cells
    # for the 801 unknowns per output of the 5x5 preview conv (ridge-regularised), at half that cost.
    ap.add_argument('--precision', default='fp32',
                    help='comma list of fp32, int8, int4, fp16, dq8: transformer variants to add (docs/model-bundle.md)')
    ap.add_argument('--preview-samples', type=int, default=4,
                    help='random token pyramids the preview map is fitted on (default 4; each costs K = 10 full '
                         'decodes, about 1-2 min per pyramid for the 256-px VQVAE on 2 busy cores)')
    ap.add_argument('--trust-pickle', action='store_true',
                    help='allow arbitrary pickled objects in the checkpoints (only for files you trust)')
    ap.add_argument('--overwrite', action='store_true', help='write into --out even if it already holds a bundle')
    ap.add_argument('--threads', type=int, default=None, help='torch threads (default: all cores)')
    return ap


def convert(a: argparse.Namespace, log=print) -> dict:
    """Validate, load and export; returns the manifest plus a 'timings' entry (not written to the bundle)."""
    from export_bundle import write_bundle  # imported late: the validation path needs no ONNX
    from export.onnx_io import ExportError
    from quantize_bundle import add_variants, parse_precisions

    t0 = time.perf_counter()
    if a.depth is not None and a.depth <= 0:
        raise UsageError(f'--depth {a.depth}: expected a positive integer')
    if a.preview_samples <= 0:
        raise UsageError(f'--preview-samples {a.preview_samples}: expected a positive integer')
    try:
        precisions = parse_precisions(a.precision)
    except ExportError as e:
        raise UsageError(str(e)) from None
    if not (0 < a.top_p <= 1) or a.top_k < 0 or a.cfg < 0:
        raise UsageError('sampling defaults out of range: need cfg ≥ 0, top-k ≥ 0, 0 < top-p ≤ 1')
    if os.path.exists(os.path.join(a.out, 'manifest.json')) and not a.overwrite:
        raise UsageError(f'{a.out} already holds a bundle (manifest.json); pass --overwrite to replace it')
    if os.path.exists(a.out) and not os.path.isdir(a.out):
        raise UsageError(f'--out {a.out} exists and is not a folder')
    patch_nums = parse_patch_nums(a.patch_nums)

    log(f'loading {a.var} and {a.vae} ...')
    var_sd = load_state_dict_file(a.var, 'var', trust_pickle=a.trust_pickle)
    vae_sd = load_state_dict_file(a.vae, 'vae', trust_pickle=a.trust_pickle)
    t_load = time.perf_counter()
    pair = validate_pair(var_sd, vae_sd, var_label=os.path.basename(a.var), vae_label=os.path.basename(a.vae),
                         resolution=a.resolution, patch_nums=patch_nums, depth=a.depth)
    vc, tc = pair.vae_cfg, pair.var_cfg
    classes = load_imagenet_classes()
    if tc.num_classes != len(classes):
        raise CheckpointError(f"key 'class_emb.weight': expected shape ({len(classes) + 1}, {tc.embed_dim}) for the "
                              f'{len(classes)} ImageNet classes plus the null class, found '
                              f'({tc.num_classes + 1}, {tc.embed_dim})', file=os.path.basename(a.var),
                              key='class_emb.weight')
    log(f'checkpoints OK: VAR depth {tc.depth}, C={tc.embed_dim}, {tc.num_heads} heads, '
        f'{"shared AdaLN, " if tc.shared_aln else ""}patch_nums {list(tc.patch_nums)} → {vc.resolution} px; '
        f'VQVAE ch={vc.ch} ch_mult={list(vc.ch_mult)} V={vc.vocab_size} Cvae={vc.z_channels}')
    vae, var = build_models(pair)
    log(f'exporting the bundle to {a.out} (preview fit on {a.preview_samples} random token pyramid(s) = '
        f'{a.preview_samples * len(vc.patch_nums)} full decodes; minutes for the official sizes) ...')
    del pair, var_sd, vae_sd  # the models now own the only copy of the weights
    t_build = time.perf_counter()

    name, title = default_names(tc.depth, tc.shared_aln, vc.resolution)
    source = {'kind': 'official-checkpoints', 'converter': 'tools/convert_official.py', 'upstream': UPSTREAM,
              'var': file_digest(a.var), 'vae': file_digest(a.vae)}
    # top-k beyond the vocabulary keeps every token; stored clamped so the manifest passes its range check
    top_k = min(int(a.top_k), int(vc.vocab_size))
    sampling = {'cfg': float(a.cfg), 'topK': top_k, 'topP': float(a.top_p), 'moreSmooth': bool(a.more_smooth)}
    description = a.description or (
        f'Official VAR (Tian et al., NeurIPS 2024) class-conditional ImageNet model, depth {tc.depth}'
        f'{" with shared AdaLN" if tc.shared_aln else ""}, {vc.resolution}×{vc.resolution}, converted from '
        f'{os.path.basename(a.var)} and {os.path.basename(a.vae)}. Default sampling is the official demo\'s '
        f'(cfg {sampling["cfg"]:g}, top-k {sampling["topK"]}, top-p {sampling["topP"]:g}).')
    os.makedirs(a.out, exist_ok=True)
    manifest = write_bundle(vae, var, a.out, name=a.name or name, title=a.title or title, description=description,
                            classes=classes, sampling=sampling, license=a.license, source=source,
                            preview_samples=a.preview_samples)
    if precisions:
        manifest = add_variants(a.out, precisions)
    t_end = time.perf_counter()
    timings = {'loadS': round(t_load - t0, 2), 'validateAndBuildS': round(t_build - t_load, 2),
               'exportS': round(t_end - t_build, 2), 'totalS': round(t_end - t0, 2)}
    log(f'wrote {a.out}: {len(manifest["files"])} files, '
        f'{sum(f["bytes"] for f in manifest["files"].values()) / 1e6:.1f} MB; times (s): load {timings["loadS"]}, '
        f'validate+build {timings["validateAndBuildS"]}, export {timings["exportS"]}, total {timings["totalS"]}')
    return dict(manifest, timings=timings)


def main(argv: Optional[List[str]] = None) -> int:
    a = build_parser().parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    try:
        convert(a)
    except (CheckpointError, UsageError) as e:
        print(f'convert_official: error: {e}', file=sys.stderr)
        return 2
    except Exception as e:  # an export failure: not the user's input
        first = (str(e).splitlines() or [''])[0]
        print(f'convert_official: export failed: {type(e).__name__}: {first}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
