"""The studio's seeded generator: xoshiro128** seeded by splitmix32 (docs/sampling.md, identical in TypeScript).

All arithmetic is on uint32 words (Python ints masked to 32 bits); `uniform()` returns a float64 in [0, 1)
with 53 random bits, built from two draws exactly as the TypeScript engine does.
"""
from __future__ import annotations

from typing import List

MASK32 = 0xFFFFFFFF


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & MASK32


def splitmix32_state(seed: int) -> List[int]:
    """Four state words s0..s3 from a seed 0 ≤ seed < 2³²."""
    if not 0 <= seed <= MASK32:
        raise ValueError(f'seed must be an integer in [0, 2^32), got {seed}')
    x = seed
    out = []
    for _ in range(4):
        x = (x + 0x9E3779B9) & MASK32
        z = x
        z = ((z ^ (z >> 16)) * 0x21F0AAAD) & MASK32
        z = ((z ^ (z >> 15)) * 0x735A2D97) & MASK32
        z = z ^ (z >> 15)
        out.append(z)
    if not any(out):
        out[0] = 1
    return out


class Xoshiro128:
    """xoshiro128** (Blackman & Vigna) with the splitmix32 seeding of docs/sampling.md."""

    def __init__(self, seed: int):
        self.s = splitmix32_state(seed)

    def next_u32(self) -> int:
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & MASK32, 7) * 9) & MASK32
        t = (s1 << 9) & MASK32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 11)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self) -> float:
        a = self.next_u32() >> 5
        b = self.next_u32() >> 6
        return (a * 67108864.0 + b) / 9007199254740992.0  # (a·2²⁶ + b) / 2⁵³

    def uniforms(self, n: int) -> List[float]:
        return [self.uniform() for _ in range(n)]


def image_stream(seed: int, b: int) -> Xoshiro128:
    """Generator of image b of a batch seeded with `seed`: its own stream, seeded (seed + b) mod 2³²."""
    return Xoshiro128((seed + b) & MASK32)
