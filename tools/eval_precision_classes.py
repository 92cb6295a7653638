#!/usr/bin/python3
"""Class-correct rate of images generated at each precision (bench/fidelity.ts --class-out PREFIX).

    /usr/bin/python3 tools/eval_precision_classes.py PREFIX

Reads PREFIX.labels.json and PREFIX.<precision>.rgb (n × R × R × 3 uint8), classifies them with the judging
classifier (tools/eval_classifier.py) and prints {precision: class-correct rate} as JSON.
"""
from __future__ import annotations

import json
import sys


def main(argv=None) -> int:
    import numpy as np
    from train_common import set_threads_before_torch
    set_threads_before_torch(1, 1)
    from eval_classifier import load_classifier, predict
    prefix = (argv or sys.argv[1:])[0]
    with open(prefix + '.labels.json', encoding='utf-8') as fh:
        meta = json.load(fh)
    n, R = meta['n'], meta['resolution']
    labels = np.array(meta['labels'])
    model = load_classifier()
    out = {}
    for p in meta['precisions']:
        imgs = np.fromfile(f'{prefix}.{p}.rgb', dtype=np.uint8).reshape(n, R, R, 3)
        pred, _ = predict(model, imgs)
        out[p] = float((pred == labels).mean())
    print(json.dumps({'n': n, 'classCorrect': out}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
