"""The closed-loop state of a re-solve of :class:`policysim.allocation.solve.ClosedLoopPlanner`:
the model data of the inputs, the state derived from the funds spent and the counties'
designations so far, and its application to the Pyomo model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo

from policysim.allocation.evaluate import INDEX_TOLERANCE, designation_years, gains
from policysim.allocation.model import (
    MONEY_UNIT,
    ModelData,
)
from policysim.allocation.types import (
    CNY_PER_YI,
    INSTRUMENTS,
    POVERTY_INSTRUMENT,
    AllocationRules,
    CountyFacts,
    FloatArray,
    Objective,
    ResponseCurves,
)
from policysim.errors import AllocationError


def _check_inputs(facts: CountyFacts, response: ResponseCurves, n_years: int) -> None:
    if response.index_gain.shape[0] != facts.n:
        raise AllocationError(
            f"ResponseCurves.index_gain: {response.index_gain.shape[0]} counties: expected "
            f"{facts.n} as in CountyFacts"
        )
    if response.baseline_index.shape != (facts.n, n_years):
        raise AllocationError(
            f"ResponseCurves.baseline_index: shape {response.baseline_index.shape}: expected "
            f"({facts.n}, {n_years}), one column per planning year"
        )


def _model_data(
    years: tuple[int, ...],
    budget: FloatArray,
    facts: CountyFacts,
    rules: AllocationRules,
    response: ResponseCurves,
    objective: Objective,
    *,
    elastic: bool = False,
) -> ModelData:
    dyears = designation_years(objective, years)
    lag = response.lag_years
    wanted = set(dyears)
    if objective.rd_weight or objective.index_weight:
        wanted.add(years[-1])
    targets = tuple(sorted(a for a in wanted if a - lag >= years[0]))
    unit = MONEY_UNIT
    return ModelData(
        years=years,
        budget=budget / unit,
        poverty=facts.poverty.copy(),
        floor=rules.floor_cny / unit,
        ceiling=None if rules.ceiling_cny is None else rules.ceiling_cny / unit,
        absorptive_cap=(
            None
            if rules.absorptive_multiple is None
            else rules.absorptive_multiple * facts.fiscal_st_spending_cny / unit
        ),
        designated_cap_big=float(budget.max() / unit) if budget.size else 0.0,
        poverty_share_min=rules.poverty_share_min,
        share_min=dict(rules.instrument_share_min),
        share_max=dict(rules.instrument_share_max),
        max_change=None if rules.max_change_pct is None else rules.max_change_pct / 100.0,
        designated_floor_only=rules.designated_floor_only,
        spend_all=rules.spend_all,
        widths=np.diff(response.breakpoints_cny) / unit,
        slope_index=response.slopes("index") * unit,
        slope_rd=response.slopes("rd") * unit / CNY_PER_YI,
        lag=lag,
        designation_years=dyears,
        target_years=targets,
        deadlines=dict(objective.deadlines),
        quotas={int(k): int(v) for k, v in objective.max_new_per_year.items()},
        rd_weight=objective.rd_weight,
        index_weight=objective.index_weight,
        elastic=elastic,
    )


def _status_name(tc: Any) -> str:
    return str(getattr(tc, "name", tc))


class _State:
    """Closed-loop state applied to a model before a solve."""

    def __init__(
        self,
        i0: int,
        spent_model: FloatArray,
        need: FloatArray,
        y_fixed: dict[tuple[int, int], float],
        designated: np.ndarray,
        designated_cap: FloatArray,
        county_cap: FloatArray,
    ) -> None:
        self.i0 = i0
        self.spent_model = spent_model
        self.need = need
        self.y_fixed = y_fixed
        self.designated = designated
        self.designated_cap = designated_cap
        self.county_cap = county_cap


def closed_loop_state(
    year: int,
    facts: CountyFacts,
    spent_cny: FloatArray,
    calibrate: bool,
    *,
    years: tuple[int, ...],
    codes: tuple[str, ...],
    budget: FloatArray,
    data: ModelData,
    rules: AllocationRules,
    response: ResponseCurves,
    objective: Objective,
) -> _State:
    """Check the closed-loop inputs of a re-solve from ``year`` and derive the state to apply:
    past funds in model units, the index each county still needs by each designation year,
    the designations fixed already and the caps of this year's funds."""
    if year not in years:
        raise AllocationError(f"year {year}: expected a planning year {years[0]}–{years[-1]}")
    if facts.codes != codes:
        raise AllocationError(
            "CountyFacts.codes: differ from the planner's counties: expected the same "
            "counties in the same order"
        )
    i0 = years.index(year)
    spent = np.asarray(spent_cny, dtype=np.float64)
    shape = (i0, facts.n, len(INSTRUMENTS))
    if spent.shape != shape:
        raise AllocationError(
            f"spent_cny: shape {spent.shape}: expected {shape} (years {years[0]}.."
            f"{year - 1} × counties × instruments)"
        )
    if not np.all(np.isfinite(spent)) or np.any(spent < 0):
        raise AllocationError("spent_cny: negative or non-finite amounts: expected CNY >= 0")
    lag = response.lag_years
    # Index calibration: the model's index at `year` must equal the observed index.
    offset = np.zeros(facts.n)
    if calibrate:
        n_funded = max(0, min(i0, i0 - lag + 1))
        past_gain = gains(spent[:n_funded].sum(axis=0), response).sum(axis=1)
        offset = facts.index - response.baseline_index[:, i0] - past_gain
    caps = rules.county_caps_cny(facts)
    dyears = data.designation_years
    need = np.zeros((facts.n, len(dyears)))
    y_fixed: dict[tuple[int, int], float] = {}
    for j, d in enumerate(dyears):
        t = years.index(d)
        missing = np.maximum(
            0.0, objective.entry_threshold - response.baseline_index[:, t] - offset
        )
        reach = _max_gain(
            i0, t - lag, spent, facts, caps, budget=budget, rules=rules, response=response
        )
        for c in range(facts.n):
            if facts.designated[c] or d < year:
                y_fixed[c, d] = float(facts.designated[c])
            elif missing[c] > reach[c] + INDEX_TOLERANCE:
                y_fixed[c, d] = 0.0
            else:
                need[c, j] = missing[c]
    if rules.designated_floor_only:
        dcap = np.where(facts.designated, rules.floor_cny / MONEY_UNIT, data.designated_cap_big)
    else:
        dcap = np.full(facts.n, data.designated_cap_big)
    county_cap = np.minimum(caps / MONEY_UNIT, data.designated_cap_big)
    return _State(i0, spent / MONEY_UNIT, need, y_fixed, facts.designated.copy(), dcap, county_cap)


def _max_gain(
    i0: int,
    i_last: int,
    spent: FloatArray,
    facts: CountyFacts,
    caps: FloatArray,
    *,
    budget: FloatArray,
    rules: AllocationRules,
    response: ResponseCurves,
) -> FloatArray:
    """Largest index gain each county could have from funds up to year index i_last."""
    if i_last < 0:
        return np.zeros(facts.n)
    cum = spent[: min(i0, i_last + 1)].sum(axis=0)
    for i in range(i0, i_last + 1):
        b = float(budget[i])
        per_k = np.array([rules.share_max(k) * b for k in INSTRUMENTS])
        add = np.minimum(np.minimum(caps, b)[:, None], per_k[None, :])
        add[~facts.poverty, INSTRUMENTS.index(POVERTY_INSTRUMENT)] = 0.0
        cum = cum + add
    out: FloatArray = gains(cum, response).sum(axis=1)
    return out


def apply_state(
    m: Any,
    state: _State,
    *,
    data: ModelData,
    years: tuple[int, ...],
    x_by_year: dict[int, list[tuple[int, int, Any]]],
    cons_by_year: dict[int, list[Any]],
) -> None:
    """Fix past funds, release the rules of past years, set the designation state of the Pyomo
    model ``m`` (``x_by_year``: its fund variables by year; ``cons_by_year``: its rule
    constraints by year, used by the elastic copy only).

    In the persistent model the rules of past years are released through their mutable
    right-hand sides (removing constraints from HiGHS is slow); in the elastic diagnostic copy
    they are deactivated.
    """
    spent_total = state.spent_model.sum(axis=(1, 2))
    big = 10.0 * (float(data.budget.sum()) + float(state.spent_model.sum()) + 1.0)
    for i, t in enumerate(years):
        past = i < state.i0
        for c, k, var in x_by_year[t]:
            if past:
                var.fix(float(state.spent_model[i, c, k]))
            elif var.fixed:
                var.unfix()
        if m.elastic:
            for con in cons_by_year.get(t, []):
                if past:
                    con.deactivate()
            continue
        b = float(data.budget[i])
        m.budget_rhs[t] = float(spent_total[i]) if past else b
        m.poverty_rhs[t] = 0.0 if past else data.poverty_share_min * b
        for name in INSTRUMENTS:
            lo = data.share_min.get(name, 0.0) * b
            hi = data.share_max.get(name, 1.0) * b
            m.instrument_min_rhs[name, t] = 0.0 if past else lo
            m.instrument_max_rhs[name, t] = big if past else hi
        m.total_lb[t] = 0.0 if past else data.floor
        m.change_allowance[t] = big if past else data.floor
        for c in range(state.county_cap.size):
            m.total_ub[c, t] = big if past else float(state.county_cap[c])
    dyears = data.designation_years
    for d in dyears:
        if not m.elastic:
            m.quota_rhs[d] = (
                float(data.n_counties)
                if d < years[state.i0]
                else float(data.quotas.get(d, data.n_counties))
            )
    for j, d in enumerate(dyears):
        for c in range(state.need.shape[0]):
            var = m.designated_by[c, d]
            var.domain = pyo.Binary
            # A fixed designation needs no index (need 0); a free one needs what is missing.
            fixed = (c, d) in state.y_fixed
            m.need[c, d] = 0.0 if fixed else float(state.need[c, j])
            if fixed:
                var.fix(state.y_fixed[c, d])
            elif var.fixed:
                var.unfix()
    m.designated_before = float(state.designated.sum())
    for c in range(state.designated_cap.size):
        m.designated_cap[c] = float(state.designated_cap[c])


def _gap(value: float, bound: float | None) -> float:
    if bound is None:
        return float("inf")
    diff = max(0.0, float(bound) - value)
    return 0.0 if diff <= 1e-9 else diff / max(abs(value), 1e-9)
