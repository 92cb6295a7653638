"""The int8 decoder variant (tools/export/quantize_conv.py): weight and activation quantization arithmetic, the
variant written into a copy of the tiny bundle with its fidelity, and the PSNR bar that refuses a variant."""
import json
import os
import shutil

import numpy as np
import onnx
import pytest

from export.onnx_io import ExportError
from export.ort import ort_available, run_ort
from export.quantize_conv import psnr, quantize_weight_per_channel, random_pyramid_fhats, uint8_params
from quantize_bundle import add_variants

TINY = os.path.join(os.path.dirname(__file__), '..', '..', 'tests', 'fixtures', 'tiny', 'bundle')
needs_ort = pytest.mark.skipif(not ort_available(), reason='onnxruntime-node is not installed')
TINY_BAR_DB = 28.0   # the tiny bundle's random-weight decoder (what its variant is recorded against here)


def test_weight_codes_are_within_half_a_step_per_output_channel():
    w = np.random.default_rng(0).standard_normal((6, 4, 3, 3)).astype(np.float32) * np.arange(1, 7).reshape(6, 1, 1, 1)
    codes, scale = quantize_weight_per_channel(w)
    assert codes.dtype == np.int8 and scale.shape == (6,)
    assert np.abs(codes).max() == 127
    err = np.abs(codes.astype(np.float32) * scale.reshape(6, 1, 1, 1) - w)
    assert (err <= scale.reshape(6, 1, 1, 1) / 2 + 1e-7).all()


@pytest.mark.parametrize('lo,hi', [(-3.0, 5.0), (0.5, 2.0), (-2.0, -0.25)])
def test_activation_range_holds_zero_and_the_calibrated_range(lo, hi):
    scale, zp = uint8_params(lo, hi)
    s, z = float(scale), int(zp)
    assert 0 <= z <= 255
    assert np.round(0.0 / s) + z == z                      # 0 quantizes to the zero point: padding stays exact
    half = s / 2 + 1e-6                                    # the zero point is rounded to an integer code
    assert (0 - z) * s <= min(lo, 0) + half and (255 - z) * s >= max(hi, 0) - half


@needs_ort
def test_tiny_decoder_int8_variant_is_recorded_with_its_measured_fidelity(tmp_path):
    bundle = str(tmp_path / 'b')
    shutil.copytree(TINY, bundle)
    manifest = add_variants(bundle, ['int8'], ('decoder',), overrides={'minPsnr': TINY_BAR_DB})
    v = manifest['graphs']['decoder']['variants']['int8']
    q = v['quantization']
    assert q['method'] == 'QLinearConv' and q['keptFp32'] == ['conv_out']
    assert q['quantized'] and not any('conv_out' in n for n in q['quantized'])
    for f in (v['model'], v['weights']):
        assert manifest['files'][f]['bytes'] == os.path.getsize(os.path.join(bundle, f))
    assert manifest['graphs']['transformer'].get('variants') is None   # only the graph asked for
    ops = {n.op_type for n in onnx.load(os.path.join(bundle, v['model']), load_external_data=False).graph.node}
    assert 'QLinearConv' in ops
    # Independently of the tool's own held-out check: other random pyramids, fp32 vs int8 decoder.
    fhats = random_pyramid_fhats(bundle, manifest, 3, seed=123)
    ref, got = (run_ort([(os.path.join(bundle, g), {'f_hat': fhats})])[0]['image']
                for g in (manifest['graphs']['decoder']['model'], v['model']))
    assert not np.array_equal(ref, got)           # really another graph
    scores = [psnr(ref[i], got[i]) for i in range(len(fhats))]
    assert np.median(scores) >= TINY_BAR_DB - 1.0, scores
    assert v['fidelity']['psnrMedianDb'] >= TINY_BAR_DB and v['fidelity']['psnrBarDb'] == TINY_BAR_DB
    assert v['fidelity']['noVisibleLoss'] is (v['fidelity']['psnrMedianDb'] >= 40.0)
    with open(os.path.join(bundle, 'manifest.json')) as fh:
        assert json.load(fh)['graphs']['decoder']['variants']['int8'] == v


@needs_ort
def test_a_variant_under_the_bar_is_refused_and_leaves_nothing(tmp_path):
    bundle = str(tmp_path / 'b')
    shutil.copytree(TINY, bundle)
    before = sorted(os.listdir(bundle))
    with open(os.path.join(bundle, 'manifest.json')) as fh:
        manifest_before = fh.read()
    with pytest.raises(ExportError, match='under the bar of 99'):
        add_variants(bundle, ['int8'], ('decoder',), overrides={'minPsnr': 99.0})
    assert sorted(os.listdir(bundle)) == before
    with open(os.path.join(bundle, 'manifest.json')) as fh:
        assert fh.read() == manifest_before
    with pytest.raises(ExportError, match='no fp16 variant'):
        add_variants(bundle, ['fp16'], ('decoder',))
    assert sorted(os.listdir(bundle)) == before


@needs_ort
def test_transformer_variants_are_recorded_when_the_decoder_is_refused(tmp_path):
    bundle = str(tmp_path / 'b')
    shutil.copytree(TINY, bundle)
    with pytest.raises(ExportError, match='decoder int8: median PSNR'):
        add_variants(bundle, ['int8', 'int4'], ('transformer', 'decoder'), overrides={'minPsnr': 99.0})
    with open(os.path.join(bundle, 'manifest.json')) as fh:
        graphs = json.load(fh)['graphs']
    assert set(graphs['transformer']['variants']) == {'int8', 'int4'}    # int4 skipped for the decoder, not an error
    assert 'variants' not in graphs['decoder']
    assert not any(f.startswith('decoder.int') for f in os.listdir(bundle))
