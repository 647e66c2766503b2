"""Score any plan on the optimiser's own objective, with the exact piecewise-linear curves.

The optimiser and the rule strategies are compared with :func:`evaluate_objective`, which does
not use Pyomo: it accumulates the plan, interpolates the response curves (flat beyond the last
breakpoint) and counts designations with the same rules as the optimisation model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from policysim.allocation.types import (
    CNY_PER_YI,
    INSTRUMENTS,
    CountyFacts,
    FloatArray,
    Objective,
    ResponseCurves,
)
from policysim.errors import AllocationError

__all__ = ["INDEX_TOLERANCE", "designation_years", "evaluate_objective", "gains", "project_index"]

INDEX_TOLERANCE = 1e-6
"""Index points by which a county may fall short of the threshold and still count (solver
tolerance; numerical, not a policy parameter)."""


def gains(cum_cny: FloatArray, response: ResponseCurves, which: str = "index") -> FloatArray:
    """Gain of each county and instrument from cumulative funds.

    Parameters
    ----------
    cum_cny : (n_counties, n_instruments) float array, CNY
        Cumulative funds.
    response : ResponseCurves
    which : {"index", "rd"}
        Index points or extra R&D CNY/yr.

    Returns
    -------
    (n_counties, n_instruments) float array
    """
    curve = response.index_gain if which == "index" else response.rd_gain_cny
    bp = response.breakpoints_cny
    x = np.clip(cum_cny, 0.0, bp[-1])
    seg = np.clip(np.searchsorted(bp, x, side="right") - 1, 0, bp.size - 2)
    lo = np.take_along_axis(curve, seg[..., None], axis=2)[..., 0]
    hi = np.take_along_axis(curve, seg[..., None] + 1, axis=2)[..., 0]
    frac = (x - bp[seg]) / (bp[seg + 1] - bp[seg])
    out: FloatArray = lo + frac * (hi - lo)
    return out


def project_index(plan_cny: FloatArray, response: ResponseCurves) -> FloatArray:
    """Index path implied by a plan, shape (n_counties, n_years), index points.

    ``index[c, t] = baseline_index[c, t] + sum_k g_ck(funds of k in c in years <= t - lag)``.

    Parameters
    ----------
    plan_cny : (n_years, n_counties, n_instruments) float array, CNY
    response : ResponseCurves
        ``baseline_index`` must have n_years columns.
    """
    n_y = plan_cny.shape[0]
    if response.baseline_index.shape != (plan_cny.shape[1], n_y):
        raise AllocationError(
            f"ResponseCurves.baseline_index: shape {response.baseline_index.shape}: expected "
            f"({plan_cny.shape[1]}, {n_y}) to match the plan"
        )
    cum = np.cumsum(plan_cny, axis=0)
    index = response.baseline_index.copy()
    lag = response.lag_years
    for t in range(lag, n_y):
        index[:, t] += gains(cum[t - lag], response).sum(axis=1)
    return index


def designation_years(objective: Objective, years: Sequence[int]) -> tuple[int, ...]:
    """Years at which designations are decided: deadlines and quota years, within ``years``.

    Raises
    ------
    AllocationError
        If a deadline or a quota year lies outside the planning years.
    """
    yrs = tuple(years)
    for name, keys in (
        ("deadlines", objective.deadlines),
        ("max_new_per_year", objective.max_new_per_year),
    ):
        for y in keys:
            if y not in yrs:
                raise AllocationError(
                    f"Objective.{name}: year {y} is outside the planning years "
                    f"{yrs[0]}–{yrs[-1]}: expected a planning year"
                )
    return tuple(sorted(set(objective.deadlines) | set(objective.max_new_per_year)))


def evaluate_objective(
    plan: FloatArray,
    response: ResponseCurves,
    objective: Objective,
    facts: CountyFacts,
    years: Sequence[int],
) -> float:
    """The optimiser's objective for any plan, computed exactly.

    Designations are decided at the designation years (deadlines and quota years) in order: a
    county not yet designated whose index has reached the threshold becomes designated, highest
    index first, up to the year's quota. Already designated counties count at every deadline.
    The value is ``sum_d w_d * designated_by_d + rd_weight * extra R&D at the last year / 1e8 +
    index_weight * sum_c index gain at the last year``.

    Parameters
    ----------
    plan : (n_years, n_counties, n_instruments) float array, CNY
    response : ResponseCurves
    objective : Objective
    facts : CountyFacts
    years : sequence of int, length n_years

    Returns
    -------
    float
    """
    plan = np.asarray(plan, dtype=np.float64)
    yrs = tuple(years)
    if plan.shape != (len(yrs), facts.n, len(INSTRUMENTS)):
        raise AllocationError(
            f"plan: shape {plan.shape}: expected ({len(yrs)}, {facts.n}, {len(INSTRUMENTS)})"
        )
    index = project_index(plan, response)
    designated = facts.designated.copy()
    value = 0.0
    for year in designation_years(objective, yrs):
        t = yrs.index(year)
        ready = np.flatnonzero(
            ~designated & (index[:, t] >= objective.entry_threshold - INDEX_TOLERANCE)
        )
        quota = objective.max_new_per_year.get(year)
        if quota is not None and ready.size > quota:
            ready = ready[np.argsort(-index[ready, t], kind="stable")[: int(quota)]]
        designated[ready] = True
        value += objective.deadlines.get(year, 0.0) * float(designated.sum())
    lag = response.lag_years
    if len(yrs) > lag and (objective.rd_weight or objective.index_weight):
        cum = plan[: len(yrs) - lag].sum(axis=0)
        value += objective.rd_weight * float(gains(cum, response, "rd").sum()) / CNY_PER_YI
        value += objective.index_weight * float(gains(cum, response, "index").sum())
    return value
