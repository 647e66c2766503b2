"""Township and county helpers: stochastic rounding, the county indicators of the provincial
evaluation, top-k selection and the innovative-township criteria (the county index and the
designation process are in :mod:`policysim.agents.counties`).

Pure functions over arrays (one element per township or county); aggregation from firms to places
uses ``np.bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

ABOVE_SCALE_SALES_CNY = 2.0e7
"""规模以上: main-business revenue >= 20 M CNY (National Bureau of Statistics rule since 2011)."""


def stochastic_round(x: FloatArray, u: FloatArray) -> FloatArray:
    """Round ``x >= 0`` down or up so that the expectation equals ``x``."""
    base = np.floor(x)
    return base + (u < (x - base))


@dataclass(frozen=True)
class CountyIndicators:
    """The indicators of the provincial evaluation, one value per county."""

    platforms_per_xz: FloatArray
    commissioners_per_xz: FloatArray
    management: FloatArray
    rd_intensity: FloatArray
    st_share: FloatArray
    status_firms_per_100: FloatArray
    """HNTEs and tech SMEs per 100 above-scale firms (规模以上企业). Assumption: the published
    evaluation's denominator is not public; above-scale firms are what county statistics count,
    and small entrants (the firms that platforms and commissioners bring) must not dilute it."""
    patents_per_10k: FloatArray
    township_share: FloatArray
    gdp_per_capita: FloatArray
    gdp_growth: FloatArray


def top_k(candidates: BoolArray, score: FloatArray, k: int) -> BoolArray:
    """The ``k`` candidates with the highest score (ties broken by position)."""
    chosen = np.zeros(candidates.shape, dtype=bool)
    if k <= 0 or not candidates.any():
        return chosen
    idx = np.flatnonzero(candidates)
    if k >= idx.size:
        chosen[idx] = True
        return chosen
    neg = -score[idx]
    if np.isnan(neg).any():  # (NaN scores sort last: the full stable sort says where)
        order = np.argsort(neg, kind="stable")
        chosen[idx[order[:k]]] = True
        return chosen
    # the k-th best score by partition, then the ties at it by position: the set of a stable
    # sort of every candidate, without the sort
    kth = np.partition(neg, k - 1)[k - 1]
    better = neg < kth
    chosen[idx[better]] = True
    tied = np.flatnonzero(neg == kth)
    chosen[idx[tied[: k - int(np.count_nonzero(better))]]] = True
    return chosen


def township_criteria(
    status_firms: FloatArray,
    platforms_plus_commissioners: FloatArray,
    rd_intensity_pct: FloatArray,
    agri_adoption: FloatArray,
    *,
    min_status_firms: float,
    min_platforms_or_commissioners: float,
    min_rd_intensity_pct: float,
    min_agri: float,
) -> IntArray:
    """Number of the four innovative-township criteria each township meets (0..4)."""
    return (
        (status_firms >= min_status_firms).astype(np.int64)
        + (platforms_plus_commissioners >= min_platforms_or_commissioners)
        + (rd_intensity_pct >= min_rd_intensity_pct)
        + (agri_adoption >= min_agri)
    )
