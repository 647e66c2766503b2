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


POVERTY_PLATFORM_SHARE = 0.5
"""Share of the tech poverty-alleviation programme's funds (科技精准扶贫, poverty counties only)
that builds platforms (星创天地); the rest pays S&T commissioners (assumption, range 0.3-0.7: the
programme funds both and its split is not published)."""


def stochastic_round(x: FloatArray, u: FloatArray) -> FloatArray:
    """Round ``x >= 0`` down or up so that the expectation equals ``x``."""
    base = np.floor(x)
    return base + (u < (x - base))


def instrument_funds(
    platforms: FloatArray, commissioners: FloatArray, poverty: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Provincial funds per county for platforms and for commissioners: each instrument's own
    money plus its share of the poverty programme (``POVERTY_PLATFORM_SHARE``)."""
    to_platforms: FloatArray = platforms + POVERTY_PLATFORM_SHARE * poverty
    to_commissioners: FloatArray = commissioners + (1.0 - POVERTY_PLATFORM_SHARE) * poverty
    return to_platforms, to_commissioners


def platforms_year(
    platforms: FloatArray, closures: FloatArray, funds_t: FloatArray, cost: float, u: FloatArray
) -> FloatArray:
    """Platforms per township: last year's less the closures, plus those the year's funds create
    (``funds_t / cost``, stochastically rounded with uniforms ``u``)."""
    return platforms - closures + stochastic_round(funds_t / cost, u)


def commissioners_year(
    base: FloatArray,
    funds_t: FloatArray,
    cost: float,
    own_expected: FloatArray,
    u_funded: FloatArray,
    u_own: FloatArray,
    obliged: FloatArray,
) -> FloatArray:
    """S&T commissioners per township: the base ones, those the provincial funds pay
    (``funds_t / cost``) and those the county pays itself (``own_expected``, rising with its
    standing), each stochastically rounded; at least the pilot's obligation ``obliged``."""
    funded = stochastic_round(funds_t / cost, u_funded)
    own = stochastic_round(own_expected, u_own)
    out: FloatArray = np.maximum(base + funded + own, obliged)
    return out


def adoption_year(
    agri: FloatArray, commissioners: FloatArray, per_commissioner: float
) -> FloatArray:
    """Share of a township's farms using promoted technologies: each commissioner converts
    ``per_commissioner`` of the farms not yet using them."""
    out: FloatArray = np.clip(agri + per_commissioner * commissioners * (1.0 - agri), 0.0, 1.0)
    return out


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


def park_entry(
    township: IntArray,
    kind: IntArray,
    active: BoolArray,
    per_park: FloatArray,
    n_townships: int,
) -> FloatArray:
    """Expected new firms a year that the active parks bring to their host townships.

    Parameters
    ----------
    township : (n_parks,) int array
        Host township of each park (-1: none, the park brings no firms).
    kind : (n_parks,) int array
        Kind of each park (index into ``per_park``).
    active : (n_parks,) bool array
        Parks counting this year.
    per_park : (n_kinds,) float array
        Entrants a year per park of each kind.

    Returns
    -------
    (n_townships,) float array
    """
    placed = active & (township >= 0)
    out: FloatArray = np.bincount(
        township[placed], weights=per_park[kind[placed]], minlength=n_townships
    ).astype(np.float64)
    return out


def parks_per_county(county: IntArray, active: BoolArray, n_counties: int) -> FloatArray:
    """Active parks of each county, (n_counties,) float array."""
    out: FloatArray = np.bincount(county[active], minlength=n_counties).astype(np.float64)
    return out
