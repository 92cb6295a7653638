"""Build the Fashion-MNIST arrays the default model trains and is measured on.

Reads Debian's `dataset-fashion-mnist` (idx format, gzip: images from byte 16, labels from byte 8),
pads 28×28 → 32×32 with black (2 px each side) and replicates the grey channel to 3 channels, so the
app and the VQVAE see one image format (uint8, N×32×32×3, RGB).

    /usr/bin/python3 tools/data_fashion_mnist.py [--src DIR] [--out DIR]

writes {train,test}_{images,labels}.npy under --out (default tools/runs/data, git-ignored).
"""
from __future__ import annotations

import argparse
import gzip
import os
import sys

import numpy as np

CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
DEFAULT_SRC = '/usr/share/datasets/fashion-mnist'
TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(TOOLS_DIR, 'runs', 'data')
SPLIT_FILES = {'train': 'train', 'test': 't10k'}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


class DatasetError(RuntimeError):
    pass


def _read_gz(path: str) -> bytes:
    if not os.path.exists(path):
        raise DatasetError(f'{path} not found: install it with `apt-get install -y dataset-fashion-mnist` '
                           f'or pass --src to the folder holding the idx .gz files')
    with gzip.open(path, 'rb') as f:
        return f.read()


def read_idx_images(path: str) -> np.ndarray:
    raw = _read_gz(path)
    magic, n, h, w = (int.from_bytes(raw[i:i + 4], 'big') for i in range(0, 16, 4))
    if magic != IMAGE_MAGIC or len(raw) != 16 + n * h * w:
        raise DatasetError(f'{path} is not an idx3 image file (magic {magic}, {len(raw)} bytes for {n}×{h}×{w})')
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, h, w)


def read_idx_labels(path: str) -> np.ndarray:
    raw = _read_gz(path)
    magic, n = int.from_bytes(raw[0:4], 'big'), int.from_bytes(raw[4:8], 'big')
    if magic != LABEL_MAGIC or len(raw) != 8 + n:
        raise DatasetError(f'{path} is not an idx1 label file (magic {magic}, {len(raw)} bytes for {n} labels)')
    return np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)


def to_rgb32(gray_NHW: np.ndarray, size: int = 32) -> np.ndarray:
    n, h, w = gray_NHW.shape
    top, left = (size - h) // 2, (size - w) // 2
    out = np.zeros((n, size, size, 3), dtype=np.uint8)
    out[:, top:top + h, left:left + w, :] = gray_NHW[..., None]
    return out


def load_split(split: str, src: str = DEFAULT_SRC):
    stem = SPLIT_FILES[split]
    images = read_idx_images(os.path.join(src, f'{stem}-images-idx3-ubyte.gz'))
    labels = read_idx_labels(os.path.join(src, f'{stem}-labels-idx1-ubyte.gz'))
    if len(images) != len(labels):
        raise DatasetError(f'{split}: {len(images)} images but {len(labels)} labels')
    if labels.min() < 0 or labels.max() >= len(CLASS_NAMES):
        raise DatasetError(f'{split}: labels outside 0..{len(CLASS_NAMES) - 1}')
    return to_rgb32(images), labels


def build(src: str = DEFAULT_SRC, out: str = DEFAULT_OUT) -> dict:
    os.makedirs(out, exist_ok=True)
    counts = {}
    for split in SPLIT_FILES:
        images, labels = load_split(split, src)
        np.save(os.path.join(out, f'{split}_images.npy'), images)
        np.save(os.path.join(out, f'{split}_labels.npy'), labels)
        counts[split] = len(images)
    return counts


def load_arrays(split: str, data_dir: str = DEFAULT_OUT):
    """(images uint8 N×32×32×3, labels int64 N) from the arrays `build` wrote; builds them if missing."""
    ip, lp = (os.path.join(data_dir, f'{split}_{k}.npy') for k in ('images', 'labels'))
    if not (os.path.exists(ip) and os.path.exists(lp)):
        build(out=data_dir)
    return np.load(ip), np.load(lp)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--src', default=DEFAULT_SRC)
    ap.add_argument('--out', default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    try:
        counts = build(a.src, a.out)
    except DatasetError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'wrote {counts} to {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
