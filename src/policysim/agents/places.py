"""Township and county rules: platforms, commissioners, agricultural technology, county spending,
the county innovation-capacity index and the designation process.

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


def stochastic_round(x: FloatArray, u: FloatArray) -> FloatArray:
    """Round ``x >= 0`` down or up so that the expectation equals ``x``."""
    base = np.floor(x)
    return base + (u < (x - base))


def saturating_score(x: FloatArray, half: FloatArray | float) -> FloatArray:
    """Indicator score in [0, 100): ``100 * x / (x + half)``; 50 at ``x == half``."""
    h = np.asarray(half, dtype=np.float64)
    return 100.0 * np.maximum(x, 0.0) / (np.maximum(x, 0.0) + h)


def growth_score(g: FloatArray, centre: float, spread: float = 0.02) -> FloatArray:
    """Score of a growth rate: logistic, ``100 / (1 + 0.5 exp(-(g - centre) / spread))``.

    At ``g == centre`` the score is 66.7, like a saturating indicator at twice its half value.
    """
    return 100.0 / (1.0 + 0.5 * np.exp(-(g - centre) / spread))


@dataclass(frozen=True)
class IndexAnchors:
    """Half-values of the saturating indicator scores, fixed at the base year.

    Each half-value is half the base-year median over counties (assumption: the median county
    scores 66.7 on each indicator, near the published 2022 mean of 67.24), so the index of a
    county rises when its indicators grow.
    """

    platforms_per_xz: float
    commissioners_per_xz: float
    management: float
    rd_intensity: float
    st_share: float
    status_firms_per_100: float
    patents_per_10k: float
    township_share: float
    gdp_per_capita: float
    growth_centre: float


def median_half(x: FloatArray, fallback: float) -> float:
    med = float(np.median(x))
    return 0.5 * med if med > 0 else fallback


@dataclass(frozen=True)
class CountyIndicators:
    """The indicators of the provincial evaluation, one value per county."""

    platforms_per_xz: FloatArray
    commissioners_per_xz: FloatArray
    management: FloatArray
    rd_intensity: FloatArray
    st_share: FloatArray
    status_firms_per_100: FloatArray
    patents_per_10k: FloatArray
    township_share: FloatArray
    gdp_per_capita: FloatArray
    gdp_growth: FloatArray


def county_index(
    ind: CountyIndicators, anchors: IndexAnchors, weights: tuple[float, float, float, float]
) -> tuple[FloatArray, FloatArray]:
    """County innovation-capacity index (0..100) and its 4 dimension scores.

    Dimensions (江西省科学院 county evaluation): environment (platforms, commissioners,
    management capacity), inputs (R&D / GDP, S&T share of fiscal spending), outcomes (HNTEs and
    tech SMEs per 100 firms, patents per 10k people, innovative township share), economic and
    social development (GDP per capita, GDP growth). Indicators within a dimension weigh equally
    (assumption: the official weights are not public).

    Returns
    -------
    index : (n_counties,) float array
    dims : (4, n_counties) float array
    """
    s = saturating_score
    env = (
        s(ind.platforms_per_xz, anchors.platforms_per_xz)
        + s(ind.commissioners_per_xz, anchors.commissioners_per_xz)
        + s(ind.management, anchors.management)
    ) / 3.0
    inputs = (s(ind.rd_intensity, anchors.rd_intensity) + s(ind.st_share, anchors.st_share)) / 2.0
    outcomes = (
        s(ind.status_firms_per_100, anchors.status_firms_per_100)
        + s(ind.patents_per_10k, anchors.patents_per_10k)
        + s(ind.township_share, anchors.township_share)
    ) / 3.0
    development = (
        s(ind.gdp_per_capita, anchors.gdp_per_capita)
        + growth_score(ind.gdp_growth, anchors.growth_centre)
    ) / 2.0
    dims = np.vstack([env, inputs, outcomes, development])
    w = np.asarray(weights, dtype=np.float64)
    return w @ dims, dims


def top_k(candidates: BoolArray, score: FloatArray, k: int) -> BoolArray:
    """The ``k`` candidates with the highest score (ties broken by position)."""
    chosen = np.zeros(candidates.shape, dtype=bool)
    if k <= 0 or not candidates.any():
        return chosen
    idx = np.flatnonzero(candidates)
    order = np.argsort(-score[idx], kind="stable")
    chosen[idx[order[:k]]] = True
    return chosen


@dataclass(frozen=True)
class DesignationState:
    """Designation status per county (arrays of shape (n_counties,))."""

    pilot: BoolArray  # provincial pilot in its build cycle
    pilot_since: IntArray  # year of entry into the pilot (-1 if none)
    designated: BoolArray  # passed the provincial evaluation
    national: BoolArray  # national innovative county (pilot or designated)


def designation_year(
    state: DesignationState,
    year: int,
    index_obs: FloatArray,
    *,
    entry_threshold: float,
    pass_threshold: float,
    build_cycle: int,
    quota: int,
    national_quota: int,
    national_min_index: float,
) -> DesignationState:
    """One year of the designation process.

    Order: evaluation of pilots whose build cycle ends (pass → designated, fail → leave the
    pilot and may re-apply); provincial batch (counties neither pilot nor designated with index ≥
    entry threshold, best first, up to the quota); national batch (among provincial pilots and
    designated counties with the index ``national_min_index`` or more, best first, up to the
    national quota). National status, once given, is kept.
    """
    due = state.pilot & (state.pilot_since + build_cycle <= year)
    passed = due & (index_obs >= pass_threshold)
    designated = state.designated | passed
    pilot = state.pilot & ~due
    pilot_since = np.where(due, -1, state.pilot_since)
    entering = top_k(~pilot & ~designated & (index_obs >= entry_threshold), index_obs, quota)
    pilot = pilot | entering
    pilot_since = np.where(entering, year, pilot_since)
    provincial = pilot | designated
    new_national = top_k(
        provincial & ~state.national & (index_obs >= national_min_index), index_obs, national_quota
    )
    national = state.national | new_national
    return DesignationState(
        pilot=pilot,
        pilot_since=pilot_since.astype(np.int64),
        designated=designated,
        national=national,
    )


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
