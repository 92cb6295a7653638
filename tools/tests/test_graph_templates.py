"""Graph templates (tools/graph_templates.py): equal to a real export, and the committed ones intact.

* A template's `.onnx` files are byte-for-byte the ones `write_bundle` writes for the same architecture, and its
  weightMap rows are the bundle's (tiny architecture, both kinds).
* The committed templates in resources/graph-templates: one per official architecture, their graph files match
  the sha256 recorded in template.json, their weightMap tiles each weights file without overlap.
* var-d12 (the smallest official one, ~30 s) is regenerated and compared with the committed one; the others are
  checked through their recorded hashes (the VQVAE ones take minutes to trace at 256/512 px).
"""
from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch

from export.onnx_io import WEIGHT_ALIGN
from export.tiny import TINY_CLASSES, tiny_models
from export_bundle import write_bundle
from graph_templates import OFFICIAL_TEMPLATES, template_name, write_template
from var_ref.config import config_to_json

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMITTED = os.path.join(REPO, 'resources', 'graph-templates')


def _read(path: str) -> bytes:
    with open(path, 'rb') as fh:
        return fh.read()


def _strip_derived(rows):
    return [dict(r, key=r['initializer']) if r['source'] == 'derived' else r for r in rows]


def test_template_equals_a_real_export(tmp_path):
    vae, var = tiny_models(seed=5)
    bundle = str(tmp_path / 'bundle')
    m = write_bundle(vae, var, bundle, name='t', title='t', description='', classes=TINY_CLASSES,
                     sampling={'cfg': 1.5, 'topK': 10, 'topP': 0.9, 'moreSmooth': False}, preview_samples=2)
    tv = write_template('var', var.cfg, str(tmp_path / 'templates'), log=lambda *_: None)
    ta = write_template('vae', vae.cfg, str(tmp_path / 'templates'), log=lambda *_: None)
    for t in (tv, ta):
        folder = tmp_path / 'templates' / t['name']
        assert sorted(os.listdir(folder)) == sorted([g['model'] for g in t['graphs'].values()] + ['template.json'])
        for key, g in t['graphs'].items():
            assert _read(str(folder / g['model'])) == _read(os.path.join(bundle, g['model'])), key
            assert g['weightsBytes'] == os.path.getsize(os.path.join(bundle, g['weights'])), key
    assert _strip_derived(tv['weightMap'] + ta['weightMap']) == _strip_derived(m['weightMap'])
    assert tv['architecture'] == config_to_json(var.cfg) and ta['architecture'] == config_to_json(vae.cfg)
    assert ta['bundle']['preview']['decoderMacs'] == m['preview']['decoderMacs']
    assert ta['bundle']['phiIndex'] == m['phiIndex'] and tv['bundle']['transformer'] == m['transformer']


def test_every_official_architecture_has_an_intact_template():
    names = {template_name(kind, cfg): (kind, cfg) for kind, cfg in OFFICIAL_TEMPLATES.values()}
    assert sorted(os.listdir(COMMITTED)) == sorted(names)
    for name, (kind, cfg) in names.items():
        with open(os.path.join(COMMITTED, name, 'template.json')) as fh:
            t = json.load(fh)
        assert t['kind'] == kind and t['architecture'] == config_to_json(cfg), name
        for key, g in t['graphs'].items():
            data = _read(os.path.join(COMMITTED, name, g['model']))
            assert len(data) == g['bytes'] and hashlib.sha256(data).hexdigest() == g['sha256'], (name, g['model'])
            rows = sorted((r for r in t['weightMap'] if r['graph'] == key), key=lambda r: r['offset'])
            end = 0
            for r in rows:
                assert r['offset'] % WEIGHT_ALIGN == 0 and r['offset'] >= end, (name, r['initializer'])
                end = r['offset'] + r['length']
            assert end == g['weightsBytes'], name


@pytest.mark.slow
def test_regenerated_d12_template_equals_the_committed_one(tmp_path):
    torch.set_num_threads(1)
    kind, cfg = OFFICIAL_TEMPLATES['var-d12']
    t = write_template(kind, cfg, str(tmp_path), log=lambda *_: None)
    committed = os.path.join(COMMITTED, t['name'])
    with open(os.path.join(committed, 'template.json')) as fh:
        c = json.load(fh)
    assert {k: v for k, v in t.items() if k != 'tool'} == {k: v for k, v in c.items() if k != 'tool'}
    for g in t['graphs'].values():
        assert _read(os.path.join(str(tmp_path), t['name'], g['model'])) == _read(os.path.join(committed, g['model']))
