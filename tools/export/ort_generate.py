"""Studio-sampler generation that runs a bundle's ONNX graphs in onnxruntime-node (the engine's data path).

The host side (CFG, filtering, draws, Gumbel mix, edit/prefix masks) is var_ref.sampler; the transformer,
fhat_step and decoder run as graphs. Used by the tests to prove that ONNX logits reproduce the PyTorch tokens.
"""
from __future__ import annotations

import json
import math
import os
from typing import List, Optional, Sequence

import numpy as np

from export.ort import run_ort
from var_ref.resample import area_matrix
from var_ref.rng import image_stream
from var_ref.sampler import sample_scale_studio


def ort_generate(bundle_dir: str, labels: Optional[Sequence[int]], cfg: float, top_k: int, top_p: float,
                 more_smooth: bool, seed: int, batch: Optional[int] = None,
                 prefix: Optional[Sequence[np.ndarray]] = None, keep: Optional[Sequence[np.ndarray]] = None,
                 gt: Optional[Sequence[np.ndarray]] = None) -> dict:
    with open(os.path.join(bundle_dir, 'manifest.json')) as fh:
        man = json.load(fh)
    pn, V, C, nc = man['patchNums'], man['vocabSize'], man['cvae'], man['transformer']['numClasses']
    H, c, depth = man['transformer']['numHeads'], man['transformer']['headDim'], man['transformer']['depth']
    K, h = len(pn), pn[-1]
    codebook = np.fromfile(os.path.join(bundle_dir, 'codebook.f32'), dtype='<f4').reshape(V, C)
    B = len(labels) if labels is not None else (batch or 1)
    streams = [image_stream(seed, b) for b in range(B)]
    if labels is None:
        labels = [min(int(math.floor(s.uniform() * nc)), nc - 1) for s in streams]
    labels = [nc if l < 0 else l for l in labels]
    labels_N = np.array(list(labels) + [nc] * B, dtype=np.int64)
    keep = list(keep) if keep is not None else [None] * K
    gt = list(gt) if gt is not None else [None] * K
    for si, t in enumerate(prefix or []):
        gt[si] = np.asarray(t).reshape(B, -1)
        keep[si] = np.ones_like(gt[si], dtype=bool)
    past = {f'past_{kind}_{i}': np.zeros((2 * B, H, 0, c), np.float32) for i in range(depth) for kind in ('key', 'value')}
    token_input = np.zeros((2 * B, 1, C), np.float32)
    f_hat = np.zeros((B, C, h, h), np.float32)
    tokens: List[np.ndarray] = []
    begin = 0
    for si, p in enumerate(pn):
        feeds = dict(labels=labels_N, token_input=token_input, begin=np.array([begin], np.int64), **past)
        out = run_ort([(os.path.join(bundle_dir, man['graphs']['transformer']['model']), feeds)])[0]
        logits = out['logits']
        past = {k.replace('present', 'past'): v for k, v in out.items() if k.startswith('present')}
        draws = [sample_scale_studio(logits[b], logits[B + b], si, K, cfg, top_k, top_p, more_smooth, streams[b],
                                     codebook) for b in range(B)]
        idx = np.stack([d.tokens for d in draws])
        emb = np.stack([d.soft_embedding for d in draws]) if more_smooth else codebook[idx]
        if keep[si] is not None:
            idx = np.where(keep[si], gt[si], idx)
            emb = np.where(keep[si][..., None], codebook[gt[si]], emb)
        tokens.append(idx)
        h_scale = emb.transpose(0, 2, 1).reshape(B, C, p, p).astype(np.float32)
        q = pn[si + 1] if si + 1 < K else h
        step = run_ort([(os.path.join(bundle_dir, man['graphs']['fhatStep']['model']),
                         {'f_hat': f_hat, 'h_scale': h_scale, 'phi_index': np.array([man['phiIndex'][si]], np.int64),
                          'area_matrix': area_matrix(q, h).astype(np.float32)})])[0]
        f_hat = step['f_hat_next']
        token_input = np.concatenate([step['next_input'], step['next_input']])
        begin += p * p
    image = run_ort([(os.path.join(bundle_dir, man['graphs']['decoder']['model']), {'f_hat': f_hat})])[0]['image']
    return {'labels': labels, 'tokens': tokens, 'f_hat': f_hat, 'image': image}
