"""Named national counties in the nowcast's filter: the probability that a run's national
nomination of a year includes the named counties, and a nomination drawn given that it does.

The model nominates Jiangxi's ``k`` counties of a national batch by the observed index plus
Gumbel noise of scale ``tau`` (:func:`policysim.model.designation.nominate_national`), which is a
Plackett-Luce draw with weights ``w_i = exp(score_i / tau)``. Seen as an exponential race (county
``i`` arrives at an exponential time of rate ``w_i``; the first ``k`` to arrive are nominated),
the named set ``S`` is nominated when at most ``k - |S|`` other candidates arrive before the last
of ``S``:

    P(S in the nominees) = integral of f_max(t) * P(N(t) <= k - |S|) dt,

``f_max`` the density of the last arrival of ``S`` (CDF ``prod_i (1 - exp(-w_i t))``) and
``N(t)`` the number of other candidates arrived by ``t`` (a Poisson-binomial count). The
integral is summed over a logarithmic grid of ``t``. Drawn given the event: the last arrival of
``S`` from its conditional distribution on the grid, the others arrived before it from their
Bernoulli draws given the count (exact sequential sampling), and the seats left go to the next
arrivals, a Plackett-Luce draw among those not arrived (memorylessness).

This is the fully adapted step of a particle filter (Pitt & Shephard 1999): a run is weighted by
the probability of the event given its state, and its nomination (noise that nothing else in the
model reads) is drawn given the event, so every run kept carries it.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["GRID_POINTS", "draw_given_named", "named_probability"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Points of the logarithmic time grid (about 100 a decade over the usual span).
GRID_POINTS: Final = 4000


def _weights(score: FloatArray, tau: float) -> FloatArray:
    out: FloatArray = np.exp((score - np.max(score)) / tau)
    return out


def _grid(u: FloatArray, v: FloatArray) -> FloatArray:
    """Times from where the last named arrival has (almost) no mass to where it is certain."""
    lo = 1e-12 / float(np.max(u))
    hi = 60.0 / max(float(np.min(u)), 1e-300)
    if v.size:
        lo = min(lo, 1e-12 / float(np.max(v)))
    return np.geomspace(lo, hi, GRID_POINTS)


def _count_at_most(p: FloatArray, r: int) -> FloatArray:
    """P(sum of independent Bernoulli(p[:, j]) <= r) for each row of ``p`` (grid points)."""
    dist = np.zeros((p.shape[0], r + 1))
    dist[:, 0] = 1.0
    for j in range(p.shape[1]):
        pj = p[:, j : j + 1]
        shifted = np.zeros_like(dist)
        shifted[:, 1:] = dist[:, :-1]
        dist = dist * (1.0 - pj) + shifted * pj
    out: FloatArray = dist.sum(axis=1)
    return out


def _cells(u: FloatArray, v: FloatArray, r: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Grid times, the mass of the last named arrival in each cell, and the probability that at
    most ``r`` others arrived by the cell's (geometric) midpoint."""
    t = _grid(u, v)
    cdf = np.prod(-np.expm1(-np.outer(t, u)), axis=1)
    mass = np.diff(cdf, prepend=0.0)
    mid = np.sqrt(t * np.concatenate(([t[0]], t[:-1])))
    p_other = -np.expm1(-np.outer(mid, v))
    return mid, mass, _count_at_most(p_other, r) if v.size else np.ones(t.size)


def named_probability(
    score: FloatArray, candidates: BoolArray, named: BoolArray, size: int, tau: float
) -> float:
    """Probability that a nomination of ``size`` among ``candidates`` (by ``score`` plus Gumbel
    noise of scale ``tau``) includes every county of ``named``.

    0 when a named county is not a candidate or there are more named counties than seats; with
    ``tau <= 0`` the nomination is the ranking itself (1 or 0).
    """
    s = int(named.sum())
    if s == 0:
        return 1.0
    if s > size or not bool(candidates[named].all()):
        return 0.0
    idx = np.flatnonzero(candidates)
    if size >= idx.size:
        return 1.0
    if tau <= 0.0:
        order = idx[np.argsort(-score[idx], kind="stable")][:size]
        return float(named[order].sum() == s)
    w = _weights(score[idx], tau)
    is_named = named[idx]
    _, mass, at_most = _cells(w[is_named], w[~is_named], size - s)
    return float(np.clip(np.sum(mass * at_most), 0.0, 1.0))


def draw_given_named(
    score: FloatArray,
    candidates: BoolArray,
    named: BoolArray,
    size: int,
    tau: float,
    rng: np.random.Generator,
) -> BoolArray:
    """A nomination of ``size`` drawn given that it includes ``named`` (which must have a
    positive :func:`named_probability`); returns the nominees as a mask."""
    s = int(named.sum())
    out = named.copy()
    idx = np.flatnonzero(candidates & ~named)
    r = size - s
    if r <= 0 or idx.size == 0:
        return out
    if r >= idx.size:
        out[idx] = True
        return out
    cidx = np.flatnonzero(candidates)
    base = float(np.max(score[cidx]))
    u = np.exp((score[named] - base) / tau)
    v = np.exp((score[idx] - base) / tau)
    mid, mass, at_most = _cells(u, v, r)
    q = mass * at_most
    cell = int(rng.choice(q.size, p=q / q.sum()))
    p = -np.expm1(-v * mid[cell])
    # the others arrived before the last named county: Bernoulli(p) given at most r of them
    tail = np.zeros((idx.size + 1, r + 1))  # tail[j, c] = P(arrivals among j.. <= c)
    tail[idx.size, :] = 1.0
    for j in range(idx.size - 1, -1, -1):
        tail[j, 0] = (1.0 - p[j]) * tail[j + 1, 0]
        tail[j, 1:] = (1.0 - p[j]) * tail[j + 1, 1:] + p[j] * tail[j + 1, :-1]
    arrived = np.zeros(idx.size, bool)
    c = r
    for j in range(idx.size):
        if c > 0 and tail[j, c] > 0 and rng.random() < p[j] * tail[j + 1, c - 1] / tail[j, c]:
            arrived[j] = True
            c -= 1
    out[idx[arrived]] = True
    left = r - int(arrived.sum())
    if left > 0:  # the next arrivals: Plackett-Luce among those not arrived
        rest = idx[~arrived]
        keys = (score[rest] - base) / tau + rng.gumbel(0.0, 1.0, rest.size)
        out[rest[np.argsort(-keys, kind="stable")[:left]]] = True
    return out
