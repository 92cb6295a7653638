"""Reduced-precision variants of an exported fp32 graph (docs/model-bundle.md "Precision variants").

int8 / int4: every MatMul whose B is `Transpose(W)` of a 2-D initializer W[N, K] (an nn.Linear) becomes the
onnxruntime contrib op `com.microsoft.MatMulNBits`: W is quantized along K in blocks of `block_size`, each block
with its own float32 scale (and, asymmetric, its own zero point), codes packed low bits first, as that op's
specification in onnxruntime docs/ContribOperators.md defines:
    B: uint8 [N, n_blocks, block_size·bits/8]; scales: float [N·n_blocks];
    zero_points: uint8 [N, ceil(n_blocks·bits/8)] packed the same way (absent = 2^(bits−1));
    W[n, k] ≈ (code − zero_point) · scale.
`dq8` (int8 per output column, `DynamicQuantizeMatMul`, activations quantized per call) is the other int8 kernel
family, kept for measurement. Layers named in `keep_fp32` (by substring of the weight's name) stay float32.

fp16: the whole graph computes in float16 with float32 inputs and outputs (a Cast at each boundary), for GPUs.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export.onnx_io import WEIGHT_ALIGN, ExportError

MS_DOMAIN = 'com.microsoft'
DEFAULT_KEEP_FP32 = ('word_embed', 'head.')   # K = Cvae is tiny; the head decides the logits directly


@dataclass(frozen=True)
class QuantSpec:
    """How one precision variant is made (recorded in the manifest as `quantization`)."""
    precision: str                      # 'int8' | 'int4' | 'fp16' | 'dq8'
    method: str                         # 'MatMulNBits' | 'DynamicQuantizeMatMul' | 'fp16-cast'
    bits: int = 32
    blockSize: int = 0
    symmetric: bool = True
    accuracyLevel: int = 0
    keptFp32: Tuple[str, ...] = field(default=DEFAULT_KEEP_FP32)

    def record(self) -> dict:
        d = asdict(self)
        d['keptFp32'] = list(self.keptFp32)
        return d


PRESETS: Dict[str, QuantSpec] = {
    'int8': QuantSpec('int8', 'MatMulNBits', bits=8, blockSize=128, symmetric=True, accuracyLevel=4),
    'int4': QuantSpec('int4', 'MatMulNBits', bits=4, blockSize=32, symmetric=True, accuracyLevel=4),
    'dq8': QuantSpec('dq8', 'DynamicQuantizeMatMul', bits=8, blockSize=0, symmetric=True),
    'fp16': QuantSpec('fp16', 'fp16-cast', bits=16, keptFp32=()),
}


def spec_for(precision: str, **overrides) -> QuantSpec:
    if precision not in PRESETS:
        raise ExportError(f'unknown precision {precision!r}: expected one of fp32, {", ".join(PRESETS)}')
    base = asdict(PRESETS[precision])
    base.update({k: v for k, v in overrides.items() if v is not None})
    base['keptFp32'] = tuple(base['keptFp32'])
    return QuantSpec(**base)


# ---------------------------------------------------------------- blockwise quantization (pure numpy)

def quantize_blockwise(w: np.ndarray, bits: int, block_size: int, symmetric: bool
                       ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """W [N, K] float → (packed codes uint8 [N, nb, block·bits/8], scales float32 [N·nb], zero points or None)."""
    if bits not in (4, 8):
        raise ExportError(f'MatMulNBits bits must be 4 or 8, got {bits}')
    if block_size < 16 or block_size & (block_size - 1):
        raise ExportError(f'block size must be a power of two ≥ 16, got {block_size}')
    N, K = w.shape
    nb = -(-K // block_size)
    padded = np.zeros((N, nb * block_size), np.float32)
    padded[:, :K] = w
    blocks = padded.reshape(N, nb, block_size).astype(np.float64)
    qmax = (1 << bits) - 1
    if symmetric:
        # Codes centred on 2^(bits−1) (the op's default zero point): the block's largest magnitude maps to ±half.
        half = 1 << (bits - 1)
        amax = np.abs(blocks).max(axis=2)
        scale = amax / (half - 1)
        scale[scale == 0] = 1.0
        codes = np.clip(np.rint(blocks / scale[..., None]) + half, 0, qmax)
        zp = None
    else:
        lo = np.minimum(blocks.min(axis=2), 0.0)
        hi = np.maximum(blocks.max(axis=2), 0.0)
        scale = (hi - lo) / qmax
        scale[scale == 0] = 1.0
        zpv = np.clip(np.rint(-lo / scale), 0, qmax)
        codes = np.clip(np.rint(blocks / scale[..., None]) + zpv[..., None], 0, qmax)
        zp = _pack(zpv.astype(np.uint8), bits)                              # [N, ceil(nb·bits/8)]
    packed = _pack(codes.astype(np.uint8).reshape(N * nb, block_size), bits).reshape(N, nb, -1)
    return packed, scale.astype(np.float32).reshape(-1), zp


def _pack(codes: np.ndarray, bits: int) -> np.ndarray:
    """Pack the last axis low bits first (two 4-bit codes per byte, element 2i in the low nibble)."""
    if bits == 8:
        return codes.astype(np.uint8)
    if codes.shape[-1] % 2:
        codes = np.concatenate([codes, np.zeros(codes.shape[:-1] + (1,), np.uint8)], axis=-1)
    return (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8)


def dequantize_blockwise(packed: np.ndarray, scales: np.ndarray, zp: Optional[np.ndarray], bits: int, K: int
                         ) -> np.ndarray:
    """Inverse of quantize_blockwise (the op's arithmetic): → W [N, K] float32."""
    N, nb, _ = packed.shape
    codes = _unpack(packed, bits).reshape(N, nb, -1).astype(np.float64)
    block = codes.shape[2]
    if zp is None:
        z = np.full((N, nb), 1 << (bits - 1), np.float64)
    else:
        z = _unpack(zp, bits)[:, :nb].astype(np.float64)
    w = (codes - z[..., None]) * scales.reshape(N, nb)[..., None]
    return w.reshape(N, nb * block)[:, :K].astype(np.float32)


def _unpack(packed: np.ndarray, bits: int) -> np.ndarray:
    if bits == 8:
        return packed
    out = np.empty(packed.shape[:-1] + (packed.shape[-1] * 2,), np.uint8)
    out[..., 0::2] = packed & 0x0F
    out[..., 1::2] = packed >> 4
    return out


# ---------------------------------------------------------------- graph rewriting

def _linear_matmuls(model: onnx.ModelProto, inits: Dict[str, onnx.TensorProto]):
    """(MatMul node, its Transpose node, weight initializer name) for every nn.Linear exported as MatMul(x, Wᵀ)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.op_type != 'MatMul':
            continue
        tr = producer.get(node.input[1])
        if tr is None or tr.op_type != 'Transpose' or tr.input[0] not in inits:
            continue
        perm = next((list(a.ints) for a in tr.attribute if a.name == 'perm'), [1, 0])
        if len(inits[tr.input[0]].dims) == 2 and perm == [1, 0]:
            yield node, tr, tr.input[0]


def quantize_matmuls(model: onnx.ModelProto, spec: QuantSpec) -> List[dict]:
    """Rewrite `model` in place; return one row per quantized weight {initializer, from, N, K}."""
    inits = {i.name: i for i in model.graph.initializer}
    new_nodes: Dict[int, onnx.NodeProto] = {}
    drop_nodes = set()
    new_inits: List[onnx.TensorProto] = []
    rows = []
    targets = list(_linear_matmuls(model, inits))
    for node, tr, wname in targets:
        if any(s in wname for s in spec.keptFp32):
            continue
        w = numpy_helper.to_array(inits[wname]).astype(np.float32)
        N, K = w.shape
        base = wname + f'.{spec.precision}'
        if spec.method == 'MatMulNBits':
            packed, scales, zp = quantize_blockwise(w, spec.bits, spec.blockSize, spec.symmetric)
            ins = [node.input[0], base + '.codes', base + '.scales']
            new_inits += [numpy_helper.from_array(packed, base + '.codes'),
                          numpy_helper.from_array(scales, base + '.scales')]
            if zp is not None:
                ins.append(base + '.zero_points')
                new_inits.append(numpy_helper.from_array(zp, base + '.zero_points'))
            q = helper.make_node('MatMulNBits', ins, list(node.output), name=node.name + '_q', domain=MS_DOMAIN,
                                 K=K, N=N, bits=spec.bits, block_size=spec.blockSize,
                                 accuracy_level=spec.accuracyLevel)
        elif spec.method == 'DynamicQuantizeMatMul':
            amax = np.abs(w).max(axis=1)                                      # per output column of B = Wᵀ
            scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
            codes = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8).T.copy()   # B [K, N]
            ins = [node.input[0], base + '.codes', base + '.scales']
            new_inits += [numpy_helper.from_array(codes, base + '.codes'), numpy_helper.from_array(scale, base + '.scales')]
            q = helper.make_node('DynamicQuantizeMatMul', ins, list(node.output), name=node.name + '_q',
                                 domain=MS_DOMAIN)
        else:
            raise ExportError(f'quantize_matmuls: method {spec.method} is not a weight quantization')
        new_nodes[id(node)] = q
        drop_nodes.add(id(tr))
        rows.append({'initializer': wname, 'N': int(N), 'K': int(K)})
    kept = [new_nodes.get(id(n), n) for n in model.graph.node if id(n) not in drop_nodes]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    used = {i for n in model.graph.node for i in n.input}
    remaining = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(remaining + new_inits)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return rows


def to_fp16(model: onnx.ModelProto) -> None:
    """Whole graph in float16, float32 at the graph's inputs and outputs (Casts at the boundary)."""
    F, H = TensorProto.FLOAT, TensorProto.FLOAT16
    g = model.graph
    for init in g.initializer:
        if init.data_type == F:
            arr = numpy_helper.to_array(init).astype(np.float16)
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
    for node in g.node:
        for a in node.attribute:
            if a.name == 'to' and node.op_type == 'Cast' and a.i == F:
                a.i = H
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == F:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16), a.t.name))
    head: List[onnx.NodeProto] = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type != F:
            continue
        half = inp.name + '_fp16'
        for node in g.node:
            for i, x in enumerate(node.input):
                if x == inp.name:
                    node.input[i] = half
        head.append(helper.make_node('Cast', [inp.name], [half], to=H, name=inp.name + '_to_fp16'))
    tail: List[onnx.NodeProto] = []
    for out in g.output:
        if out.type.tensor_type.elem_type != F:
            continue
        half = out.name + '_fp16'
        for node in g.node:
            for i, x in enumerate(node.output):
                if x == out.name:
                    node.output[i] = half
            for i, x in enumerate(node.input):
                if x == out.name:
                    node.input[i] = half
        tail.append(helper.make_node('Cast', [half], [out.name], to=F, name=out.name + '_to_fp32'))
    nodes = head + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]


# ---------------------------------------------------------------- writing a variant

def _externalize_plain(model: onnx.ModelProto, weights_name: str, weights_path: str, graph_key: str) -> List[dict]:
    """Write every initializer to one aligned raw file (the bundle layout) and return weightMap-style rows."""
    rows = []
    offset = 0
    dtypes = {TensorProto.FLOAT: 'float32', TensorProto.FLOAT16: 'float16', TensorProto.UINT8: 'uint8',
              TensorProto.INT8: 'int8', TensorProto.INT64: 'int64', TensorProto.INT32: 'int32',
              TensorProto.DOUBLE: 'float64'}
    tmp = weights_path + '.tmp'
    with open(tmp, 'wb') as fh:
        for init in model.graph.initializer:
            if init.data_type not in dtypes:
                raise ExportError(f'{graph_key}: initializer {init.name} has unsupported data type {init.data_type}')
            arr = numpy_helper.to_array(init)
            data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<'), copy=False).tobytes()
            pad = (-offset) % WEIGHT_ALIGN
            fh.write(b'\0' * pad)
            offset += pad
            fh.write(data)
            rows.append({'graph': graph_key, 'initializer': init.name, 'dtype': dtypes[init.data_type],
                         'shape': list(arr.shape), 'offset': offset, 'length': len(data)})
            init.ClearField('raw_data')
            for f in ('float_data', 'int32_data', 'int64_data', 'double_data', 'uint64_data', 'string_data'):
                init.ClearField(f)
            init.data_location = TensorProto.EXTERNAL
            del init.external_data[:]
            for k, v in (('location', weights_name), ('offset', str(offset)), ('length', str(len(data)))):
                e = init.external_data.add()
                e.key, e.value = k, v
            offset += len(data)
    os.replace(tmp, weights_path)
    return rows


def write_variant(src_model_path: str, out_dir: str, base: str, spec: QuantSpec, graph_key: str = 'transformer'
                  ) -> dict:
    """Load the fp32 graph (with its weights), make the variant, write `<base>.<precision>.onnx/.weights`.

    Returns {'model', 'weights', 'quantization', 'quantized': rows, 'weightRows': rows}.
    """
    model = onnx.load(src_model_path, load_external_data=True)
    if spec.method == 'fp16-cast':
        to_fp16(model)
        qrows = []
    else:
        qrows = quantize_matmuls(model, spec)
        if not qrows:
            raise ExportError(f'{graph_key}: no MatMul with an initializer weight to quantize for {spec.precision}')
    name = f'{base}.{spec.precision}'
    weight_rows = _externalize_plain(model, f'{name}.weights', os.path.join(out_dir, f'{name}.weights'), graph_key)
    path = os.path.join(out_dir, f'{name}.onnx')
    tmp = path + '.tmp'
    onnx.save_model(model, tmp)
    os.replace(tmp, path)
    onnx.checker.check_model(path)
    return {'model': f'{name}.onnx', 'weights': f'{name}.weights', 'quantization': spec.record(),
            'quantized': qrows, 'weightRows': weight_rows}
