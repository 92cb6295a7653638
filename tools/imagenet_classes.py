#!/usr/bin/python3
"""The 1000 ImageNet-1k class names, in label order, for official VAR bundles (label i = ImageNet class i).

`resources/imagenet-classes.json` is generated from python3-torchvision's model metadata
(`ResNet50_Weights.IMAGENET1K_V1.meta['categories']`, the standard short names, index = ImageNet class
index used by the official VAR training data loader: torchvision ImageFolder order of the synset folders).
The list is copied verbatim; torchvision already disambiguates the two ImageNet synsets that share a name
(134 'crane bird' vs 517 'crane', 638 'maillot' vs 639 'maillot tank suit'), so all 1000 names are distinct.

    /usr/bin/python3 tools/imagenet_classes.py            # (re)write resources/imagenet-classes.json
    /usr/bin/python3 tools/imagenet_classes.py --check    # exit 1 if the file differs from torchvision's list
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES_JSON = os.path.join(REPO, 'resources', 'imagenet-classes.json')
NUM_CLASSES = 1000


def torchvision_categories() -> List[str]:
    from torchvision.models import ResNet50_Weights
    cats = list(ResNet50_Weights.IMAGENET1K_V1.meta['categories'])
    if len(cats) != NUM_CLASSES:
        raise RuntimeError(f'torchvision lists {len(cats)} ImageNet categories, expected {NUM_CLASSES}')
    return cats


def load_imagenet_classes(path: str = CLASSES_JSON) -> List[str]:
    """The committed list (no torchvision needed at conversion time)."""
    with open(path, encoding='utf-8') as fh:
        doc = json.load(fh)
    names = doc['classes'] if isinstance(doc, dict) else doc
    if len(names) != NUM_CLASSES or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f'{path}: expected {NUM_CLASSES} non-empty class names, found {len(names)}')
    return names


def render(names: List[str]) -> str:
    doc = {'source': "torchvision 0.14 ResNet50_Weights.IMAGENET1K_V1.meta['categories'] (python3-torchvision)",
           'count': len(names), 'classes': names}
    return json.dumps(doc, indent=1, ensure_ascii=False) + '\n'


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--check', action='store_true', help='compare the committed file with torchvision, write nothing')
    ap.add_argument('--out', default=CLASSES_JSON)
    a = ap.parse_args(argv)
    text = render(torchvision_categories())
    if a.check:
        with open(a.out, encoding='utf-8') as fh:
            same = fh.read() == text
        print(f'{a.out}: {"matches" if same else "DIFFERS from"} torchvision\'s ImageNet categories')
        return 0 if same else 1
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, 'w', encoding='utf-8') as fh:
        fh.write(text)
    print(f'wrote {a.out} ({NUM_CLASSES} classes)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
