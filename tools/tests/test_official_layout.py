"""The reference models have exactly the official state-dict layout (docs/var-model.md#checkpoint-keys-and-shapes).

The expected key lists are written out here from the reference tables, independently of `var_ref/`: if the
model code renames, reorders, drops or reshapes anything, these tests fail. d20–d36 are far too big to
allocate in CI time, so their layout comes from the real constructors run on the meta device
(`checkpoints.shape_only`); `test_shape_only_equals_real_construction` proves that traversal reports what a
real construction holds (d16 and small configs), so nothing is lost by using it.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import pytest
import torch

from checkpoints import layout_of, shape_only, var_layout, vae_layout
from official_checkpoints import official_d16_files, random_fill_
from var_ref.config import OFFICIAL_VAE, OFFICIAL_VAR, PATCH_NUMS_256, PATCH_NUMS_512, VARConfig, VQVAEConfig
from var_ref.var import VAR
from var_ref.vqvae import VQVAE

F32, I64 = torch.float32, torch.int64


# ----------------------------------------------------------------------------- the spec, from docs/var-model.md
def spec_var(depth, C, H, patch_nums, V=4096, Cvae=32, num_classes=1000, shared=False, hidden=None):
    """(key → (shape, dtype)) in checkpoint order, and the set of buffer keys, per docs/var-model.md (VAR keys)."""
    hidden = hidden or 4 * C
    L, K, first_l = sum(p * p for p in patch_nums), len(patch_nums), patch_nums[0] ** 2
    s = OrderedDict()
    s['pos_start'] = ((1, first_l, C), F32)
    s['pos_1LC'] = ((1, L, C), F32)
    s['lvl_1L'] = ((1, L), I64)
    s['attn_bias_for_masking'] = ((1, 1, L, L), F32)
    s['word_embed.weight'] = ((C, Cvae), F32)
    s['word_embed.bias'] = ((C,), F32)
    s['class_emb.weight'] = ((num_classes + 1, C), F32)
    s['lvl_embed.weight'] = ((K, C), F32)
    if shared:
        s['shared_ada_lin.1.weight'] = ((6 * C, C), F32)
        s['shared_ada_lin.1.bias'] = ((6 * C,), F32)
    buffers = {'lvl_1L', 'attn_bias_for_masking'}
    for i in range(depth):
        b = f'blocks.{i}.'
        if shared:
            s[b + 'ada_gss'] = ((1, 1, 6, C), F32)
        s[b + 'attn.scale_mul_1H11'] = ((1, H, 1, 1), F32)
        s[b + 'attn.q_bias'] = ((C,), F32)
        s[b + 'attn.v_bias'] = ((C,), F32)
        s[b + 'attn.zero_k_bias'] = ((C,), F32)
        buffers.add(b + 'attn.zero_k_bias')
        s[b + 'attn.mat_qkv.weight'] = ((3 * C, C), F32)
        s[b + 'attn.proj.weight'] = ((C, C), F32)
        s[b + 'attn.proj.bias'] = ((C,), F32)
        s[b + 'ffn.fc1.weight'] = ((hidden, C), F32)
        s[b + 'ffn.fc1.bias'] = ((hidden,), F32)
        s[b + 'ffn.fc2.weight'] = ((C, hidden), F32)
        s[b + 'ffn.fc2.bias'] = ((C,), F32)
        if not shared:
            s[b + 'ada_lin.1.weight'] = ((6 * C, C), F32)
            s[b + 'ada_lin.1.bias'] = ((6 * C,), F32)
    s['head_nm.ada_lin.1.weight'] = ((2 * C, C), F32)
    s['head_nm.ada_lin.1.bias'] = ((2 * C,), F32)
    s['head.weight'] = ((V, C), F32)
    s['head.bias'] = ((V,), F32)
    return s, buffers


def _conv(s, name, cout, cin, k):
    s[name + '.weight'] = ((cout, cin, k, k), F32)
    s[name + '.bias'] = ((cout,), F32)


def _norm(s, name, c):
    s[name + '.weight'] = ((c,), F32)
    s[name + '.bias'] = ((c,), F32)


def _resblock(s, name, cin, cout):
    _norm(s, name + '.norm1', cin)
    _conv(s, name + '.conv1', cout, cin, 3)
    _norm(s, name + '.norm2', cout)
    _conv(s, name + '.conv2', cout, cout, 3)
    if cin != cout:
        _conv(s, name + '.nin_shortcut', cout, cin, 1)


def _attn(s, name, c):
    _norm(s, name + '.norm', c)
    _conv(s, name + '.qkv', 3 * c, c, 1)
    _conv(s, name + '.proj_out', c, c, 1)


def spec_vae(ch=160, ch_mult=(1, 1, 2, 2, 4), nrb=2, V=4096, Cvae=32, K=10, share=4, ks=3):
    """(key → (shape, dtype)) in checkpoint order and the buffer keys, per docs/var-model.md (VQVAE keys)."""
    s = OrderedDict()
    n = len(ch_mult)
    _conv(s, 'encoder.conv_in', ch, 3, 3)
    cin = ch
    for i in range(n):
        cout = ch * ch_mult[i]
        for j in range(nrb):
            _resblock(s, f'encoder.down.{i}.block.{j}', cin, cout)
            cin = cout
        if i == n - 1:
            for j in range(nrb):
                _attn(s, f'encoder.down.{i}.attn.{j}', cin)
        else:
            _conv(s, f'encoder.down.{i}.downsample.conv', cin, cin, 3)
    _resblock(s, 'encoder.mid.block_1', cin, cin)
    _attn(s, 'encoder.mid.attn_1', cin)
    _resblock(s, 'encoder.mid.block_2', cin, cin)
    _norm(s, 'encoder.norm_out', cin)
    _conv(s, 'encoder.conv_out', Cvae, cin, 3)

    top = ch * ch_mult[-1]
    _conv(s, 'decoder.conv_in', top, Cvae, 3)
    _resblock(s, 'decoder.mid.block_1', top, top)
    _attn(s, 'decoder.mid.attn_1', top)
    _resblock(s, 'decoder.mid.block_2', top, top)
    # Levels are built from the top (i = n−1) down, but stored as up.0 … up.{n−1}: in_ch of level i is the
    # out_ch of level i+1 (top for the last level).
    up = {}
    cin = top
    for i in reversed(range(n)):
        lvl = OrderedDict()
        cout = ch * ch_mult[i]
        for j in range(nrb + 1):
            _resblock(lvl, f'decoder.up.{i}.block.{j}', cin, cout)
            cin = cout
        if i == n - 1:
            for j in range(nrb + 1):
                _attn(lvl, f'decoder.up.{i}.attn.{j}', cin)
        if i != 0:
            _conv(lvl, f'decoder.up.{i}.upsample.conv', cin, cin, 3)
        up[i] = lvl
    for i in range(n):
        s.update(up[i])
    _norm(s, 'decoder.norm_out', ch)
    _conv(s, 'decoder.conv_out', 3, ch, 3)

    s['quantize.ema_vocab_hit_SV'] = ((K, V), F32)
    for i in range(share):
        _conv(s, f'quantize.quant_resi.qresi_ls.{i}', Cvae, Cvae, 3)
    s['quantize.embedding.weight'] = ((V, Cvae), F32)
    _conv(s, 'quant_conv', Cvae, Cvae, ks)
    _conv(s, 'post_quant_conv', Cvae, Cvae, ks)
    return s, {'quantize.ema_vocab_hit_SV'}


def n_params(spec, buffers, prefix=''):
    return sum(math.prod(shape) for k, (shape, _) in spec.items() if k not in buffers and k.startswith(prefix))


def assert_layout_equal(got, want):
    got_keys, want_keys = list(got), list(want)
    missing = [k for k in want_keys if k not in got]
    extra = [k for k in got_keys if k not in want]
    assert not missing and not extra, f'missing {missing[:5]} extra {extra[:5]}'
    assert got_keys == want_keys, 'key order differs from the official checkpoint order'
    for k in want_keys:
        assert got[k] == want[k], f'{k}: model has {got[k]}, official layout is {want[k]}'


# ---------------------------------------------------------------------------------- official presets
OFFICIAL_COUNTS = {  # docs/var-model.md#configurations-and-scales (counted by running the official code)
    16: (220, 310_283_520),
    20: (12 + 13 * 20, 600_917_136),
    24: (12 + 13 * 24, 1_033_399_360),
    30: (12 + 13 * 30, 2_010_020_356),
    36: (446, 2_353_893_904),
}


@pytest.mark.parametrize('depth', [16, 20, 24, 30, 36])
def test_official_var_layout(depth):
    cfg = OFFICIAL_VAR[depth]
    shared = depth == 36
    pns = PATCH_NUMS_512 if shared else PATCH_NUMS_256
    assert cfg.embed_dim == 64 * depth and cfg.num_heads == depth and cfg.shared_aln == shared
    assert tuple(cfg.patch_nums) == pns
    want, buffers = spec_var(depth, 64 * depth, depth, pns, shared=shared)
    model = shape_only(lambda: VAR(cfg))
    got = layout_of(model)
    assert_layout_equal(got, want)
    keys, params = OFFICIAL_COUNTS[depth]
    assert len(got) == keys
    assert n_params(want, buffers) == params
    assert sum(p.numel() for p in model.parameters()) == params
    assert {k for k, _ in model.named_buffers()} == buffers  # every buffer is persistent (in the state dict)
    # the parameter formula of docs/var-model.md (VAR keys): blocks 18C²+14C+H (12C²+14C+H shared) + shared 6C²+6C + the rest.
    C, H, L, V = 64 * depth, depth, sum(p * p for p in pns), 4096
    per_block = (12 if shared else 18) * C * C + 14 * C + H
    rest = C * (1 + L + 33 + 1001 + 10) + 2 * C * C + 2 * C + V * (C + 1) + (6 * C * C + 6 * C if shared else 0)
    assert depth * per_block + rest == params


def test_official_vae_layout():
    want, buffers = spec_vae()
    model = shape_only(lambda: VQVAE(OFFICIAL_VAE))
    got = layout_of(model)
    assert_layout_equal(got, want)
    assert len(got) == 324
    assert sum(p.numel() for p in model.parameters()) == n_params(want, buffers) == 108_948_355
    assert n_params(want, buffers, 'encoder.') == 44_107_872
    assert n_params(want, buffers, 'decoder.') == 64_653_923
    assert n_params(want, buffers, 'quantize.') == 168_064
    assert n_params(want, buffers, 'quant_conv.') == n_params(want, buffers, 'post_quant_conv.') == 9_248
    assert {k for k, _ in model.named_buffers()} == buffers
    # The same VAE serves 512 px (d36-s): only the quantizer's patch list changes, no key or shape.
    assert layout_of(shape_only(lambda: VQVAE(OFFICIAL_VAE.replace(patch_nums=PATCH_NUMS_512)))) == got


# ------------------------------------------------------------------------ smaller members of the family
SMALL_VAR = [
    dict(depth=2, C=128, H=2, patch_nums=(1, 2, 3, 4), V=512, Cvae=16, shared=False),
    dict(depth=3, C=192, H=3, patch_nums=(1, 2, 3, 4, 6, 8), V=1024, Cvae=8, shared=True),
    dict(depth=4, C=256, H=4, patch_nums=(1, 2, 3, 4, 6, 8), V=512, Cvae=16, shared=False, num_classes=10),
    dict(depth=1, C=96, H=3, patch_nums=(2, 4), V=64, Cvae=4, shared=False, num_classes=7),   # first_l = 4
    dict(depth=5, C=128, H=4, patch_nums=PATCH_NUMS_256, V=4096, Cvae=32, shared=True, hidden=320),
]


def _small_var_cfg(d):
    return VARConfig(depth=d['depth'], embed_dim=d['C'], num_heads=d['H'], patch_nums=d['patch_nums'],
                     vocab_size=d['V'], z_channels=d['Cvae'], shared_aln=d['shared'],
                     num_classes=d.get('num_classes', 1000), mlp_ratio=d.get('hidden', 4 * d['C']) / d['C'])


@pytest.mark.parametrize('d', SMALL_VAR, ids=lambda d: f"d{d['depth']}C{d['C']}K{len(d['patch_nums'])}")
def test_small_var_layout(d):
    want, buffers = spec_var(d['depth'], d['C'], d['H'], d['patch_nums'], d['V'], d['Cvae'],
                             d.get('num_classes', 1000), d['shared'], d.get('hidden'))
    model = VAR(_small_var_cfg(d))   # real construction: small enough
    assert_layout_equal(layout_of(model), want)
    assert len(want) == (14 + 12 * d['depth'] if d['shared'] else 12 + 13 * d['depth'])
    assert {k for k, _ in model.named_buffers()} == buffers


SMALL_VAE = [
    dict(ch=32, ch_mult=(1, 2, 2), nrb=1, V=512, Cvae=16, K=6, share=4),
    dict(ch=64, ch_mult=(1, 1, 2), nrb=2, V=256, Cvae=8, K=4, share=3, ks=1),
    dict(ch=32, ch_mult=(1, 2, 2, 4), nrb=2, V=4096, Cvae=32, K=10, share=2),
]


@pytest.mark.parametrize('d', SMALL_VAE, ids=lambda d: f"ch{d['ch']}x{len(d['ch_mult'])}")
def test_small_vae_layout(d):
    pns = {4: (1, 2, 3, 4), 6: (1, 2, 3, 4, 6, 8), 10: PATCH_NUMS_256}[d['K']]
    cfg = VQVAEConfig(vocab_size=d['V'], z_channels=d['Cvae'], ch=d['ch'], ch_mult=d['ch_mult'],
                      num_res_blocks=d['nrb'], share_quant_resi=d['share'], quant_conv_ks=d.get('ks', 3),
                      patch_nums=pns)
    want, buffers = spec_vae(d['ch'], d['ch_mult'], d['nrb'], d['V'], d['Cvae'], d['K'], d['share'], d.get('ks', 3))
    model = VQVAE(cfg)
    assert_layout_equal(layout_of(model), want)
    assert {k for k, _ in model.named_buffers()} == buffers


# ------------------------------------------------------------------------------------ buffer values
def test_buffer_values_small():
    pns = (1, 2, 3)
    model = VAR(VARConfig(depth=2, embed_dim=64, num_heads=1, patch_nums=pns, vocab_size=32, z_channels=4))
    sd = model.state_dict()
    lvl = [0] + [1] * 4 + [2] * 9
    assert sd['lvl_1L'].tolist() == [lvl]
    bias = sd['attn_bias_for_masking'][0, 0]
    for q in range(14):
        for k in range(14):
            assert bias[q, k].item() == (0.0 if lvl[q] >= lvl[k] else -math.inf), (q, k)
    assert all(sd[f'blocks.{i}.attn.zero_k_bias'].abs().sum() == 0 for i in range(2))
    assert torch.allclose(sd['blocks.0.attn.scale_mul_1H11'], torch.full((1, 1, 1, 1), math.log(4.0)))


# --------------------------------------------------- the meta traversal is faithful to a real construction
@pytest.mark.parametrize('cfg', [_small_var_cfg(SMALL_VAR[1]), _small_var_cfg(SMALL_VAR[4])], ids=['small-shared', 'K10'])
def test_shape_only_equals_real_construction(cfg):
    assert var_layout(cfg) == layout_of(VAR(cfg))
    vcfg = VQVAEConfig(ch=32, ch_mult=(1, 2), vocab_size=64, z_channels=8, patch_nums=(1, 2, 4))
    assert vae_layout(vcfg) == layout_of(VQVAE(vcfg))
    # and it allocates nothing: every tensor is on the meta device
    assert all(t.device.type == 'meta' for t in shape_only(lambda: VAR(cfg)).state_dict().values())


# ----------------------------------------------------------------- strict loading of official-layout files
def _roundtrip(tmp_path, build, fill_seed):
    """Save a random-weight model the official way (torch.save of its state dict) and load it strictly
    into a freshly built model; every tensor must arrive unchanged."""
    src = build()
    random_fill_(src, fill_seed)
    path = tmp_path / 'ckpt.pth'
    torch.save(src.state_dict(), path)
    loaded = torch.load(path, map_location='cpu', weights_only=True)
    assert isinstance(loaded, dict) and all(isinstance(v, torch.Tensor) for v in loaded.values())
    dst = build()
    dst.load_state_dict(loaded, strict=True)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_strict_load_small(tmp_path):
    cfg = _small_var_cfg(SMALL_VAR[2])
    _roundtrip(tmp_path, lambda: VAR(cfg), 1)
    vcfg = VQVAEConfig(ch=32, ch_mult=(1, 2, 2), vocab_size=512, z_channels=16, patch_nums=(1, 2, 3, 4, 6, 8))
    _roundtrip(tmp_path, lambda: VQVAE(vcfg), 2)


@pytest.mark.slow
def test_strict_load_d16_and_official_vae():
    """d16 and the official VAE at full size: the shared official-layout files load strictly, the layout of
    what was written equals the spec, and a real d16 holds exactly the meta traversal's layout."""
    files = official_d16_files()
    var_sd = torch.load(files.var_path, map_location='cpu', weights_only=True)
    vae_sd = torch.load(files.vae_path, map_location='cpu', weights_only=True)
    want, _ = spec_var(16, 1024, 16, PATCH_NUMS_256)
    assert_layout_equal(OrderedDict((k, (tuple(v.shape), v.dtype)) for k, v in var_sd.items()), want)
    want_vae, _ = spec_vae()
    assert_layout_equal(OrderedDict((k, (tuple(v.shape), v.dtype)) for k, v in vae_sd.items()), want_vae)

    from checkpoints import _skip_init
    with _skip_init():
        var, vae = VAR(OFFICIAL_VAR[16]), VQVAE(OFFICIAL_VAE)
    assert layout_of(var) == var_layout(OFFICIAL_VAR[16]) and layout_of(vae) == vae_layout(OFFICIAL_VAE)
    var.load_state_dict(var_sd, strict=True)
    vae.load_state_dict(vae_sd, strict=True)
    for k in ('head.weight', 'blocks.15.ffn.fc2.weight', 'lvl_1L', 'attn_bias_for_masking'):
        assert torch.equal(var.state_dict()[k], var_sd[k]), k
    assert torch.equal(vae.quantize.embedding.weight, vae_sd['quantize.embedding.weight'])
