"""tools/bench_reference.py: the timed loop is the reference generation, the bundle loader restores the
bundle's exact weights, and the CLI writes the documented JSON on the tiny config."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

import bench_reference as br
from var_ref.sampler import generate

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_BUNDLE = br.PRESET_BUNDLES['tiny']


def _bundle_models():
    m = br._read_manifest(TINY_BUNDLE)
    vae_cfg, var_cfg = br.configs_from_manifest(m)
    from var_ref.var import VAR
    from var_ref.vqvae import VQVAE
    vae, var = VQVAE(vae_cfg).eval(), VAR(var_cfg).eval()
    br.load_bundle_weights(TINY_BUNDLE, m, vae, var)
    return m, vae, var


def test_bundle_weights_are_the_exported_ones():
    """The tiny bundle was exported from export.tiny.tiny_models(seed=0); reading it back through its
    weightMap and codebook must give every tensor of both models exactly."""
    from export.tiny import tiny_models
    _, vae, var = _bundle_models()
    ref_vae, ref_var = tiny_models(0)
    for mine, ref in ((vae, ref_vae), (var, ref_var)):
        ref_sd = ref.state_dict()
        for k, v in mine.state_dict().items():
            if k.endswith('ema_vocab_hit_SV'):
                continue  # a training statistic, not in bundles
            assert torch.equal(v, ref_sd[k]), k


@pytest.mark.parametrize('label,cfg,top_k,top_p,seed', [(3, 2.0, 16, 0.9, 0), (7, 4.0, 0, 0.0, 5), (0, 1.5, 1, 0.0, 9)])
def test_timed_loop_is_the_reference_generation(label, cfg, top_k, top_p, seed):
    _, vae, var = _bundle_models()
    pw = br.preview_params(TINY_BUNDLE, br._read_manifest(TINY_BUNDLE), vae.cfg, torch.Generator().manual_seed(0))
    timings, tokens, image = br.generate_timed(vae, var, label, cfg, top_k, top_p, seed, pw)
    ref = generate(vae, var, labels=[label], cfg=cfg, top_k=top_k, top_p=top_p, seed=seed, sampler='torch')
    assert len(tokens) == len(ref.tokens)
    for mine, theirs in zip(tokens, ref.tokens):
        assert torch.equal(mine, theirs)
    assert torch.equal(image, ref.image)
    K = len(var.patch_nums)
    assert all(len(timings[k]) == K for k in ('perScaleMs', 'transformerMs', 'samplingMs', 'fhatMs', 'previewMs'))
    assert abs(timings['totalMs'] - sum(timings['perScaleMs']) - timings['decodeMs']) < 1e-6


def test_preview_params_are_the_bundles():
    m = br._read_manifest(TINY_BUNDLE)
    w, b = br.preview_params(TINY_BUNDLE, m, br.configs_from_manifest(m)[0], torch.Generator())
    s, C, k = m['downsample'], m['cvae'], m['preview']['kernel']
    assert tuple(w.shape) == (3 * s * s, C, k, k) and tuple(b.shape) == (3 * s * s,)
    assert w.abs().sum() > 0  # the fitted map, not zeros
    # the same image as the bundle's preview graph (export.graphs.PreviewGraph) on an f̂
    from export.graphs import PreviewGraph
    f_hat = torch.randn(1, C, m['patchNums'][-1], m['patchNums'][-1], generator=torch.Generator().manual_seed(1))
    import torch.nn.functional as F
    mine = F.pixel_shuffle(F.conv2d(f_hat, w, b, padding=k // 2), s).clamp(0, 1)
    assert torch.allclose(mine, PreviewGraph(w, b, s)(f_hat))


def _cli(args, timeout=300):
    return subprocess.run([sys.executable, os.path.join(TOOLS, 'bench_reference.py')] + args,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_tiny_json(tmp_path):
    out = tmp_path / 'tiny.json'
    r = _cli(['--bundle-config', 'tiny', '--threads', '1', '--runs', '2', '--warmup', '1', '--json', str(out)])
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert res['schema'] == 'var-studio-bench-reference/1'
    assert res['config'] == 'tiny' and res['weights'] == 'bundle:tests/fixtures/tiny/bundle'
    assert res['model']['patchNums'] == [1, 2, 3, 4] and res['model']['depth'] == 2
    assert res['settings']['batch'] == 1 and res['settings']['transformerBatch'] == 2
    assert res['settings']['runs'] == 2 and len(res['runsTotalMs']) == 2
    assert res['threads'] == {'torch': 1, 'openblas': 1}
    t = res['timings']
    K = 4
    for key in ('perScaleMs', 'transformerMs', 'samplingMs', 'fhatMs', 'previewMs'):
        assert len(t[key]) == K and all(v > 0 for v in t[key]), key
    assert t['totalMs'] > 0 and t['decodeMs'] > 0
    assert t['firstPreviewMs'] <= t['totalMs'] + sum(t['previewMs'])
    assert res['peakRssMb'] >= res['rssAfterLoadMb'] > 0
    blas = res['blas']
    assert blas['library'], 'no BLAS library found mapped into the process'
    if blas['package']:  # libopenblas0-pthread installed (CI installs it): then it must be the active BLAS
        assert blas['openblas'] and 'openblas' in blas['library']
    assert 'BLAS: OpenBLAS' in r.stdout or 'NOT OpenBLAS' in r.stdout


def test_cli_random_weights_and_openblas_threads(tmp_path):
    out = tmp_path / 'r.json'
    r = _cli(['--bundle-config', 'tiny', '--random-weights', '--threads', '1', '--openblas-threads', '2',
              '--runs', '1', '--warmup', '0', '--print-json', '--json', str(out), '--cfg', '3', '--top-k', '5'])
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res == json.loads(out.read_text())
    assert res['weights'] == 'random' and res['threads'] == {'torch': 1, 'openblas': 2}
    assert res['settings']['cfg'] == 3.0 and res['settings']['topK'] == 5


def test_cli_bad_bundle(tmp_path):
    r = _cli(['--bundle', str(tmp_path)])
    assert r.returncode == 2 and 'no manifest.json' in r.stderr


def test_checkpoints_in_official_layout(tmp_path, capsys):
    """--var-ckpt/--vae-ckpt: validated like the converter, then timed (in-process: no torch start-up)."""
    from official_checkpoints import write_official_pair
    from var_ref.config import VARConfig, VQVAEConfig
    pns = (1, 2, 3)
    f = write_official_pair(str(tmp_path), VARConfig.official(1, pns, num_classes=5, vocab_size=32, z_channels=4),
                            VQVAEConfig(ch=32, ch_mult=(1, 2), vocab_size=32, z_channels=4, patch_nums=pns))
    out = tmp_path / 'r.json'
    assert br.main(['--var-ckpt', f.var_path, '--vae-ckpt', f.vae_path, '--runs', '1', '--warmup', '0',
                    '--threads', '1', '--json', str(out)]) == 0
    res = json.loads(out.read_text())
    assert res['config'] == 'checkpoints' and res['weights'] == 'checkpoints'
    assert res['model']['patchNums'] == [1, 2, 3] and res['model']['depth'] == 1
    assert res['settings']['topK'] == 32  # the demo's 900 capped at V
    capsys.readouterr()
    bad = tmp_path / 'bad.pth'
    bad.write_text('no')
    assert br.main(['--var-ckpt', str(bad), '--vae-ckpt', f.vae_path]) == 2
    assert 'bad.pth' in capsys.readouterr().err
