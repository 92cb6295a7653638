"""tools/convert_official.py on random-weight checkpoints saved in the official layout.

A small depth end to end (bundle written, every checkpoint tensor found byte-exact at its weightMap offset),
every kind of wrong input (exit 2, one line naming the key and the expected vs found shape), and the full
d16 + official VQVAE once.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import convert_official
from checkpoints import CheckpointError, load_state_dict_file
from imagenet_classes import load_imagenet_classes
from official_checkpoints import official_d16_files, write_official_pair
from var_ref.config import PATCH_NUMS_256, PATCH_NUMS_512, VARConfig, VQVAEConfig

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_PNS = (1, 2, 3, 4)


def small_pair(dir_, depth=2, pns=SMALL_PNS, shared=False, V=4096, Cvae=32, vae_ch=32, seed=3):
    var_cfg = VARConfig.official(depth, pns, shared_aln=shared, vocab_size=V, z_channels=Cvae)
    vae_cfg = VQVAEConfig(ch=vae_ch, ch_mult=(1, 2), vocab_size=V, z_channels=Cvae, patch_nums=pns)
    return write_official_pair(str(dir_), var_cfg, vae_cfg, seed=seed)


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    return small_pair(tmp_path_factory.mktemp('small'))


def run_cli(args, capsys):
    code = convert_official.main([str(a) for a in args])
    err = capsys.readouterr().err.strip()
    return code, err


def expect_error(capsys, args, *fragments):
    code, err = run_cli(args, capsys)
    assert code == 2, err
    assert '\n' not in err, f'error must be one line: {err!r}'
    assert err.startswith('convert_official: error: ')
    for f in fragments:
        assert f in err, f'{f!r} not in {err!r}'
    return err


def modified(tmp_path, src, name, edit):
    sd = torch.load(src, map_location='cpu', weights_only=True)
    edit(sd)
    path = tmp_path / name
    torch.save(sd, path)
    return path


def check_bundle_holds_checkpoints(out, var_path, vae_path):
    """Every initializer the weightMap attributes to a checkpoint key is that tensor, byte for byte."""
    m = json.load(open(os.path.join(out, 'manifest.json')))
    sds = {'var': torch.load(var_path, map_location='cpu', weights_only=True),
           'vae': torch.load(vae_path, map_location='cpu', weights_only=True)}
    blobs = {}
    seen = {'var': set(), 'vae': set()}
    for e in m['weightMap']:
        if e['source'] not in sds:
            continue
        fname = m['graphs'][e['graph']]['weights']
        if fname not in blobs:
            blobs[fname] = np.memmap(os.path.join(out, fname), dtype=np.uint8, mode='r')
        raw = bytes(blobs[fname][e['offset']:e['offset'] + e['length']])
        want = sds[e['source']][e['key']].contiguous().numpy()
        assert list(want.shape) == e['shape'], e
        assert raw == want.astype(want.dtype.newbyteorder('<')).tobytes(), (e['graph'], e['key'])
        seen[e['source']].add(e['key'])
    # all learned VAR weights reach the bundle (the deterministic buffers may be rebuilt in-graph)
    learned = {k for k in sds['var'] if k not in ('lvl_1L', 'attn_bias_for_masking') and not k.endswith('zero_k_bias')}
    assert learned <= seen['var'], sorted(learned - seen['var'])[:5]
    assert 'quantize.embedding.weight' in seen['vae'] or m['codebook']['key'] == 'quantize.embedding.weight'
    codebook = np.fromfile(os.path.join(out, 'codebook.f32'), dtype='<f4').reshape(m['codebook']['shape'])
    assert np.array_equal(codebook, sds['vae']['quantize.embedding.weight'].numpy())
    return m


# ------------------------------------------------------------------------------------------ happy path
def test_small_depth_end_to_end(small, tmp_path, capsys):
    out = tmp_path / 'bundle'
    code, err = run_cli(['--var', small.var_path, '--vae', small.vae_path, '--out', out, '--preview-samples', 1], capsys)
    assert code == 0, err
    m = check_bundle_holds_checkpoints(str(out), small.var_path, small.vae_path)
    assert m['classes'] == load_imagenet_classes() and len(m['classes']) == 1000
    assert m['classes'][980] == 'volcano' and m['classes'][0] == 'tench'
    assert m['sampling'] == {'cfg': 4.0, 'topK': 900, 'topP': 0.95, 'moreSmooth': False}
    assert m['patchNums'] == list(SMALL_PNS) and m['vocabSize'] == 4096 and m['cvae'] == 32
    assert m['transformer']['depth'] == 2 and m['transformer']['embedDim'] == 128
    assert m['transformer']['numHeads'] == 2 and m['transformer']['sharedAdaLN'] is False
    assert m['transformer']['numClasses'] == 1000
    assert m['vae']['ch'] == 32 and m['vae']['chMult'] == [1, 2]
    assert m['name'] == 'var-d2-8'  # resolution is named unless it is 256
    src = m['source']
    assert src['kind'] == 'official-checkpoints'
    assert src['var']['file'] == 'var_d2.pth' and src['var']['bytes'] == os.path.getsize(small.var_path)
    import hashlib
    assert src['vae']['sha256'] == hashlib.sha256(open(small.vae_path, 'rb').read()).hexdigest()
    # a second conversion into the same folder is refused unless asked
    expect_error(capsys, ['--var', small.var_path, '--vae', small.vae_path, '--out', out], 'already holds a bundle')


def test_shared_adaln_512_set_small_and_options(tmp_path, capsys):
    """A small d36-s-like model (shared AdaLN, 512-px patch set) converts; --resolution 512 agrees with it."""
    f = small_pair(tmp_path / 'ck', depth=2, pns=PATCH_NUMS_512, shared=True, V=64, Cvae=8, vae_ch=32)
    out = tmp_path / 'b'
    code, err = run_cli(['--var', f.var_path, '--vae', f.vae_path, '--out', out, '--resolution', 512,
                         '--preview-samples', 1, '--cfg', 1.5, '--top-p', 0.96, '--name', 'x', '--title', 'T'], capsys)
    assert code == 2 and 'does not match' in err  # 512 patch set × downsample 2 = 64 px, not 512
    code, err = run_cli(['--var', f.var_path, '--vae', f.vae_path, '--out', out, '--preview-samples', 1,
                         '--cfg', 1.5, '--top-p', 0.96, '--name', 'x', '--title', 'T'], capsys)
    assert code == 0, err
    m = json.load(open(out / 'manifest.json'))
    assert m['transformer']['sharedAdaLN'] is True and m['patchNums'] == list(PATCH_NUMS_512)
    # --top-k 900 is stored clamped to the vocabulary (beyond it top-k keeps every token)
    assert m['sampling'] == {'cfg': 1.5, 'topK': min(900, m['vocabSize']), 'topP': 0.96, 'moreSmooth': False}
    assert m['name'] == 'x' and m['title'] == 'T'
    assert m['phiIndex'] == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]


def test_trainer_checkpoint_form(small, tmp_path):
    """The official trainer's ar-ckpt layout {'trainer': {'var_wo_ddp', 'vae_local'}} is read too."""
    var_sd = torch.load(small.var_path, weights_only=True)
    vae_sd = torch.load(small.vae_path, weights_only=True)
    path = tmp_path / 'ar-ckpt-last.pth'
    torch.save({'epoch': 3, 'iter': 0, 'trainer': {'config': {'x': 1}, 'var_wo_ddp': var_sd, 'vae_local': vae_sd}}, path)
    got = load_state_dict_file(str(path), 'var')
    assert list(got) == list(var_sd) and all(torch.equal(got[k], var_sd[k]) for k in var_sd)
    assert list(load_state_dict_file(str(path), 'vae')) == list(vae_sd)


# --------------------------------------------------------------------------------------- wrong inputs
def test_not_a_checkpoint(small, tmp_path, capsys):
    rnd = tmp_path / 'random.pth'
    rnd.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    txt = tmp_path / 'notes.pth'
    txt.write_text('this is a text file, not weights\n')
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    fake_zip = tmp_path / 'fake.pth'
    import zipfile
    with zipfile.ZipFile(fake_zip, 'w') as z:
        z.writestr('hello.txt', 'hi')
    out = tmp_path / 'o'
    expect_error(capsys, ['--var', rnd, '--vae', small.vae_path, '--out', out], 'random.pth', 'not a PyTorch checkpoint')
    expect_error(capsys, ['--var', small.var_path, '--vae', txt, '--out', out], 'notes.pth', 'not a PyTorch checkpoint')
    expect_error(capsys, ['--var', empty, '--vae', small.vae_path, '--out', out], 'empty.pth', 'empty')
    expect_error(capsys, ['--var', fake_zip, '--vae', small.vae_path, '--out', out], 'fake.pth', 'not a readable')
    expect_error(capsys, ['--var', tmp_path / 'nope.pth', '--vae', small.vae_path, '--out', out], 'no such file')
    tensor_only = tmp_path / 'tensor.pth'
    torch.save(torch.zeros(3), tensor_only)
    expect_error(capsys, ['--var', tensor_only, '--vae', small.vae_path, '--out', out], 'holds a Tensor, not a state dict')
    not_tensors = tmp_path / 'mixed.pth'
    torch.save({'head.weight': torch.zeros(2), 'lr': 0.1}, not_tensors)
    expect_error(capsys, ['--var', not_tensors, '--vae', small.vae_path, '--out', out], "key 'lr' holds a float")
    pickled = tmp_path / 'object.pth'
    torch.save({'w': torch.zeros(1), 'obj': CheckpointError('x')}, pickled)
    expect_error(capsys, ['--var', pickled, '--vae', small.vae_path, '--out', out], '--trust-pickle')
    expect_error(capsys, ['--var', small.vae_path, '--vae', small.var_path, '--out', out], 'swapped --var and --vae')
    expect_error(capsys, ['--var', small.vae_path, '--vae', small.vae_path, '--out', out], 'vae.pth',
                 'not a VAR transformer checkpoint but a VQVAE')
    assert not out.exists()


def test_missing_extra_and_wrong_shapes(small, tmp_path, capsys):
    out = tmp_path / 'o'
    v, q = small.var_path, small.vae_path

    p = modified(tmp_path, v, 'missing.pth', lambda sd: sd.pop('blocks.1.ffn.fc2.bias'))
    expect_error(capsys, ['--var', p, '--vae', q, '--out', out], 'missing.pth', "'blocks.1.ffn.fc2.bias'", '(128)')

    p = modified(tmp_path, v, 'nohead.pth', lambda sd: sd.pop('head.weight'))
    expect_error(capsys, ['--var', p, '--vae', q, '--out', out], "missing key 'head.weight'", '(4096, 128)')

    p = modified(tmp_path, v, 'extra.pth', lambda sd: sd.__setitem__('blocks.0.attn.k_bias', torch.zeros(128)))
    expect_error(capsys, ['--var', p, '--vae', q, '--out', out], "unexpected key 'blocks.0.attn.k_bias'", '(128)')

    p = modified(tmp_path, v, 'shape.pth', lambda sd: sd.__setitem__('blocks.0.ffn.fc1.weight', torch.zeros(500, 128)))
    expect_error(capsys, ['--var', p, '--vae', q, '--out', out], "'blocks.0.ffn.fc1.weight'", 'expected shape (512, 128)',
                 'found (500, 128)')

    p = modified(tmp_path, v, 'dtype.pth', lambda sd: sd.__setitem__('lvl_1L', sd['lvl_1L'].float()))
    expect_error(capsys, ['--var', p, '--vae', q, '--out', out], "'lvl_1L'", 'torch.int64', 'torch.float32')

    p = modified(tmp_path, v, 'kbias.pth', lambda sd: sd['blocks.1.attn.zero_k_bias'].fill_(0.5))
    expect_error(capsys, ['--var', p, '--vae', q, '--out', out], "'blocks.1.attn.zero_k_bias'", 'all zeros')

    def drop_block(sd):
        for k in [k for k in sd if k.startswith('blocks.1.')]:
            sd.pop(k)
    p = modified(tmp_path, v, 'shallow.pth', drop_block)
    expect_error(capsys, ['--var', p, '--vae', q, '--out', out], "'blocks.1.*'", 'depth 2')

    p = modified(tmp_path, q, 'vae_shape.pth', lambda sd: sd.__setitem__('decoder.conv_out.weight', torch.zeros(3, 32, 1, 1)))
    expect_error(capsys, ['--var', v, '--vae', p, '--out', out], 'vae_shape.pth', "'decoder.conv_out.weight'",
                 'expected shape (3, 32, 3, 3)', 'found (3, 32, 1, 1)')

    p = modified(tmp_path, q, 'vae_missing.pth', lambda sd: sd.pop('encoder.mid.attn_1.proj_out.bias'))
    expect_error(capsys, ['--var', v, '--vae', p, '--out', out], "missing key 'encoder.mid.attn_1.proj_out.bias'", '(64)')
    assert not out.exists()


def test_vae_of_another_config(small, tmp_path, capsys):
    other = small_pair(tmp_path / 'other', V=2048, Cvae=32)
    expect_error(capsys, ['--var', small.var_path, '--vae', other.vae_path, '--out', tmp_path / 'o'],
                 "'quantize.embedding.weight'", 'expected shape (4096, 32)', 'found (2048, 32)')
    other = small_pair(tmp_path / 'other16', V=4096, Cvae=16)
    expect_error(capsys, ['--var', small.var_path, '--vae', other.vae_path, '--out', tmp_path / 'o'],
                 "'quantize.embedding.weight'", 'expected shape (4096, 32)', 'found (4096, 16)')


def test_resolution_mismatch(tmp_path, capsys):
    """A 512-px model (the d36-s patch set) given 256-px settings, and the reverse."""
    f512 = small_pair(tmp_path / 'a', depth=2, pns=PATCH_NUMS_512, shared=True, V=64, Cvae=8)
    expect_error(capsys, ['--var', f512.var_path, '--vae', f512.vae_path, '--out', tmp_path / 'o', '--resolution', 256],
                 "key 'pos_1LC'", 'expected shape (1, 680, 128)', 'found (1, 2240, 128)', '512 px patch set')
    expect_error(capsys, ['--var', f512.var_path, '--vae', f512.vae_path, '--out', tmp_path / 'o',
                          '--patch-nums', '1,2,3,4,5,6,8,10,13,16'], "key 'pos_1LC'", 'found (1, 2240, 128)')
    f256 = small_pair(tmp_path / 'b', depth=2, pns=PATCH_NUMS_256, V=64, Cvae=8)
    expect_error(capsys, ['--var', f256.var_path, '--vae', f256.vae_path, '--out', tmp_path / 'o', '--resolution', 512],
                 "key 'pos_1LC'", 'expected shape (1, 2240, 128)', 'found (1, 680, 128)', '256 px patch set')


def test_exit_code_and_stderr_of_the_script(small, tmp_path):
    bad = tmp_path / 'bad.pth'
    bad.write_text('hello')
    r = subprocess.run([sys.executable, os.path.join(TOOLS, 'convert_official.py'), '--var', str(bad), '--vae',
                        small.vae_path, '--out', str(tmp_path / 'o')], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count('\n') == 0 and 'bad.pth' in r.stderr and 'wrote' not in r.stdout


# ----------------------------------------------------------------------------------- d16, full size
@pytest.mark.slow
def test_d16_full_size(tmp_path, capsys):
    files = official_d16_files()
    out = tmp_path / 'var-d16'
    t0 = time.perf_counter()
    code, err = run_cli(['--var', files.var_path, '--vae', files.vae_path, '--out', out, '--resolution', 256,
                         '--preview-samples', 1], capsys)
    took = time.perf_counter() - t0
    assert code == 0, err
    m = check_bundle_holds_checkpoints(str(out), files.var_path, files.vae_path)
    assert m['transformer'] == {'depth': 16, 'embedDim': 1024, 'numHeads': 16, 'headDim': 64, 'sharedAdaLN': False,
                                'attnL2Norm': True, 'numClasses': 1000}
    assert m['patchNums'] == list(PATCH_NUMS_256) and m['resolution'] == 256 and m['downsample'] == 16
    assert m['vae'] == {'ch': 160, 'chMult': [1, 1, 2, 2, 4], 'numResBlocks': 2, 'quantResi': 0.5, 'shareQuantResi': 4}
    assert m['phiIndex'] == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]
    assert m['name'] == 'var-d16' and len(m['classes']) == 1000
    n_var = sum(int(np.prod(e['shape'])) for e in m['weightMap'] if e['source'] == 'var' and e['graph'] == 'transformer')
    assert n_var >= 310_283_520  # every learned parameter of d16 (buffers may be counted too)
    print(f'\nd16 conversion: {took:.1f} s')


# ------------------------------------------------------------------------------------ ImageNet class names
def test_imagenet_classes_are_torchvisions():
    """resources/imagenet-classes.json is exactly what tools/imagenet_classes.py derives from torchvision."""
    import imagenet_classes as ic
    names = ic.load_imagenet_classes()
    assert names == ic.torchvision_categories()
    assert len(names) == 1000 and len(set(names)) == 1000
    assert (names[0], names[1], names[980], names[999]) == ('tench', 'goldfish', 'volcano', 'toilet tissue')
    with open(ic.CLASSES_JSON, encoding='utf-8') as fh:
        assert fh.read() == ic.render(names)  # the committed file is the generator's output, byte for byte


def test_precision_variants_are_added_and_unknown_ones_refused(small, tmp_path, capsys):
    expect_error(capsys, ['--var', small.var_path, '--vae', small.vae_path, '--out', tmp_path / 'x', '--precision', 'int3'],
                 'unknown int3')
    assert not os.path.exists(tmp_path / 'x' / 'manifest.json')
    out = tmp_path / 'bundle'
    code, err = run_cli(['--var', small.var_path, '--vae', small.vae_path, '--out', out, '--preview-samples', 1,
                         '--precision', 'fp32,int8,int4'], capsys)
    assert code == 0, err
    m = json.load(open(out / 'manifest.json', encoding='utf-8'))
    variants = m['graphs']['transformer']['variants']
    assert set(variants) == {'int8', 'int4'}
    assert variants['int4']['quantization']['bits'] == 4 and variants['int8']['quantization']['bits'] == 8
    for v in variants.values():
        assert v['quantization']['quantized'] and os.path.getsize(out / v['weights']) == m['files'][v['weights']]['bytes']
