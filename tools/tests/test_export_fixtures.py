"""The committed tiny bundle and fixtures are exactly what the code writes, and the ONNX path reproduces them."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from export.fixtures import build_fixtures
from export.ort import ort_available
from export.ort_generate import ort_generate
from make_fixtures import BUNDLE_DIR, FIXTURE_DIR, write_tiny_bundle
from var_ref.sampler import edit_keep_masks


def _load(name):
    with open(os.path.join(FIXTURE_DIR, name)) as fh:
        return json.load(fh)


def _arr(t):
    return np.array([np.nan if v is None else v for v in t['data']], dtype=np.float64).reshape(t['shape'])


# OpenBLAS picks its kernels by CPU (AVX2 on one machine, AVX-512 on another), and their sums round differently in
# the last bits; so floats that come out of BLAS are compared to a relative 1e-4 (the graphs' tolerance), everything else exactly.
FLOAT_RTOL = 1e-4


def assert_json_close(got, want, path='$'):
    """Structure, strings, ints and bools equal; floats within FLOAT_RTOL of the larger magnitude."""
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and isinstance(want, (int, float)), path
        assert abs(got - want) <= FLOAT_RTOL * max(1.0, abs(got), abs(want)), f'{path}: {got} != {want}'
    elif isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f'{path}: keys differ'
        for k in want:
            assert_json_close(got[k], want[k], f'{path}.{k}')
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f'{path}: lengths differ'
        for i, (a, b) in enumerate(zip(got, want)):
            assert_json_close(a, b, f'{path}[{i}]')
    else:
        assert got == want, f'{path}: {got!r} != {want!r}'


def test_committed_bundle_is_the_tiny_export(tmp_path):
    torch.set_num_threads(1)
    fresh = write_tiny_bundle(str(tmp_path))
    with open(os.path.join(BUNDLE_DIR, 'manifest.json')) as fh:
        committed = json.load(fh)
    fresh.pop('source'), committed.pop('source')
    # The preview map is a least-squares fit through BLAS: compare its numbers, not its bytes' hash.
    fresh_preview = np.fromfile(os.path.join(str(tmp_path), 'preview.weights'), dtype=np.float32)
    committed_preview = np.fromfile(os.path.join(BUNDLE_DIR, 'preview.weights'), dtype=np.float32)
    assert fresh_preview.shape == committed_preview.shape
    assert np.abs(fresh_preview - committed_preview).max() <= 1e-4 * np.abs(committed_preview).max()
    for m in (fresh, committed):
        m['files'].pop('preview.weights')
    assert_json_close(fresh, committed)   # same graphs, weights, weight map and every other file's hash


def test_committed_fixtures_are_what_the_code_writes():
    torch.set_num_threads(1)
    fresh = json.loads(json.dumps(build_fixtures(BUNDLE_DIR)))
    for name, obj in fresh.items():
        assert_json_close(obj, _load(name), name)


@pytest.mark.skipif(not ort_available(), reason='node_modules/onnxruntime-node is missing (npm install)')
def test_onnx_generation_reproduces_the_seeded_fixtures():
    gens = _load('generation_seeded.json')['generations']
    enc = _load('encoder.json')
    pn = _load('generation_seeded.json')['patchNums']
    for g in gens:
        kw = dict(labels=g['labels'], cfg=g['cfg'], top_k=g['topK'], top_p=g['topP'], more_smooth=g['moreSmooth'],
                  seed=g['seed'], batch=g['batch'])
        if 'prefixScales' in g:
            kw['prefix'] = [np.array(t) for t in g['tokens'][:g['prefixScales']]]
        if 'edit' in g:
            mask = torch.from_numpy(_arr(g['edit']['mask']))
            kw['keep'] = [m.numpy() for m in edit_keep_masks(mask, pn, g['batch'])]
            kw['gt'] = [np.array(t) for t in enc['tokens']]
        got = ort_generate(BUNDLE_DIR, **kw)
        assert got['labels'] == g['drawnLabels'], g['name']
        for si, (a, b) in enumerate(zip(got['tokens'], g['tokens'])):
            assert a.tolist() == b, f'{g["name"]}: scale {si}'
        want = _arr(g['image'])
        assert np.abs(got['image'] - want).max() / np.abs(want).max() <= 1e-4, g['name']
