"""Train the multi-scale VQVAE of the default model (a small member of the official family).

    /usr/bin/python3 tools/train_vqvae.py --config tools/configs/vqvae_fashion32.json --out tools/runs/vqvae

Loss: MSE + l1_weight·L1 on [-1,1] pixels + the quantizer's own loss (mean over scales of
β·‖sg(f̂)−f‖² + ‖f̂−sg(f)‖², straight-through; official models/quant.py). The official VQVAE was also trained
with perceptual and GAN losses; at 32×32 on Fashion-MNIST pixel losses are enough.

Codebook health: codes whose EMA hit count falls below `restart_min_ema_hits` are re-initialised from
random residual vectors of the current batch (the inputs the nearest-code search sees at each scale).
This only changes training; the quantizer's inference semantics are untouched.

Resumable: `--resume` continues from <out>/checkpoint.pt (model, optimiser, RNG, step, hit EMA).
Writes <out>/vqvae_final.pt ({'config', 'model'}), <out>/log.jsonl and <out>/eval.json.
"""
from __future__ import annotations

import json
import os
import sys
import time

from train_common import JsonlLog, TrainingError, lr_at, rng_state, save_atomic, seed_everything, set_rng_state
from train_common import main as run_main
from train_common import training_parser


def residual_inputs(quantize, f_BChw):
    """Every vector the nearest-code search sees while encoding f (all scales), as (N, Cvae)."""
    import torch
    from var_ref.resample import area_down
    with torch.no_grad():
        f_rest = f_BChw.detach().clone()
        SN = len(quantize.patch_nums)
        zs = []
        for si in range(SN):
            pn = quantize.patch_nums[si]
            z = area_down(f_rest, pn) if si != SN - 1 else f_rest
            zs.append(z.permute(0, 2, 3, 1).reshape(-1, quantize.Cvae))
            _, h = quantize._scale_step(si, f_rest)
            f_rest = f_rest - h
        return torch.cat(zs)


def restart_dead_codes(vae, f_BChw, hit_ema, min_hits: float, gen) -> int:
    import torch
    dead = (hit_ema < min_hits).nonzero().flatten()
    if len(dead) == 0:
        return 0
    pool = residual_inputs(vae.quantize, f_BChw)
    pick = torch.randint(len(pool), (len(dead),), generator=gen)
    with torch.no_grad():
        vae.quantize.embedding.weight[dead] = pool[pick] + 1e-3 * torch.randn(len(dead), pool.shape[1], generator=gen)
    hit_ema[dead] = 1.0
    return int(len(dead))


def train(cfg: dict, out: str, resume: bool, steps_override: int = 0, data_limit: int = 0, data_dir: str = '') -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from data_fashion_mnist import load_arrays
    from eval_vqvae import eval_reconstruction, images_to_pm1
    from var_ref.config import config_to_json, vae_config_from_json
    from var_ref.vqvae import VQVAE

    tc = cfg['train']
    total = steps_override or tc['steps']
    os.makedirs(out, exist_ok=True)
    log = JsonlLog(os.path.join(out, 'log.jsonl'))
    seed_everything(cfg['seed'])
    train_x, _ = load_arrays('train', data_dir) if data_dir else load_arrays('train')
    test_x, _ = load_arrays('test', data_dir) if data_dir else load_arrays('test')
    if data_limit:
        train_x, test_x = train_x[:data_limit], test_x[:data_limit]
    vcfg = vae_config_from_json(cfg['vae'])
    vae = VQVAE(vcfg)
    opt = torch.optim.AdamW(vae.parameters(), lr=tc['lr'], betas=tuple(tc['betas']), weight_decay=tc['weight_decay'])
    hit_ema = torch.ones(vcfg.vocab_size)
    gen = torch.Generator().manual_seed(cfg['seed'] + 1)
    perm_rng = np.random.default_rng(cfg['seed'])
    step, elapsed_before = 0, 0.0
    ck_path = os.path.join(out, 'checkpoint.pt')
    if resume and os.path.exists(ck_path):
        ck = torch.load(ck_path, map_location='cpu')
        vae.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
        hit_ema = ck['hit_ema']
        gen.set_state(ck['gen'])
        perm_rng.bit_generator.state = ck['perm_rng']
        set_rng_state(ck['rng'])
        step, elapsed_before = ck['step'], ck['elapsed']
        log.write(event='resume', step=step)
    else:
        log.write(event='start', config=cfg, params=sum(p.numel() for p in vae.parameters()),
                  torch_threads=torch.get_num_threads(), openblas=os.environ.get('OPENBLAS_NUM_THREADS'))

    B = tc['batch']
    order = perm_rng.permutation(len(train_x))
    pos = (step * B) % len(train_x)
    t0, last_ck, win_t, win = time.time(), time.time(), time.time(), []
    if step == 0:
        # Data-dependent codebook init: residual vectors of a first batch (training-only trick).
        with torch.no_grad():
            f0 = vae.img_to_f(images_to_pm1(train_x[order[:B]]))
            pool = residual_inputs(vae.quantize, f0)
            vae.quantize.embedding.weight.copy_(pool[torch.randint(len(pool), (vcfg.vocab_size,), generator=gen)])
    vae.train()
    while step < total:
        if pos + B > len(order):
            order, pos = perm_rng.permutation(len(train_x)), 0
        x = images_to_pm1(train_x[order[pos:pos + B]])
        pos += B
        lr = lr_at(step, total, tc['lr'], tc['warmup'], tc['final_lr_ratio'])
        for g in opt.param_groups:
            g['lr'] = lr
        f = vae.img_to_f(x)
        f_hat, vq_loss, hits = vae.quantize(f)
        rec = vae.decoder(vae.post_quant_conv(f_hat))
        mse = F.mse_loss(rec, x)
        loss = mse + tc['l1_weight'] * F.l1_loss(rec, x) + tc['vq_weight'] * vq_loss
        if not torch.isfinite(loss):
            raise TrainingError(f'non-finite loss at step {step}; lower lr in the config and resume')
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hit_ema.mul_(tc['hit_ema_decay']).add_(hits, alpha=1 - tc['hit_ema_decay'])
        step += 1
        restarted = 0
        if step % tc['restart_every'] == 0 and step < tc['restart_until_frac'] * total:
            restarted = restart_dead_codes(vae, f.detach(), hit_ema, tc['restart_min_ema_hits'], gen)
        win.append((float(mse), float(vq_loss)))
        if step % tc['log_every'] == 0 or step == total or restarted:
            now = time.time()
            m = np.mean([w[0] for w in win])
            log.write(step=step, lr=lr, mse_pm1=m, psnr_train_db=float(10 * np.log10(4.0 / m)),
                      vq=float(np.mean([w[1] for w in win])), live_codes=int((hit_ema >= tc['restart_min_ema_hits']).sum()),
                      restarted=restarted, s_per_step=(now - win_t) / len(win), elapsed_s=elapsed_before + now - t0)
            win_t, win = now, []
        if time.time() - last_ck > tc['checkpoint_seconds'] or step == total:
            save_atomic({'model': vae.state_dict(), 'opt': opt.state_dict(), 'hit_ema': hit_ema, 'gen': gen.get_state(),
                         'perm_rng': perm_rng.bit_generator.state, 'rng': rng_state(), 'step': step,
                         'elapsed': elapsed_before + time.time() - t0, 'config': cfg}, ck_path)
            last_ck = time.time()
    train_s = elapsed_before + time.time() - t0
    save_atomic({'config': config_to_json(vcfg), 'model': vae.state_dict()}, os.path.join(out, 'vqvae_final.pt'))
    ev = eval_reconstruction(vae, test_x)
    ev.update(steps=step, train_wall_s=train_s)
    with open(os.path.join(out, 'eval.json'), 'w') as f:
        json.dump(ev, f, indent=1)
    log.write(event='done', **ev)
    return ev


def main(argv=None) -> int:
    ap = training_parser('train the multi-scale VQVAE', 'vqvae_fashion32.json', 'vqvae')
    return run_main(ap, lambda cfg, a: train(cfg, a.out, a.resume, a.steps, a.data_limit, a.data_dir), argv)

if __name__ == '__main__':
    sys.exit(main())
