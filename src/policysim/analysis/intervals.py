"""Confidence intervals for proportions and paired differences.

All functions are vectorised where the arguments allow it and never use global random state.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special  # quantiles without importing scipy.stats (slow to import)

__all__ = [
    "mean_difference_interval",
    "paired_proportion_difference",
    "wilson_interval",
]

FloatArray = npt.NDArray[np.float64]


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence = {confidence!r}: expected a number in (0, 1)")
    return float(special.ndtri(0.5 + confidence / 2.0))


def wilson_interval(
    successes: int | npt.ArrayLike,
    n: int | npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes : int or (m,) int array
        Number of successes (runs meeting a target).
    n : int or (m,) int array
        Number of trials (runs); broadcast against ``successes``.
    confidence : float, default 0.95
        Two-sided confidence level in (0, 1).

    Returns
    -------
    lo, hi : float or (m,) float arrays, proportions in [0, 1]
        Interval bounds. Where ``n == 0`` the interval is the uninformative ``[0, 1]``. Scalars in
        give 0-d arrays out (``float(lo)`` works).

    Raises
    ------
    ValueError
        If ``successes`` is negative or exceeds ``n``, or ``confidence`` is not in (0, 1).

    Examples
    --------
    8 of 10 at 95%: (0.490, 0.943) (Wilson 1927; Newcombe 1998, method 3).
    """
    z = _z(confidence)
    k = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    if np.any(k < 0) or np.any(k > m):
        raise ValueError(f"successes = {successes!r}, n = {n!r}: expected 0 <= successes <= n")
    safe_n = np.where(m > 0, m, 1.0)
    p = k / safe_n
    z2 = z * z
    denom = 1.0 + z2 / safe_n
    centre = (p + z2 / (2.0 * safe_n)) / denom
    half = (z / denom) * np.sqrt(p * (1.0 - p) / safe_n + z2 / (4.0 * safe_n * safe_n))
    lo = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    hi = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    # Exact ends: with no successes the lower bound is 0, with all successes the upper is 1.
    lo = np.where((m > 0) & (k == 0), 0.0, lo)
    hi = np.where((m > 0) & (k == m), 1.0, hi)
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def paired_proportion_difference(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Difference of two paired proportions with Newcombe's hybrid score interval.

    The runs are paired (common random numbers: replication ``i`` of both scenarios used the same
    seeds), so the interval must account for the correlation of the two indicators. This is
    Newcombe (1998), "Improved confidence intervals for the difference between binomial proportions
    based on paired data", Stat. Med. 17:2635-2650, method 10 (Wilson score intervals of each
    margin combined with the continuity-corrected phi coefficient).

    Parameters
    ----------
    x, y : (n,) bool arrays
        Indicator of the outcome in each paired run, for the scenario (``x``) and the baseline
        (``y``).
    confidence : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    diff, lo, hi : float
        ``mean(x) - mean(y)`` and its interval, within [-1, 1]. When no pair is discordant
        (``x == y`` everywhere, e.g. a scenario compared with itself) the result is exactly
        ``(0.0, 0.0, 0.0)``: the paired differences are all zero, so there is no sampling
        variation to report. This is the continuity-safe fallback the design asks for; it says
        nothing about differences too rare to show up in ``n`` runs.

    Raises
    ------
    ValueError
        If the arrays differ in length or are empty.
    """
    a_x = np.asarray(x, dtype=bool).ravel()
    a_y = np.asarray(y, dtype=bool).ravel()
    if a_x.shape != a_y.shape or a_x.size == 0:
        raise ValueError(
            f"paired indicators of lengths {a_x.size} and {a_y.size}: expected equal, non-zero"
        )
    n = a_x.size
    both = int(np.sum(a_x & a_y))
    only_x = int(np.sum(a_x & ~a_y))
    only_y = int(np.sum(~a_x & a_y))
    neither = n - both - only_x - only_y
    if only_x == 0 and only_y == 0:
        return 0.0, 0.0, 0.0
    p1 = (both + only_x) / n
    p2 = (both + only_y) / n
    l1, u1 = (float(v) for v in wilson_interval(both + only_x, n, confidence))
    l2, u2 = (float(v) for v in wilson_interval(both + only_y, n, confidence))
    product = float(both + only_x) * (only_y + neither) * (both + only_y) * (only_x + neither)
    if product == 0.0:
        phi = 0.0
    else:
        cross = float(both) * neither - float(only_x) * only_y
        if cross > 0.0:
            cross = max(cross - n / 2.0, 0.0)
        phi = cross / math.sqrt(product)
    diff = p1 - p2
    d_lo = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    d_hi = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    return diff, max(diff - d_lo, -1.0), min(diff + d_hi, 1.0)


def mean_difference_interval(
    differences: npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Mean of paired differences with a Student-t interval.

    Parameters
    ----------
    differences : (n,) float array
        Per-replication differences (scenario minus baseline), in the metric's unit. NaN entries
        are dropped.
    confidence : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    mean, lo, hi : float
        When all differences are equal (including the self-comparison, all zero) or only one is
        available, the interval collapses to ``[mean, mean]``; with no finite difference all three
        are NaN.
    """
    _z(confidence)
    d = np.asarray(differences, dtype=np.float64).ravel()
    d = d[np.isfinite(d)]
    if d.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(np.mean(d))
    if d.size == 1 or bool(np.all(d == d[0])):
        return mean, mean, mean
    se = float(np.std(d, ddof=1)) / math.sqrt(d.size)
    t = float(special.stdtrit(d.size - 1, 0.5 + confidence / 2.0))
    return mean, mean - t * se, mean + t * se
