"""Shared plumbing of the training scripts: threads, seeding, config files, JSONL logs, checkpoints."""
from __future__ import annotations

import json
import math
import os
import random
import sys
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
RUNS_DIR = os.path.join(TOOLS_DIR, 'runs')


class TrainingError(RuntimeError):
    pass


def set_threads_before_torch(torch_threads: int, blas_threads: int) -> None:
    """OpenBLAS reads its thread count when it is loaded, so this must run before `import torch`.

    training-notes.md: conv-heavy VQVAE — torch 2 / BLAS 1; matmul-heavy VAR — torch 1 / BLAS 2.
    """
    if 'torch' in sys.modules:
        import torch
        torch.set_num_threads(torch_threads)
        return
    os.environ['OPENBLAS_NUM_THREADS'] = str(blas_threads)
    os.environ['OMP_NUM_THREADS'] = str(torch_threads)
    import torch
    torch.set_num_threads(torch_threads)


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
