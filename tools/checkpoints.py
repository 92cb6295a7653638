"""Loading and validating VAR / VQVAE checkpoints in the official layout (docs/var-model.md#checkpoint-keys-and-shapes).

The official release files (`var_d16.pth` … `var_d36.pth`, `vae_ch160v4096z32.pth`) are plain state dicts:
the official demo loads them with `model.load_state_dict(torch.load(path, map_location='cpu'), strict=True)`
[code demo_sample.ipynb]. The official trainer's own checkpoints (`ar-ckpt-*.pth`) hold the same state dicts
under `trainer.var_wo_ddp` and `trainer.vae_local` [code train.py, trainer.py `state_dict`]; both forms load.

Everything here raises `CheckpointError`, whose message is one line naming the file, the offending key and
the expected versus found shape, so that a command-line tool can print it and exit with status 2.

The expected layout of a configuration comes from the real model constructors (`var_ref.var.VAR`,
`var_ref.vqvae.VQVAE`) run on PyTorch's `meta` device (`shape_only`): no memory is allocated and no
initialiser touches a page, so the layout of d36 (2.35 B parameters) is known in milliseconds, and it can
never drift from the module code that later loads the weights.
"""
from __future__ import annotations

import math
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from var_ref.config import PATCH_NUMS_256, PATCH_NUMS_512, VARConfig, VQVAEConfig

StateDict = Dict[str, torch.Tensor]

# Containers in which the official trainer stores the two state dicts (train.py saves
# {'epoch', 'iter', 'trainer': trainer.state_dict(), 'args'}; trainer.state_dict() has these keys).
TRAINER_KEYS = {'var': 'var_wo_ddp', 'vae': 'vae_local'}

PATCH_SETS_BY_RESOLUTION = {256: PATCH_NUMS_256, 512: PATCH_NUMS_512}


class CheckpointError(Exception):
    """A checkpoint that cannot be used as asked; the message is one line a user can act on."""

    def __init__(self, message: str, *, file: Optional[str] = None, key: Optional[str] = None,
                 expected=None, found=None):
        self.file, self.key, self.expected, self.found = file, key, expected, found
        text = f'{file}: {message}' if file else message
        super().__init__(' '.join(text.split()))  # always a single line


def fmt_shape(shape) -> str:
    return '(' + ', '.join(str(int(s)) for s in shape) + ')'


# ---------------------------------------------------------------------------------------------- loading
def _unwrap(obj, role: str, label: str) -> StateDict:
    """A plain state dict, or the official trainer checkpoint's {'trainer': {'var_wo_ddp'|'vae_local': …}}."""
    if isinstance(obj, Mapping) and 'trainer' in obj and isinstance(obj['trainer'], Mapping):
        inner = obj['trainer'].get(TRAINER_KEYS[role])
        if not isinstance(inner, Mapping):
            raise CheckpointError(f"an official training checkpoint without 'trainer.{TRAINER_KEYS[role]}' "
                                  f'(has {sorted(obj["trainer"].keys())}); it holds no {role.upper()} weights',
                                  file=label)
        obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(f'holds a {type(obj).__name__}, not a state dict (a dict of key → tensor)', file=label)
    if not obj:
        raise CheckpointError('holds an empty dict, not a state dict', file=label)
    for k, v in obj.items():
        if not isinstance(k, str):
            raise CheckpointError(f'has a non-string key {k!r}; a state dict maps parameter names to tensors', file=label)
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(f"key '{k}' holds a {type(v).__name__}, not a tensor; this is not a state dict "
                                  '(if it is a training checkpoint, it is not one of the official trainer)', file=label)
    return dict(obj)


class _TensorOnlyUnpickler(pickle.Unpickler):
    """Unpickles tensors, storages and plain containers/numbers/strings, and nothing that could run code.

    torch 1.13's own `weights_only=True` loader is this idea, but it rejects floats (BINFLOAT), which the
    official trainer's checkpoints contain (learning rates in `args`); this one allows every plain opcode and
    restricts only the globals a pickle may import.
    """
    _ALLOWED = {('collections', 'OrderedDict'), ('torch._utils', '_rebuild_tensor_v2'),
                ('torch._utils', '_rebuild_tensor'), ('torch._utils', '_rebuild_parameter'),
                ('torch._utils', '_rebuild_parameter_with_state'), ('torch', 'Size'), ('torch', 'device'),
                ('torch.serialization', '_get_layout'), ('torch', 'strided'), ('torch', '_utils')}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED or (module == 'torch' and (name.endswith('Storage') or
                                                                      isinstance(getattr(torch, name, None), torch.dtype))):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'refuses to import {module}.{name}')


class _TensorOnlyPickleModule:
    Unpickler = _TensorOnlyUnpickler
    __name__ = 'tensor_only_pickle'

    @staticmethod
    def load(fh, **kw):
        return _TensorOnlyUnpickler(fh, **kw).load()


def _load_tensor_only(path: str):
    """torch.load with `_TensorOnlyUnpickler`. torch 1.13's torch.load ignores a custom pickle_module unless
    weights_only is set (and then refuses it), so the zip reader is driven directly; where that private API is
    missing (another torch, or a pre-1.6 non-zip file), torch's own weights_only loader is used."""
    ser = torch.serialization
    if zipfile.is_zipfile(path) and hasattr(ser, '_load') and hasattr(ser, '_open_zipfile_reader'):
        with open(path, 'rb') as fh, ser._open_zipfile_reader(fh) as zf:
            return ser._load(zf, 'cpu', _TensorOnlyPickleModule, encoding='utf-8')
    return torch.load(path, map_location='cpu', weights_only=True)


def load_state_dict_file(path: str, role: str, *, trust_pickle: bool = False) -> StateDict:
    """Read a `.pth` file into a dict of CPU tensors (role 'var' or 'vae' picks the trainer sub-dict).

    Unless trust_pickle, the pickle may only build tensors and plain containers (`_TensorOnlyUnpickler`): a
    checkpoint from the internet is a pickle, and nothing but its tensors is needed.
    """
    label = os.path.basename(path)
    if not os.path.exists(path):
        raise CheckpointError('no such file', file=path)
    if os.path.isdir(path):
        raise CheckpointError('is a folder, not a checkpoint file', file=path)
    if os.path.getsize(path) == 0:
        raise CheckpointError('is empty (0 bytes), not a PyTorch checkpoint', file=label)
    if not zipfile.is_zipfile(path):
        with open(path, 'rb') as fh:
            head = fh.read(2)
        # torch.save has written zip archives since 1.6; before that a raw pickle (protocol 2: 0x80 0x02).
        if not (len(head) == 2 and head[0] == 0x80):
            raise CheckpointError('is not a PyTorch checkpoint (neither a torch.save zip archive nor a pickle)', file=label)
    try:
        obj = torch.load(path, map_location='cpu') if trust_pickle else _load_tensor_only(path)
    except pickle.UnpicklingError as e:
        msg = (str(e).splitlines() or [''])[0][:160]
        if trust_pickle or not msg.startswith('refuses to import'):
            raise CheckpointError(f'is not a readable PyTorch checkpoint (UnpicklingError: {msg})', file=label) from None
        raise CheckpointError(f'holds pickled Python objects besides tensors ({msg[len("refuses to import "):]}), which '
                              'are not loaded from files of unknown origin; pass --trust-pickle only if you trust it',
                              file=label) from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile, KeyError, AttributeError,
            ModuleNotFoundError, ImportError, TypeError, IndexError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0][:200]
        raise CheckpointError(f'is not a readable PyTorch checkpoint ({type(e).__name__}: {first})', file=label) from None
    return _unwrap(obj, role, label)


# ------------------------------------------------------------------------------------- shape-only models
# Factories that allocate storage; under `shape_only` they allocate on the meta device instead. Tensors made
# from Python data (torch.tensor) stay real: they are small and their values matter.
_FACTORIES = (torch.empty, torch.zeros, torch.ones, torch.full, torch.randn, torch.rand, torch.randint,
              torch.normal, torch.arange, torch.linspace)


class _MetaFactories(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _FACTORIES and kwargs.get('device') is None:
            if kwargs.get('dtype') is None and func in (torch.full, torch.arange, torch.linspace):
                # torch 1.13's meta kernels infer float32 where the CPU kernels infer int64 from an int fill
                # value (torch.full((n,), i) in VAR's lvl_1L): infer the dtype the real run would get.
                kwargs['dtype'] = func(*_tiny_args(func, args), **kwargs).dtype
            kwargs['device'] = 'meta'
        return func(*args, **kwargs)


def _tiny_args(func, args):
    if func is torch.full:
        return ((1,),) + tuple(args[1:])
    return args  # arange/linspace arguments are scalars; running them on CPU is cheap


def shape_only(build: Callable[[], nn.Module]) -> nn.Module:
    """Run a real model constructor with every allocation on the meta device (no memory, no init work)."""
    with _MetaFactories():
        return build()


def layout_of(module: nn.Module) -> "OrderedDict[str, Tuple[Tuple[int, ...], torch.dtype]]":
    """key → (shape, dtype) in state-dict order."""
    return OrderedDict((k, (tuple(v.shape), v.dtype)) for k, v in module.state_dict().items())


def var_layout(cfg: VARConfig):
    from var_ref.var import VAR
    return layout_of(shape_only(lambda: VAR(cfg)))


def vae_layout(cfg: VQVAEConfig):
    from var_ref.vqvae import VQVAE
    return layout_of(shape_only(lambda: VQVAE(cfg)))


def param_count(layout, buffers: Iterable[str] = ()) -> int:
    skip = set(buffers)
    return sum(math.prod(shape) for k, (shape, _) in layout.items() if k not in skip)


# ----------------------------------------------------------------------------------- config inference
def _need(sd: StateDict, key: str, label: str, why: str) -> torch.Tensor:
    if key not in sd:
        raise CheckpointError(f"missing key '{key}' ({why})", file=label, key=key)
    return sd[key]


def _dim(sd: StateDict, sources: Sequence[Tuple[str, int]], label: str, why: str, default: Optional[int] = None) -> int:
    """A size read from the first present (key, dim) of sources; a missing key is reported later by
    check_layout with its expected shape, so inference only fails when every source is gone."""
    for key, dim in sources:
        t = sd.get(key)
        if t is not None and t.dim() > dim:
            return int(t.shape[dim])
    if default is not None:
        return default
    raise CheckpointError(f"missing key '{sources[0][0]}' ({why})", file=label, key=sources[0][0])


def _vote(sd: StateDict, sources: Sequence[Tuple[str, int]], label: str, why: str, prefer: Optional[int] = None,
          default: Optional[int] = None) -> int:
    """The size most of the present sources agree on, so that one corrupted tensor is reported as the odd one
    out by check_layout instead of skewing the inferred configuration (ties go to `prefer`)."""
    from collections import Counter
    votes = Counter(int(sd[k].shape[d]) for k, d in sources if k in sd and sd[k].dim() > d)
    if not votes:
        if default is not None:
            return default
        raise CheckpointError(f"missing key '{sources[0][0]}' ({why})", file=label, key=sources[0][0])
    best = max(votes.values())
    tied = [v for v, n in votes.items() if n == best]
    return prefer if prefer in tied else tied[0]


def _indices(sd: StateDict, prefix: str) -> List[int]:
    pat = re.compile(re.escape(prefix) + r'(\d+)\.')
    return sorted({int(m.group(1)) for k in sd for m in [pat.match(k)] if m})


def patch_nums_from_levels(lvl_1L: torch.Tensor, label: str) -> Tuple[int, ...]:
    """The patch sizes a checkpoint was trained with, read off its `lvl_1L` buffer (p_k² tokens of level k)."""
    levels = lvl_1L.reshape(-1).tolist()
    counts: List[int] = []
    for i, lv in enumerate(levels):
        if lv == len(counts):
            counts.append(0)
        if lv != len(counts) - 1:
            raise CheckpointError(f"key 'lvl_1L': levels must rise 0,1,2,… scale by scale; position {i} has {lv}",
                                  file=label, key='lvl_1L')
        counts[-1] += 1
    pns = []
    for k, n in enumerate(counts):
        p = math.isqrt(n)
        if p * p != n:
            raise CheckpointError(f"key 'lvl_1L': scale {k} has {n} tokens, not a square p²", file=label, key='lvl_1L')
        pns.append(p)
    return tuple(pns)


def infer_var_config(sd: StateDict, label: str = 'VAR checkpoint', *, patch_nums: Optional[Sequence[int]] = None,
                     depth: Optional[int] = None, vae_hint: Optional[VQVAEConfig] = None) -> VARConfig:
    """Read the configuration off the tensors (docs/var-model.md, VAR keys). patch_nums/depth override inference;
    vae_hint supplies V and Cvae when the VAR keys that carry them are missing (check_layout reports those)."""
    blocks = _indices(sd, 'blocks.')
    if not blocks:
        hint = ' but a VQVAE (swapped --var and --vae?)' if 'quantize.embedding.weight' in sd else ''
        raise CheckpointError(f"no 'blocks.{{i}}.*' keys: this is not a VAR transformer checkpoint{hint}",
                              file=label, key='blocks.0')
    n = max(blocks) + 1
    for i in range(n):
        if i not in blocks:
            raise CheckpointError(f"missing keys 'blocks.{i}.*' (blocks 0..{n - 1} are otherwise present)",
                                  file=label, key=f'blocks.{i}')
    C = _vote(sd, [('class_emb.weight', 1), ('pos_start', 2), ('pos_1LC', 2), ('word_embed.weight', 0),
                   ('word_embed.bias', 0), ('lvl_embed.weight', 1), ('head.weight', 1), ('head_nm.ada_lin.1.weight', 1)]
              + [(f'blocks.{i}.attn.{m}', 0) for i in range(n) for m in ('q_bias', 'v_bias', 'proj.weight', 'proj.bias')],
              label, 'class embedding: gives the width C')
    num_classes = _dim(sd, [('class_emb.weight', 0)], label, '', default=1001) - 1
    V = _vote(sd, [('head.weight', 0), ('head.bias', 0)], label, 'output head: gives the vocabulary size V',
              prefer=vae_hint.vocab_size if vae_hint else None, default=vae_hint.vocab_size if vae_hint else None)
    Cvae = _dim(sd, [('word_embed.weight', 1)], label, 'token embedding: gives the latent width Cvae',
                default=vae_hint.z_channels if vae_hint else None)
    shared = any(k.startswith('shared_ada_lin.') for k in sd) or any(re.match(r'blocks\.\d+\.ada_gss$', k) for k in sd)
    sm = [(f'blocks.{i}.attn.scale_mul_1H11', 1) for i in range(n)]
    attn_l2_norm = any(k in sd for k, _ in sm)
    heads = _vote(sd, sm, label, '', prefer=C // 64, default=C // 64)  # official: 64 channels per head
    hidden = _vote(sd, [(f'blocks.{i}.ffn.{m}', d) for i in range(n)
                        for m, d in (('fc1.weight', 0), ('fc1.bias', 0), ('fc2.weight', 1))],
                   label, 'FFN', prefer=4 * C, default=4 * C)
    if depth is None:
        depth = n
        # The official builder has heads = depth. A checkpoint whose blocks stop short of its head count
        # has lost its last blocks (else we would silently convert a shallower model).
        if C == 64 * heads and heads > depth:
            raise CheckpointError(f"missing keys 'blocks.{depth}.*': width {C} and {heads} heads mean depth {heads} "
                                  f'by the official rule (heads = depth) but blocks stop at {depth - 1}; '
                                  f'pass --depth {depth} if this model really is that shallow',
                                  file=label, key=f'blocks.{depth}')
    if patch_nums is None:
        if 'lvl_1L' in sd:
            patch_nums = patch_nums_from_levels(sd['lvl_1L'], label)
        else:
            L = _dim(sd, [('pos_1LC', 1), ('attn_bias_for_masking', 2)], label, 'position table: gives the token count L')
            by_L = {sum(p * p for p in s): s for s in (PATCH_NUMS_256, PATCH_NUMS_512)}
            if L not in by_L:
                raise CheckpointError(f"key 'pos_1LC' has {L} positions, which is neither the 256-px set (680) "
                                      'nor the 512-px set (2240); pass --patch-nums', file=label, key='pos_1LC')
            patch_nums = by_L[L]
    return VARConfig.official(depth, tuple(patch_nums), shared_aln=shared, num_classes=num_classes,
                              vocab_size=V, z_channels=Cvae).replace(
        embed_dim=C, num_heads=heads, mlp_ratio=hidden / C, attn_l2_norm=attn_l2_norm)


def infer_vae_config(sd: StateDict, patch_nums: Sequence[int] = PATCH_NUMS_256,
                     label: str = 'VQVAE checkpoint') -> VQVAEConfig:
    """Read the VQVAE configuration off the tensors (docs/var-model.md, VQVAE keys); patch_nums come from the VAR."""
    if any(k.startswith('blocks.') for k in sd) and not any(k.startswith('encoder.') for k in sd):
        raise CheckpointError("has 'blocks.*' keys and no encoder: this is a VAR transformer, not a VQVAE "
                              '(swapped --var and --vae?)', file=label, key='encoder.conv_in.weight')
    V = _vote(sd, [('quantize.embedding.weight', 0), ('quantize.ema_vocab_hit_SV', 1)], label,
             'codebook: gives the vocabulary size V')
    Cvae = _vote(sd, [('quantize.embedding.weight', 1), ('quant_conv.weight', 0), ('post_quant_conv.weight', 1),
                      ('encoder.conv_out.weight', 0), ('decoder.conv_in.weight', 1)], label,
                'codebook: gives the latent width Cvae')
    ch = _vote(sd, [('encoder.conv_in.weight', 0), ('encoder.conv_in.bias', 0), ('decoder.conv_out.weight', 1),
                    ('decoder.norm_out.weight', 0), ('decoder.norm_out.bias', 0), ('encoder.down.0.block.0.norm1.weight', 0)], label, 'encoder input conv: gives the base width ch')
    enc_levels, dec_levels = _indices(sd, 'encoder.down.'), _indices(sd, 'decoder.up.')
    if not enc_levels and not dec_levels:
        raise CheckpointError("missing keys 'encoder.down.0.*': this is not a VQVAE checkpoint", file=label,
                              key='encoder.down.0')
    n_levels = max(enc_levels + dec_levels) + 1
    ch_mult = []
    for i in range(n_levels):
        srcs = [(f'encoder.down.{i}.block.{j}.{m}', 0) for j in (0, 1) for m in ('conv1.weight', 'conv1.bias',
                                                                                 'norm2.weight', 'conv2.weight')]
        srcs += [(f'decoder.up.{i}.block.{j}.{m}', 0) for j in (0, 1, 2) for m in ('conv1.weight', 'conv2.weight')]
        width = _vote(sd, srcs, label, f'encoder level {i}')
        if width % ch:
            raise CheckpointError(f"key '{srcs[0][0]}': {width} output channels is not a multiple of the base "
                                  f'width {ch}', file=label, key=srcs[0][0])
        ch_mult.append(width // ch)
    nrb = max([len(_indices(sd, 'encoder.down.0.block.'))] + [len(_indices(sd, f'decoder.up.{i}.block.')) - 1
                                                               for i in range(n_levels)])
    share = max(_indices(sd, 'quantize.quant_resi.qresi_ls.') or [-1]) + 1
    if share < 2:  # the official VQVAE shares 4 φ convs; fewer than 2 is no layout of this family
        key = f'quantize.quant_resi.qresi_ls.{share}.weight'
        raise CheckpointError(f"missing key '{key}' (expected shape {fmt_shape((Cvae, Cvae, 3, 3))}: the φ convs of "
                              'the quantizer)', file=label, key=key, expected=(Cvae, Cvae, 3, 3))
    ks = _dim(sd, [('quant_conv.weight', 3), ('post_quant_conv.weight', 3)], label, 'quant_conv', default=3)
    last = n_levels - 1
    return VQVAEConfig(vocab_size=V, z_channels=Cvae, ch=ch, ch_mult=tuple(ch_mult), num_res_blocks=nrb,
                       quant_conv_ks=ks, share_quant_resi=share, patch_nums=tuple(patch_nums),
                       using_sa=any(k.startswith(f'encoder.down.{last}.attn.') or k.startswith(f'decoder.up.{last}.attn.')
                                    for k in sd),
                       using_mid_sa=any(k.startswith(('encoder.mid.attn_1.', 'decoder.mid.attn_1.')) for k in sd))


# ------------------------------------------------------------------------------------------ validation
# The official VQVAE loader swaps in its own training statistic when the scale count differs (official vqvae.py), so
# its first dimension is not checked.
LENIENT_FIRST_DIM = {'quantize.ema_vocab_hit_SV'}


def check_layout(sd: StateDict, expected, label: str, what: str) -> None:
    """Raise on the first missing key, wrong shape, wrong kind of dtype, or extra key (in that order)."""
    problems: List[CheckpointError] = []
    for k, (shape, dtype) in expected.items():
        if k not in sd:
            problems.append(CheckpointError(f"missing key '{k}' (expected shape {fmt_shape(shape)} for {what})",
                                            file=label, key=k, expected=shape))
            continue
        t = sd[k]
        found = tuple(t.shape)
        ok = found == shape or (k in LENIENT_FIRST_DIM and found[1:] == shape[1:] and len(found) == len(shape))
        if not ok:
            problems.append(CheckpointError(f"key '{k}': expected shape {fmt_shape(shape)} for {what}, found "
                                            f'{fmt_shape(found)}', file=label, key=k, expected=shape, found=found))
        elif dtype.is_floating_point != t.dtype.is_floating_point or (t.dtype == torch.bool) != (dtype == torch.bool):
            problems.append(CheckpointError(f"key '{k}': expected a {dtype} tensor for {what}, found {t.dtype}",
                                            file=label, key=k, expected=dtype, found=t.dtype))
    for k in sd:
        if k not in expected:
            problems.append(CheckpointError(f"unexpected key '{k}' (shape {fmt_shape(sd[k].shape)}), not part of "
                                            f'{what}', file=label, key=k, found=tuple(sd[k].shape)))
    if problems:
        first = problems[0]
        if len(problems) > 1:
            raise CheckpointError(f'{first} (and {len(problems) - 1} more problem{"s" if len(problems) > 2 else ""})',
                                  key=first.key, expected=first.expected, found=first.found)
        raise first


def check_var_buffers(sd: StateDict, cfg: VARConfig, label: str) -> None:
    """The deterministic buffers must equal what the configuration implies (docs/var-model.md, VAR keys)."""
    lv = torch.cat([torch.full((p * p,), i, dtype=torch.int64) for i, p in enumerate(cfg.patch_nums)]).view(1, -1)
    if not torch.equal(sd['lvl_1L'].to(torch.int64), lv):
        raise CheckpointError(f"key 'lvl_1L': its levels describe patch sizes "
                              f'{patch_nums_from_levels(sd["lvl_1L"], label)}, not {tuple(cfg.patch_nums)}',
                              file=label, key='lvl_1L')
    for k, t in sd.items():
        if k.endswith('attn.zero_k_bias') and bool(t.abs().max() != 0):
            raise CheckpointError(f"key '{k}': must be all zeros (the key bias is fixed at 0), found max |x| = "
                                  f'{float(t.abs().max()):.3g}', file=label, key=k)


def describe_var(cfg: VARConfig) -> str:
    sets = {v: f'{k}-px set ' for k, v in PATCH_SETS_BY_RESOLUTION.items()}
    return (f'VAR depth {cfg.depth} (C={cfg.embed_dim}, {cfg.num_heads} heads, '
            f'{"shared AdaLN, " if cfg.shared_aln else ""}patch_nums {sets.get(tuple(cfg.patch_nums), "")}'
            f'{tuple(cfg.patch_nums)}, V={cfg.vocab_size}, Cvae={cfg.z_channels})')


@dataclass
class OfficialPair:
    var_cfg: VARConfig
    vae_cfg: VQVAEConfig
    var_sd: StateDict
    vae_sd: StateDict


def validate_pair(var_sd: StateDict, vae_sd: StateDict, *, var_label: str = 'VAR checkpoint',
                  vae_label: str = 'VQVAE checkpoint', resolution: Optional[int] = None,
                  patch_nums: Optional[Sequence[int]] = None, depth: Optional[int] = None) -> OfficialPair:
    """Infer both configurations, check them against each other and every key/shape strictly."""
    if resolution is not None and patch_nums is None:
        if resolution not in PATCH_SETS_BY_RESOLUTION:
            raise CheckpointError(f'--resolution {resolution}: official patch sets exist for '
                                  f'{sorted(PATCH_SETS_BY_RESOLUTION)} px; pass --patch-nums for others')
        patch_nums = PATCH_SETS_BY_RESOLUTION[resolution]
    vae_guess = infer_vae_config(vae_sd, label=vae_label)
    var_cfg = infer_var_config(var_sd, var_label, patch_nums=patch_nums, depth=depth, vae_hint=vae_guess)
    what = describe_var(var_cfg)
    if patch_nums is not None and 'lvl_1L' in var_sd:
        # Say plainly when the checkpoint was trained for other patch sizes (e.g. d36-s, 512 px, given --resolution 256).
        trained = patch_nums_from_levels(var_sd['lvl_1L'], var_label)
        if tuple(trained) != tuple(patch_nums) and 'pos_1LC' in var_sd:
            L_want = sum(p * p for p in patch_nums)
            found = tuple(var_sd['pos_1LC'].shape)
            res = {v: k for k, v in PATCH_SETS_BY_RESOLUTION.items()}
            trained_txt = f'{res[tuple(trained)]} px patch set' if tuple(trained) in res else f'patch_nums {trained}'
            raise CheckpointError(f"key 'pos_1LC': expected shape {fmt_shape((1, L_want, var_cfg.embed_dim))} for "
                                  f'patch_nums {tuple(patch_nums)}, found {fmt_shape(found)}: this checkpoint was '
                                  f'trained for the {trained_txt}', file=var_label, key='pos_1LC',
                                  expected=(1, L_want, var_cfg.embed_dim), found=found)
    check_layout(var_sd, var_layout(var_cfg), var_label, what)
    check_var_buffers(var_sd, var_cfg, var_label)

    vae_cfg = vae_guess.replace(patch_nums=tuple(var_cfg.patch_nums))
    # The two halves meet in the codebook: VAR predicts V codes whose Cvae-wide embeddings it reads back.
    emb = (vae_cfg.vocab_size, vae_cfg.z_channels)
    want = (var_cfg.vocab_size, var_cfg.z_channels)
    if emb != want:
        raise CheckpointError(f"key 'quantize.embedding.weight': expected shape {fmt_shape(want)} to match the VAR "
                              f"checkpoint (head.weight gives V={want[0]}, word_embed.weight gives Cvae={want[1]}), "
                              f'found {fmt_shape(emb)}: a VQVAE of another configuration', file=vae_label,
                              key='quantize.embedding.weight', expected=want, found=emb)
    vae_what = (f'VQVAE ch={vae_cfg.ch}, ch_mult={tuple(vae_cfg.ch_mult)}, V={vae_cfg.vocab_size}, '
                f'Cvae={vae_cfg.z_channels}')
    check_layout(vae_sd, vae_layout(vae_cfg), vae_label, vae_what)
    if resolution is not None and vae_cfg.resolution != resolution:
        raise CheckpointError(f'--resolution {resolution} does not match patch_nums {tuple(var_cfg.patch_nums)} × '
                              f'downsample {vae_cfg.downsample} = {vae_cfg.resolution} px')
    return OfficialPair(var_cfg, vae_cfg, var_sd, vae_sd)


def build_models(pair: OfficialPair):
    """Real models with the checkpoint weights, loaded strictly, in eval mode."""
    from var_ref.var import VAR
    from var_ref.vqvae import VQVAE
    with _skip_init():
        var = VAR(pair.var_cfg.replace(cond_drop_rate=0.0))
        vae = VQVAE(pair.vae_cfg)
    var.load_state_dict(pair.var_sd, strict=True)
    vae.load_state_dict(pair.vae_sd, strict=True)
    return vae.eval(), var.eval()


class _skip_init:
    """Skip random initialisation while building models that are about to be overwritten by a checkpoint.

    Parameters are still real CPU tensors (torch.empty); only the init functions become no-ops, which saves
    ~10 s for d16. Every parameter and buffer is then overwritten by the strict load.
    """
    _names = ('uniform_', 'normal_', 'trunc_normal_', 'kaiming_uniform_', 'kaiming_normal_', 'xavier_uniform_',
              'xavier_normal_', 'zeros_', 'ones_', 'constant_')

    def __enter__(self):
        self._saved = {n: getattr(nn.init, n) for n in self._names}
        for n in self._names:
            setattr(nn.init, n, lambda t, *a, **k: t)
        return self

    def __exit__(self, *exc):
        for n, f in self._saved.items():
            setattr(nn.init, n, f)
        return False
