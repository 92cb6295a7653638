#!/bin/bash
# Rebuild the embedded default model models/var-fashion-32/ from scratch on this 2-core CPU machine.
# Steps: data → VQVAE → VAR → judging classifier → measurements → bundle. Outputs of every run go to
# tools/runs/ (git-ignored); only the bundle, card and PNG grids are committed.
#   VAR_STEPS=N     VAR steps (the shipped model: see models/var-fashion-32/MODEL_CARD.md)
#   VAR_STOP_AT=... optional UTC deadline YYYY-mm-ddTHH:MM for the VAR (constant LR: N steps do not depend on it)
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
VAR_STEPS=${VAR_STEPS:-}
STOP=${VAR_STOP_AT:+--stop-at $VAR_STOP_AT}
start=$(date +%s)
$PY data_fashion_mnist.py
$PY train_vqvae.py --out runs/vqvae
$PY train_var.py --out runs/var ${VAR_STEPS:+--steps $VAR_STEPS} $STOP
$PY eval_classifier.py train --out runs/classifier
$PY eval_samples.py realref
$PY eval_samples.py sweep --settings 1,0,0 2,0,0 3,0,0 4,0,0 3,100,0 3,0,0.9 2,100,0.9 --name sweep
$PY eval_samples.py sweep --settings 5,0,0 4,0,0.9 --name sweep --append
$PY eval_samples.py choose --name sweep            # writes runs/eval/defaults.json (rule in eval_samples.py)
$PY eval_samples.py grid --from-defaults --png ../models/var-fashion-32/samples_default.png
$PY eval_samples.py realgrid --png ../models/var-fashion-32/real_test.png
$PY eval_samples.py inpaint --from-defaults --png ../models/var-fashion-32/inpainting.png
$PY export_default_model.py                        # bundle first, so the engine can be checked on it
rm -rf runs/engine_check && mkdir -p runs/engine_check
for c in 0 1 2 3 4 5 6 7 8 9; do
  node ../bin/var-studio.mjs generate --class $c --seed 1000 --batch 20 --out runs/engine_check/c$c.png --quiet
done
$PY eval_engine_samples.py runs/engine_check
$PY eval_model_card.py --notes configs/model_card_notes.md
$PY export_default_model.py                        # again, with the final MODEL_CARD.md inside the bundle
echo "build_default_model: done in $(( $(date +%s) - start )) s"
