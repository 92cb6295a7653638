#!/usr/bin/python3
"""Fixture for the importer's TypeScript quantizer: what tools/quantize_bundle.py writes for the tiny bundle.

    /usr/bin/python3 tools/make_quantize_fixtures.py   # → tests/fixtures/tiny/variants/python-quantized.json

For several settings (bits, block size, symmetric or not, per-column dq8) it records the variant's weights file
(sha256, bytes) and its manifest record; src/engine/import/quantize.ts must write the same bytes.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

from export.onnx_io import file_sha256
from quantize_bundle import add_variants

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
TINY = os.path.join(ROOT, 'tests', 'fixtures', 'tiny', 'bundle')
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'tiny', 'variants', 'python-quantized.json')

# (key, precision, overrides)
CASES = [
    ('int8', 'int8', {}),
    ('int8-b32-asym', 'int8', {'blockSize': 32, 'symmetric': False}),
    ('int4', 'int4', {}),
    ('int4-b64-asym', 'int4', {'blockSize': 64, 'symmetric': False}),
    ('int4-b128-acc0', 'int4', {'blockSize': 128, 'accuracyLevel': 0}),
    ('dq8', 'dq8', {}),
]


def main() -> int:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, precision, overrides in CASES:
            d = os.path.join(tmp, key)
            shutil.copytree(TINY, d)
            m = add_variants(d, [precision], overrides=overrides)
            v = m['graphs']['transformer']['variants'][precision]
            w = os.path.join(d, v['weights'])
            out[key] = {'precision': precision, 'quantization': v['quantization'],
                        'weights': {'sha256': file_sha256(w), 'bytes': os.path.getsize(w)}}
    with open(OUT + '.tmp', 'w', encoding='utf-8') as fh:
        json.dump(out, fh, indent=1)
        fh.write('\n')
    os.replace(OUT + '.tmp', OUT)
    print(f'wrote {OUT}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
