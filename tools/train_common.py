"""Shared plumbing of the training scripts: command line, threads, seeding, config files, JSONL logs, checkpoints."""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from typing import Callable, List, Optional

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
RUNS_DIR = os.path.join(TOOLS_DIR, 'runs')


class TrainingError(RuntimeError):
    pass


def set_threads_before_torch(torch_threads: int, blas_threads: int) -> None:
    """OpenBLAS reads its thread count when it is loaded, so this must run before `import torch`.

    Measured on 2 cores: conv-heavy VQVAE trains fastest with torch 2 / BLAS 1, matmul-heavy VAR with torch 1 /
    BLAS 2; both at 2 oversubscribe the cores (the configs in tools/configs carry these numbers).
    """
    if 'torch' in sys.modules:
        import torch
        torch.set_num_threads(torch_threads)
        return
    os.environ['OPENBLAS_NUM_THREADS'] = str(blas_threads)
    os.environ['OMP_NUM_THREADS'] = str(torch_threads)
    import torch
    torch.set_num_threads(torch_threads)


def training_parser(description: str, config_file: str, run_name: str) -> argparse.ArgumentParser:
    """The options every trainer takes; a trainer adds its own to the parser returned."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument('--config', default=os.path.join(TOOLS_DIR, 'configs', config_file))
    ap.add_argument('--out', default=os.path.join(RUNS_DIR, run_name))
    ap.add_argument('--resume', action='store_true')
    ap.add_argument('--steps', type=int, default=0, help='override the step count (smoke tests)')
    ap.add_argument('--data-limit', type=int, default=0, help='use only the first N images (smoke tests)')
    ap.add_argument('--data-dir', default='',
                    help='folder of the arrays of tools/data_fashion_mnist.py (default tools/runs/data)')
    return ap


def main(parser: argparse.ArgumentParser, train: Callable[[dict, argparse.Namespace], object],
         argv: Optional[List[str]] = None) -> int:
    """Parse, load the config, set the threads it names (before torch loads), train. Exit status 0 done,
    2 a TrainingError (one line on stderr)."""
    a = parser.parse_args(argv)
    try:
        cfg = load_config(a.config)
        set_threads_before_torch(cfg['threads']['torch'], cfg['threads']['openblas'])
        train(cfg, a)
    except TrainingError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_config(path: str) -> dict:
    if not os.path.exists(path):
        raise TrainingError(f'config {path} not found (see tools/configs/)')
    with open(path) as f:
        return json.load(f)


def lr_at(step: int, total: int, base: float, warmup: int, final_ratio: float) -> float:
    """Linear warmup, then cosine decay to base·final_ratio."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


class JsonlLog:
    def __init__(self, path: str):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path

    def write(self, **rec) -> None:
        rec.setdefault('time', time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
        line = json.dumps(rec)
        with open(self.path, 'a') as f:
            f.write(line + '\n')
        print(line, flush=True)


def save_atomic(obj, path: str) -> None:
    import torch
    tmp = path + '.tmp'
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state() -> dict:
    import numpy as np
    import torch
    return {'torch': torch.get_rng_state(), 'numpy': np.random.get_state(), 'python': random.getstate()}


def set_rng_state(st: dict) -> None:
    import numpy as np
    import torch
    torch.set_rng_state(st['torch'])
    np.random.set_state(st['numpy'])
    random.setstate(st['python'])
