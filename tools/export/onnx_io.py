"""torch → ONNX (opset 17, no constant folding) and the split of every initializer into a `.weights` file.

Every initializer must be either a raw checkpoint tensor (named `var.<key>` / `vae.<key>` by the graph wrappers,
checked byte-for-byte against the state dict) or a declared derived tensor; anything else is an export bug
and stops the export (docs/model-bundle.md, weightMap).
"""
from __future__ import annotations

import io
import os
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
import torch
from onnx import numpy_helper

OPSET = 17
WEIGHT_ALIGN = 64  # bytes; every tensor starts on a 64-byte boundary of the .weights file


class ExportError(RuntimeError):
    """The model cannot be exported as a bundle; the message names the graph and tensor."""


def _tracing_exporter() -> dict:
    """torch ≥ 2.5 defaults to the dynamo exporter; these graphs are made for the tracing one (dynamo=False)."""
    import inspect
    return {'dynamo': False} if 'dynamo' in inspect.signature(torch.onnx.export).parameters else {}


def export_onnx(module: torch.nn.Module, args: Tuple, input_names: List[str], output_names: List[str],
                dynamic_axes: Dict[str, Dict[int, str]]) -> onnx.ModelProto:
    module.eval()
    buf = io.BytesIO()
    # torch 1.13 merges initializers of *equal value* (all-zero biases, all-one norms, the zero_k_bias buffers …,
    # whatever its training flag says), which would make one initializer stand for several checkpoint keys and
    # break the weight map for checkpoints whose values differ. Skip that pass: our modules have no tied
    # weights, so every checkpoint tensor keeps its own initializer.
    dedup = torch._C._jit_pass_onnx_deduplicate_initializers
    torch._C._jit_pass_onnx_deduplicate_initializers = lambda graph, params, is_train: params
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')  # tracer warnings about shape-to-int conversions are expected here
            torch.onnx.export(module, args, buf, opset_version=OPSET, do_constant_folding=False,
                              input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
                              export_params=True, keep_initializers_as_inputs=False, **_tracing_exporter())
    finally:
        torch._C._jit_pass_onnx_deduplicate_initializers = dedup
    model = onnx.load_from_string(buf.getvalue())
    got_in = [i.name for i in model.graph.input]
    got_out = [o.name for o in model.graph.output]
    if got_in != input_names or got_out != output_names:
        raise ExportError(f'exported graph I/O {got_in} → {got_out} differs from the contract {input_names} → {output_names}')
    return model


_DTYPE_NAMES = {np.dtype('float32'): 'float32', np.dtype('int64'): 'int64', np.dtype('float64'): 'float64',
                np.dtype('int32'): 'int32'}


def externalize(model: onnx.ModelProto, graph_key: str, weights_name: str, weights_path: str,
                sources: Dict[str, Dict[str, torch.Tensor]], derived: Optional[Dict[str, str]] = None) -> List[dict]:
    """Move every initializer into `weights_path` (raw little-endian, 64-byte aligned) and return the weightMap rows.

    `sources` maps a prefix ('var', 'vae', 'preview') to that model's state dict; an initializer named
    `<prefix>.<key>` must equal `state_dict[key]` exactly. `derived` maps such full names of tensors that are
    not checkpoint tensors (the fitted preview map) to a description that goes into the weightMap `key`.
    """
    derived = derived or {}
    rows = []
    offset = 0
    with open(weights_path, 'wb') as fh:
        for init in model.graph.initializer:
            arr = numpy_helper.to_array(init)
            prefix, _, key = init.name.partition('.')
            if init.name in derived:
                source, key_out = 'derived', derived[init.name]
            elif prefix in sources and key in sources[prefix]:
                ref = sources[prefix][key].detach().cpu().numpy()
                if ref.shape != arr.shape or ref.dtype != arr.dtype or ref.tobytes() != arr.tobytes():
                    raise ExportError(f'{graph_key}: initializer {init.name} is not the raw checkpoint tensor {key} '
                                      f'(got {arr.dtype}{list(arr.shape)}, checkpoint {ref.dtype}{list(ref.shape)})')
                source, key_out = prefix, key
            else:
                raise ExportError(f'{graph_key}: initializer {init.name!r} {arr.dtype}{list(arr.shape)} is neither a '
                                  f'checkpoint tensor nor a declared derived tensor')
            if arr.dtype not in _DTYPE_NAMES:
                raise ExportError(f'{graph_key}: initializer {init.name} has unsupported dtype {arr.dtype}')
            data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<'), copy=False).tobytes()
            pad = (-offset) % WEIGHT_ALIGN
            fh.write(b'\0' * pad)
            offset += pad
            fh.write(data)
            rows.append({'graph': graph_key, 'initializer': init.name, 'source': source, 'key': key_out,
                         'dtype': _DTYPE_NAMES[arr.dtype], 'shape': list(arr.shape), 'offset': offset,
                         'length': len(data)})
            init.ClearField('raw_data')
            for field in ('float_data', 'int32_data', 'int64_data', 'double_data', 'uint64_data', 'string_data'):
                init.ClearField(field)
            init.data_location = onnx.TensorProto.EXTERNAL
            del init.external_data[:]
            for k, v in (('location', weights_name), ('offset', str(offset)), ('length', str(len(data)))):
                entry = init.external_data.add()
                entry.key, entry.value = k, v
            offset += len(data)
    return rows


def save_and_check(model: onnx.ModelProto, path: str) -> None:
    onnx.save_model(model, path)
    onnx.checker.check_model(path)
