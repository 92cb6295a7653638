#!/usr/bin/env python3
"""The table of bench/gpu.sh: one row per engine provider × precision, and the PyTorch reference.

    python3 bench/gpu_table.py RESULTS.jsonl [--reference reference.json] [--reference-error err.txt] [--gpu NAME]

Columns: time per image (B = 1, CFG, with previews, median), without previews, scales per second (K ÷ the bare
time), first preview (from the call to the first scale's preview), decode, peak GPU memory (nvidia-smi, used
minus before, sampled every 100 ms; the reference: torch.cuda.max_memory_allocated), peak RSS, ratio to the
reference, and what the engine really ran on (a provider that failed falls back to CPU and says why).
"""
from __future__ import annotations

import argparse
import json
import os


def ms(x):
    return 'n/a' if x is None else (f'{x / 1000:.2f} s' if x >= 1000 else f'{x:.1f} ms')


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('results')
    ap.add_argument('--reference')
    ap.add_argument('--reference-error')
    ap.add_argument('--gpu', default='')
    a = ap.parse_args(argv)
    rows = [json.loads(line) for line in open(a.results, encoding='utf-8') if line.strip()]
    ref = None
    if a.reference and os.path.exists(a.reference):
        ref = json.load(open(a.reference, encoding='utf-8'))
    ref_ms = ref['timings']['totalMs'] if ref else None
    head = ['engine row (asked → ran on)', 'precision', 'time / image', 'no previews', 'scales / s', 'first preview',
            'decode', 'peak GPU mem', 'peak RSS', 'vs PyTorch']
    out = [head, ['---'] * len(head)]
    notes = []
    for r in rows:
        if 'error' in r:
            out.append([f'{r["asked"]} → failed', r['askedPrecision']] + ['n/a'] * 7 + [''])
            notes.append(f'{r["asked"]}/{r["askedPrecision"]}: {r["error"]}')
            continue
        e = r['result']
        bare = e.get('totalNoPreviewMs') or e['totalMs']
        k = len(e['patchNums'])
        ran = e['provider']
        if e.get('providerSkipped'):
            notes.append(f'{r["asked"]}: skipped → {ran}: ' + '; '.join(f'{s["provider"]}: {s["reason"]}' for s in e['providerSkipped']))
        out.append([f'{r["asked"]} → {ran}', e.get('precision', r['askedPrecision']), ms(e['totalMs']), ms(bare),
                    f'{k / (bare / 1000):.1f}', ms(e['firstPreviewMs']), ms(e['decodeMs']),
                    'n/a' if r.get('gpuMemMb') is None else f'{r["gpuMemMb"]} MB', f'{e["peakRssMB"]:.0f} MB',
                    f'{bare / ref_ms:.2f}×' if ref_ms else 'n/a'])
    if ref:
        t = ref['timings']
        mem = ref.get('peakGpuMemMb')
        out.append([f'PyTorch reference ({ref.get("device", "cpu")}, torch {ref["versions"]["torch"]})', 'fp32',
                    ms(t['totalMs']), ms(t['totalMs']), f'{len(t["perScaleMs"]) / (t["totalMs"] / 1000):.1f}',
                    ms(t['firstPreviewMs']), ms(t['decodeMs']), 'n/a' if mem is None else f'{mem:.0f} MB',
                    f'{ref["peakRssMb"]:.0f} MB', '1.00×'])
    elif a.reference_error and os.path.exists(a.reference_error):
        lines = [x for x in open(a.reference_error, encoding='utf-8').read().splitlines() if x.strip()]
        notes.append(f'PyTorch reference failed: {lines[-1] if lines else "no output"}')
    print(f'GPU: {a.gpu or "none"} · d16 shape, random weights, 256 px, B = 1 with CFG')
    print('\n'.join(f'| {" | ".join(r)} |' for r in out))
    for r in rows:
        if 'result' in r:
            e = r['result']
            print(f'per scale, {r["asked"]} {e.get("precision")}: ' +
                  ' '.join(f'{p}²:{ms(x)}' for p, x in zip(e['patchNums'], e['perScaleMs'])) + f'; decode {ms(e["decodeMs"])}')
    for n in notes:
        print(f'note: {n}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
