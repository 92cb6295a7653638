"""tools/make_shaped_bundle.py's streamed writer (d24/d30 presets): the transformer exported without its weights
and filled from a shallower template must be byte-identical to a normal export of the same weights."""
from __future__ import annotations

import os
import sys

import pytest
import torch

from export.tiny import TINY_CLASSES, TINY_VAR, tiny_models
from export_bundle import write_bundle
from var_ref.var import VAR

import make_shaped_bundle as shaped

META = dict(name='t', title='T', description='d', classes=TINY_CLASSES,
            sampling={'cfg': 1.5, 'topK': 10, 'topP': 0.9, 'moreSmooth': False}, preview_samples=2)


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
    vae, template = tiny_models(seed=5)
    cfg = TINY_VAR.replace(depth=5)
    streamed_dir = str(tmp_path_factory.mktemp('streamed'))
    streamed = shaped.write_streamed(vae, cfg, template, streamed_dir, META)
    # the same model built the ordinary way: every block i holds the template's block i mod 2, scaled
    full = VAR(cfg)
    tsd = template.state_dict()
    full.load_state_dict({k: torch.from_numpy(shaped.template_tensor(tsd, k, template.depth)) for k in full.state_dict()})
    normal_dir = str(tmp_path_factory.mktemp('normal'))
    normal = write_bundle(vae, full, normal_dir, **META)
    return streamed_dir, streamed, normal_dir, normal, full


def test_template_key_maps_blocks_modulo_the_template_depth():
    assert shaped.template_key('blocks.7.attn.mat_qkv.weight', 2) == 'blocks.1.attn.mat_qkv.weight'
    assert shaped.template_key('blocks.12.ffn.fc1.bias', 2) == 'blocks.0.ffn.fc1.bias'
    assert shaped.template_key('head.weight', 2) == 'head.weight'
    # copies are not byte-identical (onnxruntime would share identical initializers)
    assert [shaped.block_copy_gain(f'blocks.{i}.ffn.fc1.weight', 2) for i in (0, 1, 2, 5)] == [1.0, 1.0, 1.001, 1.002]


def test_streamed_transformer_equals_a_normal_export(pair):
    streamed_dir, streamed, normal_dir, normal, _ = pair
    for name in ('transformer.onnx', 'transformer.weights'):
        with open(os.path.join(streamed_dir, name), 'rb') as a, open(os.path.join(normal_dir, name), 'rb') as b:
            assert a.read() == b.read(), name
    rows = lambda m: [r for r in m['weightMap'] if r['graph'] == 'transformer']  # noqa: E731
    assert rows(streamed) == rows(normal)
    assert streamed['transformer']['depth'] == 5
    assert streamed['files']['transformer.weights'] == normal['files']['transformer.weights']


def _rss_bytes() -> int:
    with open('/proc/self/statm') as fh:
        return int(fh.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


@pytest.mark.skipif(not os.path.exists('/proc/self/statm'), reason='needs Linux /proc')
def test_weights_built_for_streaming_take_no_memory_and_init_is_restored():
    before = _rss_bytes()
    with shaped.uninitialised_weights():
        big = torch.nn.Linear(8192, 16384)          # 512 MiB of weights, never written
        var = VAR(TINY_VAR.replace(depth=3))
    assert _rss_bytes() - before < 64 << 20
    assert var.lvl_1L.tolist() == VAR(TINY_VAR).lvl_1L.tolist()   # buffers are still computed
    del big
    fresh = torch.nn.Linear(64, 64)                  # the usual init is back after the block
    assert fresh.weight.abs().sum() > 0 and fresh.weight.std() > 0.01
