"""Run ONNX graphs in onnxruntime-node from Python (there is no onnxruntime for Python here).

Python writes inputs as raw .bin files plus a job.json, `node tools/ort_run.mjs` runs them and writes the
outputs back the same way. A run's input may also be an output of an earlier run of the same job (`FromRun`),
so a whole cached generation can run inside one Node process.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Union

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORT_NODE = os.path.join(REPO, 'node_modules', 'onnxruntime-node')
RUNNER = os.path.join(REPO, 'tools', 'ort_run.mjs')


class OrtUnavailable(RuntimeError):
    pass


def ort_available() -> bool:
    return os.path.isdir(ORT_NODE)


@dataclass
class FromRun:
    run: int
    output: str


Feed = Union[np.ndarray, FromRun]


def run_ort(runs: List[tuple], timeout: float = 300) -> List[Dict[str, np.ndarray]]:
    """runs: [(model_path, {input name: ndarray | FromRun})] → one {output name: ndarray} per run."""
    if not ort_available():
        raise OrtUnavailable(f'onnxruntime-node is not installed ({ORT_NODE} missing): run npm install')
    with tempfile.TemporaryDirectory(prefix='ort_job_') as tmp:
        job = {'runs': []}
        for i, (model, feeds) in enumerate(runs):
            inputs = []
            for name, val in feeds.items():
                if isinstance(val, FromRun):
                    inputs.append({'name': name, 'from_run': val.run, 'output': val.output})
                    continue
                arr = np.ascontiguousarray(val)
                if arr.dtype not in (np.float32, np.int64):
                    raise TypeError(f'input {name}: dtype {arr.dtype} (graphs take float32 or int64)')
                f = os.path.join(tmp, f'in_{i}_{name}.bin')
                arr.astype(arr.dtype.newbyteorder('<')).tofile(f)
                inputs.append({'name': name, 'dtype': str(arr.dtype), 'shape': list(arr.shape), 'file': f})
            job['runs'].append({'model': os.path.abspath(model), 'inputs': inputs,
                                'outputs_dir': os.path.join(tmp, f'out_{i}')})
        with open(os.path.join(tmp, 'job.json'), 'w') as fh:
            json.dump(job, fh)
        proc = subprocess.run(['node', RUNNER, tmp], capture_output=True, text=True, timeout=timeout, cwd=REPO)
        if proc.returncode != 0:
            raise RuntimeError(f'onnxruntime-node failed:\n{proc.stderr[-4000:]}')
        results = []
        for i in range(len(runs)):
            d = os.path.join(tmp, f'out_{i}')
            with open(os.path.join(d, 'outputs.json')) as fh:
                index = json.load(fh)
            results.append({name: np.fromfile(spec['file'], dtype=np.dtype(spec['dtype']).newbyteorder('<'))
                            .reshape(spec['shape']) for name, spec in index.items()})
        return results
