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


def test_committed_bundle_is_the_tiny_export(tmp_path):
    torch.set_num_threads(1)
    fresh = write_tiny_bundle(str(tmp_path))
    with open(os.path.join(BUNDLE_DIR, 'manifest.json')) as fh:
        committed = json.load(fh)
    fresh.pop('source'), committed.pop('source')
    assert fresh == committed   # same graphs, weights, weight map and file hashes


def test_committed_fixtures_are_what_the_code_writes():
    torch.set_num_threads(1)
    fresh = json.loads(json.dumps(build_fixtures(BUNDLE_DIR)))
    for name, obj in fresh.items():
        assert obj == _load(name), name


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
