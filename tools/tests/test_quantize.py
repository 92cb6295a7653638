"""Precision variants (tools/export/quantize.py): the packing against onnxruntime's MatMulNBits kernel, and each
variant of the tiny bundle's transformer within its stated tolerance of the fp32 graph (onnxruntime-node)."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.ort import ort_available, run_ort
from export.quantize import MS_DOMAIN, dequantize_blockwise, quantize_blockwise
from quantize_bundle import add_variants

TINY = os.path.join(os.path.dirname(__file__), '..', '..', 'tests', 'fixtures', 'tiny', 'bundle')
needs_ort = pytest.mark.skipif(not ort_available(), reason='node_modules/onnxruntime-node is missing (npm install)')

# max |variant − fp32| / max |fp32| of the transformer's logits (docs/model-bundle.md "Precision variants")
TOLERANCE = {'int8': 0.02, 'dq8': 0.02, 'int4': 0.15, 'fp16': 0.002}


@pytest.mark.parametrize('bits,block,symmetric', [(8, 32, True), (8, 128, False), (4, 32, True), (4, 64, False)])
def test_blockwise_roundtrip_error_is_at_most_half_a_step(bits, block, symmetric):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((24, 200)).astype(np.float32)     # K = 200: not a multiple of any block size
    packed, scales, zp = quantize_blockwise(w, bits, block, symmetric)
    nb = -(-200 // block)
    assert packed.shape == (24, nb, block * bits // 8) and scales.shape == (24 * nb,)
    assert (zp is None) == symmetric
    back = dequantize_blockwise(packed, scales, zp, bits, 200)
    step = np.repeat(scales.reshape(24, nb), block, axis=1)[:, :200]
    assert np.all(np.abs(back - w) <= step / 2 + 1e-6)
    assert np.abs(back - w).max() > 0                        # really quantized


def _single_matmulnbits(tmp_path, w, bits, block, symmetric, x):
    packed, scales, zp = quantize_blockwise(w, bits, block, symmetric)
    N, K = w.shape
    inits = [numpy_helper.from_array(packed, 'B'), numpy_helper.from_array(scales, 'S')]
    ins = ['A', 'B', 'S']
    if zp is not None:
        inits.append(numpy_helper.from_array(zp, 'Z'))
        ins.append('Z')
    node = helper.make_node('MatMulNBits', ins, ['Y'], domain=MS_DOMAIN, K=K, N=N, bits=bits, block_size=block,
                            accuracy_level=0)
    g = helper.make_graph([node], 'q', [helper.make_tensor_value_info('A', TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info('Y', TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17), helper.make_opsetid(MS_DOMAIN, 1)])
    path = str(tmp_path / f'q{bits}_{block}_{symmetric}.onnx')
    onnx.save(m, path)
    return path, dequantize_blockwise(packed, scales, zp, bits, K)


@needs_ort
@pytest.mark.parametrize('bits,block,symmetric', [(8, 32, True), (8, 64, False), (4, 32, True), (4, 128, False)])
def test_packing_matches_onnxruntime_matmulnbits(tmp_path, bits, block, symmetric):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((40, 96)).astype(np.float32)
    x = rng.standard_normal((5, 96)).astype(np.float32)
    path, w_hat = _single_matmulnbits(tmp_path, w, bits, block, symmetric, x)
    y = run_ort([(path, {'A': x})])[0]['Y']
    expect = x.astype(np.float64) @ w_hat.T.astype(np.float64)
    assert np.abs(y - expect).max() <= 1e-4 * np.abs(expect).max()


@needs_ort
def test_tiny_transformer_variants_within_tolerance_of_fp32(tmp_path):
    bundle = str(tmp_path / 'b')
    shutil.copytree(TINY, bundle)
    manifest = add_variants(bundle, list(TOLERANCE))
    variants = manifest['graphs']['transformer']['variants']
    assert set(variants) == set(TOLERANCE)
    for p, v in variants.items():
        assert manifest['files'][v['weights']]['bytes'] == os.path.getsize(os.path.join(bundle, v['weights']))
        if p != 'fp16':
            assert v['quantization']['quantized'] and not any('head.' in n or 'word_embed' in n
                                                              for n in v['quantization']['quantized'])
    m = manifest
    H, c, depth = m['transformer']['numHeads'], m['transformer']['headDim'], m['transformer']['depth']
    rng = np.random.default_rng(2)
    pn = m['patchNums']
    begin, l = sum(p * p for p in pn[:2]), pn[2] ** 2
    feeds = {'labels': np.array([0, m['transformer']['numClasses']], np.int64),
             'token_input': rng.standard_normal((2, l, m['cvae'])).astype(np.float32),
             'begin': np.array([begin], np.int64)}
    for i in range(depth):
        feeds[f'past_key_{i}'] = rng.standard_normal((2, H, begin, c)).astype(np.float32)
        feeds[f'past_value_{i}'] = rng.standard_normal((2, H, begin, c)).astype(np.float32)
    files = [m['graphs']['transformer']['model']] + [variants[p]['model'] for p in TOLERANCE]
    outs = run_ort([(os.path.join(bundle, f), feeds) for f in files])
    ref = outs[0]['logits']
    for p, out in zip(TOLERANCE, outs[1:]):
        rel = np.abs(out['logits'] - ref).max() / np.abs(ref).max()
        assert 0 < rel <= TOLERANCE[p], f'{p}: relative logit error {rel:.2e} (tolerance {TOLERANCE[p]})'
        key = out['present_key_0']
        assert key.shape == (2, H, begin + l, c)
    json.dumps(manifest)
