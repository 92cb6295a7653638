"""Static int8 variant of the VQVAE decoder (docs/model-bundle.md "Precision variants").

Every `Conv` whose weight is an initializer (except those named in `keep_fp32`, by default `conv_out`, which
writes the pixels) becomes
    QuantizeLinear(x; s_x, z_x) → QLinearConv(int8 weights, per output channel) → DequantizeLinear(y; s_y, z_y)
as onnxruntime's ONNX operators define them: activations uint8 asymmetric (s = (max − min)/255 over a range that
contains 0, z = round(−min/s)), weights int8 symmetric per output channel (s_w = max|W_m|/127, zero point 0),
bias int32 at scale s_x·s_w. onnxruntime's CPU kernel for QLinearConv (u8 activations × s8 weights) uses the
int8 dot-product instructions, which is what makes it faster than the fp32 NCHWc convolution.

The activation ranges come from calibration: the fp32 graph is run with every quantized Conv's input and output
exposed, on f̂ of random token pyramids built with the bundle's own fhat_step graph and codebook.
"""
from __future__ import annotations

import copy
import os
import tempfile
from typing import Dict, List, Sequence, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export.onnx_io import ExportError
from export.ort import FromRun, run_ort
from var_ref.resample import area_matrix

DEFAULT_KEEP_FP32_CONV = ('conv_out',)
NO_VISIBLE_LOSS_DB = 40.0   # median PSNR against fp32 under which a decoder variant is not offered by default


def quantizable_convs(model: onnx.ModelProto, keep_fp32: Sequence[str]) -> List[onnx.NodeProto]:
    """Conv nodes with an initializer weight whose name matches none of `keep_fp32`."""
    inits = {i.name for i in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == 'Conv' and n.input[1] in inits
            and not any(k in n.input[1] for k in keep_fp32)]


def random_pyramid_fhats(bundle: str, manifest: dict, count: int, seed: int) -> np.ndarray:
    """f̂ after the last scale of `count` uniformly random token pyramids, (count, Cvae, h, h), through the
    bundle's fhat_step graph (the same f̂ the engine decodes)."""
    rng = np.random.default_rng(seed)
    V, Cv, pn = manifest['vocabSize'], manifest['cvae'], manifest['patchNums']
    h = pn[-1]
    codebook = np.fromfile(os.path.join(bundle, manifest['codebook']['file']), dtype='<f4').reshape(V, Cv)
    step = os.path.join(bundle, manifest['graphs']['fhatStep']['model'])
    runs = []
    for k, p in enumerate(pn):
        tokens = rng.integers(0, V, size=(count, p * p))
        h_scale = codebook[tokens].transpose(0, 2, 1).reshape(count, Cv, p, p).astype(np.float32)
        area = area_matrix(pn[k + 1], h) if k < len(pn) - 1 else np.eye(h)
        f_hat = np.zeros((count, Cv, h, h), np.float32) if k == 0 else FromRun(k - 1, 'f_hat_next')
        runs.append((step, {'f_hat': f_hat, 'h_scale': h_scale, 'phi_index': np.array([manifest['phiIndex'][k]], np.int64),
                            'area_matrix': area.astype(np.float32)}))
    return run_ort(runs)[-1]['f_hat_next']


def activation_ranges(model: onnx.ModelProto, convs: List[onnx.NodeProto], fhats: np.ndarray, work_dir: str,
                      batch: int = 2) -> Dict[str, Tuple[float, float]]:
    """(min, max) of every quantized Conv's input and output over the calibration f̂ (fp32 graph)."""
    probe = copy.deepcopy(model)
    names = sorted({n.input[0] for n in convs} | {n.output[0] for n in convs})
    # Only each tensor's min and max leave the graph (a 256-px activation is tens of MB); names may hold '/'.
    exposed = {name: f'calibration_{i}' for i, name in enumerate(names)}
    for name, out in exposed.items():
        for op in ('ReduceMin', 'ReduceMax'):
            probe.graph.node.append(helper.make_node(op, [name], [f'{out}_{op}'], keepdims=0))
            probe.graph.output.append(helper.make_tensor_value_info(f'{out}_{op}', TensorProto.FLOAT, None))
    path = os.path.join(work_dir, 'decoder.calibration.onnx')
    onnx.save_model(probe, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location='decoder.calibration.weights')
    lo = {n: np.inf for n in names}
    hi = {n: -np.inf for n in names}
    for i in range(0, len(fhats), batch):
        out = run_ort([(path, {'f_hat': np.ascontiguousarray(fhats[i:i + batch])})])[0]
        for n in names:
            lo[n] = min(lo[n], float(out[f'{exposed[n]}_ReduceMin']))
            hi[n] = max(hi[n], float(out[f'{exposed[n]}_ReduceMax']))
    return {n: (lo[n], hi[n]) for n in names}


def uint8_params(lo: float, hi: float) -> Tuple[np.float32, np.uint8]:
    """Scale and zero point of an asymmetric uint8 range that contains 0 (0 is exactly representable)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    zp = int(np.clip(np.round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zp)


def quantize_weight_per_channel(w: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """int8 symmetric per output channel: W[m] ≈ codes[m]·scale[m]."""
    m = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = np.where(m > 0, m / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.round(w / scale.reshape(-1, *([1] * (w.ndim - 1)))), -127, 127).astype(np.int8)
    return codes, scale


def quantize_convs(model: onnx.ModelProto, convs: List[onnx.NodeProto], ranges: Dict[str, Tuple[float, float]]
                   ) -> List[dict]:
    """Rewrite `convs` in place as Q → QLinearConv → DQ; returns one row per quantized weight."""
    inits = {i.name: i for i in model.graph.initializer}
    rows = []
    new_nodes: List[onnx.NodeProto] = []
    targets = {id(n) for n in convs}
    for node in model.graph.node:
        if id(node) not in targets:
            new_nodes.append(node)
            continue
        wname = node.input[1]
        w = numpy_helper.to_array(inits[wname]).astype(np.float32)
        codes, w_scale = quantize_weight_per_channel(w)
        x_scale, x_zp = uint8_params(*ranges[node.input[0]])
        y_scale, y_zp = uint8_params(*ranges[node.output[0]])
        base = f'{wname}.int8'
        extra = [numpy_helper.from_array(codes, f'{base}.codes'), numpy_helper.from_array(w_scale, f'{base}.scales'),
                 numpy_helper.from_array(np.zeros(len(w_scale), np.int8), f'{base}.zero_points'),
                 numpy_helper.from_array(np.array(x_scale, np.float32), f'{base}.x_scale'),
                 numpy_helper.from_array(np.array(x_zp, np.uint8), f'{base}.x_zero_point'),
                 numpy_helper.from_array(np.array(y_scale, np.float32), f'{base}.y_scale'),
                 numpy_helper.from_array(np.array(y_zp, np.uint8), f'{base}.y_zero_point')]
        conv_inputs = [f'{node.output[0]}.xq', f'{base}.x_scale', f'{base}.x_zero_point', f'{base}.codes',
                       f'{base}.scales', f'{base}.zero_points', f'{base}.y_scale', f'{base}.y_zero_point']
        if len(node.input) > 2 and node.input[2]:
            b = numpy_helper.to_array(inits[node.input[2]]).astype(np.float64)
            bq = np.round(b / (float(x_scale) * w_scale.astype(np.float64))).astype(np.int32)
            extra.append(numpy_helper.from_array(bq, f'{base}.bias'))
            conv_inputs.append(f'{base}.bias')
        model.graph.initializer.extend(extra)
        new_nodes.append(helper.make_node('QuantizeLinear', [node.input[0], f'{base}.x_scale', f'{base}.x_zero_point'],
                                          [f'{node.output[0]}.xq'], name=f'{node.name}.quantize'))
        conv = helper.make_node('QLinearConv', conv_inputs, [f'{node.output[0]}.yq'], name=f'{node.name}.int8')
        conv.attribute.extend(node.attribute)
        new_nodes.append(conv)
        new_nodes.append(helper.make_node('DequantizeLinear', [f'{node.output[0]}.yq', f'{base}.y_scale', f'{base}.y_zero_point'],
                                          [node.output[0]], name=f'{node.name}.dequantize'))
        rows.append({'initializer': wname, 'shape': list(w.shape), 'inputRange': list(ranges[node.input[0]]),
                     'outputRange': list(ranges[node.output[0]])})
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    # The fp32 weights and biases of the rewritten convs are no longer used.
    used = {i for n in model.graph.node for i in n.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    if not rows:
        raise ExportError('decoder: no Conv with an initializer weight to quantize for int8')
    return rows


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two decoder images in [0, 1] after 8-bit rounding, as the engine shows them (inf when identical)."""
    qa = np.clip(np.round(a * 255), 0, 255)
    qb = np.clip(np.round(b * 255), 0, 255)
    mse = float(np.mean((qa - qb) ** 2))
    return float('inf') if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def write_decoder_int8(bundle: str, manifest: dict, out_base: str, *, keep_fp32: Sequence[str] = DEFAULT_KEEP_FP32_CONV,
                       calibration: int = 8, held_out: int = 4, seed: int = 0, min_psnr: float = NO_VISIBLE_LOSS_DB) -> dict:
    """Write `<out_base>.int8.onnx/.weights` for the bundle's decoder and measure it against fp32 on held-out
    random pyramids. Raises ExportError (and writes nothing) when the median PSNR is under `min_psnr`.

    Returns {'model', 'weights', 'quantization', 'quantized', 'fidelity'}.
    """
    from export.quantize import QuantSpec, _externalize_plain  # one writer of variant files for every graph
    src = os.path.join(bundle, manifest['graphs']['decoder']['model'])
    model = onnx.load(src, load_external_data=True)
    convs = quantizable_convs(model, keep_fp32)
    fhats = random_pyramid_fhats(bundle, manifest, calibration + held_out, seed)
    with tempfile.TemporaryDirectory(prefix='decoder_calibration_') as work:
        ranges = activation_ranges(model, convs, fhats[:calibration], work)
    rows = quantize_convs(model, convs, ranges)
    name = f'{out_base}.int8'
    weights_path = os.path.join(bundle, f'{name}.weights')
    _externalize_plain(model, f'{name}.weights', weights_path, 'decoder')
    path = os.path.join(bundle, f'{name}.onnx')
    tmp = path + '.tmp'
    onnx.save_model(model, tmp)
    test = fhats[calibration:]
    ref = run_ort([(src, {'f_hat': test})])[0]['image']
    got = run_ort([(tmp, {'f_hat': test})])[0]['image']
    scores = [psnr(ref[i], got[i]) for i in range(len(test))]
    med = float(np.median(scores))
    if not med >= min_psnr:
        os.remove(tmp)
        os.remove(weights_path)
        raise ExportError(f'decoder int8: median PSNR {med:.1f} dB against fp32 on {len(test)} held-out pyramids is under '
                          f'the bar of {min_psnr} dB; not recorded (keep more layers in fp32 with --keep-fp32, or use more '
                          f'calibration pyramids)')
    os.replace(tmp, path)
    onnx.checker.check_model(path)
    spec = QuantSpec('int8', 'QLinearConv', bits=8, symmetric=True, keptFp32=tuple(keep_fp32))
    record = spec.record()
    record.update({'weights': 'int8 symmetric per output channel', 'activations': 'uint8 asymmetric per tensor, static',
                   'calibration': {'randomPyramids': calibration, 'seed': seed}})
    fidelity = {'psnrMedianDb': round(med, 2), 'psnrMinDb': round(float(min(scores)), 2), 'heldOutPyramids': len(test),
                'psnrBarDb': min_psnr, 'noVisibleLoss': med >= NO_VISIBLE_LOSS_DB}
    return {'model': f'{name}.onnx', 'weights': f'{name}.weights', 'quantization': record, 'quantized': rows,
            'fidelity': fidelity}
