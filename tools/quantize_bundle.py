#!/usr/bin/python3
"""Add reduced-precision variants of a bundle's transformer (and optionally decoder) graph to the bundle.

    tools/quantize_bundle.py BUNDLE --precision int8,int4,fp16 [--graphs transformer,decoder]
        [--block-size 32] [--accuracy-level 4] [--asymmetric] [--keep-fp32 word_embed,head.]

Writes `<graph>.<precision>.onnx/.weights` beside the fp32 files and records each under
`graphs.<graph>.variants.<precision>` in manifest.json (quantization record; fidelity is filled in by
bench/fidelity.ts). The fp32 graph stays the default; format-1 readers ignore `variants`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional

from export.onnx_io import ExportError, file_sha256
from export.quantize import spec_for, write_variant
from export.quantize_conv import write_decoder_int8

PRECISIONS = ('int8', 'int4', 'fp16', 'dq8')


def parse_precisions(text: str) -> List[str]:
    names = [p.strip() for p in text.split(',') if p.strip()]
    bad = [p for p in names if p != 'fp32' and p not in PRECISIONS]
    if bad:
        raise ExportError(f'--precision: unknown {", ".join(bad)} (expected fp32, {", ".join(PRECISIONS)})')
    return [p for p in names if p != 'fp32']


def add_variants(bundle: str, precisions: List[str], graphs=('transformer',), *, overrides: Optional[Dict] = None,
                 name_suffix: str = '') -> dict:
    """Write the variants and update manifest.json (temp + rename). Returns the updated manifest.

    The decoder has an int8 variant only: other precisions are skipped for it (an error when none is left), and a
    decoder variant under its PSNR bar is not recorded — the others still are, then ExportError says why.
    """
    mpath = os.path.join(bundle, 'manifest.json')
    with open(mpath, encoding='utf-8') as fh:
        manifest = json.load(fh)
    refused: List[str] = []
    written = 0
    for g in graphs:
        entry = manifest['graphs'][g]
        src = os.path.join(bundle, entry['model'])
        base = os.path.splitext(entry['model'])[0]
        wanted = precisions
        if g == 'decoder':
            wanted = [p for p in precisions if p in DECODER_PRECISIONS]
            if not wanted:
                raise ExportError(f'decoder: no {", ".join(precisions)} variant (only int8 pays on CPU; fp16 '
                                  f'convolutions are slower there)')
        for p in wanted:
            key = p + name_suffix
            if g == 'decoder':
                try:
                    v = decoder_variant(bundle, manifest, base + name_suffix if name_suffix else base, overrides or {})
                except ExportError as e:
                    refused.append(str(e))
                    continue
                record = {'model': v['model'], 'weights': v['weights'], 'quantization': v['quantization']}
            else:
                spec = spec_for(p, **{k: x for k, x in (overrides or {}).items() if k != 'minPsnr'})
                v = write_variant(src, bundle, base + name_suffix if name_suffix else base, spec, graph_key=g)
                record = {'model': v['model'], 'weights': v['weights'], 'quantization': spec.record()}
            if v['quantized']:
                record['quantization']['quantized'] = [r['initializer'] for r in v['quantized']]
            old = entry.get('variants', {}).get(key, {})
            if 'fidelity' in v:
                record['fidelity'] = v['fidelity']
            elif 'fidelity' in old and old.get('quantization') == record['quantization']:
                record['fidelity'] = old['fidelity']
            entry.setdefault('variants', {})[key] = record
            for f in (v['model'], v['weights']):
                manifest['files'][f] = {'sha256': file_sha256(os.path.join(bundle, f)),
                                        'bytes': os.path.getsize(os.path.join(bundle, f))}
            print(f'{bundle}: {g} {key}: {v["model"]} ({len(v["quantized"])} {"Convs" if g == "decoder" else "MatMuls"} quantized, '
                  f'{manifest["files"][v["weights"]]["bytes"]} weight bytes)', flush=True)
            written += 1
    if written:
        write_manifest(bundle, manifest)
    if refused:
        raise ExportError('; '.join(refused))
    return manifest


DECODER_PRECISIONS = ('int8',)


def decoder_variant(bundle: str, manifest: dict, base: str, overrides: Dict) -> dict:
    """The decoder's int8 variant (static QLinearConv, recorded only above its PSNR bar)."""
    keep = overrides.get('keptFp32')
    kwargs = {'keep_fp32': keep} if keep is not None else {}
    if overrides.get('minPsnr') is not None:
        kwargs['min_psnr'] = overrides['minPsnr']
    return write_decoder_int8(bundle, manifest, base, **kwargs)


def write_manifest(bundle: str, manifest: dict) -> None:
    mpath = os.path.join(bundle, 'manifest.json')
    tmp = mpath + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as fh:
        json.dump(manifest, fh, indent=1)
        fh.write('\n')
    os.replace(tmp, mpath)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('bundle')
    ap.add_argument('--precision', required=True, help='comma list of int8, int4, fp16, dq8 (fp32 is always there)')
    ap.add_argument('--graphs', default='transformer', help='comma list: transformer, decoder')
    ap.add_argument('--block-size', type=int)
    ap.add_argument('--accuracy-level', type=int, choices=[0, 1, 2, 3, 4])
    ap.add_argument('--asymmetric', action='store_true')
    ap.add_argument('--keep-fp32', help='comma list of weight-name substrings kept float32')
    ap.add_argument('--min-psnr', type=float, help='decoder int8: the median PSNR against fp32 it must reach to be recorded (default 40)')
    ap.add_argument('--suffix', default='', help='variant key suffix, for measuring several settings side by side')
    a = ap.parse_args(argv)
    overrides = {'blockSize': a.block_size, 'accuracyLevel': a.accuracy_level,
                 'symmetric': False if a.asymmetric else None,
                 'keptFp32': tuple(s for s in a.keep_fp32.split(',') if s) if a.keep_fp32 is not None else None,
                 'minPsnr': a.min_psnr}
    try:
        add_variants(a.bundle, parse_precisions(a.precision), tuple(a.graphs.split(',')), overrides=overrides,
                     name_suffix=a.suffix)
    except (ExportError, OSError, KeyError) as e:
        print(f'quantize_bundle: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
