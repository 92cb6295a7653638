"""Bundle writer: manifest, file hashes, weight map (re-fillable with another checkpoint), errors, CLI."""
from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np
import onnx
import pytest
import torch

from export.onnx_io import WEIGHT_ALIGN, ExportError
from export.ort import ort_available, run_ort
from export.tiny import TINY_CLASSES, TINY_VAE, TINY_VAR, tiny_models
from export_bundle import main as export_main
from export_bundle import write_bundle
from var_ref.config import config_to_json

SAMPLING = {'cfg': 1.5, 'topK': 10, 'topP': 0.9, 'moreSmooth': False}


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    torch.set_num_threads(1)
    vae, var = tiny_models(seed=21)
    out = str(tmp_path_factory.mktemp('bundle'))
    m = write_bundle(vae, var, out, name='t', title='T', description='d', classes=TINY_CLASSES, sampling=SAMPLING,
                     preview_samples=4, extra_files={'MODEL_CARD.md': '# t\n'})
    return vae, var, out, m


def test_manifest_fields_and_files(exported):
    vae, var, out, m = exported
    assert m['format'] == 'var-studio-bundle' and m['formatVersion'] == 1
    assert m['resolution'] == m['patchNums'][-1] * m['downsample'] == 16
    assert len(m['classes']) == m['transformer']['numClasses'] and len(m['phiIndex']) == len(m['patchNums'])
    with open(os.path.join(out, 'manifest.json')) as fh:
        assert json.load(fh) == m
    assert set(m['files']) == set(os.listdir(out)) - {'manifest.json'}
    for name, f in m['files'].items():
        data = open(os.path.join(out, name), 'rb').read()
        assert len(data) == f['bytes'] and hashlib.sha256(data).hexdigest() == f['sha256']
    cb = np.fromfile(os.path.join(out, 'codebook.f32'), dtype='<f4').reshape(m['codebook']['shape'])
    assert np.array_equal(cb, vae.quantize.embedding.weight.detach().numpy())
    assert m['preview']['costRatio'] < 0.05 and m['preview']['previewMacs'] < m['preview']['decoderMacs']


def test_weight_map_points_at_raw_checkpoint_tensors(exported):
    vae, var, out, m = exported
    sds = {'var': var.state_dict(), 'vae': vae.state_dict()}
    by_graph = {}
    for row in m['weightMap']:
        by_graph.setdefault(row['graph'], []).append(row)
        assert row['offset'] % WEIGHT_ALIGN == 0
        blob = open(os.path.join(out, m['graphs'][row['graph']]['weights']), 'rb').read()
        raw = blob[row['offset']:row['offset'] + row['length']]
        if row['source'] == 'derived':
            assert row['key'].startswith('preview.')
            continue
        ref = sds[row['source']][row['key']].detach().numpy()
        assert raw == ref.astype(ref.dtype.newbyteorder('<')).tobytes(), row['initializer']
        assert row['shape'] == list(ref.shape) and row['dtype'] == str(ref.dtype)
    for key, g in m['graphs'].items():
        model = onnx.load(os.path.join(out, g['model']), load_external_data=False)
        names = [i.name for i in model.graph.initializer]
        assert names == [r['initializer'] for r in by_graph[key]]
        assert all(i.data_location == onnx.TensorProto.EXTERNAL for i in model.graph.initializer)
    # every checkpoint parameter the transformer needs at inference has its own initializer (no merging)
    t_keys = {r['key'] for r in by_graph['transformer']}
    assert {k for k in var.state_dict() if k != 'attn_bias_for_masking'} <= t_keys
    dec_keys = {r['key'] for r in by_graph['decoder']}
    assert {k for k in vae.state_dict() if k.startswith('decoder.') or k.startswith('post_quant_conv.')} == dec_keys


@pytest.mark.skipif(not ort_available(), reason='node_modules/onnxruntime-node is missing (npm install)')
def test_refilling_the_weight_files_from_another_checkpoint_gives_that_model(exported, tmp_path):
    """What the in-app importer will do: same graph structures, other checkpoint written at the recorded offsets."""
    _, _, out, m = exported
    vae2, var2 = tiny_models(seed=22)
    dst = str(tmp_path / 'refilled')
    shutil.copytree(out, dst)
    sds = {'var': var2.state_dict(), 'vae': vae2.state_dict()}
    for row in m['weightMap']:
        if row['source'] == 'derived':
            continue
        path = os.path.join(dst, m['graphs'][row['graph']]['weights'])
        with open(path, 'r+b') as fh:
            fh.seek(row['offset'])
            t = sds[row['source']][row['key']].detach().numpy()
            fh.write(t.astype(t.dtype.newbyteorder('<')).tobytes())
    g = torch.Generator().manual_seed(3)
    f_hat = torch.randn(2, 8, 4, 4, generator=g)
    labels = torch.tensor([4, 10])
    past = {f'past_{k}_{i}': np.zeros((2, 2, 0, 32), np.float32) for i in range(2) for k in ('key', 'value')}
    dec, tr = run_ort([(os.path.join(dst, 'decoder.onnx'), {'f_hat': f_hat.numpy()}),
                       (os.path.join(dst, 'transformer.onnx'),
                        dict(labels=labels.numpy(), token_input=np.zeros((2, 1, 8), np.float32),
                             begin=np.array([0], np.int64), **past))])
    with torch.no_grad():
        want_img = (vae2.fhat_to_img(f_hat) + 1) / 2
        want_logits, _ = var2.forward_scale(labels, var2.scale_input(0, labels, None), None)
    assert np.abs(dec['image'] - want_img.numpy()).max() < 1e-4
    assert np.abs(tr['logits'] - want_logits.numpy()).max() / want_logits.abs().max() < 1e-4


def test_mismatched_inputs_are_refused(tmp_path):
    vae, var = tiny_models(seed=1)
    kw = dict(name='x', title='x', description='x', sampling=SAMPLING)
    with pytest.raises(ExportError, match='class names'):
        write_bundle(vae, var, str(tmp_path), classes=['a'], **kw)
    with pytest.raises(ExportError, match='sampling'):
        write_bundle(vae, var, str(tmp_path), classes=TINY_CLASSES, **dict(kw, sampling={'cfg': 1.0}))
    with pytest.raises(ExportError, match='topK'):
        write_bundle(vae, var, str(tmp_path), classes=TINY_CLASSES, **dict(kw, sampling=dict(SAMPLING, topK=1.5)))
    vae_other, _ = tiny_models(seed=1, vae_cfg=TINY_VAE.replace(patch_nums=(1, 2, 4)))
    with pytest.raises(ExportError, match='patch_nums'):
        write_bundle(vae_other, var, str(tmp_path), classes=TINY_CLASSES, **kw)
    _, var_other = tiny_models(seed=1, var_cfg=TINY_VAR.replace(vocab_size=32))
    with pytest.raises(ExportError, match='V=64'):
        write_bundle(vae, var_other, str(tmp_path), classes=TINY_CLASSES, **kw)


def test_cli_writes_a_bundle_from_checkpoints(tmp_path):
    vae, var = tiny_models(seed=2)
    torch.save(vae.state_dict(), tmp_path / 'vae.pth')
    torch.save({'model': var.state_dict(), 'step': 3}, tmp_path / 'var.pth')   # a training checkpoint wrapping it
    cfg = {'vae': config_to_json(vae.cfg), 'var': config_to_json(var.cfg), 'name': 'cli', 'classes': TINY_CLASSES,
           'sampling': SAMPLING}
    (tmp_path / 'cfg.json').write_text(json.dumps(cfg))
    assert export_main(['--vae-ckpt', str(tmp_path / 'vae.pth'), '--var-ckpt', str(tmp_path / 'var.pth'),
                        '--config', str(tmp_path / 'cfg.json'), '--out', str(tmp_path / 'b')]) == 0
    m = json.loads((tmp_path / 'b' / 'manifest.json').read_text())
    assert m['name'] == 'cli' and m['files']['transformer.weights']['bytes'] > 0


def test_equal_valued_checkpoint_tensors_keep_their_own_initializers(tmp_path):
    """The official init has all-zero q/v biases and all-one GroupNorm gains; torch would merge them by value."""
    vae, var = tiny_models(seed=3)
    with torch.no_grad():
        for blk in var.blocks:
            blk.attn.q_bias.zero_()
            blk.attn.v_bias.zero_()
        for name, p in vae.named_parameters():
            if 'norm' in name and name.endswith('weight'):
                p.fill_(1.0)
    m = write_bundle(vae, var, str(tmp_path), name='z', title='z', description='z', classes=TINY_CLASSES,
                     sampling=SAMPLING, preview_samples=2)
    keys = {(r['graph'], r['key']) for r in m['weightMap']}
    for i in range(var.depth):
        for k in ('q_bias', 'v_bias', 'zero_k_bias'):
            assert ('transformer', f'blocks.{i}.attn.{k}') in keys
    norms = [k for k in vae.state_dict() if k.startswith('decoder.') and 'norm' in k]
    assert all(('decoder', k) in keys for k in norms)


def test_preview_fitted_on_images_beats_a_constant_colour(tmp_path):
    vae, var = tiny_models(seed=4)
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 16), torch.linspace(0, 1, 16), indexing='ij')
    imgs = torch.stack([torch.stack([xx * a, yy * b, (xx + yy) / 2 * c]) for a, b, c in torch.rand(6, 3, generator=g)])
    m = write_bundle(vae, var, str(tmp_path), name='p', title='p', description='p', classes=TINY_CLASSES,
                     sampling=SAMPLING, preview_images=imgs)
    pv = m['preview']
    assert pv['fitSource'] == 'images' and pv['fitSamples'] == 6 * len(m['patchNums'])
    assert pv['psnrVsDecoder'] > pv['psnrConstantBaseline'] + 1.0


def test_cli_refuses_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    torch.save([1, 2, 3], tmp_path / 'junk.pth')
    vae, var = tiny_models(seed=2)
    torch.save(var.state_dict(), tmp_path / 'var.pth')
    cfg = {'vae': config_to_json(vae.cfg), 'var': config_to_json(var.cfg), 'name': 'x', 'classes': TINY_CLASSES,
           'sampling': SAMPLING}
    (tmp_path / 'cfg.json').write_text(json.dumps(cfg))
    rc = export_main(['--vae-ckpt', str(tmp_path / 'junk.pth'), '--var-ckpt', str(tmp_path / 'var.pth'),
                      '--config', str(tmp_path / 'cfg.json'), '--out', str(tmp_path / 'b')])
    assert rc == 2 and 'junk.pth is not a state-dict checkpoint' in capsys.readouterr().err
    # a checkpoint of another shape: strict loading names the key
    rc = export_main(['--vae-ckpt', str(tmp_path / 'var.pth'), '--var-ckpt', str(tmp_path / 'var.pth'),
                      '--config', str(tmp_path / 'cfg.json'), '--out', str(tmp_path / 'b')])
    err = capsys.readouterr().err
    assert rc == 2 and 'Error(s) in loading state_dict for VQVAE' in err and 'encoder.conv_in.weight' in err
