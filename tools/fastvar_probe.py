#!/usr/bin/python3
"""Measurement probe, not a feature: what FastVAR-style token pruning of the two largest scales would cost and
save on a bundle, through the reference model (var_ref) — no graph, engine or switch uses it.

    cd tools && /usr/bin/python3 fastvar_probe.py BUNDLE KEEP_RATIO IMAGES

At the last two scales only the KEEP_RATIO share of positions whose input feature (token embedding + level and
position embedding) is farthest from the scale's mean go through the transformer (both CFG rows keep the same
positions; the KV cache then holds only those); the pruned positions take the previous scale's logits, upsampled
nearest. Prints the final image's PSNR against the unpruned generation of the same seed, whether the first 4
scales' tokens are identical, and the transformer time of the last two scales and of all scales (pruned / normal).
"""
import sys
import time
import types

import numpy as np
import torch
import torch.nn.functional as F
from bench_reference import _read_manifest, configs_from_manifest, load_bundle_weights
from checkpoints import _skip_init
from var_ref.var import VAR
from var_ref.vqvae import VQVAE
from var_ref.sampler import generate

if len(sys.argv) != 4:
    raise SystemExit(__doc__)
bundle, keep_ratio, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)
m = _read_manifest(bundle)
vc, tc = configs_from_manifest(m)
with _skip_init():
    vae, var = VQVAE(vc), VAR(tc)
load_bundle_weights(bundle, m, vae, var)
vae.eval(); var.eval()
pn = var.patch_nums; K = len(pn)
orig_input, orig_fwd = var.scale_input, var.forward_scale
state = {'si': 0, 'prev_logits': None, 't': {}}

def scale_input(self, si, labels, nxt):
    state['si'] = si
    return orig_input(si, labels, nxt)

def forward_scale(self, labels, x, past):
    si = state['si']
    t0 = time.perf_counter()
    if PRUNE and si >= K - 2:
        N, l, C = x.shape
        k = max(1, int(round(keep_ratio * l)))
        score = (x - x.mean(1, keepdim=True)).norm(dim=-1)          # (N, l)
        score = score[: N // 2] + score[N // 2:]                       # both CFG rows keep the same positions
        idx = score.topk(k, dim=1).indices.sort(dim=1).values          # (B, k)
        idx = torch.cat([idx, idx])
        xs = torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, C))
        logits_k, new_past = orig_fwd(labels, xs, past)
        p0, p = pn[si - 1], pn[si]
        prev = state['prev_logits'].transpose(1, 2).reshape(N, -1, p0, p0)
        full = F.interpolate(prev, size=(p, p), mode='nearest').reshape(N, -1, p * p).transpose(1, 2).clone()
        full.scatter_(1, idx.unsqueeze(-1).expand(-1, -1, full.shape[-1]), logits_k)
        out = (full, new_past)
    else:
        out = orig_fwd(labels, x, past)
    state['t'][si] = state['t'].get(si, 0) + time.perf_counter() - t0
    state['prev_logits'] = out[0]
    return out

var.scale_input = types.MethodType(scale_input, var)
var.forward_scale = types.MethodType(forward_scale, var)
s = m['sampling']
res = {}
for PRUNE in (False, True, False, True):
    key = 'fast' if PRUNE else 'normal'
    state['t'] = {}
    imgs, toks = [], []
    with torch.no_grad():
        for i in range(n):
            g = generate(vae, var, labels=i % len(m['classes']), cfg=s['cfg'], top_k=s['topK'], top_p=s['topP'], seed=1000 + i)
            imgs.append((g.image.clamp(0, 1) * 255).round().numpy()); toks.append([t.numpy() for t in g.tokens])
    res[key] = (imgs, toks, dict(state['t']))
ni, nt, ntime = res['normal']; fi, ft, ftime = res['fast']
ps = []
for a, b in zip(ni, fi):
    mse = float(((a - b) ** 2).mean()); ps.append(100.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse))
same4 = np.mean([all((x == y).all() for x, y in zip(a[:4], b[:4])) for a, b in zip(nt, ft)])
last2 = lambda t: sum(t[k] for k in (K - 2, K - 1)); allt = lambda t: sum(t.values())
print(dict(bundle=m['name'], keep=keep_ratio, images=n, psnr_median=round(float(np.median(ps)), 2), psnr_min=round(float(min(ps)), 2),
           first4_identical=same4, transformer_last2_ratio=round(last2(ftime) / last2(ntime), 3),
           transformer_all_ratio=round(allt(ftime) / allt(ntime), 3)))
