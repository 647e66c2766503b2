"""Counter-based random numbers tied to agent identity.

A firm's yearly shocks are a hash of (run key, firm id, year, stream), not the next numbers of a
sequential generator. Consequences that the model relies on:

- permuting the order of firms changes no firm's draws, hence no aggregate;
- two scenarios run with the same seed give the same firm the same shocks (common random numbers),
  so paired strategy comparisons see only the effect of the strategy;
- the vectorised rules and the per-object reference implementation see identical draws.

The hash is SplitMix64 (Steele, Lea & Flood 2014), the seeding function of xoshiro generators;
its outputs pass BigCrush when used as a counter-based generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO53 = float(2**53)
_INV32 = 1.0 / float(2**32)

STREAM_GROWTH = 1
STREAM_SUCCESS = 2
STREAM_APPROVAL = 3
STREAM_EXIT = 4
STREAM_CERT = 6
STREAM_START = 7
STREAM_UPGRADE = 9
STREAM_CLAIM = 12  # per firm, fixed: loss-making and super-deduction take-up rank
STREAM_CRITERIA = 13  # per firm, fixed: cost of meeting the non-R&D HNTE criteria
STREAM_SELECT = 14  # base year: which eligible firms hold an HNTE certificate


def _mix(z: Any) -> Any:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _mix_inplace(z: NDArray[np.uint64], work: NDArray[np.uint64]) -> None:
    """:func:`_mix` of ``z`` in place (``work``: a scratch array of the same shape)."""
    for shift, mult in ((_S30, _M1), (_S27, _M2)):
        np.right_shift(z, shift, out=work)
        z ^= work
        z *= mult
    np.right_shift(z, _S31, out=work)
    z ^= work


@dataclass(eq=False)
class UniformBuffers:
    """Buffers of :func:`uniform_streams` reused from one call to the next (the hashes and the
    uniforms of a population), replaced by larger ones when a population outgrows them."""

    hashes: NDArray[np.uint64] = field(default_factory=lambda: np.empty((0, 0), "<u8"))
    work: NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, "<u8"))
    values: NDArray[np.float64] = field(default_factory=lambda: np.empty((0, 0)))

    def get(
        self, n_streams: int, n: int
    ) -> tuple[NDArray[np.uint64], NDArray[np.uint64], NDArray[np.float64]]:
        """Hashes (one row per pair of streams), scratch and uniforms (one row per stream) of
        ``n`` ids."""
        n_pairs = (n_streams + 1) // 2
        if self.hashes.shape[0] < n_pairs or self.hashes.shape[1] < n:
            cap = max(n, self.hashes.shape[1] * 5 // 4)  # (a quarter more: rare regrowth)
            self.hashes = np.empty((max(n_pairs, self.hashes.shape[0]), cap), "<u8")
            self.work = np.empty(cap, "<u8")
        if self.values.shape[0] < n_streams or self.values.shape[1] < n:
            self.values = np.empty(
                (max(n_streams, self.values.shape[0]), max(n, self.values.shape[1] * 5 // 4))
            )
        return self.hashes[:n_pairs, :n], self.work[:n], self.values[:n_streams, :n]


def uniform_streams(
    key: int,
    ids: NDArray[np.int64],
    year: int,
    streams: tuple[int, ...],
    buffers: UniformBuffers | None = None,
) -> list[NDArray[np.float64]]:
    """Several independent uniform streams at once: one identity hash per id and year, whose 64
    bits give the first two streams, then one mixing round per further pair of streams; each
    64-bit output gives two 32-bit uniforms (resolution 2**-32, ample for the model's decisions).
    Cheaper than :func:`uniforms` per stream, with the same identity properties.

    With ``buffers`` the streams are contiguous rows of its buffer (the next call with the same
    buffers overwrites them) and nothing of the population's size is allocated."""
    n_pairs = (len(streams) + 1) // 2
    values = None
    if buffers is None:
        z = np.empty((n_pairs, ids.shape[0]), dtype="<u8")
        work = np.empty(ids.shape[0], dtype="<u8")
    else:
        z, work, values = buffers.get(len(streams), ids.shape[0])
    with np.errstate(over="ignore"):
        base = _mix(np.uint64(key & 0xFFFFFFFFFFFFFFFF) ^ (np.uint64(year) * _GOLDEN))
        h = z[0]  # the identity hash is itself a full SplitMix64 output
        # (int64 to uint64 keeps the bits, negative ids included: a view needs no copy)
        as_u64 = ids.view(np.uint64) if ids.dtype == np.int64 else ids.astype(np.uint64)
        np.multiply(as_u64, _GOLDEN, out=h)
        h += base
        _mix_inplace(h, work)
        for j in range(1, n_pairs):
            np.bitwise_xor(h, np.uint64(streams[2 * j]) * _M2, out=z[j])
            _mix_inplace(z[j], work)
    if values is not None:  # each half into its contiguous row (u32 -> f64 and * 2**-32: exact)
        for i in range(len(streams)):
            halves32 = z[i // 2].view("<u4").reshape(-1, 2)  # (little-endian: low half first)
            np.multiply(halves32[:, 1 - i % 2], _INV32, out=values[i])
        return list(values)
    # the high and low 32-bit halves of each hash, converted in one pass (little-endian view:
    # the low half comes first)
    halves = z.view("<u4").astype(np.float64).reshape(n_pairs, -1, 2)
    halves *= _INV32
    out: list[NDArray[np.float64]] = []
    for j in range(n_pairs):
        out.append(halves[j, :, 1])
        out.append(halves[j, :, 0])
    return out[: len(streams)]


def uniforms(key: int, ids: NDArray[np.int64], year: int, stream: int) -> NDArray[np.float64]:
    """Uniform draws in [0, 1), one per id, determined by (key, id, year, stream).

    Parameters
    ----------
    key : int
        Run key (64-bit), derived from the run's ``SeedSequence``.
    ids : (n,) int64 array
        Stable agent identifiers.
    year, stream : int
        Calendar year and the named stream (``STREAM_*``).

    Returns
    -------
    (n,) float64 array in [0, 1).
    """
    with np.errstate(over="ignore"):
        base = _mix(
            np.uint64(key & 0xFFFFFFFFFFFFFFFF)
            ^ (np.uint64(year) * _GOLDEN)
            ^ (np.uint64(stream) * _M2)
        )
        z = ids.astype(np.uint64) * _GOLDEN + base
        z = _mix(_mix(z))
    out: NDArray[np.float64] = (z >> _S11).astype(np.float64) / _TWO53
    return out


def poisson_quantile(mean: float, u: NDArray[np.float64], kmax: int = 30) -> NDArray[np.float64]:
    """Poisson draws of one ``mean`` by inversion: the smallest k with P(X <= k) > u, capped at
    ``kmax`` (equals :func:`poisson_from_uniform`).

    The draw is the number of CDF entries at or below ``u``: one binary search per element in
    the ``kmax`` entries (about twice as fast as a comparison pass per entry for the model's
    means of a few patents)."""
    pmf = [math.exp(-mean)]
    for i in range(1, kmax):  # P(X <= k) for k < kmax: the cap needs no further entry
        pmf.append(pmf[-1] * mean / i)
    cdf = np.cumsum(pmf)
    out: NDArray[np.float64] = np.searchsorted(cdf, u, side="right").astype(np.float64)
    return out


def poisson_from_uniform(
    mean: NDArray[np.float64], u: NDArray[np.float64], kmax: int = 30
) -> NDArray[np.float64]:
    """Poisson draws by inversion of the CDF (vectorised; means up to about 10).

    Returns the smallest k with P(X <= k) > u, capped at ``kmax``.
    """
    pmf = np.exp(-mean)
    cdf = pmf.copy()
    k = np.zeros_like(mean)
    for i in range(1, kmax + 1):
        below = u >= cdf
        if not below.any():
            break
        k += below
        pmf = pmf * mean / i
        cdf = cdf + pmf
    return k
