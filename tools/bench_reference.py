#!/usr/bin/python3
"""Time the PyTorch reference generation, so the engine's benchmark can print PyTorch's numbers beside its own.

    /usr/bin/python3 tools/bench_reference.py --bundle-config tiny|embedded|d16 [--threads N] [--json OUT]
    /usr/bin/python3 tools/bench_reference.py --bundle DIR [--threads N] [--json OUT]

Model:
  --bundle-config tiny      tests/fixtures/tiny/bundle (its weights) — else the tiny config, random weights
  --bundle-config embedded  models/var-fashion-32 (its weights) — else tools/configs/*fashion32.json, random weights
  --bundle-config d16       official d16 + official VQVAE shapes (256 px), random weights (the official init)
  --bundle DIR              any bundle: configuration from manifest.json, weights read back from the bundle's
                            .weights files through its weightMap (checkpoint keys), codebook from codebook.f32
  --var-ckpt F --vae-ckpt G  official-layout checkpoints (validated like convert_official), instead of the above

What is timed: one image (B = 1) with classifier-free guidance, i.e. batch 2 in the transformer, scale by scale
with the KV cache, the official torch sampler (top-k, top-p, torch.multinomial; `var_ref.sampler.generate`
with sampler='torch' draws the very same tokens, tested), the f̂ update after each scale, then the full decode.
Previews are timed apart (they are not part of the official reference): after each scale, the bundle's
preview map (k×k conv + pixel shuffle, docs/model-bundle.md) on f̂. Every number is the median over --runs
timed runs after --warmup untimed ones, in milliseconds.

Threads: torch intra-op threads = --threads (default 1) and OPENBLAS_NUM_THREADS = --openblas-threads (default
= --threads), both set before torch loads. Debian's torch computes matmuls through libblas.so.3; only with
libopenblas0-pthread installed is that OpenBLAS (else the reference BLAS, ~25× slower: docs/python-tools.md). The
library actually mapped into the process is reported, and --require-openblas makes its absence an error (exit 3).

JSON (--json OUT; also printed on stdout with --print-json), schema "var-studio-bench-reference/1":
{
  "schema": "var-studio-bench-reference/1",
  "config": "tiny" | "embedded" | "d16" | "bundle" | "checkpoints",
  "weights": "bundle:<dir>" | "checkpoints" | "random",
  "model": {"resolution", "patchNums", "depth", "embedDim", "numHeads", "vocabSize", "cvae",
            "varParams", "vaeParams"},
  "settings": {"batch": 1, "transformerBatch": 2, "classIndex", "seed", "cfg", "topK", "topP", "runs", "warmup"},
  "threads": {"torch", "openblas"},
  "blas": {"library": <realpath of the mapped libblas>, "openblas": bool, "package": "libopenblas0-pthread <version>"|null},
  "timings": {
    "totalMs":        generation of one image: all scales (transformer + sampling + f̂ update) + decode
    "perScaleMs":     [K] per scale: transformer + sampling + f̂ update
    "transformerMs":  [K] per scale: the transformer forward alone (both CFG rows)
    "samplingMs":     [K] per scale: CFG mix + top-k/top-p + draw + embedding lookup
    "fhatMs":         [K] per scale: f̂ update and next-scale input
    "decodeMs":       the final decode (post_quant_conv + decoder)
    "previewMs":      [K] per scale: the preview map on f̂ (not included in totalMs)
    "firstPreviewMs": perScaleMs[0] + previewMs[0]: time until the first preview can be shown
  },
  "runsTotalMs": [every timed run's totalMs],
  "peakRssMb": peak resident memory of this process (ru_maxrss, includes building the models),
  "rssAfterLoadMb": resident memory once the models are built,
  "versions": {"torch", "python"}, "cpus": os.cpu_count()
}
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from statistics import median
from typing import Dict, List, Optional, Tuple

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
SCHEMA = 'var-studio-bench-reference/1'
PRESET_BUNDLES = {'tiny': os.path.join(REPO, 'tests', 'fixtures', 'tiny', 'bundle'),
                  'embedded': os.path.join(REPO, 'models', 'var-fashion-32')}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog='bench_reference.py', description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument('--bundle-config', choices=['tiny', 'embedded', 'd16'])
    src.add_argument('--bundle', help='bundle folder (manifest.json + .weights)')
    ap.add_argument('--random-weights', action='store_true', help='with a preset: ignore its bundle, use random weights')
    ap.add_argument('--var-ckpt')
    ap.add_argument('--vae-ckpt')
    ap.add_argument('--threads', type=int, default=1, help='torch intra-op threads (default 1)')
    ap.add_argument('--openblas-threads', type=int, default=None, help='OPENBLAS_NUM_THREADS (default = --threads)')
    ap.add_argument('--runs', type=int, default=None, help='timed runs (default 5; 2 for d16-sized models)')
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--class', dest='class_index', type=int, default=None, help='class (default: middle class)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--cfg', type=float, default=None)
    ap.add_argument('--top-k', type=int, default=None)
    ap.add_argument('--top-p', type=float, default=None)
    ap.add_argument('--device', default='cpu', help='cpu, or cuda / cuda:N (the reference on a GPU)')
    ap.add_argument('--json', help='write the result here')
    ap.add_argument('--print-json', action='store_true', help='print the JSON on stdout instead of the table')
    ap.add_argument('--require-openblas', action='store_true', help='exit 3 unless OpenBLAS is the active BLAS')
    return ap


# ------------------------------------------------------------------------------------------------ BLAS
def active_blas() -> Dict:
    """The BLAS library mapped into this process (after torch ran a matmul) and its Debian package."""
    libs = set()
    try:
        with open('/proc/self/maps') as fh:
            for line in fh:
                path = line.split()[-1] if line.strip() else ''
                base = os.path.basename(path)
                if path.startswith('/') and ('blas' in base or 'openblas' in path):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    lib = sorted(libs, key=lambda p: ('openblas' not in p, p))[0] if libs else None
    pkg = None
    try:
        r = subprocess.run(['dpkg-query', '-W', '-f=${Status} ${Version}', 'libopenblas0-pthread'],
                           capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.startswith('install ok installed'):
            pkg = 'libopenblas0-pthread ' + r.stdout.split()[-1]
    except (OSError, subprocess.SubprocessError):
        pass
    return {'library': lib, 'openblas': bool(lib and 'openblas' in lib), 'package': pkg, 'allMapped': sorted(libs)}


def rss_mb() -> float:
    with open('/proc/self/statm') as fh:
        return int(fh.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


# ---------------------------------------------------------------------------------------------- models
def _read_manifest(bundle: str) -> dict:
    path = os.path.join(bundle, 'manifest.json')
    if not os.path.isfile(path):
        raise SystemExit(f'bench_reference: error: {bundle}: no manifest.json (not a bundle folder)')
    with open(path, encoding='utf-8') as fh:
        return json.load(fh)


def configs_from_manifest(m: dict):
    from var_ref.config import VARConfig, VQVAEConfig
    t, v = m['transformer'], m['vae']
    pns = tuple(m['patchNums'])
    vae_cfg = VQVAEConfig(vocab_size=m['vocabSize'], z_channels=m['cvae'], ch=v['ch'], ch_mult=tuple(v['chMult']),
                          num_res_blocks=v['numResBlocks'], quant_resi=v['quantResi'],
                          share_quant_resi=v['shareQuantResi'], patch_nums=pns)
    var_cfg = VARConfig(depth=t['depth'], embed_dim=t['embedDim'], num_heads=t['numHeads'],
                        num_classes=t['numClasses'], shared_aln=t['sharedAdaLN'], attn_l2_norm=t['attnL2Norm'],
                        patch_nums=pns, vocab_size=m['vocabSize'], z_channels=m['cvae'], cond_drop_rate=0.0)
    return vae_cfg, var_cfg


# Buffers that a bundle need not carry: they are recomputed from the configuration (docs/var-model.md, VAR keys).
DETERMINISTIC = ('lvl_1L', 'attn_bias_for_masking', 'zero_k_bias', 'ema_vocab_hit_SV')


def load_bundle_weights(bundle: str, m: dict, vae, var) -> None:
    """Fill both models from the bundle: each weightMap entry is a checkpoint tensor stored unchanged.

    Tensors are copied straight from the memory-mapped .weights files into the models' own storage, one at a
    time, so a d16 bundle costs no second copy of its weights."""
    import numpy as np
    import torch
    states = {'var': var.state_dict(keep_vars=False), 'vae': vae.state_dict(keep_vars=False)}
    filled = {'var': set(), 'vae': set()}
    blobs: Dict[str, np.ndarray] = {}

    def put(role: str, key: str, arr: np.ndarray, where: str):
        dst = states[role].get(key)
        if dst is None or tuple(dst.shape) != tuple(arr.shape):
            raise SystemExit(f'bench_reference: error: {bundle}: {where} holds {role} key {key!r} of shape '
                             f'{tuple(arr.shape)}, the {role} model built from manifest.json has '
                             f'{None if dst is None else tuple(dst.shape)}')
        with torch.no_grad():
            dst.copy_(torch.from_numpy(np.array(arr, dtype=arr.dtype.newbyteorder('='))))
        filled[role].add(key)

    for e in m['weightMap']:
        if e['source'] not in states or e['key'] in filled[e['source']]:
            continue
        fname = m['graphs'][e['graph']]['weights']
        if fname not in blobs:
            blobs[fname] = np.memmap(os.path.join(bundle, fname), dtype=np.uint8, mode='r')
        raw = blobs[fname][e['offset']:e['offset'] + e['length']]
        put(e['source'], e['key'], raw.view(np.dtype(e['dtype']).newbyteorder('<')).reshape(e['shape']), fname)
    cb = m['codebook']
    put('vae', cb['key'], np.fromfile(os.path.join(bundle, cb['file']), dtype='<f4').reshape(cb['shape']), cb['file'])
    for role in states:
        lost = [k for k in states[role] if k not in filled[role] and not k.endswith(DETERMINISTIC)]
        if lost:
            raise SystemExit(f'bench_reference: error: {bundle}: weightMap does not cover the {role} model '
                             f'(no {lost[:3]})')


DEFAULT_PREVIEW_KERNEL = 5  # export_bundle.write_bundle's default preview_kernel


def preview_params(bundle: Optional[str], m: Optional[dict], vae_cfg, gen) -> Tuple:
    """The preview conv (weight [3s², Cvae, k, k], bias [3s²]): the bundle's, else random of the default shape."""
    import numpy as np
    import torch
    s, C = vae_cfg.downsample, vae_cfg.z_channels
    if m is not None:
        got = {}
        for e in m['weightMap']:
            if e['graph'] == 'preview' and e['source'] == 'derived':
                raw = np.fromfile(os.path.join(bundle, m['graphs']['preview']['weights']), dtype=np.uint8,
                                  count=e['length'], offset=e['offset'])
                got[e['initializer']] = torch.from_numpy(raw.view('<f4').astype(np.float32)).reshape(e['shape'])
        w = [t for t in got.values() if t.dim() == 4]
        b = [t for t in got.values() if t.dim() == 1]
        if len(w) == 1 and len(b) == 1:
            return w[0], b[0]
    k = DEFAULT_PREVIEW_KERNEL
    return torch.randn(3 * s * s, C, k, k, generator=gen) * 0.05, torch.zeros(3 * s * s)


def build(a):
    """(vae, var, description dict, bundle dir or None, manifest or None)."""
    import torch
    from var_ref.config import OFFICIAL_VAE, OFFICIAL_VAR, VARConfig, vae_config_from_json
    from var_ref.var import VAR
    from var_ref.vqvae import VQVAE

    bundle = a.bundle
    if a.bundle_config in PRESET_BUNDLES and not a.random_weights and not a.var_ckpt:
        cand = PRESET_BUNDLES[a.bundle_config]
        if os.path.isfile(os.path.join(cand, 'manifest.json')):
            bundle = cand
    m = _read_manifest(bundle) if bundle else None
    torch.manual_seed(a.seed)
    if a.var_ckpt or a.vae_ckpt:
        if not (a.var_ckpt and a.vae_ckpt):
            raise SystemExit('bench_reference: error: --var-ckpt and --vae-ckpt go together')
        from checkpoints import CheckpointError, build_models, load_state_dict_file, validate_pair
        try:
            pair = validate_pair(load_state_dict_file(a.var_ckpt, 'var'), load_state_dict_file(a.vae_ckpt, 'vae'),
                                 var_label=os.path.basename(a.var_ckpt), vae_label=os.path.basename(a.vae_ckpt))
        except CheckpointError as e:
            raise SystemExit(f'bench_reference: error: {e}')
        vae, var = build_models(pair)
        weights = 'checkpoints'
    elif m is not None:
        vae_cfg, var_cfg = configs_from_manifest(m)
        from checkpoints import _skip_init
        with _skip_init():
            vae, var = VQVAE(vae_cfg), VAR(var_cfg)
        load_bundle_weights(bundle, m, vae, var)
        weights = f'bundle:{os.path.relpath(bundle, REPO) if bundle.startswith(REPO) else bundle}'
    else:
        if a.bundle_config == 'tiny':
            from export.tiny import TINY_VAE, TINY_VAR
            vae_cfg, var_cfg = TINY_VAE, TINY_VAR
        elif a.bundle_config == 'embedded':
            with open(os.path.join(TOOLS, 'configs', 'vqvae_fashion32.json')) as fh:
                vae_cfg = vae_config_from_json(json.load(fh)['vae'])
            with open(os.path.join(TOOLS, 'configs', 'var_fashion32.json')) as fh:
                vc = json.load(fh)['var']
            var_cfg = VARConfig.official(vc['depth'], vae_cfg.patch_nums, shared_aln=vc.get('shared_aln', False),
                                         num_classes=vc['num_classes'], vocab_size=vae_cfg.vocab_size,
                                         z_channels=vae_cfg.z_channels)
        else:
            vae_cfg, var_cfg = OFFICIAL_VAE, OFFICIAL_VAR[16]
        vae, var = VQVAE(vae_cfg), VAR(var_cfg.replace(cond_drop_rate=0.0))
        var.init_weights()  # the official init; the work done per image does not depend on the values
        with torch.no_grad():  # a codebook of distinct O(1) entries, as a trained one has
            vae.quantize.embedding.weight.normal_()
        weights = 'random'
    return vae.eval(), var.eval(), weights, bundle, m


# ---------------------------------------------------------------------------------------------- timing
def generate_timed(vae, var, label: int, cfg: float, top_k: int, top_p: float, seed: int, preview_wb,
                   device: str = 'cpu'):
    """One image with CFG, instrumented. The same computation and draws as
    `var_ref.sampler.generate(..., sampler='torch')` (tools/tests/test_bench_reference.py checks the tokens)."""
    import torch
    import torch.nn.functional as F
    from var_ref.sampler import guidance_ratio, official_sample_

    pw, pb = (x.to(device) for x in preview_wb)
    s = vae.cfg.downsample
    pn = var.patch_nums
    K, Cvae, nc = len(pn), var.Cvae, var.num_classes
    codebook = vae.quantize.embedding.weight
    rng = torch.Generator(device=device).manual_seed(seed)
    lab = torch.tensor([label], dtype=torch.int64, device=device)
    labels_N = torch.cat([lab, torch.full_like(lab, nc)])
    t = {'transformerMs': [], 'samplingMs': [], 'fhatMs': [], 'perScaleMs': [], 'previewMs': []}
    tokens = []

    def clock():   # on a GPU, a time is read only after the queued kernels finished
        if device != 'cpu':
            torch.cuda.synchronize()
        return time.perf_counter()

    with torch.no_grad():
        t_start = clock()
        f_hat = torch.zeros(1, Cvae, pn[-1], pn[-1], device=device)
        past, next_in = None, None
        for si, p in enumerate(pn):
            t0 = clock()
            x = var.scale_input(si, labels_N, next_in)
            logits, past = var.forward_scale(labels_N, x, past)
            t1 = clock()
            g = cfg * guidance_ratio(si, K)
            mixed = (1 + g) * logits[:1] - g * logits[1:]
            idx = official_sample_(mixed, top_k, top_p, rng)
            h = codebook[idx].transpose(1, 2).reshape(1, Cvae, p, p)
            t2 = clock()
            f_hat, nxt = vae.quantize.get_next_autoregressive_input(si, f_hat, h)
            if si != K - 1:
                next_in = nxt.reshape(1, Cvae, -1).transpose(1, 2).repeat(2, 1, 1)
            t3 = clock()
            F.pixel_shuffle(F.conv2d(f_hat, pw, pb, padding=pw.shape[-1] // 2), s).clamp(0, 1)
            t4 = clock()
            tokens.append(idx)
            t['transformerMs'].append((t1 - t0) * 1e3)
            t['samplingMs'].append((t2 - t1) * 1e3)
            t['fhatMs'].append((t3 - t2) * 1e3)
            t['perScaleMs'].append((t3 - t0) * 1e3)
            t['previewMs'].append((t4 - t3) * 1e3)
        t5 = clock()
        image = (vae.fhat_to_img(f_hat) + 1) / 2
        t6 = clock()
    t['decodeMs'] = (t6 - t5) * 1e3
    t['totalMs'] = sum(t['perScaleMs']) + t['decodeMs']
    t['wallMs'] = (t6 - t_start) * 1e3  # includes the previews
    t['firstPreviewMs'] = t['perScaleMs'][0] + t['previewMs'][0]
    return t, tokens, image


def run(a) -> dict:
    import torch
    torch.set_num_threads(a.threads)
    vae, var, weights, bundle, m = build(a)
    if a.device != 'cpu':
        if not torch.cuda.is_available():
            raise SystemExit(f'bench_reference: error: --device {a.device} asked for, but torch {torch.__version__} '
                             f'sees no CUDA device')
        vae, var = vae.to(a.device), var.to(a.device)
    rss_loaded = rss_mb()
    torch.ones(64, 64) @ torch.ones(64, 64)  # make sure the BLAS is loaded before looking for it
    blas = active_blas()
    if a.require_openblas and not blas['openblas']:
        raise SystemExit(3)
    samp = (m or {}).get('sampling') or {'cfg': 4.0, 'topK': 900, 'topP': 0.95}
    cfg = a.cfg if a.cfg is not None else float(samp['cfg'])
    top_k = min(a.top_k if a.top_k is not None else int(samp['topK']), var.V)
    top_p = a.top_p if a.top_p is not None else float(samp['topP'])
    label = a.class_index if a.class_index is not None else var.num_classes // 2
    big = sum(p.numel() for p in var.parameters()) > 100e6
    runs = a.runs if a.runs is not None else (2 if big else 5)
    pw = preview_params(bundle, m, vae.cfg, torch.Generator().manual_seed(a.seed))
    results = []
    for i in range(a.warmup + runs):
        tm, _, _ = generate_timed(vae, var, label, cfg, top_k, top_p, a.seed, pw, a.device)
        if i >= a.warmup:
            results.append(tm)

    def med(key):
        return round(median(r[key] for r in results), 3)

    def med_list(key):
        return [round(median(r[key][k] for r in results), 3) for k in range(len(var.patch_nums))]

    vc = vae.cfg
    return {
        'schema': SCHEMA,
        'config': 'checkpoints' if a.var_ckpt else (a.bundle_config or 'bundle'),
        'weights': weights,
        'model': {'resolution': vc.resolution, 'patchNums': list(vc.patch_nums), 'depth': var.depth,
                  'embedDim': var.C, 'numHeads': var.cfg.num_heads, 'vocabSize': var.V, 'cvae': var.Cvae,
                  'varParams': sum(p.numel() for p in var.parameters()),
                  'vaeParams': sum(p.numel() for p in vae.parameters())},
        'settings': {'batch': 1, 'transformerBatch': 2, 'classIndex': label, 'seed': a.seed, 'cfg': cfg,
                     'topK': top_k, 'topP': top_p, 'runs': runs, 'warmup': a.warmup},
        'threads': {'torch': torch.get_num_threads(), 'openblas': int(os.environ['OPENBLAS_NUM_THREADS'])},
        'blas': {k: blas[k] for k in ('library', 'openblas', 'package')},
        'timings': {'totalMs': med('totalMs'), 'perScaleMs': med_list('perScaleMs'),
                    'transformerMs': med_list('transformerMs'), 'samplingMs': med_list('samplingMs'),
                    'fhatMs': med_list('fhatMs'), 'decodeMs': med('decodeMs'), 'previewMs': med_list('previewMs'),
                    'firstPreviewMs': med('firstPreviewMs')},
        'runsTotalMs': [round(r['totalMs'], 3) for r in results],
        'peakRssMb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        'rssAfterLoadMb': round(rss_loaded, 1),
        'versions': {'torch': torch.__version__, 'python': platform.python_version()},
        'cpus': os.cpu_count(),
        'device': a.device,
        **({'peakGpuMemMb': round(torch.cuda.max_memory_allocated() / 2**20, 1)} if a.device != 'cpu' else {}),
    }


def table(r: dict) -> str:
    t, mo = r['timings'], r['model']
    b = r['blas']
    blas = (f"OpenBLAS ({b['library']}{', ' + b['package'] if b['package'] else ''})" if b['openblas'] else
            f"NOT OpenBLAS ({b['library']}) — install libopenblas0-pthread, PyTorch is ~25x slower without it")
    lines = [f"PyTorch reference · {r['config']} ({r['weights']}) · {mo['resolution']} px, depth {mo['depth']}, "
             f"C {mo['embedDim']}, {mo['varParams'] / 1e6:.1f}M + {mo['vaeParams'] / 1e6:.1f}M params",
             f"threads: torch {r['threads']['torch']}, OpenBLAS {r['threads']['openblas']} · BLAS: {blas}",
             f"B=1 with CFG (2 rows), cfg {r['settings']['cfg']}, top-k {r['settings']['topK']}, "
             f"top-p {r['settings']['topP']}, median of {r['settings']['runs']} runs",
             f"  total per image   {t['totalMs']:10.1f} ms",
             f"  decode            {t['decodeMs']:10.1f} ms",
             f"  first preview     {t['firstPreviewMs']:10.1f} ms",
             f"  previews (all K)  {sum(t['previewMs']):10.1f} ms",
             f"  peak RSS          {r['peakRssMb']:10.1f} MB",
             '  scale  patch  transformer  sampling    f̂ step   preview (ms)']
    for k, p in enumerate(mo['patchNums']):
        lines.append(f"  {k:5d}  {p:5d}  {t['transformerMs'][k]:11.2f}  {t['samplingMs'][k]:8.2f}  "
                     f"{t['fhatMs'][k]:8.2f}  {t['previewMs'][k]:8.2f}")
    return '\n'.join(lines)


def main(argv=None) -> int:
    ap = build_parser()
    a = ap.parse_args(argv)
    if not (a.bundle_config or a.bundle or a.var_ckpt):
        ap.error('one of --bundle-config, --bundle or --var-ckpt/--vae-ckpt is required')
    if a.var_ckpt and (a.bundle_config or a.bundle):
        ap.error('--var-ckpt/--vae-ckpt replace --bundle-config/--bundle; give one of them')
    if a.threads < 1 or (a.openblas_threads is not None and a.openblas_threads < 1):
        print('bench_reference: error: thread counts must be ≥ 1', file=sys.stderr)
        return 2
    # Must be set before torch (and so libblas) is loaded.
    os.environ['OPENBLAS_NUM_THREADS'] = str(a.openblas_threads or a.threads)
    try:
        r = run(a)
    except SystemExit as e:
        if e.code == 3:
            print('bench_reference: error: the active BLAS is not OpenBLAS (apt-get install libopenblas0-pthread)',
                  file=sys.stderr)
            return 3
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return 2
        raise
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, 'w', encoding='utf-8') as fh:
            json.dump(r, fh, indent=1)
            fh.write('\n')
    print(json.dumps(r, indent=1) if a.print_json else table(r))
    return 0


if __name__ == '__main__':
    sys.exit(main())
