"""Smoke tests of the training and measuring tools: a few steps of each trainer on tiny synthetic data.

CI never trains a real model; these check that the scripts run end to end, write loadable checkpoints,
resume exactly where they stopped, and that the metrics are computed correctly.
"""
from __future__ import annotations

import gzip
import json
import math
import os

import numpy as np
import pytest
import torch

import data_fashion_mnist as dfm
import eval_classifier
import eval_samples
import train_common
import train_var
import train_vqvae
from eval_vqvae import eval_reconstruction, load_vae

TINY_VAE = {"vocab_size": 64, "z_channels": 8, "ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1, "beta": 0.25,
            "quant_conv_ks": 3, "quant_resi": 0.5, "share_quant_resi": 4, "patch_nums": [1, 2, 4, 8, 16],
            "using_sa": False, "using_mid_sa": True}


def _write_idx(path, magic, arr, dims):
    header = magic.to_bytes(4, 'big') + b''.join(d.to_bytes(4, 'big') for d in dims)
    with gzip.open(path, 'wb') as f:
        f.write(header + arr.astype(np.uint8).tobytes())


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    """Idx files of 48 train + 24 test synthetic 28×28 images (class c = a bright bar at row 2c), built into arrays."""
    src = tmp_path_factory.mktemp('idx')
    rng = np.random.default_rng(0)
    for stem, n in (('train', 48), ('t10k', 24)):
        labels = np.arange(n) % 10
        imgs = rng.integers(0, 40, (n, 28, 28))
        for i, c in enumerate(labels):
            imgs[i, 2 * c + 4:2 * c + 8, 4:24] = 220
        _write_idx(src / f'{stem}-images-idx3-ubyte.gz', 2051, imgs, (n, 28, 28))
        _write_idx(src / f'{stem}-labels-idx1-ubyte.gz', 2049, labels, (n,))
    out = tmp_path_factory.mktemp('arrays')
    assert dfm.build(str(src), str(out)) == {'train': 48, 'test': 24}
    return src, out


def test_data_arrays_padded_rgb(tiny_data):
    src, out = tiny_data
    x, y = dfm.load_arrays('train', str(out))
    raw = dfm.read_idx_images(str(src / 'train-images-idx3-ubyte.gz'))
    assert x.shape == (48, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.array_equal(x[:, 2:30, 2:30, 0], raw) and np.array_equal(x[..., 0], x[..., 2])
    assert x[:, :2].max() == 0 and x[:, :, 30:].max() == 0
    assert y.tolist() == [i % 10 for i in range(48)]
    assert len(dfm.CLASS_NAMES) == 10 and dfm.CLASS_NAMES[9] == 'Ankle boot'


def test_data_errors_are_actionable(tmp_path):
    with pytest.raises(dfm.DatasetError, match='dataset-fashion-mnist'):
        dfm.load_split('train', str(tmp_path))
    _write_idx(tmp_path / 'bad.gz', 2049, np.zeros(4), (4,))
    with pytest.raises(dfm.DatasetError, match='not an idx3'):
        dfm.read_idx_images(str(tmp_path / 'bad.gz'))


def _vae_cfg(tmp_path, steps=4):
    cfg = {"seed": 0, "threads": {"torch": 1, "openblas": 1}, "vae": TINY_VAE,
           "train": {"steps": steps, "batch": 8, "lr": 1e-3, "warmup": 2, "final_lr_ratio": 0.1, "betas": [0.9, 0.99],
                     "weight_decay": 0.0, "l1_weight": 0.2, "vq_weight": 1.0, "restart_every": 2, "restart_until_frac": 1.0,
                     "restart_min_ema_hits": 0.5, "hit_ema_decay": 0.5, "log_every": 1, "checkpoint_seconds": 0}}
    return cfg


@pytest.fixture(scope='module')
def tiny_vae(tiny_data, tmp_path_factory):
    _, arrays = tiny_data
    out = tmp_path_factory.mktemp('vq')
    ev = train_vqvae.train(_vae_cfg(out), str(out), resume=False, data_dir=str(arrays))
    return out, ev


def test_vqvae_trains_evaluates_and_restarts_codes(tiny_vae):
    out, ev = tiny_vae
    assert ev['steps'] == 4 and ev['n_images'] == 24 and 0 < ev['psnr_mean_per_image_db'] < 60
    log = [json.loads(l) for l in open(out / 'log.jsonl')]
    assert any(r.get('restarted', 0) > 0 for r in log), 'dead codes of a 64-code book on 8 images must be restarted'
    vae = load_vae(str(out / 'vqvae_final.pt'))
    assert vae.cfg.patch_nums == (1, 2, 4, 8, 16)


def test_vqvae_resume_continues_the_same_run(tiny_data, tmp_path):
    _, arrays = tiny_data
    full, part = tmp_path / 'full', tmp_path / 'part'
    train_vqvae.train(_vae_cfg(full), str(full), resume=False, data_dir=str(arrays))
    train_vqvae.train(_vae_cfg(part, steps=4), str(part), resume=False, steps_override=2, data_dir=str(arrays))
    # the partial run saved its checkpoint at step 2 with a 2-step schedule; resuming with 4 continues from there
    ck = torch.load(part / 'checkpoint.pt')
    assert ck['step'] == 2
    train_vqvae.train(_vae_cfg(part), str(part), resume=True, data_dir=str(arrays))
    log = [json.loads(l) for l in open(part / 'log.jsonl')]
    assert any(r.get('event') == 'resume' and r['step'] == 2 for r in log)
    assert torch.load(part / 'checkpoint.pt')['step'] == 4


def test_trainer_command_line_exit_codes(tmp_path, capsys):
    """train_common.main: the parsed options reach train; a TrainingError or a missing config is exit 2 with
    one line naming it; the trainers' own options parse (their main goes through the same plumbing)."""
    cfg_path = tmp_path / 'cfg.json'
    cfg_path.write_text(json.dumps({'threads': {'torch': 1, 'openblas': 1}, 'marker': 7}))
    seen = []
    ap = train_common.training_parser('t', 'none.json', 'none')
    assert train_common.main(ap, lambda cfg, a: seen.append((cfg['marker'], a.steps, a.out)),
                             ['--config', str(cfg_path), '--steps', '3', '--out', 'o']) == 0
    assert seen == [(7, 3, 'o')]

    def fail(cfg, a):
        raise train_common.TrainingError('no data arrays in X: run tools/data_fashion_mnist.py')
    assert train_common.main(ap, fail, ['--config', str(cfg_path)]) == 2
    assert capsys.readouterr().err.strip() == 'error: no data arrays in X: run tools/data_fashion_mnist.py'
    assert train_vqvae.main(['--config', str(tmp_path / 'missing.json')]) == 2
    assert 'missing.json not found' in capsys.readouterr().err
    assert train_var.main(['--config', str(tmp_path / 'missing.json'), '--stop-at', '2026-12-01T00:50']) == 2
    assert train_var.stop_time('1970-01-01T00:01') == 60.0 and train_var.stop_time('') == 0.0


def test_eval_reconstruction_psnr_formula():
    class Identity(torch.nn.Module):
        class Q:
            patch_nums, vocab_size = (1,), 4
        quantize = Q()
        def img_to_f(self, x):
            return x
        def img_to_idxBl(self, x):
            return [torch.zeros(x.shape[0], 1, dtype=torch.long)]
    import eval_vqvae
    orig = eval_vqvae.reconstruct
    eval_vqvae.reconstruct = lambda vae, x: (x + 0.2).clamp(-1, 1)      # error 0.1 on [0,1] pixels → 20 dB
    try:
        imgs = np.full((3, 4, 4, 3), 127, dtype=np.uint8)
        r = eval_reconstruction(Identity(), imgs)
    finally:
        eval_vqvae.reconstruct = orig
    assert abs(r['psnr_mean_per_image_db'] - 20.0) < 1e-3 and abs(r['psnr_global_db'] - 20.0) < 1e-3


def _var_cfg():
    return {"seed": 0, "threads": {"torch": 1, "openblas": 1}, "vqvae_ckpt": "unused",
            "var": {"depth": 1, "num_classes": 10, "cond_drop_rate": 0.1, "attn_l2_norm": True, "shared_aln": False},
            "train": {"steps": 3, "batch": 8, "lr": 1e-3, "warmup": 1, "final_lr_ratio": 0.1, "betas": [0.9, 0.95],
                      "weight_decay": 0.05, "grad_clip": 2.0, "ema_decay": 0.9, "log_every": 1, "val_every": 3,
                      "val_images": 8, "checkpoint_seconds": 0}}


def test_var_trains_on_cached_token_pyramids(tiny_data, tiny_vae, tmp_path):
    _, arrays = tiny_data
    vq_out, _ = tiny_vae
    res = train_var.train(_var_cfg(), str(tmp_path), resume=False, vae_path_override=str(vq_out / 'vqvae_final.pt'),
                          data_dir=str(arrays))
    assert res['steps'] == 3 and res['exported'] in ('raw', 'ema')
    log = [json.loads(l) for l in open(tmp_path / 'log.jsonl')]
    first = next(r for r in log if r.get('step') == 1 and 'loss' in r)
    assert abs(first['loss'] - math.log(64)) < 0.1, 'official init_weights: near-uniform logits at step 0'
    tok = torch.load(tmp_path / 'tokens_train.pt')
    assert tok['tokens'].shape == (48, 1 + 4 + 16 + 64 + 256)
    var = train_var.load_var(str(tmp_path / 'var_final.pt'))
    assert var.C == 64 and var.depth == 1 and var.num_classes == 10 and var.cfg.attn_l2_norm


def test_teacher_forced_loss_is_cross_entropy_over_all_tokens(tiny_vae):
    vq_out, _ = tiny_vae
    vae = load_vae(str(vq_out / 'vqvae_final.pt'))
    var = train_var.build_var(_var_cfg(), vae.cfg)
    var.init_weights()
    var.eval()
    tokens = torch.randint(0, 64, (2, 341))
    labels = torch.tensor([3, 7])
    loss, _ = train_var.teacher_forced_loss(var, vae, tokens, labels, cond_drop=False)
    idx = train_var.split_scales(tokens, var.patch_nums)
    logits = var(labels, vae.quantize.idxBl_to_var_input(idx), cond_drop=False)
    manual = -torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).mean()
    assert torch.allclose(loss, manual, atol=1e-6)


def test_classifier_trains_and_predicts(tiny_data, tmp_path):
    _, arrays = tiny_data
    res = eval_classifier.train(str(tmp_path), epochs=1, data_dir=str(arrays))
    assert 0 <= res['test_accuracy'] <= 1 and len(res['per_class_accuracy']) == 10
    clf = eval_classifier.load_classifier(str(tmp_path / 'classifier.pt'))
    x, _ = dfm.load_arrays('test', str(arrays))
    pred, feat = eval_classifier.predict(clf, x)
    assert pred.shape == (24,) and feat.shape == (24, 128)


def test_frechet_distance_known_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert eval_samples.frechet(a, a) < 1e-8
    b = a * 2.0 + np.array([1.0, 0.0, 0.0])
    # N(0, I) vs N(μ, 4I): |μ|² + tr(I) + tr(4I) − 2 tr(2I) = 1 + 3 + 12 − 12 = 4 (up to sampling error)
    assert abs(eval_samples.frechet(a, b) - 4.0) < 0.15


def test_grid_png(tmp_path):
    from PIL import Image
    imgs = np.random.default_rng(0).integers(0, 255, (20, 32, 32, 3), dtype=np.uint8)
    eval_samples.save_grid(imgs, 2, 10, str(tmp_path / 'g.png'), scale=4)
    im = np.asarray(Image.open(tmp_path / 'g.png'))
    assert im.shape == ((2 * 33 + 1) * 4, (10 * 33 + 1) * 4, 3)
    assert np.array_equal(im[4:4 + 128:4, 4:4 + 128:4], imgs[0])


def test_choose_defaults_rule():
    rs = [{'cfg': 1.0, 'top_k': 0, 'top_p': 0.0, 'class_correct': 0.85, 'frechet_vs_test10k': 1.0, 'n': 10, 'seed': 0},
          {'cfg': 3.0, 'top_k': 0, 'top_p': 0.0, 'class_correct': 0.93, 'frechet_vs_test10k': 5.0, 'n': 10, 'seed': 0},
          {'cfg': 4.0, 'top_k': 100, 'top_p': 0.0, 'class_correct': 0.95, 'frechet_vs_test10k': 7.0, 'n': 10, 'seed': 0}]
    d = eval_samples.choose_defaults(rs)
    assert (d['cfg'], d['topK'], d['topP']) == (3.0, 0, 0.0)
    d = eval_samples.choose_defaults(rs[:1])
    assert d['cfg'] == 1.0 and 'no setting' in d['rule']
