"""The Pyomo allocation model (MO-book style: data in, ``pyo.ConcreteModel`` out).

Decision: ``x[c, k, t]`` ≥ 0, funds of instrument k to county c in year t, in model money units
of 1e6 CNY (:data:`MONEY_UNIT`) for conditioning.

Index of county c at a target year a (a deadline, a quota year or the last year)::

    index[c, a] = base[c, a] + sum_k g_ck(X[c, k, a - lag]),  X = cumulative funds

with ``g_ck`` concave piecewise linear. Because the model only ever needs a large index
(designation constraints of the form ``index ≥ …`` and a maximised objective), the concave curve is
written with segment variables ``u[c, k, a, s]`` in ``[0, width_s]``, ``sum_s u ≤ X``, gain
``sum_s slope_s u_s``; any feasible ``u`` under-states ``g`` and the optimum fills the segments in
order, so no binaries are needed for the curves. Gain variables exist only at target years
(cumulative formulation), and designation binaries ``designated_by[c, d]`` only at deadlines and
quota years.

Designation uses the tight big-M ``gain[c, d] ≥ need[c, d] · designated_by[c, d]`` with
``need = max(0, threshold − base)``, the exact gain still missing; counties that cannot reach the
threshold even with every yuan they may receive get the binary fixed to 0 by the planner, and
designated counties get it fixed to 1 with ``need = 0``.

Every allocation rule is one constraint family added by an ``_add_*_constraints(m, data)``
function, except that the floor, the ceiling, the absorptive cap and floor-only funding of
designated counties are bounds of the ``county_total`` variables (fewer rows for HiGHS). With ``data.elastic`` each rule constraint gets a non-negative slack and the objective
becomes the total slack: the planner uses that copy to name the rules behind an infeasibility.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from policysim.allocation.types import (
    INSTRUMENTS,
    POVERTY_INSTRUMENT,
    BoolArray,
    FloatArray,
)

__all__ = [
    "MONEY_UNIT",
    "RULE_FAMILIES",
    "ModelData",
    "build_allocation_model",
    "gain_expression",
]

logger = logging.getLogger(__name__)

MONEY_UNIT = 1e6
"""CNY per model money unit (scaling for numerical conditioning)."""

RULE_FAMILIES: tuple[str, ...] = (
    "budget",
    "floor",
    "ceiling",
    "absorptive",
    "designated_floor_only",
    "poverty_set_aside",
    "instrument_min",
    "instrument_max",
    "max_change_up",
    "max_change_down",
)
"""Constraint families that encode :class:`~policysim.allocation.types.AllocationRules`; each is
indexed with the year last."""


@dataclass(frozen=True)
class ModelData:
    """Everything the model needs, in model units (money in 1e6 CNY).

    Attributes
    ----------
    years : tuple of int, length n_years
    budget : (n_years,) float array, 1e6 CNY
    poverty : (n_counties,) bool array
    floor : float, 1e6 CNY per county per year
    ceiling : float or None, 1e6 CNY per county per year
    absorptive_cap : (n_counties,) float array or None, 1e6 CNY per year
    designated_cap_big : float, 1e6 CNY
        Right-hand side of the floor-only constraint for non-designated counties (non-binding).
    poverty_share_min : float
    share_min, share_max : mapping instrument -> share of the year's budget
    max_change : float or None, fraction per year
    designated_floor_only, spend_all : bool
    widths : (n_segments,) float array, 1e6 CNY
        Breakpoint spacing.
    slope_index : (n_counties, n_instruments, n_segments) float array
        Index points per 1e6 CNY.
    slope_rd : (n_counties, n_instruments, n_segments) float array
        1e8 CNY/yr of extra R&D per 1e6 CNY.
    lag : int
    designation_years : tuple of int
        Deadlines and quota years.
    target_years : tuple of int
        Years with gain variables: designation years and the last year whose funding year
        ``a - lag`` is a planning year.
    deadlines : mapping year -> weight
    quotas : mapping year -> int
    rd_weight, index_weight : float
    elastic : bool
        Add slacks to every rule constraint and minimise their sum.
    """

    years: tuple[int, ...]
    budget: FloatArray
    poverty: BoolArray
    floor: float
    ceiling: float | None
    absorptive_cap: FloatArray | None
    designated_cap_big: float
    poverty_share_min: float
    share_min: Mapping[str, float]
    share_max: Mapping[str, float]
    max_change: float | None
    designated_floor_only: bool
    spend_all: bool
    widths: FloatArray
    slope_index: FloatArray
    slope_rd: FloatArray
    lag: int
    designation_years: tuple[int, ...]
    target_years: tuple[int, ...]
    deadlines: Mapping[int, float]
    quotas: Mapping[int, int]
    rd_weight: float
    index_weight: float
    elastic: bool = False

    @property
    def n_counties(self) -> int:
        """Number of counties."""
        return int(self.poverty.size)


def _relax(m: Any, key: tuple[Any, ...]) -> Any:
    """Slack term of a rule constraint: 0 normally, a non-negative variable in elastic mode."""
    if not m.elastic:
        return 0.0
    return m.slack[key]


def _total(m: Any, c: int, t: int) -> Any:
    return m.county_total[c, t]


def _add_county_total_constraints(m: Any, data: ModelData) -> None:
    """Define each county's yearly total; its bounds carry the floor and the caps."""

    def rule(m: Any, c: int, t: int) -> Any:
        return m.county_total[c, t] == pyo.quicksum(m.x[c, k, t] for k in m.INSTRUMENTS)

    m.county_total_definition = pyo.Constraint(m.COUNTIES, m.YEARS, rule=rule)


def gain_expression(m: Any, c: int, a: int, slope: Any) -> Any:
    """Gain of county c at target year a from all instruments, using the Param ``slope``."""
    return pyo.quicksum(slope[c, k, s] * m.u[c, k, a, s] for k in m.INSTRUMENTS for s in m.SEGMENTS)


def _add_budget_constraints(m: Any, data: ModelData) -> None:
    def rule(m: Any, t: int) -> Any:
        spent = pyo.quicksum(m.x[c, k, t] for c in m.COUNTIES for k in m.INSTRUMENTS)
        if data.spend_all:
            return (
                spent + _relax(m, ("budget", t, "+")) - _relax(m, ("budget", t, "-"))
                == m.budget_rhs[t]
            )
        return spent - _relax(m, ("budget", t, "+")) <= m.budget_rhs[t]

    m.budget_balance = pyo.Constraint(m.YEARS, rule=rule)


def _add_floor_constraints(m: Any, data: ModelData) -> None:
    if data.floor <= 0 or not data.elastic:
        return  # a bound of county_total unless elastic

    def rule(m: Any, c: int, t: int) -> Any:
        return _total(m, c, t) + _relax(m, ("floor", c, t)) >= m.total_lb[t]

    m.floor = pyo.Constraint(m.COUNTIES, m.YEARS, rule=rule)


def _add_ceiling_constraints(m: Any, data: ModelData) -> None:
    if data.ceiling is None or not data.elastic:
        return  # a bound of county_total unless elastic
    ceiling = data.ceiling

    def rule(m: Any, c: int, t: int) -> Any:
        return _total(m, c, t) - _relax(m, ("ceiling", c, t)) <= ceiling

    m.ceiling = pyo.Constraint(m.COUNTIES, m.YEARS, rule=rule)


def _add_absorptive_constraints(m: Any, data: ModelData) -> None:
    if data.absorptive_cap is None or not data.elastic:
        return  # a bound of county_total unless elastic
    cap = data.absorptive_cap

    def rule(m: Any, c: int, t: int) -> Any:
        return _total(m, c, t) - _relax(m, ("absorptive", c, t)) <= float(cap[c])

    m.absorptive = pyo.Constraint(m.COUNTIES, m.YEARS, rule=rule)


def _add_designated_floor_only_constraints(m: Any, data: ModelData) -> None:
    if not data.designated_floor_only or not data.elastic:
        return  # a bound of county_total unless elastic

    def rule(m: Any, c: int, t: int) -> Any:
        return _total(m, c, t) - _relax(m, ("designated_floor_only", c, t)) <= m.designated_cap[c]

    m.designated_floor_only = pyo.Constraint(m.COUNTIES, m.YEARS, rule=rule)


def _add_poverty_constraints(m: Any, data: ModelData) -> None:
    if data.poverty_share_min <= 0:
        return
    poor = [c for c in m.COUNTIES if data.poverty[c]]

    def rule(m: Any, t: int) -> Any:
        got = pyo.quicksum(m.x[c, k, t] for c in poor for k in m.INSTRUMENTS)
        return got + _relax(m, ("poverty_set_aside", t)) >= m.poverty_rhs[t]

    m.poverty_set_aside = pyo.Constraint(m.YEARS, rule=rule)


def _add_instrument_constraints(m: Any, data: ModelData) -> None:
    lo = [k for k in INSTRUMENTS if data.share_min.get(k, 0.0) > 0]
    hi = [k for k in INSTRUMENTS if data.share_max.get(k, 1.0) < 1]
    if lo:

        def rule_min(m: Any, k: str, t: int) -> Any:
            got = pyo.quicksum(m.x[c, k, t] for c in m.COUNTIES)
            return got + _relax(m, ("instrument_min", k, t)) >= m.instrument_min_rhs[k, t]

        m.instrument_min = pyo.Constraint(lo, m.YEARS, rule=rule_min)
    if hi:

        def rule_max(m: Any, k: str, t: int) -> Any:
            got = pyo.quicksum(m.x[c, k, t] for c in m.COUNTIES)
            return got - _relax(m, ("instrument_max", k, t)) <= m.instrument_max_rhs[k, t]

        m.instrument_max = pyo.Constraint(hi, m.YEARS, rule=rule_max)


def _add_max_change_constraints(m: Any, data: ModelData) -> None:
    if data.max_change is None or len(data.years) < 2:
        return
    p = data.max_change
    later = data.years[1:]

    def rule_up(m: Any, c: int, t: int) -> Any:
        prev = _total(m, c, t - 1)
        return (
            _total(m, c, t) - (1 + p) * prev - _relax(m, ("max_change_up", c, t))
            <= m.change_allowance[t]
        )

    def rule_down(m: Any, c: int, t: int) -> Any:
        prev = _total(m, c, t - 1)
        return (1 - p) * prev - _total(m, c, t) - _relax(
            m, ("max_change_down", c, t)
        ) <= m.change_allowance[t]

    m.max_change_up = pyo.Constraint(m.COUNTIES, later, rule=rule_up)
    m.max_change_down = pyo.Constraint(m.COUNTIES, later, rule=rule_down)


def _add_response_constraints(m: Any, data: ModelData) -> None:
    """Segment variables of target year a fill at most the cumulative funds up to a - lag."""

    def rule(m: Any, c: int, k: str, a: int) -> Any:
        funded = [t for t in data.years if t <= a - data.lag]
        return pyo.quicksum(m.u[c, k, a, s] for s in m.SEGMENTS) <= pyo.quicksum(
            m.x[c, k, t] for t in funded
        )

    m.cumulative_funds = pyo.Constraint(m.COUNTIES, m.INSTRUMENTS, m.TARGET_YEARS, rule=rule)


def _add_designation_constraints(m: Any, data: ModelData) -> None:
    """Threshold (tight big-M), persistence of designation, and batch quotas."""
    targets = set(data.target_years)

    def rule_threshold(m: Any, c: int, d: int) -> Any:
        gain = gain_expression(m, c, d, m.slope_index) if d in targets else 0.0
        return gain - m.need[c, d] * m.designated_by[c, d] >= 0

    m.threshold = pyo.Constraint(m.COUNTIES, m.DESIGNATION_YEARS, rule=rule_threshold)

    dyears = list(data.designation_years)
    pairs = list(itertools.pairwise(dyears))
    if pairs:

        def rule_keep(m: Any, c: int, d0: int, d1: int) -> Any:
            return m.designated_by[c, d1] >= m.designated_by[c, d0]

        m.stays_designated = pyo.Constraint(m.COUNTIES, pairs, rule=rule_keep)

    quota_years = [d for d in dyears if d in data.quotas]
    if quota_years:

        def rule_quota(m: Any, q: int) -> Any:
            i = dyears.index(q)
            now = pyo.quicksum(m.designated_by[c, q] for c in m.COUNTIES)
            if i == 0:
                before = m.designated_before
            else:
                before = pyo.quicksum(m.designated_by[c, dyears[i - 1]] for c in m.COUNTIES)
            return now - before <= m.quota_rhs[q]

        m.quota = pyo.Constraint(quota_years, rule=rule_quota)


def _add_objective(m: Any, data: ModelData) -> None:
    if data.elastic:
        m.total_slack = pyo.Objective(expr=pyo.quicksum(m.slack.values()), sense=pyo.minimize)
        return
    terms = [
        w * pyo.quicksum(m.designated_by[c, d] for c in m.COUNTIES)
        for d, w in data.deadlines.items()
        if w
    ]
    last = data.years[-1]
    if last in data.target_years:
        if data.rd_weight:
            terms.append(
                data.rd_weight
                * pyo.quicksum(gain_expression(m, c, last, m.slope_rd) for c in m.COUNTIES)
            )
        if data.index_weight:
            terms.append(
                data.index_weight
                * pyo.quicksum(gain_expression(m, c, last, m.slope_index) for c in m.COUNTIES)
            )
    m.value = pyo.Objective(expr=pyo.quicksum(terms) if terms else 0.0, sense=pyo.maximize)


def build_allocation_model(data: ModelData) -> pyo.ConcreteModel:
    """Build the allocation MIP from data.

    Mutable parameters (changed by the planner between re-solves): ``need[c, d]`` (index points
    still missing), ``designated_before`` (count of designated counties before the first
    designation year), ``total_lb[t]``, ``total_ub[c, t]`` (bounds of the county total: floor;
    ceiling, absorptive cap and, for designated counties under floor-only funding, the floor),
    ``designated_cap[c]`` (the floor-only cap as a constraint in the elastic model), the
    right-hand sides ``budget_rhs``, ``poverty_rhs``, ``instrument_min_rhs``,
    ``instrument_max_rhs``, ``change_allowance``, ``quota_rhs``, and ``width[s]``, ``slope_index`` and
    ``slope_rd``.

    Parameters
    ----------
    data : ModelData

    Returns
    -------
    pyo.ConcreteModel
    """
    m = pyo.ConcreteModel(name="policysim_allocation")
    _add_sets(m, data)
    _add_parameters(m, data)
    _add_variables(m, data)
    _add_county_total_constraints(m, data)
    _add_budget_constraints(m, data)
    _add_floor_constraints(m, data)
    _add_ceiling_constraints(m, data)
    _add_absorptive_constraints(m, data)
    _add_designated_floor_only_constraints(m, data)
    _add_poverty_constraints(m, data)
    _add_instrument_constraints(m, data)
    _add_max_change_constraints(m, data)
    _add_response_constraints(m, data)
    _add_designation_constraints(m, data)
    _add_objective(m, data)
    logger.debug(
        "allocation model: %d counties, %d years, %d target years, %d designation years",
        data.n_counties,
        len(data.years),
        len(data.target_years),
        len(data.designation_years),
    )
    return m


def _add_sets(m: Any, data: ModelData) -> None:
    """Counties, instruments, years, response segments, designation and target years."""
    n_seg = int(data.widths.size)
    m.elastic = data.elastic
    m.COUNTIES = pyo.Set(initialize=range(data.n_counties), ordered=True)
    m.INSTRUMENTS = pyo.Set(initialize=INSTRUMENTS, ordered=True)
    m.YEARS = pyo.Set(initialize=data.years, ordered=True)
    m.SEGMENTS = pyo.Set(initialize=range(n_seg), ordered=True)
    m.DESIGNATION_YEARS = pyo.Set(initialize=data.designation_years, ordered=True)
    m.TARGET_YEARS = pyo.Set(initialize=data.target_years, ordered=True)


def _add_parameters(m: Any, data: ModelData) -> None:
    """The mutable parameters the planner changes between re-solves (see
    :func:`build_allocation_model`)."""
    n_seg = int(data.widths.size)
    budget = dict(zip(data.years, data.budget.tolist(), strict=True))
    m.width = pyo.Param(m.SEGMENTS, initialize=dict(enumerate(data.widths.tolist())), mutable=True)
    k_idx = {k: i for i, k in enumerate(INSTRUMENTS)}

    def slope_init(arr: FloatArray) -> dict[tuple[int, str, int], float]:
        return {
            (c, k, s): float(arr[c, k_idx[k], s])
            for c in range(data.n_counties)
            for k in INSTRUMENTS
            for s in range(n_seg)
        }

    m.slope_index = pyo.Param(
        m.COUNTIES,
        m.INSTRUMENTS,
        m.SEGMENTS,
        initialize=slope_init(data.slope_index),
        mutable=True,
    )
    m.slope_rd = pyo.Param(
        m.COUNTIES, m.INSTRUMENTS, m.SEGMENTS, initialize=slope_init(data.slope_rd), mutable=True
    )
    m.need = pyo.Param(m.COUNTIES, m.DESIGNATION_YEARS, initialize=0.0, mutable=True)
    m.designated_before = pyo.Param(initialize=0.0, mutable=True)
    m.designated_cap = pyo.Param(m.COUNTIES, initialize=data.designated_cap_big, mutable=True)
    # Right-hand sides of the rules, mutable so that the closed-loop planner can release the
    # rules of past years (whose funds are fixed) without removing constraints from HiGHS.
    m.budget_rhs = pyo.Param(m.YEARS, initialize=budget, mutable=True)
    m.poverty_rhs = pyo.Param(
        m.YEARS, initialize={t: data.poverty_share_min * b for t, b in budget.items()}, mutable=True
    )
    m.instrument_min_rhs = pyo.Param(
        m.INSTRUMENTS,
        m.YEARS,
        initialize={
            (k, t): data.share_min.get(k, 0.0) * b for k in INSTRUMENTS for t, b in budget.items()
        },
        mutable=True,
    )
    m.instrument_max_rhs = pyo.Param(
        m.INSTRUMENTS,
        m.YEARS,
        initialize={
            (k, t): data.share_max.get(k, 1.0) * b for k in INSTRUMENTS for t, b in budget.items()
        },
        mutable=True,
    )
    m.total_lb = pyo.Param(m.YEARS, initialize=data.floor, mutable=True)
    m.change_allowance = pyo.Param(m.YEARS, initialize=data.floor, mutable=True)
    m.quota_rhs = pyo.Param(
        m.DESIGNATION_YEARS,
        initialize={d: float(data.quotas.get(d, data.n_counties)) for d in data.designation_years},
        mutable=True,
    )
    static_cap = np.full(data.n_counties, data.designated_cap_big)
    if data.ceiling is not None:
        static_cap = np.minimum(static_cap, data.ceiling)
    if data.absorptive_cap is not None:
        static_cap = np.minimum(static_cap, data.absorptive_cap)
    m.total_ub = pyo.Param(
        m.COUNTIES,
        m.YEARS,
        initialize={
            (c, t): float(static_cap[c]) for c in range(data.n_counties) for t in data.years
        },
        mutable=True,
    )


def _add_variables(m: Any, data: ModelData) -> None:
    """Funds x[c, k, t], county totals, response segments u, designations and (elastic model)
    slacks."""

    def x_bounds(m: Any, c: int, k: str, t: int) -> tuple[float, float | None]:
        if k == POVERTY_INSTRUMENT and not data.poverty[c]:
            return (0.0, 0.0)
        return (0.0, None)

    m.x = pyo.Var(m.COUNTIES, m.INSTRUMENTS, m.YEARS, domain=pyo.NonNegativeReals, bounds=x_bounds)

    def total_bounds(m: Any, c: int, t: int) -> tuple[float, Any]:
        if data.elastic:
            return (0.0, None)
        return (m.total_lb[t], m.total_ub[c, t])

    m.county_total = pyo.Var(m.COUNTIES, m.YEARS, domain=pyo.NonNegativeReals, bounds=total_bounds)

    def u_bounds(m: Any, c: int, k: str, a: int, s: int) -> tuple[float, Any]:
        return (0.0, m.width[s])

    m.u = pyo.Var(
        m.COUNTIES,
        m.INSTRUMENTS,
        m.TARGET_YEARS,
        m.SEGMENTS,
        domain=pyo.NonNegativeReals,
        bounds=u_bounds,
    )
    m.designated_by = pyo.Var(m.COUNTIES, m.DESIGNATION_YEARS, domain=pyo.Binary)
    if data.elastic:
        m.slack = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeReals)


def rule_constraints_by_year(m: Any) -> dict[int, list[Any]]:
    """Rule constraints (and quotas) grouped by their year, for closed-loop (de)activation."""
    out: dict[int, list[Any]] = {}
    names = [*RULE_FAMILIES, "quota"]
    names[0] = "budget_balance"
    for name in names:
        comp = m.component(name)
        if comp is None:
            continue
        for idx, con in comp.items():
            year = idx[-1] if isinstance(idx, tuple) else idx
            out.setdefault(int(year), []).append(con)
    return out


def family_of(name: str) -> str:
    """Policy name of a constraint family (``budget_balance`` is the budget rule)."""
    return "budget" if name == "budget_balance" else name
