"""torch → ONNX (opset 17, no constant folding) and the split of every initializer into a `.weights` file.

Every initializer must be either a raw checkpoint tensor (named `var.<key>` / `vae.<key>` by the graph wrappers,
checked byte-for-byte against the state dict) or a declared derived tensor; anything else is an export bug
and stops the export (docs/model-bundle.md, weightMap).
"""
from __future__ import annotations

import hashlib
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
                dynamic_axes: Dict[str, Dict[int, str]], export_params: bool = True) -> onnx.ModelProto:
    """Trace `module` to ONNX. export_params=False leaves the weights out: they become graph inputs after the
    contract's inputs (what `structure_only` turns into external-data initializers without their bytes)."""
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
                              export_params=export_params, keep_initializers_as_inputs=False, **_tracing_exporter())
    finally:
        torch._C._jit_pass_onnx_deduplicate_initializers = dedup
    model = onnx.load_from_string(buf.getvalue())
    got_in = [i.name for i in model.graph.input]
    if not export_params:
        got_in = got_in[:len(input_names)]
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
            _point_at_external(init, weights_name, offset, len(data))
            offset += len(data)
    return rows


def _point_at_external(init: onnx.TensorProto, weights_name: str, offset: int, length: int) -> None:
    init.ClearField('raw_data')
    for field in ('float_data', 'int32_data', 'int64_data', 'double_data', 'uint64_data', 'string_data'):
        init.ClearField(field)
    init.data_location = onnx.TensorProto.EXTERNAL
    del init.external_data[:]
    for k, v in (('location', weights_name), ('offset', str(offset)), ('length', str(length))):
        entry = init.external_data.add()
        entry.key, entry.value = k, v


_ELEM_DTYPES = {onnx.TensorProto.FLOAT: np.dtype('float32'), onnx.TensorProto.INT64: np.dtype('int64'),
                onnx.TensorProto.DOUBLE: np.dtype('float64'), onnx.TensorProto.INT32: np.dtype('int32')}


def structure_only(model: onnx.ModelProto, num_inputs: int, graph_key: str, weights_name: str,
                   sources: Dict[str, Sequence[str]], derived: Optional[Dict[str, str]] = None) -> List[dict]:
    """Turn the weight inputs of an `export_params=False` graph into external-data initializers, in place.

    The result is what `externalize` makes of a normal export (same initializer order, names, offsets and
    lengths; the offsets depend only on shapes and dtypes), but no tensor's bytes were ever needed. `sources`
    maps 'var'/'vae' to the checkpoint keys; returns the weightMap rows.
    """
    derived = derived or {}
    params = list(model.graph.input[num_inputs:])
    del model.graph.input[num_inputs:]
    keys = {p: set(k) for p, k in sources.items()}
    rows = []
    offset = 0
    for vi in params:
        tt = vi.type.tensor_type
        if tt.elem_type not in _ELEM_DTYPES:
            raise ExportError(f'{graph_key}: weight {vi.name} has unsupported element type {tt.elem_type}')
        dtype = _ELEM_DTYPES[tt.elem_type]
        shape = [int(d.dim_value) for d in tt.shape.dim]
        if any(not d.HasField('dim_value') for d in tt.shape.dim):
            raise ExportError(f'{graph_key}: weight {vi.name} has a symbolic dimension')
        prefix, _, key = vi.name.partition('.')
        if vi.name in derived:
            source, key_out = 'derived', derived[vi.name]
        elif prefix in keys and key in keys[prefix]:
            source, key_out = prefix, key
        else:
            raise ExportError(f'{graph_key}: weight {vi.name!r} is neither a checkpoint tensor nor a declared derived tensor')
        length = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        offset += (-offset) % WEIGHT_ALIGN
        init = model.graph.initializer.add()
        init.dims.extend(shape)
        init.data_type = tt.elem_type
        init.name = vi.name
        _point_at_external(init, weights_name, offset, length)
        rows.append({'graph': graph_key, 'initializer': vi.name, 'source': source, 'key': key_out,
                     'dtype': _DTYPE_NAMES[dtype], 'shape': shape, 'offset': offset, 'length': length})
        offset += length
    return rows


def save_and_check(model: onnx.ModelProto, path: str, weights_bytes: Optional[int] = None) -> None:
    """Save and validate. A template (weights_bytes given) has no .weights file: the checker insists on one,
    so a sparse stand-in of that size exists during the check only."""
    onnx.save_model(model, path)
    if weights_bytes is None:
        onnx.checker.check_model(path)
        return
    locations = {e.value for t in model.graph.initializer for e in t.external_data if e.key == 'location'}
    stand_ins = [os.path.join(os.path.dirname(path), loc) for loc in locations]
    if any(os.path.exists(p) for p in stand_ins):
        raise ExportError(f'{path}: a template folder must not hold weights files ({locations})')
    try:
        for p in stand_ins:
            with open(p, 'wb') as fh:
                fh.truncate(weights_bytes)
        onnx.checker.check_model(path)
    finally:
        for p in stand_ins:
            if os.path.exists(p):
                os.remove(p)


def file_sha256(path: str) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (bundle manifests list one per file)."""
    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()
