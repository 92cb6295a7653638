#!/usr/bin/python3
"""Checkpoints for the TypeScript importer's tests (tests/unit/import), written by torch from the reference.

    /usr/bin/python3 tools/write_test_checkpoints.py --out DIR [--pairs] [--variants] [--tables] [--big]

--pairs     small random-weight VAR + VQVAE pairs in the official layout (torch.save of the reference models'
            state dicts): the 256-px schedule, and shared AdaLN with the 512-px schedule; float16/bfloat16 copies,
            an official-trainer checkpoint, safetensors copies (written by hand: the format is simple), a
            ZIP64 copy by Python's zipfile (force_zip64) and one whose ZIP64 end-of-central-directory is required.
--payloads  pickles that would run `touch MARKER` if unpickled: torch.save's (posix.system) and a hand-made os.system.
--variants  broken and unusual files: views/shared storages, a transposed tensor,
            missing / extra / mis-shaped keys (with tools/checkpoints.py's own message for each).
--tables    every float16 bit pattern widened by numpy, every bfloat16 one by torch.
--layouts   the state-dict layout (key → shape) of every official configuration, from the reference models.
--huge      a 4.3 GB ZIP64 checkpoint as a sparse file (tensors past byte 2³²; almost no disk).
--big       a d12-shaped VAR (~530 MB) for the memory measurement.

Beside each checkpoint X it writes X.expected.bin: every tensor as torch widens it (float32, or int64), in key
order; manifest.json says where each tensor lies in it and holds the Python configurations.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import shutil
import struct
import sys
import zipfile
import zlib
from collections import OrderedDict

TOOLS = os.path.dirname(os.path.abspath(__file__))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from checkpoints import CheckpointError, load_state_dict_file, vae_layout, validate_pair, var_layout  # noqa: E402
from tests.official_checkpoints import write_official_pair  # noqa: E402
from var_ref.config import (OFFICIAL_VAE, OFFICIAL_VAR, PATCH_NUMS_256, PATCH_NUMS_512, VARConfig, VQVAEConfig,  # noqa: E402
                            config_to_json)

SAFETENSORS_DTYPES = {torch.float32: ('F32', torch.int32), torch.float16: ('F16', torch.int16),
                      torch.bfloat16: ('BF16', torch.int16), torch.int64: ('I64', torch.int64)}


def raw_bytes(t: torch.Tensor) -> bytes:
    """The tensor's elements as stored (little-endian), via a same-width integer view numpy understands."""
    return t.contiguous().view(SAFETENSORS_DTYPES[t.dtype][1]).numpy().tobytes()


def write_expected(path: str, sd) -> dict:
    """X.expected.bin: each tensor widened by torch; returns key → {dtype, shape, offset, bytes}."""
    index, offset = OrderedDict(), 0
    with open(path + '.expected.bin', 'wb') as fh:
        for k, t in sd.items():
            wide = t.to(torch.int64) if not t.is_floating_point() else t.float()
            data = wide.contiguous().numpy().tobytes()
            fh.write(data)
            index[k] = {'dtype': str(t.dtype).replace('torch.', ''), 'shape': list(t.shape), 'offset': offset,
                        'bytes': len(data)}
            offset += len(data)
    return index


def write_safetensors(path: str, sd) -> None:
    header, offset, blobs = OrderedDict(), 0, []
    for k, t in sd.items():
        data = raw_bytes(t)
        header[k] = {'dtype': SAFETENSORS_DTYPES[t.dtype][0], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header['__metadata__'] = {'format': 'pt'}
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)  # the format pads the header to 8 bytes
    tmp = path + '.tmp'
    with open(tmp, 'wb') as fh:
        fh.write(struct.pack('<Q', len(text)))
        fh.write(text)
        for b in blobs:
            fh.write(b)
    os.replace(tmp, path)


def rezip_force_zip64(src: str, dst: str) -> None:
    """The same archive rewritten by Python's zipfile with ZIP64 local headers (force_zip64), stored."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            with zin.open(info) as r, zout.open(zipfile.ZipInfo(info.filename), 'w', force_zip64=True) as w:
                shutil.copyfileobj(r, w)


def rezip_zip64_required(src: str, dst: str) -> None:
    """The same archive with every size and offset only in ZIP64 fields: the classic end record holds 0xFFFF /
    0xFFFFFFFF, so a reader must follow the ZIP64 locator to the ZIP64 end-of-central-directory record."""
    with zipfile.ZipFile(src) as zin:
        write_zip64(dst, [(i.filename, zin.read(i)) for i in zin.infolist()])


def write_zip64(dst: str, entries) -> None:
    """A stored zip whose sizes and offsets live only in ZIP64 fields. An entry's data is bytes or a list of parts,
    each bytes or an int n: n zero bytes left as a hole in the file (sparse: no disk used)."""
    central = bytearray()
    with open(dst + '.tmp', 'wb') as fh:
        for name, data in entries:
            name = name.encode()
            parts = data if isinstance(data, list) else [data]
            n = sum(p if isinstance(p, int) else len(p) for p in parts)
            crc = 0
            for p in parts:
                crc = zero_crc32(p, crc) if isinstance(p, int) else zlib.crc32(p, crc)
            offset = fh.tell()
            local_extra = struct.pack('<HHQQ', 0x0001, 16, n, n)
            fh.write(struct.pack('<IHHHHHIIIHH', 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name),
                                 len(local_extra)) + name + local_extra)
            for p in parts:
                if isinstance(p, int):
                    fh.seek(p, 1)
                else:
                    fh.write(p)
            cd_extra = struct.pack('<HHQQQ', 0x0001, 24, n, n, offset)
            central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                   len(name), len(cd_extra), 0, 0, 0, 0, 0xFFFFFFFF) + name + cd_extra
        cd_offset, count = fh.tell(), len(entries)
        fh.write(central)
        eocd64_offset = fh.tell()
        fh.write(struct.pack('<IQHHIIQQQQ', 0x06064B50, 44, 45, 45, 0, 0, count, count, len(central), cd_offset))
        fh.write(struct.pack('<IIQI', 0x07064B50, 0, eocd64_offset, 1))
        fh.write(struct.pack('<IHHHHIIH', 0x06054B50, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    os.replace(dst + '.tmp', dst)


def zero_crc32(n: int, crc: int = 0) -> int:
    block = bytes(1 << 24)
    while n:
        k = min(n, len(block))
        crc = zlib.crc32(block if k == len(block) else block[:k], crc)
        n -= k
    return crc


class _Storage:
    def __init__(self, key: str, numel: int):
        self.key, self.numel = key, numel


class _TensorView:
    """Pickles exactly as torch.save pickles a float32 tensor (torch._utils._rebuild_tensor_v2 on a storage)."""

    def __init__(self, storage: _Storage, offset: int, shape):
        self.storage, self.offset, self.shape = storage, offset, tuple(shape)

    def __reduce__(self):
        stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
        return torch._utils._rebuild_tensor_v2, (self.storage, self.offset, self.shape, stride, False, OrderedDict())


class _StatePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ('storage', torch.FloatStorage, obj.key, 'cpu', obj.numel)
        return None


def write_huge_sparse(out: str, manifest: dict) -> None:
    """A 4.3 GB checkpoint as a sparse file (almost no disk): storage 0 is mostly a hole, with tensor 'z' stored
    past byte 2³², and the later entries ('w' among them) lie beyond 4 GiB too, reachable only through ZIP64."""
    big, z_at = (1 << 32) + (1 << 26), (1 << 32) + 64
    g = torch.Generator().manual_seed(4)
    z, w = torch.randn(4, 4, generator=g), torch.randn(8, 16, generator=g)
    s0, s1 = _Storage('0', big // 4), _Storage('1', w.numel())
    state = OrderedDict([('z', _TensorView(s0, z_at // 4, z.shape)), ('w', _TensorView(s1, 0, w.shape))])
    buf = io.BytesIO()
    _StatePickler(buf, protocol=2).dump(state)
    path = os.path.join(out, 'huge_sparse.pth')
    z_bytes = raw_bytes(z)
    write_zip64(path, [('huge_sparse/data/0', [z_at, z_bytes, big - z_at - len(z_bytes)]),
                       ('huge_sparse/data.pkl', buf.getvalue()), ('huge_sparse/data/1', raw_bytes(w)),
                       ('huge_sparse/version', b'3\n')])
    manifest['files']['huge_sparse.pth'] = write_expected(path, OrderedDict([('z', z), ('w', w)]))


def python_configs(var_path: str, vae_path: str) -> dict:
    pair = validate_pair(load_state_dict_file(var_path, 'var'), load_state_dict_file(vae_path, 'vae'),
                         var_label=os.path.basename(var_path), vae_label=os.path.basename(vae_path))
    return {'var': config_to_json(pair.var_cfg), 'vae': config_to_json(pair.vae_cfg)}


def python_error(var_path: str, vae_path: str) -> dict:
    try:
        python_configs(var_path, vae_path)
    except CheckpointError as e:
        return {'message': str(e), 'key': e.key}
    raise AssertionError(f'{var_path} was expected to fail validation')


def save(sd, path: str, manifest: dict) -> None:
    torch.save(sd, path)
    manifest['files'][os.path.basename(path)] = write_expected(path, sd)


def write_pairs(out: str, manifest: dict) -> None:
    vae_cfg = VQVAEConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, vocab_size=64, z_channels=8)
    pairs = {
        'var_small_256.pth': VARConfig.official(2, PATCH_NUMS_256, vocab_size=64, z_channels=8),
        'var_small_512_shared.pth': VARConfig.official(1, PATCH_NUMS_512, shared_aln=True, vocab_size=64, z_channels=8),
    }
    for i, (name, var_cfg) in enumerate(pairs.items()):
        files = write_official_pair(out, var_cfg, vae_cfg.replace(patch_nums=var_cfg.patch_nums), seed=10 + i,
                                    var_name=name, vae_name='vae_small.pth')
        manifest['configs'][name] = python_configs(files.var_path, files.vae_path)
    var_sd = torch.load(os.path.join(out, 'var_small_256.pth'))
    vae_sd = torch.load(os.path.join(out, 'vae_small.pth'))
    for name in [*pairs, 'vae_small.pth']:
        sd = torch.load(os.path.join(out, name))
        manifest['files'][name] = write_expected(os.path.join(out, name), sd)
    for dtype, tag in ((torch.float16, 'f16'), (torch.bfloat16, 'bf16')):
        sd = OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in var_sd.items())
        save(sd, os.path.join(out, f'var_small_256_{tag}.pth'), manifest)
        write_safetensors(os.path.join(out, f'var_small_256_{tag}.safetensors'), sd)
    # The official trainer's checkpoint: both state dicts under 'trainer', with plain Python values around them.
    trainer = {'epoch': 3, 'iter': 120, 'trainer': {'var_wo_ddp': var_sd, 'vae_local': vae_sd, 'var_opt': {'lr': 1e-4}},
               'args': {'tblr': 1e-4, 'exp_name': 'text', 'fp16': False, 'patch_nums': list(PATCH_NUMS_256),
                        'none': None, 'big': 2 ** 40}}
    torch.save(trainer, os.path.join(out, 'ar-ckpt-last.pth'))
    write_safetensors(os.path.join(out, 'var_small_256.safetensors'), var_sd)
    write_safetensors(os.path.join(out, 'vae_small.safetensors'), vae_sd)
    rezip_force_zip64(os.path.join(out, 'var_small_256.pth'), os.path.join(out, 'var_small_256_zip64.pth'))
    rezip_zip64_required(os.path.join(out, 'vae_small.pth'), os.path.join(out, 'vae_small_zip64eocd.pth'))
    # The crafted archive is a valid checkpoint to PyTorch's own reader too.
    for k, v in torch.load(os.path.join(out, 'vae_small_zip64eocd.pth')).items():
        assert torch.equal(v, vae_sd[k]), k
    assert_zip64_local_headers(os.path.join(out, 'var_small_256_zip64.pth'))


def assert_zip64_local_headers(path: str) -> None:
    """force_zip64 puts the ZIP64 extra field (id 1) in each local header (the central directory has none)."""
    with zipfile.ZipFile(path) as z, open(path, 'rb') as fh:
        for info in z.infolist():
            fh.seek(info.header_offset)
            head = fh.read(30)
            name_len, extra_len = struct.unpack('<HH', head[26:30])
            fh.seek(name_len, 1)
            extra = fh.read(extra_len)
            assert extra[:2] == b'\x01\x00', f'{info.filename}: no ZIP64 extra field in its local header'


class _RunsCommand:
    """An object whose unpickling would run a shell command (pickle calls os.system on load)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def write_payloads(out: str, marker: str) -> None:
    # A torch.save file with a payload: pickle names it 'posix system' on Linux (os.system's own module).
    torch.save({'payload': _RunsCommand(f'touch {marker}'), 'w': torch.ones(2)}, os.path.join(out, 'payload_posix.pth'))
    # Exactly `os system`, as a hand-written pickle inside a torch-style archive.
    evil = b'\x80\x02cos\nsystem\nq\x00X' + struct.pack('<I', len(f'touch {marker}')) + f'touch {marker}'.encode() + b'\x85R.'
    with zipfile.ZipFile(os.path.join(out, 'payload_os.pth'), 'w', zipfile.ZIP_STORED) as z:
        z.writestr('payload_os/data.pkl', evil)
        z.writestr('payload_os/version', '3\n')


def write_variants(out: str, manifest: dict) -> None:

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    views = OrderedDict([('whole', base), ('row2', base[2]), ('tail', base.view(-1)[5:17].reshape(3, 4)),
                         ('again', base), ('half', torch.linspace(-3, 3, 10).half()), ('ids', torch.arange(5) - 2)])
    save(views, os.path.join(out, 'views.pth'), manifest)
    torch.save(OrderedDict([('t', base.t())]), os.path.join(out, 'transposed.pth'))
    torch.save([torch.ones(1)], os.path.join(out, 'list.pth'))
    with zipfile.ZipFile(os.path.join(out, 'not_torch.zip'), 'w') as z:
        z.writestr('readme.txt', 'a zip archive, but no torch.save file')
    torch.save(OrderedDict([('x', torch.ones(2, dtype=torch.float64))]), os.path.join(out, 'float64.pth'))

    var_path, vae_path = os.path.join(out, 'var_small_256.pth'), os.path.join(out, 'vae_small.pth')
    var_sd = torch.load(var_path)
    broken = {
        'var_missing.pth': lambda sd: sd.pop('blocks.1.ffn.fc2.bias'),
        'var_extra.pth': lambda sd: sd.__setitem__('blocks.0.attn.extra_bias', torch.zeros(128)),
        'var_misshaped.pth': lambda sd: sd.__setitem__('blocks.1.attn.proj.weight', torch.zeros(128, 127)),
        'var_key_bias.pth': lambda sd: sd.__setitem__('blocks.0.attn.zero_k_bias', torch.full((128,), 0.5)),
        'var_levels.pth': lambda sd: sd.__setitem__('lvl_1L', torch.cat([torch.full((p * p,), i) for i, p in
                                                                         enumerate((1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 4))]).view(1, -1)),
    }
    for name, damage in broken.items():
        sd = OrderedDict(var_sd)
        damage(sd)
        torch.save(sd, os.path.join(out, name))
        manifest['errors'][name] = python_error(os.path.join(out, name), vae_path)
    manifest['errors']['swapped'] = python_error(vae_path, var_path)
    # A VQVAE of another codebook size than the VAR predicts.
    other = VQVAEConfig(ch=32, ch_mult=(1, 2), num_res_blocks=1, vocab_size=32, z_channels=8)
    write_official_pair(os.path.join(out, 'other'), VARConfig.official(1, vocab_size=32, z_channels=8), other, seed=5,
                        vae_name='vae_v32.pth')
    shutil.move(os.path.join(out, 'other', 'vae_v32.pth'), os.path.join(out, 'vae_v32.pth'))
    shutil.rmtree(os.path.join(out, 'other'))
    manifest['errors']['vae_v32.pth'] = python_error(var_path, os.path.join(out, 'vae_v32.pth'))


def write_tables(out: str) -> None:
    bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    bits.view(np.float16).astype(np.float32).view(np.uint32).astype('<u4').tofile(os.path.join(out, 'f16_to_f32.bin'))
    bf16 = torch.from_numpy(bits.view(np.int16).copy()).view(torch.bfloat16).float()
    bf16.view(torch.int32).numpy().astype('<i4').tofile(os.path.join(out, 'bf16_to_f32.bin'))


def write_layouts(manifest: dict) -> None:
    """Each official configuration (and its JSON) with its layout, from the constructors on the meta device."""
    out = {}
    for depth, cfg in {12: VARConfig.official(12), **OFFICIAL_VAR}.items():
        vae = OFFICIAL_VAE.replace(patch_nums=cfg.patch_nums)
        out[f'd{depth}'] = {'var': config_to_json(cfg), 'vae': config_to_json(vae),
                            'var_layout': [[k, list(shape)] for k, (shape, _) in var_layout(cfg).items()],
                            'vae_layout': [[k, list(shape)] for k, (shape, _) in vae_layout(vae).items()]}
    manifest['layouts'] = out


def write_big(out: str, manifest: dict) -> None:
    """A d12-shaped VAR (C=768, the 256-px schedule) with random weights: ~530 MB of float32."""
    g = torch.Generator().manual_seed(12)
    sd = OrderedDict()
    for k, (shape, dtype) in var_layout(VARConfig.official(12)).items():
        sd[k] = torch.randn(shape, generator=g) if dtype.is_floating_point else torch.zeros(shape, dtype=dtype)
    path = os.path.join(out, 'var_d12_random.pth')
    torch.save(sd, path)
    largest = max(sd.items(), key=lambda kv: kv[1].numel())
    manifest['big'] = {'file': os.path.basename(path), 'bytes': os.path.getsize(path), 'tensors': len(sd),
                       'largest_key': largest[0], 'largest_bytes': largest[1].numel() * 4}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True)
    ap.add_argument('--pairs', action='store_true')
    ap.add_argument('--variants', action='store_true', help='needs --pairs (now or in an earlier run into --out)')
    ap.add_argument('--payloads', action='store_true')
    ap.add_argument('--tables', action='store_true')
    ap.add_argument('--layouts', action='store_true')
    ap.add_argument('--huge', action='store_true')
    ap.add_argument('--big', action='store_true')
    ap.add_argument('--marker', help='file the payload pickles would create if they were run (default OUT/PAYLOAD-RAN)')
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    os.makedirs(a.out, exist_ok=True)
    mpath = os.path.join(a.out, 'manifest.json')
    manifest = json.load(open(mpath)) if os.path.exists(mpath) else {'files': {}, 'configs': {}, 'errors': {}}
    if a.pairs:
        write_pairs(a.out, manifest)
    if a.payloads:
        write_payloads(a.out, a.marker or os.path.join(a.out, 'PAYLOAD-RAN'))
    if a.variants:
        write_variants(a.out, manifest)
    if a.tables:
        write_tables(a.out)
    if a.layouts:
        write_layouts(manifest)
    if a.huge:
        write_huge_sparse(a.out, manifest)
    if a.big:
        write_big(a.out, manifest)
    with open(mpath + '.tmp', 'w') as fh:
        json.dump(manifest, fh, indent=1)
    os.replace(mpath + '.tmp', mpath)
    return 0


if __name__ == '__main__':
    sys.exit(main())
