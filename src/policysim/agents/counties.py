"""County rules of the designation process (issue 13): the relative county index, standing
within the functional zone class, provincial pilot batches limited by funds, the end-of-cycle
evaluation, the pilot support package and national batches.

Pure functions over arrays with one element per county. The index is re-scored every year
against the current cross-section of counties (z-scores of each indicator within the year, as
published county evaluations rank counties), so a county rises only by doing better than its
peers; there is no absolute threshold on a nominally drifting index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from policysim.agents.places import CountyIndicators, top_k

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

INDEX_MEAN = 50.0
"""Mean of the re-scored index over counties (T-score convention)."""
INDEX_SD = 10.0
"""Standard deviation of the re-scored index over counties (T-score convention)."""
Z_CAP = 3.0
"""Indicator z-scores are capped at +-3 so that one outlier county does not set the scale."""


def zscores(x: FloatArray) -> FloatArray:
    """Within-year z-scores of one indicator over counties, capped at ``Z_CAP`` (0 when all
    counties are equal). Invariant to a common positive scale and offset of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    sd = float(x.std())
    mean = float(x.mean())
    if not np.isfinite(sd) or sd <= 1e-12 * max(abs(mean), 1.0):
        return np.zeros_like(x)
    out: FloatArray = np.clip((x - mean) / sd, -Z_CAP, Z_CAP)
    return out


def zscores_rows(x: FloatArray) -> FloatArray:
    """:func:`zscores` of each row of ``x`` (one indicator a row), in one pass over the rows:
    the same numbers as row by row."""
    mean = x.mean(axis=1)
    sd = x.std(axis=1)
    flat = ~np.isfinite(sd) | (sd <= 1e-12 * np.maximum(np.abs(mean), 1.0))
    sd[flat] = 1.0
    out: FloatArray = (x - mean[:, None]) / sd[:, None]
    np.clip(out, -Z_CAP, Z_CAP, out=out)
    out[flat] = 0.0
    return out


def relative_index(
    ind: CountyIndicators, weights: tuple[float, float, float, float]
) -> tuple[FloatArray, FloatArray]:
    """County innovation-capacity index re-scored against the year's cross-section.

    Dimensions (江西省科学院 county evaluation): environment (platforms and commissioners per
    乡镇, management capacity), inputs (R&D / GDP, S&T share of fiscal spending), outcomes (HNTEs
    and tech SMEs per 100 above-scale firms, patents per 10k people, innovative township share),
    economic and social development (GDP per capita, GDP growth). Each indicator becomes its z-score within
    the year; indicators within a dimension weigh equally (assumption: the official weights are
    not public); the weighted sum of dimensions is standardised again to mean ``INDEX_MEAN`` and
    sd ``INDEX_SD``.

    Returns
    -------
    index : (n_counties,) float array
    dims : (4, n_counties) float array (mean z-score per dimension)
    """
    z = zscores_rows(
        np.vstack(
            [
                ind.platforms_per_xz,
                ind.commissioners_per_xz,
                ind.management,
                ind.rd_intensity,
                ind.st_share,
                ind.status_firms_per_100,
                ind.patents_per_10k,
                ind.township_share,
                ind.gdp_per_capita,
                ind.gdp_growth,
            ]
        )
    )
    env = (z[0] + z[1] + z[2]) / 3.0
    inputs = (z[3] + z[4]) / 2.0
    outcomes = (z[5] + z[6] + z[7]) / 3.0
    development = (z[8] + z[9]) / 2.0
    dims = np.vstack([env, inputs, outcomes, development])
    total = np.asarray(weights, dtype=np.float64) @ dims
    sd = float(total.std())
    zt = (total - total.mean()) / sd if sd > 1e-12 else np.zeros_like(total)
    return INDEX_MEAN + INDEX_SD * zt, dims


def class_percentile(score: FloatArray, classes: IntArray, n_classes: int) -> FloatArray:
    """Percentile rank (0 = lowest, 1 = highest) of each county within its class; ties broken
    by position. A class of one county gives 0.5."""
    out = np.full(score.shape, 0.5)
    for c in range(n_classes):
        idx = np.flatnonzero(classes == c)
        if idx.size > 1:
            order = np.argsort(score[idx], kind="stable")
            ranks = np.empty(idx.size)
            ranks[order] = np.arange(idx.size)
            out[idx] = ranks / (idx.size - 1)
    return out


def split_batch(size: int, class_counts: IntArray) -> IntArray:
    """Seats of a batch of ``size`` per class: proportional to the classes' sizes (largest
    remainder, ties to the lower class), with at least one seat per non-empty class when the
    batch has as many seats as classes (the policy differentiates the three classes; the first
    Jiangxi batch of 5 had 2 development, 2 agricultural and 1 ecological county)."""
    counts = np.asarray(class_counts, dtype=np.int64)
    seats = np.zeros(counts.size, np.int64)
    if size <= 0 or counts.sum() == 0:
        return seats
    size = min(size, int(counts.sum()))
    live = counts > 0
    if size >= int(live.sum()):
        seats[live] = 1
    rest = size - int(seats.sum())
    if rest > 0:
        quota = rest * counts / counts.sum()
        base = np.minimum(np.floor(quota).astype(np.int64), counts - seats)
        seats += base
        left = size - int(seats.sum())
        order = np.lexsort((np.arange(counts.size), -(quota - np.floor(quota))))
        while left > 0:
            moved = False
            for c in order:
                if left > 0 and seats[c] < counts[c]:
                    seats[c] += 1
                    left -= 1
                    moved = True
            if not moved:
                break
    return seats


def select_pilots(
    score: FloatArray, classes: IntArray, eligible: BoolArray, size: int, n_classes: int
) -> BoolArray:
    """A provincial batch of ``size`` pilots: seats split among the classes by
    :func:`split_batch` over the eligible counties, filled by rank of ``score`` within each
    class. Seats a class cannot fill stay empty."""
    counts = np.bincount(classes[eligible], minlength=n_classes)
    seats = split_batch(size, counts)
    chosen = np.zeros(score.shape, bool)
    for c in range(n_classes):
        chosen |= top_k(eligible & (classes == c), score, int(seats[c]))
    return chosen


def fundable_pilots(
    budget_next_cny: float, max_budget_share: float, package_cny: float, continuing: int
) -> int:
    """How many new pilots the province can fund next year: the packages of all pilots must fit
    in ``max_budget_share`` of next year's budget. No package, no pilot."""
    if package_cny <= 0.0:
        return 0
    room = max_budget_share * max(budget_next_cny, 0.0) / package_cny - continuing
    return max(int(np.floor(room + 1e-9)), 0)


def can_match(fiscal_exp_cny: FloatArray, matching_cny: float, max_share: float) -> BoolArray:
    """Counties able to carry the matching obligation of a pilot from their own budget."""
    out: BoolArray = matching_cny <= max_share * fiscal_exp_cny
    return out


def evaluate_pilots(
    due: BoolArray,
    score: FloatArray,
    start_score: FloatArray,
    percentile: FloatArray,
    *,
    min_gain: float,
    min_percentile: float,
) -> BoolArray:
    """End-of-cycle evaluation: a pilot passes if its (observed) index gained at least
    ``min_gain`` points over its cycle (its own start as reference) and it stands at least at
    ``min_percentile`` within its class."""
    out: BoolArray = due & (score - start_score >= min_gain) & (percentile >= min_percentile)
    return out


@dataclass(frozen=True)
class DesignationState:
    """Designation status per county (arrays of shape (n_counties,))."""

    pilot: BoolArray  # provincial pilot in its build cycle
    pilot_since: IntArray  # year of the batch that made it a pilot (-1 if none)
    start_score: FloatArray  # observed index in its batch year (nan if none)
    designated: BoolArray  # passed the provincial evaluation
    national: BoolArray  # national innovative county

    @classmethod
    def empty(cls, n: int) -> DesignationState:
        return cls(
            pilot=np.zeros(n, bool),
            pilot_since=np.full(n, -1, np.int64),
            start_score=np.full(n, np.nan),
            designated=np.zeros(n, bool),
            national=np.zeros(n, bool),
        )


def designation_year(
    state: DesignationState,
    year: int,
    score: FloatArray,
    classes: IntArray,
    n_classes: int,
    *,
    build_cycle: int,
    batch_size: int,
    fundable: int,
    can_apply: BoolArray,
    min_gain: float,
    min_percentile: float,
    national_size: int,
    reference: FloatArray | None = None,
) -> DesignationState:
    """One year of the designation process, on the observed (noisy) index ``score``.

    Order: evaluation of pilots whose build cycle ends (pass -> designated; fail -> leave the
    pilot and may apply again); provincial batch (eligible applicants ranked within their class,
    at most ``min(batch_size, fundable)`` seats); national batch (Jiangxi's ``national_size``
    nominees: provincial pilots and designated counties by rank of ``score``). National status,
    once given, is kept. A new pilot's start reference is ``reference`` (default ``score``): the
    index recomputed from the batch year's statistics at evaluation, so the selection noise of the
    batch year does not bias the measured gain downwards.
    """
    pct = class_percentile(score, classes, n_classes)
    due = state.pilot & (state.pilot_since + build_cycle <= year)
    passed = evaluate_pilots(
        due, score, state.start_score, pct, min_gain=min_gain, min_percentile=min_percentile
    )
    designated = state.designated | passed
    pilot = state.pilot & ~due
    eligible = can_apply & ~pilot & ~designated
    entering = select_pilots(score, classes, eligible, min(batch_size, fundable), n_classes)
    pilot = pilot | entering
    pilot_since = np.where(due, -1, state.pilot_since)
    pilot_since = np.where(entering, year, pilot_since).astype(np.int64)
    ref = score if reference is None else reference
    start = np.where(entering, ref, np.where(due, np.nan, state.start_score))
    provincial = pilot | designated
    new_national = top_k(provincial & ~state.national, score, national_size)
    return DesignationState(
        pilot=pilot,
        pilot_since=pilot_since,
        start_score=start,
        designated=designated,
        national=state.national | new_national,
    )


def support_plan(
    package_cny: FloatArray, matching_ratio: float, shares: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The support packages (provincial funds per county, 0 where no funded pilot) plus the
    county's matching funds as a plan (n_counties, n_instruments) split by ``shares``, and the
    matching funds per county."""
    matching: FloatArray = package_cny * matching_ratio
    plan: FloatArray = (package_cny + matching)[:, None] * shares[None, :]
    return plan, matching


def cultivation_draws(u: FloatArray, extra_rate: FloatArray) -> FloatArray:
    """Uniform draws of a yearly event remapped so that its probability rises by ``extra_rate``
    (per element): the top ``extra_rate`` of the unit interval maps to 0, so a rule
    ``u < rate`` fires with probability ``min(rate + extra_rate, 1)`` for ``rate <= 1 - extra``."""
    out: FloatArray = np.where(u >= 1.0 - extra_rate, 0.0, u)
    return out


def starter_draws(u: FloatArray, extra_rate: FloatArray, rate: float) -> FloatArray:
    """Uniform draws of the R&D start rule (``u < rate`` starts, at level ``u / rate``) remapped
    so that the start probability rises by ``extra_rate`` per element and a starter's level
    stays uniform: the top ``extra_rate`` of the unit interval maps onto ``[0, rate)``. With
    ``rate == 0`` nothing starts (the rule has no level to draw)."""
    top = u >= 1.0 - extra_rate
    scaled = (u - (1.0 - extra_rate)) / np.maximum(extra_rate, 1e-12) * rate
    out: FloatArray = np.where(top, scaled, u)
    return out


def standing_growth(percentile: FloatArray, response: float) -> FloatArray:
    """Extra yearly growth of own S&T spending by standing within the class (cadre evaluation:
    county leaders are rated on the county's innovation ranking)."""
    out: FloatArray = response * percentile
    return out


__all__ = [
    "INDEX_MEAN",
    "INDEX_SD",
    "DesignationState",
    "can_match",
    "class_percentile",
    "cultivation_draws",
    "designation_year",
    "evaluate_pilots",
    "fundable_pilots",
    "relative_index",
    "select_pilots",
    "split_batch",
    "standing_growth",
    "starter_draws",
    "support_plan",
    "zscores",
    "zscores_rows",
]
