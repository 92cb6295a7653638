#!/usr/bin/python3
"""Inputs of the TypeScript importer's parity tests (tests/unit/import/assemble.test.ts), written into --out:

* two random-weight checkpoint pairs in the official key layout, written by torch.save as the released files
  are (tools/tests/official_checkpoints.py), at small width: `a/` (256-px patch schedule) and `b/` (shared
  AdaLN, 512-px schedule); 1000 classes so that the ImageNet names apply;
* the graph templates of their architectures (tools/graph_templates.py) in `templates/`;
* the Python converter's bundles of both pairs (tools/convert_official.py) in `py-a/`, `py-b/`;
* `a/var_extra_key.pth`: pair a's VAR with one key the layout does not have;
* `a/{var,vae}_half.pth`: pair a stored as float16 (VAR) and bfloat16 (VQVAE), and `py-a-half/`, the Python
  bundle of the same values widened to float32;
* `preview-fit/`: f̂ after every scale of two random pyramids of pair a's VQVAE, the decoder's outputs and
  the ridge fit tools/export/preview_fit.py makes of them (reference for the TypeScript fit).

    tools/make_import_fixtures.py --out DIR
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


import numpy as np  # noqa: E402
import torch  # noqa: E402

from convert_official import build_parser, convert  # noqa: E402
from export.preview_fit import _pyramid_fhats, decode01, fit_preview  # noqa: E402
from graph_templates import write_template  # noqa: E402
from tests.official_checkpoints import write_official_pair  # noqa: E402
from var_ref.config import PATCH_NUMS_256, PATCH_NUMS_512, VARConfig, VQVAEConfig  # noqa: E402
from var_ref.vqvae import VQVAE  # noqa: E402

TEST_VAE = VQVAEConfig(vocab_size=256, z_channels=8, ch=32, ch_mult=(1, 2), num_res_blocks=1)
TEST_VAR = VARConfig(depth=2, embed_dim=64, num_heads=2, num_classes=1000, vocab_size=256, z_channels=8)
PAIRS = {
    'a': (TEST_VAR.replace(patch_nums=PATCH_NUMS_256), TEST_VAE.replace(patch_nums=PATCH_NUMS_256)),
    'b': (TEST_VAR.replace(patch_nums=PATCH_NUMS_512, shared_aln=True), TEST_VAE.replace(patch_nums=PATCH_NUMS_512)),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True)
    ap.add_argument('--preview-samples', type=int, default=1, help='of the Python bundles (their previews are not compared)')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    timings = {}
    for tag, (var_cfg, vae_cfg) in PAIRS.items():
        files = write_official_pair(os.path.join(a.out, tag), var_cfg, vae_cfg, seed=ord(tag),
                                    var_name='var.pth', vae_name='vae.pth')
        write_template('var', var_cfg, os.path.join(a.out, 'templates'), log=lambda *_: None)
        write_template('vae', vae_cfg, os.path.join(a.out, 'templates'), log=lambda *_: None)
        t = time.perf_counter()
        args = build_parser().parse_args(['--var', files.var_path, '--vae', files.vae_path, '--out',
                                          os.path.join(a.out, f'py-{tag}'), '--preview-samples',
                                          str(a.preview_samples)])
        convert(args, log=lambda *_: None)
        timings[f'convert-{tag}'] = round(time.perf_counter() - t, 2)
    sd = torch.load(os.path.join(a.out, 'a', 'var.pth'))
    sd['blocks.0.attn.extra_bias'] = torch.zeros(TEST_VAR.embed_dim)
    torch.save(sd, os.path.join(a.out, 'a', 'var_extra_key.pth'))
    _half_precision_pair(os.path.join(a.out, 'a'), os.path.join(a.out, 'py-a-half'), a.preview_samples)
    _preview_reference(os.path.join(a.out, 'a', 'vae.pth'), PAIRS['a'][1], os.path.join(a.out, 'preview-fit'))
    timings['total'] = round(time.perf_counter() - t0, 2)
    with open(os.path.join(a.out, 'fixtures.json'), 'w') as fh:
        json.dump({'pairs': sorted(PAIRS), 'timings': timings}, fh)
    return 0


def _half_precision_pair(folder: str, py_out: str, preview_samples: int) -> None:
    """Pair a stored as float16 (VAR) and bfloat16 (VQVAE), and the Python bundle of the same values in float32."""
    for name, dtype in (('var', torch.float16), ('vae', torch.bfloat16)):
        sd = torch.load(os.path.join(folder, f'{name}.pth'))
        half = {k: v.to(dtype) if v.is_floating_point() else v for k, v in sd.items()}
        torch.save(half, os.path.join(folder, f'{name}_half.pth'))
        torch.save({k: v.float() if v.is_floating_point() else v for k, v in half.items()},
                   os.path.join(folder, f'{name}_half_widened.pth'))
    args = build_parser().parse_args(['--var', os.path.join(folder, 'var_half_widened.pth'), '--vae',
                                      os.path.join(folder, 'vae_half_widened.pth'), '--out', py_out,
                                      '--preview-samples', str(preview_samples)])
    convert(args, log=lambda *_: None)


def _preview_reference(vae_path: str, cfg: VQVAEConfig, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    vae = VQVAE(cfg)
    vae.load_state_dict(torch.load(vae_path), strict=True)
    vae.eval()
    with torch.no_grad():
        fh = _pyramid_fhats(vae, None, 2, torch.Generator().manual_seed(0))   # the fit's own draw (seed 0)
        target = decode01(vae, fh)
    weight, bias, stats = fit_preview(vae, None, num_random=2, seed=0, kernel=5)
    for name, t in (('fhat', fh), ('target', target), ('weight', weight), ('bias', bias)):
        np.ascontiguousarray(t.numpy().astype('<f4')).tofile(os.path.join(out, f'{name}.f32'))
    with open(os.path.join(out, 'reference.json'), 'w') as fh_:
        json.dump({'fhatShape': list(fh.shape), 'targetShape': list(target.shape), 'weightShape': list(weight.shape),
                   'downsample': cfg.downsample, **stats}, fh_)


if __name__ == '__main__':
    sys.exit(main())
