"""Train the VAR transformer of the default model on token pyramids of a trained VQVAE.

    /usr/bin/python3 tools/train_var.py --config tools/configs/var_fashion32.json --out tools/runs/var

The VAR is built by the official rule (`VARConfig.official`: width 64·depth, depth heads, FFN 4C,
attention L2-norm, cond_drop_rate 0.1 so the null class exists for CFG) and initialised with the
official `init_weights()`. Each step is the official teacher-forced objective: cross-entropy over all
L tokens of the pyramid, inputs `vae.quantize.idxBl_to_var_input` (docs/var-model.md), labels dropped
to the null class with probability 0.1. AdamW(0.9, 0.95), weight decay on matrices only, warmup + cosine,
gradient clipping, and an EMA copy of the weights; the copy with the lower held-out loss is exported.

The token pyramids of the whole train split (and of the test split, for the held-out loss) are encoded
once and cached in <out>/tokens_{train,test}.pt, so steps never run the VQVAE encoder.
Resumable with `--resume` from <out>/checkpoint.pt. Writes <out>/var_final.pt ({'config', 'model',
'which'}), <out>/log.jsonl.
"""
from __future__ import annotations

import copy
import json
import os
import sys
import time

from train_common import JsonlLog, TrainingError, lr_at, rng_state, save_atomic, seed_everything, set_rng_state
from train_common import main as run_main
from train_common import training_parser

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))


def encode_tokens(vae, images_u8, batch: int = 500):
    """Token pyramids of all images, concatenated over scales: (N, L) int16 (V ≤ 32768)."""
    import torch
    from eval_vqvae import images_to_pm1
    out = []
    with torch.no_grad():
        for i in range(0, len(images_u8), batch):
            idx = vae.img_to_idxBl(images_to_pm1(images_u8[i:i + batch]))
            out.append(torch.cat(idx, dim=1).to(torch.int16))
    return torch.cat(out)


def split_scales(tokens_NL, patch_nums):
    import torch
    parts, cur = [], 0
    for pn in patch_nums:
        parts.append(tokens_NL[:, cur:cur + pn * pn].long())
        cur += pn * pn
    return parts


def cached_tokens(vae, split: str, out: str, vae_path: str, data_limit: int = 0, data_dir: str = ''):
    import torch
    from data_fashion_mnist import load_arrays
    path = os.path.join(out, f'tokens_{split}.pt')
    stamp = os.path.getmtime(vae_path)
    if os.path.exists(path):
        ck = torch.load(path)
        if ck['vae_mtime'] == stamp and ck.get('data_limit', -1) == data_limit and ck.get('data_dir') == data_dir:
            return ck['tokens'], ck['labels']
    images, labels = load_arrays(split, data_dir) if data_dir else load_arrays(split)
    if data_limit:
        images, labels = images[:data_limit], labels[:data_limit]
    t = time.time()
    tokens = encode_tokens(vae, images)
    labels = torch.from_numpy(labels).long()
    save_atomic({'tokens': tokens, 'labels': labels, 'vae_mtime': stamp, 'n': len(tokens), 'data_limit': data_limit,
                 'data_dir': data_dir}, path)
    print(f'encoded {split} tokens {tuple(tokens.shape)} in {time.time() - t:.1f}s', flush=True)
    return tokens, labels


def build_var(cfg: dict, vae_cfg):
    from var_ref.config import VARConfig
    from var_ref.var import VAR
    vc = cfg['var']
    vcfg = VARConfig.official(vc['depth'], vae_cfg.patch_nums, shared_aln=vc.get('shared_aln', False),
                              num_classes=vc['num_classes'], vocab_size=vae_cfg.vocab_size, z_channels=vae_cfg.z_channels)
    vcfg = vcfg.replace(cond_drop_rate=vc['cond_drop_rate'], attn_l2_norm=vc['attn_l2_norm'])
    return VAR(vcfg)


def param_groups(var, wd: float):
    """Weight decay on weight matrices only (not biases, gains, embeddings or position tables)."""
    decay, no_decay = [], []
    for name, p in var.named_parameters():
        if p.ndim >= 2 and not any(k in name for k in ('pos_', 'lvl_embed', 'class_emb', 'scale_mul', 'ada_gss')):
            decay.append(p)
        else:
            no_decay.append(p)
    return [{'params': decay, 'weight_decay': wd}, {'params': no_decay, 'weight_decay': 0.0}]


def teacher_forced_loss(var, vae, tokens_NL, labels_N, cond_drop: bool):
    import torch.nn.functional as F
    idx = split_scales(tokens_NL, var.patch_nums)
    x_in = vae.quantize.idxBl_to_var_input(idx)
    logits = var(labels_N, x_in, cond_drop=cond_drop)
    target = tokens_NL.long()
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
    acc = (logits.argmax(-1) == target).float().mean()
    return loss, acc


def held_out(var, vae, tokens, labels, batch: int = 256) -> dict:
    import torch
    var.eval()
    tot, acc, n = 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(0, len(tokens), batch):
            l, a = teacher_forced_loss(var, vae, tokens[i:i + batch], labels[i:i + batch], cond_drop=False)
            k = len(tokens[i:i + batch])
            tot, acc, n = tot + float(l) * k, acc + float(a) * k, n + k
    var.train()
    return {'loss': tot / n, 'acc': acc / n}


def train(cfg: dict, out: str, resume: bool, steps_override: int = 0, data_limit: int = 0,
          vae_path_override: str = '', data_dir: str = '', stop_at: float = 0.0) -> dict:
    import numpy as np
    import torch
    from eval_vqvae import load_vae
    from var_ref.config import config_to_json

    tc = cfg['train']
    total = steps_override or tc['steps']
    os.makedirs(out, exist_ok=True)
    log = JsonlLog(os.path.join(out, 'log.jsonl'))
    seed_everything(cfg['seed'])
    vae_path = vae_path_override or os.path.join(TOOLS_DIR, cfg['vqvae_ckpt'])
    if not os.path.exists(vae_path):
        raise TrainingError(f'VQVAE checkpoint {vae_path} not found: run tools/train_vqvae.py first')
    vae = load_vae(vae_path)
    for p in vae.parameters():
        p.requires_grad_(False)
    tr_tok, tr_lab = cached_tokens(vae, 'train', out, vae_path, data_limit, data_dir)
    te_tok, te_lab = cached_tokens(vae, 'test', out, vae_path, data_limit, data_dir)
    te_tok, te_lab = te_tok[:tc['val_images']], te_lab[:tc['val_images']]

    var = build_var(cfg, vae.cfg)
    var.init_weights()
    ema = copy.deepcopy(var)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(var, tc['weight_decay']), lr=tc['lr'], betas=tuple(tc['betas']))
    perm_rng = np.random.default_rng(cfg['seed'])
    step, elapsed_before, best = 0, 0.0, None
    ck_path = os.path.join(out, 'checkpoint.pt')
    if resume and os.path.exists(ck_path):
        ck = torch.load(ck_path, map_location='cpu')
        var.load_state_dict(ck['model'])
        ema.load_state_dict(ck['ema'])
        opt.load_state_dict(ck['opt'])
        perm_rng.bit_generator.state = ck['perm_rng']
        set_rng_state(ck['rng'])
        step, elapsed_before = ck['step'], ck['elapsed']
        log.write(event='resume', step=step)
    else:
        log.write(event='start', config=cfg, var_config=config_to_json(var.cfg),
                  params=sum(p.numel() for p in var.parameters()), train_tokens=list(tr_tok.shape),
                  torch_threads=torch.get_num_threads(), openblas=os.environ.get('OPENBLAS_NUM_THREADS'))

    B = tc['batch']
    order = perm_rng.permutation(len(tr_tok))
    pos = (step * B) % len(tr_tok)
    t0, last_ck, win_t, win = time.time(), time.time(), time.time(), []
    var.train()
    stopped_early = False
    while step < total:
        if stop_at and time.time() >= stop_at:
            # Wall-clock budget reached. With a constant learning rate after warmup (final_lr_ratio 1) the weights
            # after N steps do not depend on the planned total, so `--steps N` reproduces this run.
            stopped_early = True
            total = step
            log.write(event='deadline', step=step)
            break
        if pos + B > len(order):
            order, pos = perm_rng.permutation(len(tr_tok)), 0
        bi = torch.from_numpy(order[pos:pos + B])
        pos += B
        lr = lr_at(step, total, tc['lr'], tc['warmup'], tc['final_lr_ratio'])
        for g in opt.param_groups:
            g['lr'] = lr
        loss, acc = teacher_forced_loss(var, vae, tr_tok[bi], tr_lab[bi], cond_drop=True)
        if not torch.isfinite(loss):
            raise TrainingError(f'non-finite loss at step {step}; lower lr in the config and resume')
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(var.parameters(), tc['grad_clip'])
        opt.step()
        step += 1
        d = min(tc['ema_decay'], (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), var.parameters()):
                pe.mul_(d).add_(pm, alpha=1 - d)
        win.append((float(loss), float(acc), float(gnorm)))
        if step % tc['log_every'] == 0 or step == total:
            now = time.time()
            w = np.array(win)
            log.write(step=step, lr=lr, loss=float(w[:, 0].mean()), acc=float(w[:, 1].mean()),
                      grad_norm=float(w[:, 2].mean()), s_per_step=(now - win_t) / len(win),
                      elapsed_s=elapsed_before + now - t0)
            win_t, win = now, []
        if step % tc['val_every'] == 0 or step == total:
            log.write(step=step, val=held_out(var, vae, te_tok, te_lab), val_ema=held_out(ema, vae, te_tok, te_lab))
        if time.time() - last_ck > tc['checkpoint_seconds'] or step == total:
            save_atomic({'model': var.state_dict(), 'ema': ema.state_dict(), 'opt': opt.state_dict(),
                         'perm_rng': perm_rng.bit_generator.state, 'rng': rng_state(), 'step': step,
                         'elapsed': elapsed_before + time.time() - t0, 'config': cfg}, ck_path)
            last_ck = time.time()
    train_s = elapsed_before + time.time() - t0
    v_raw, v_ema = held_out(var, vae, te_tok, te_lab), held_out(ema, vae, te_tok, te_lab)
    which, chosen = ('ema', ema) if v_ema['loss'] <= v_raw['loss'] else ('raw', var)
    save_atomic({'config': config_to_json(var.cfg), 'model': chosen.state_dict(), 'which': which,
                 'vqvae_ckpt': vae_path}, os.path.join(out, 'var_final.pt'))
    save_atomic({'model': var.state_dict(), 'ema': ema.state_dict(), 'opt': opt.state_dict(),
                 'perm_rng': perm_rng.bit_generator.state, 'rng': rng_state(), 'step': step,
                 'elapsed': train_s, 'config': cfg}, ck_path)
    res = {'steps': step, 'stopped_by_deadline': stopped_early, 'train_wall_s': train_s, 'val_raw': v_raw, 'val_ema': v_ema, 'exported': which}
    with open(os.path.join(out, 'train_result.json'), 'w') as f:
        json.dump(res, f, indent=1)
    log.write(event='done', **res)
    return res


def load_var(path: str):
    import torch
    from var_ref.config import var_config_from_json
    from var_ref.var import VAR
    ck = torch.load(path, map_location='cpu')
    var = VAR(var_config_from_json(ck['config']))
    var.load_state_dict(ck['model'])
    return var.eval()


def stop_time(stop_at: str) -> float:
    """Seconds since the epoch of a UTC "YYYY-mm-ddTHH:MM", or 0 (no deadline) for ''."""
    if not stop_at:
        return 0.0
    import calendar
    return calendar.timegm(time.strptime(stop_at, '%Y-%m-%dT%H:%M'))


def main(argv=None) -> int:
    ap = training_parser('train the VAR transformer', 'var_fashion32.json', 'var')
    ap.add_argument('--vqvae', default='', help='VQVAE checkpoint (default: vqvae_ckpt of the config)')
    ap.add_argument('--stop-at', default='', help='UTC wall-clock deadline "YYYY-mm-ddTHH:MM" (then `steps` is a maximum)')
    return run_main(ap, lambda cfg, a: train(cfg, a.out, a.resume, a.steps, a.data_limit, a.vqvae, a.data_dir,
                                              stop_time(a.stop_at)), argv)

if __name__ == '__main__':
    sys.exit(main())
