"""Write models/var-fashion-32/MODEL_CARD.md from the measurement files of tools/runs/ (no number is typed by hand).

    /usr/bin/python3 tools/eval_model_card.py [--out models/var-fashion-32/MODEL_CARD.md] [--notes NOTES.md]

Reads runs/vqvae/{eval.json,log.jsonl}, runs/var/{train_result.json,log.jsonl}, runs/classifier/classifier_result.json,
runs/eval/{realref,sweep,defaults,inpaint}.json and, if given, a file of hand-written notes (training history,
limitations) that is appended verbatim.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(TOOLS_DIR, 'runs')
REPO = os.path.dirname(TOOLS_DIR)


def _load(*parts):
    with open(os.path.join(RUNS, *parts)) as f:
        return json.load(f)


def _log(*parts):
    with open(os.path.join(RUNS, *parts)) as f:
        return [json.loads(l) for l in f if l.strip()]


def pct(x):
    return f'{100 * x:.1f} %'


def build_card(notes: str = '') -> str:
    from data_fashion_mnist import CLASS_NAMES
    vq = _load('vqvae', 'eval.json')
    vq_start = next(r for r in _log('vqvae', 'log.jsonl') if r.get('event') == 'start')
    var_res = _load('var', 'train_result.json')
    var_start = next(r for r in _log('var', 'log.jsonl') if r.get('event') == 'start')
    clf = _load('classifier', 'classifier_result.json')
    ref = _load('eval', 'realref.json')
    sweep = _load('eval', 'sweep.json')
    dflt = _load('eval', 'defaults.json')
    inp = _load('eval', 'inpaint.json')
    vc, tc = vq_start['config'], var_start['var_config']
    at_default = next(r for r in sweep if (r['cfg'], r['top_k'], r['top_p']) == (dflt['cfg'], dflt['topK'], dflt['topP']))
    goal_met = at_default['class_correct'] >= 0.90
    L = []
    w = L.append
    w('# var-fashion-32 — the embedded default model of VAR Studio\n')
    w('A class-conditional VAR (next-scale prediction, Tian et al. 2024) of the official architecture family, '
      'trained from scratch by this project on Fashion-MNIST on a shared 2-core CPU machine. It ships inside the '
      'app so that generation works offline on first start. It is a small demo model, not a research result.\n')
    w('## Model\n')
    w(f'- Resolution 32×32 RGB (grey images stored as 3 equal channels), scales (patch_nums) {tc["patch_nums"]}, '
      f'L = {sum(p * p for p in tc["patch_nums"])} tokens.')
    w(f'- VQVAE: official encoder/decoder/multi-scale residual quantizer, ch {vc["vae"]["ch"]}, ch_mult {vc["vae"]["ch_mult"]} '
      f'(downsample 4), {vc["vae"]["num_res_blocks"]} res block per level, attention on, V = {vc["vae"]["vocab_size"]}, '
      f'Cvae = {vc["vae"]["z_channels"]}, share_quant_resi {vc["vae"]["share_quant_resi"]}, quant_resi 0.5 — '
      f'{vq_start["params"]:,} parameters.')
    w(f'- VAR: official rule depth {tc["depth"]} → width {tc["embed_dim"]}, {tc["num_heads"]} heads, FFN 4×, AdaLN '
      f'(not shared), attention L2-norm {"on" if tc["attn_l2_norm"] else "off"}, {tc["num_classes"]} classes + the null '
      f'class, cond_drop_rate {tc["cond_drop_rate"]} — {var_start["params"]:,} parameters.')
    w(f'- Classes: {", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES))}.')
    w(f'- Default sampling (manifest): cfg {dflt["cfg"]}, top-k {dflt["topK"]}, top-p {dflt["topP"]}, more-smooth off '
      f'(rule: {dflt["rule"]}).\n')
    w('## Data\n')
    w('Fashion-MNIST from Debian\'s `dataset-fashion-mnist` (MIT licence, Zalando Research): 60,000 train and 10,000 test '
      'images, 28×28 grey, padded with black to 32×32 and stored as 3-channel uint8 (`tools/data_fashion_mnist.py`). '
      'Both networks are trained on the train split only; the test split is used only for the numbers below.\n')
    w('## Training\n')
    tr = vq_start['config']['train']
    w(f'- VQVAE (`tools/train_vqvae.py`, `tools/configs/vqvae_fashion32.json`): {vq["steps"]} steps of batch {tr["batch"]}, '
      f'AdamW lr {tr["lr"]} (warmup {tr["warmup"]}, cosine to {tr["final_lr_ratio"]}×), loss MSE + {tr["l1_weight"]}·L1 + '
      f'quantizer loss (β {vc["vae"]["beta"]}), data-dependent codebook init and dead-code restarts from encoder '
      f'residuals; {vq["train_wall_s"] / 60:.1f} min of training wall time.')
    vt = var_start['config']['train']
    w(f'- VAR (`tools/train_var.py`, `tools/configs/var_fashion32.json`): {var_res["steps"]} steps of batch {vt["batch"]} '
      f'(≈ {var_res["steps"] * vt["batch"] / 60000:.1f} epochs), teacher-forced cross-entropy over all L tokens '
      f'(`idxBl_to_var_input`), official `init_weights()`, AdamW(β {vt["betas"]}, wd {vt["weight_decay"]} on matrices), '
      f'lr {vt["lr"]} after {vt["warmup"]} warmup steps then constant, grad clip {vt["grad_clip"]}, EMA {vt["ema_decay"]} '
      f'(exported: the {var_res["exported"]} weights, lower held-out loss); token pyramids of the train split encoded once. '
      f'{var_res["train_wall_s"] / 60:.1f} min of training wall time.')
    w(f'- Held-out teacher-forced loss on 512 test images: raw {var_res["val_raw"]["loss"]:.3f} '
      f'(token accuracy {pct(var_res["val_raw"]["acc"])}), EMA {var_res["val_ema"]["loss"]:.3f} '
      f'({pct(var_res["val_ema"]["acc"])}); ln V = {__import__("math").log(vc["vae"]["vocab_size"]):.3f}.\n')
    w('## Quality (measured)\n')
    w('### VQVAE reconstruction (test split, 10,000 images)\n')
    w(f'PSNR {vq["psnr_mean_per_image_db"]:.2f} dB (mean of per-image PSNR; {vq["psnr_global_db"]:.2f} dB from the pooled '
      f'MSE), pixels in [0, 1]. Codebook: {vq["codes_used"]} of {vq["vocab_size"]} codes used on the test split '
      f'(per scale {vq["codes_used_per_scale"]}).\n')
    w('Command: `/usr/bin/python3 tools/eval_vqvae.py --ckpt tools/runs/vqvae/vqvae_final.pt`\n')
    w('### Judging classifier\n')
    w(f'An independent small CNN (`tools/eval_classifier.py`: 5 conv layers + 2 FC, 128-d penultimate features) trained '
      f'only on the real train split ({clf["epochs"]} epochs, ±2 px shifts). Test accuracy **{pct(clf["test_accuracy"])}**; '
      f'per class: ' + ', '.join(f'{n} {pct(a)}' for n, a in zip(CLASS_NAMES, clf['per_class_accuracy'])) + '.\n')
    w('Command: `/usr/bin/python3 tools/eval_classifier.py train`\n')
    w('### Generated samples: class-correct rate and Fréchet distance\n')
    w(f'{at_default["n"]} samples per setting (100 per class, seed {at_default["seed"]}, the batched official-order sampler '
      f'of `tools/var_ref/sampler.py`), stored as uint8 like the app, judged by the classifier. Fréchet distance between '
      f'Gaussians fitted to the classifier\'s penultimate features of the samples and of the 10,000 real test images.\n')
    w('| cfg | top-k | top-p | class-correct | Fréchet vs test |')
    w('|---|---|---|---|---|')
    for r in sweep:
        mark = ' **(default)**' if r is at_default else ''
        w(f'| {r["cfg"]:g} | {r["top_k"]} | {r["top_p"]:g} | {pct(r["class_correct"])}{mark} | {r["frechet_vs_test10k"]:.2f} |')
    w('')
    w(f'Real-vs-real baselines in the same feature space: two halves of the test split (5,000 vs 5,000) '
      f'**{ref["halves_test5k_vs_test5k"]:.2f}**; 1,000 random real *train* images vs the 10,000 test images '
      f'**{ref["train1000_vs_test10k"]:.2f}** (the fair comparison for 1,000 generated samples, same sample size). '
      f'The classifier scores {pct(ref["classifier_accuracy_on_train1000"])} on those 1,000 real train images.\n')
    w(f'At the defaults the class-correct rate is **{pct(at_default["class_correct"])}** '
      f'({"meets" if goal_met else "falls short of"} the 90 % goal; the classifier itself is {pct(clf["test_accuracy"])} on real test images). '
      f'Per class: ' + ', '.join(f'{k} {pct(v)}' for k, v in at_default['per_class'].items()) + '.\n')
    w('Commands (as in `tools/build_default_model.sh`): `/usr/bin/python3 tools/eval_samples.py realref`, '
      '`/usr/bin/python3 tools/eval_samples.py sweep --settings ' + ' '.join(f'{r["cfg"]:g},{r["top_k"]},{r["top_p"]:g}' for r in sweep[:7])
      + '`, `/usr/bin/python3 tools/eval_samples.py sweep --append --settings ' + ' '.join(f'{r["cfg"]:g},{r["top_k"]},{r["top_p"]:g}' for r in sweep[7:])
      + '`, `/usr/bin/python3 tools/eval_samples.py choose`\n')
    eng_path = os.path.join(RUNS, 'eval', 'engine_check.json')
    if os.path.exists(eng_path):
        eng = _load('eval', 'engine_check.json')
        w(f'**Through the app\'s engine.** The shipped bundle run by the engine (onnxruntime, the studio sampler of '
          f'docs/sampling.md, manifest defaults), {eng["n"]} images ({eng["n"] // 10} per class, seeds 1000…): '
          f'class-correct **{pct(eng["class_correct"])}** (per class: '
          + ', '.join(f'{k} {pct(v)}' for k, v in eng['per_class'].items()) + ').\n')
        w('Commands: `for c in 0 1 2 3 4 5 6 7 8 9; do node bin/var-studio.mjs generate --class $c --seed 1000 --batch 20 '
          '--out /tmp/engchk/c$c.png --quiet; done; /usr/bin/python3 tools/eval_engine_samples.py /tmp/engchk`\n')
    w('### Zero-shot in-painting (the official demo_zero_shot_edit.ipynb rule)\n')
    b = inp['box_yxyx']
    w(f'{inp["n"]} test images; the centre box y∈[{b[0]}, {b[2]}), x∈[{b[1]}, {b[3]}) of the image is generated, everything '
      f'else is kept: ground-truth tokens outside the box are teacher-forced at every scale (kept tokens per scale '
      f'{inp["kept_tokens_per_scale"]}), the label is the null class (so CFG has no effect), cfg {inp["cfg"]:g}, top-k '
      f'{inp["top_k"]}, top-p {inp["top_p"]:g}; the decoded image is pasted back through the pixel mask.\n')
    w(f'- Kept region ({inp["kept_px_per_image"]} px per image) pixel-identical after paste-back: '
      f'**{"yes" if inp["kept_region_pixel_identical"] else "NO"}** (asserted for every image).')
    w(f'- Whole pasted image judged the true class: **{pct(inp["inpainted"]["class_correct"])}** — vs '
      f'{pct(at_default["class_correct"])} for fresh samples at the defaults, {pct(inp["baseline_hole_black"]["class_correct"])} '
      f'for the same images with the box left black (no fill), {pct(inp["baseline_real_unmasked"]["class_correct"])} for '
      f'the untouched real images.')
    w('- Per class (in-painted): ' + ', '.join(f'{k} {pct(v)}' for k, v in inp['inpainted']['per_class'].items()) + '.\n')
    w('Command: `/usr/bin/python3 tools/eval_samples.py inpaint --from-defaults --png models/var-fashion-32/inpainting.png`\n')
    w('## Pictures\n')
    w('- `samples_default.png`: one row per class (top to bottom in class order), 10 samples each, default settings, ×4 nearest.')
    w('- `real_test.png`: the first 10 real test images of each class, same layout, for comparison.')
    w('- `inpainting.png`: one test image per class; rows: original, box blacked out, raw in-painted decode, pasted result.\n')
    if notes:
        w(notes.strip() + '\n')
    return '\n'.join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description='write the model card from measurement files')
    ap.add_argument('--out', default=os.path.join(REPO, 'models', 'var-fashion-32', 'MODEL_CARD.md'))
    ap.add_argument('--notes', default='')
    a = ap.parse_args(argv)
    notes = open(a.notes, encoding='utf-8').read() if a.notes else ''
    card = build_card(notes)
    with open(a.out, 'w', encoding='utf-8') as f:
        f.write(card)
    print(f'wrote {a.out} ({len(card)} chars)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
