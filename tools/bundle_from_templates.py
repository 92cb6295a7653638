#!/usr/bin/python3
"""A random-weight bundle from graph templates (resources/graph-templates), with numpy only — no torch export.

    /usr/bin/python3 tools/bundle_from_templates.py --var var-d16-c1024-256 --vae vae-ch160-v4096-z32-256 --out DIR
        [--templates resources/graph-templates] [--seed 0]

For timing on machines where the torch exporter is not at hand (bench/gpu.sh --offline): the template graphs
are copied and every tensor of their weight map is filled with seeded random values of its dtype and shape
(matrices N(0, 1/fan_in), norm scales 1, other vectors N(0, 0.02²), `lvl_1L` the true level of each position,
since it indexes an embedding). Timing does not depend on the values (apart from how many tokens top-k/top-p
keep). Every file is written by temp + rename; the manifest is a format-1 bundle manifest.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = {'transformer': 'transformer', 'fhatStep': 'fhat_step', 'encoder': 'encoder', 'decoder': 'decoder',
         'preview': 'preview'}


# Own copy: this script runs where only numpy and onnx exist (no torch, so export.onnx_io cannot be imported).
def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b''):
            h.update(chunk)
    return h.hexdigest()


def random_tensor(row: dict, patch_nums, rng: np.random.Generator) -> np.ndarray:
    shape, key = tuple(row['shape']), row['key']
    if row['dtype'] == 'int64':
        if key.endswith('lvl_1L'):
            return np.concatenate([np.full(p * p, i, np.int64) for i, p in enumerate(patch_nums)]).reshape(shape)
        return np.zeros(shape, np.int64)
    if row['dtype'] != 'float32':
        raise SystemExit(f'bundle_from_templates: {row["initializer"]}: dtype {row["dtype"]} not handled')
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return (rng.standard_normal(shape, dtype=np.float32) / np.sqrt(max(fan_in, 1))).astype(np.float32)
    if 'norm' in key and key.endswith('weight'):
        return np.ones(shape, np.float32)
    return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)


def fill_weights(rows, path: str, patch_nums, rng) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'wb') as fh:
        for row in sorted(rows, key=lambda r: r['offset']):
            data = random_tensor(row, patch_nums, rng).astype(np.dtype(row['dtype']).newbyteorder('<')).tobytes()
            if len(data) != row['length']:
                raise SystemExit(f'bundle_from_templates: {row["initializer"]}: {len(data)} bytes, template says {row["length"]}')
            fh.seek(row['offset'])
            fh.write(data)
    os.replace(tmp, path)


def imagenet_classes(n: int):
    path = os.path.join(REPO, 'resources', 'imagenet-classes.json')
    if os.path.exists(path):
        with open(path, encoding='utf-8') as fh:
            doc = json.load(fh)
        names = doc['classes'] if isinstance(doc, dict) else doc
        if len(names) == n:
            return names
    return [f'class {i}' for i in range(n)]


def build(templates: str, var_name: str, vae_name: str, out: str, seed: int = 0) -> dict:
    tv = json.load(open(os.path.join(templates, var_name, 'template.json'), encoding='utf-8'))
    ta = json.load(open(os.path.join(templates, vae_name, 'template.json'), encoding='utf-8'))
    bv, ba = tv['bundle'], ta['bundle']
    if bv['patchNums'] != ba['patchNums'] or bv['vocabSize'] != ba['vocabSize'] or bv['cvae'] != ba['cvae']:
        raise SystemExit(f'bundle_from_templates: {var_name} and {vae_name} do not fit together '
                         f'(patchNums/vocabSize/cvae differ)')
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    pn = bv['patchNums']
    weight_map = []
    for key, base in FILES.items():
        src_dir = os.path.join(templates, var_name if key == 'transformer' else vae_name)
        rows = [r for r in (tv if key == 'transformer' else ta)['weightMap'] if r['graph'] == key]
        shutil.copyfile(os.path.join(src_dir, f'{base}.onnx'), os.path.join(out, f'{base}.onnx'))
        fill_weights(rows, os.path.join(out, f'{base}.weights'), pn, rng)
        weight_map += rows
    V, C = bv['vocabSize'], bv['cvae']
    codebook = rng.standard_normal((V, C), dtype=np.float32)
    codebook.astype('<f4').tofile(os.path.join(out, 'codebook.f32'))
    names = [f'{b}.{e}' for b in FILES.values() for e in ('onnx', 'weights')] + ['codebook.f32']
    files = {f: {'sha256': _sha256(os.path.join(out, f)), 'bytes': os.path.getsize(os.path.join(out, f))} for f in names}
    nc = bv['transformer']['numClasses']
    manifest = {
        'format': 'var-studio-bundle', 'formatVersion': 1,
        'name': f'{var_name}-random', 'title': f'{var_name} + {vae_name}, random weights (benchmark only)',
        'description': 'Graph templates filled with random weights; draws noise.', 'license': 'MIT',
        'resolution': ba['resolution'], 'downsample': ba['downsample'], 'patchNums': pn, 'vocabSize': V, 'cvae': C,
        'phiIndex': ba['phiIndex'], 'classes': imagenet_classes(nc), 'transformer': bv['transformer'], 'vae': ba['vae'],
        'sampling': {'cfg': 1.5, 'topK': 900, 'topP': 0.96, 'moreSmooth': False},
        'preview': {'method': 'linear-conv-pixelshuffle', 'description': 'random weights (timing only)',
                    **{k: v for k, v in ba.get('preview', {}).items()}},
        'graphs': {k: {'model': f'{b}.onnx', 'weights': f'{b}.weights'} for k, b in FILES.items()},
        'codebook': {'file': 'codebook.f32', 'shape': [V, C], 'dtype': 'float32', 'key': 'quantize.embedding.weight'},
        'weightMap': weight_map, 'files': files,
        'source': {'tool': 'tools/bundle_from_templates.py', 'templates': [var_name, vae_name], 'seed': seed},
    }
    tmp = os.path.join(out, 'manifest.json.tmp')
    with open(tmp, 'w', encoding='utf-8') as fh:
        json.dump(manifest, fh, indent=1)
        fh.write('\n')
    os.replace(tmp, os.path.join(out, 'manifest.json'))
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--templates', default=os.path.join(REPO, 'resources', 'graph-templates'))
    ap.add_argument('--var', default='var-d16-c1024-256')
    ap.add_argument('--vae', default='vae-ch160-v4096-z32-256')
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args(argv)
    for name in (a.var, a.vae):
        if not os.path.isfile(os.path.join(a.templates, name, 'template.json')):
            print(f'bundle_from_templates: {a.templates}/{name}/template.json not found (graph templates come with '
                  f'the importer; pass --templates DIR)', file=sys.stderr)
            return 2
    t0 = time.time()
    m = build(a.templates, a.var, a.vae, a.out, a.seed)
    print(json.dumps({'out': a.out, 'bytes': sum(f['bytes'] for f in m['files'].values()),
                      'seconds': round(time.time() - t0, 1)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
