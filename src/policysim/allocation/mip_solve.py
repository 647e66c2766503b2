"""The exact MIP of :class:`policysim.allocation.solve.ClosedLoopPlanner` (Pyomo + appsi HiGHS):
the persistent solver's settings, reading a plan and the budget duals, and naming the rules in
conflict when the model is infeasible.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.appsi.base import TerminationCondition
from pyomo.contrib.appsi.solvers import Highs

from policysim.allocation.model import (
    MONEY_UNIT,
    ModelData,
    build_allocation_model,
    family_of,
    rule_constraints_by_year,
)
from policysim.allocation.planner_state import (
    _State,
    _status_name,
    apply_state,
)
from policysim.allocation.types import (
    INSTRUMENTS,
    FloatArray,
    fmt_yi,
)
from policysim.errors import AllocationError

#: The allocation solver's one logger (its messages keep their name).
logger = logging.getLogger("policysim.allocation.solve")


def persistent_highs() -> Highs:
    """The appsi HiGHS solver of the persistent MIP: quiet, warm-started, and told that only
    mutable parameters, bounds and fixed values change between solves."""
    solver = Highs()
    solver.config.load_solution = False
    solver.config.stream_solver = False
    solver.config.log_level = logging.DEBUG
    solver.config.warmstart = True
    # Fixing past funds must only change bounds in HiGHS, not rebuild the rows using them;
    # the structure never changes after the build, only mutable parameters, bounds and
    # fixed values do.
    upd = solver.update_config
    upd.treat_fixed_vars_as_params = False
    upd.check_for_new_or_removed_constraints = False
    upd.check_for_new_or_removed_vars = False
    upd.check_for_new_or_removed_params = False
    upd.check_for_new_objective = False
    upd.update_constraints = False
    upd.update_named_expressions = False
    upd.update_objective = False
    solver.highs_options = {"random_seed": 0, "output_flag": False}
    return solver


def x_index(
    m: Any, years: tuple[int, ...], n_counties: int
) -> dict[int, list[tuple[int, int, Any]]]:
    """The fund variables of model ``m`` by year, as (county, instrument index, variable)."""
    return {
        t: [
            (c, k, m.x[c, INSTRUMENTS[k], t])
            for c in range(n_counties)
            for k in range(len(INSTRUMENTS))
        ]
        for t in years
    }


def read_plan(
    x_by_year: dict[int, list[tuple[int, int, Any]]],
    years: tuple[int, ...],
    i0: int,
    n_counties: int,
    budget: FloatArray,
) -> FloatArray:
    """The solved plan of years ``years[i0:]``, CNY (``budget``: the yearly budget, CNY)."""
    plan = np.zeros((len(years) - i0, n_counties, len(INSTRUMENTS)))
    for i, t in enumerate(years[i0:]):
        for c, k, var in x_by_year[t]:
            plan[i, c, k] = var.value
    low = float(plan.min()) if plan.size else 0.0
    if low < -1e-6 * max(float(budget.max() / MONEY_UNIT), 1.0):
        raise AllocationError(f"solver returned a negative amount {low * MONEY_UNIT:.6g} CNY")
    out: FloatArray = np.maximum(plan, 0.0) * MONEY_UNIT
    return out


def lp_duals(
    solver: Highs, m: Any, remaining: tuple[int, ...], value: float
) -> tuple[float, dict[str, FloatArray] | None]:
    """Fix designations, solve the LP, return its objective and the budget duals per CNY."""
    ys = list(m.designated_by.values())
    for var in ys:
        var.fix(float(round(var.value)))
        var.domain = pyo.Reals
    res = solver.solve(m)
    if res.termination_condition != TerminationCondition.optimal:
        logger.warning(
            "LP with fixed designations: %s; no duals", _status_name(res.termination_condition)
        )
        return value, None
    solver.load_vars()
    cons = [m.budget_balance[t] for t in remaining]
    dual = solver.get_duals(cons)
    budget_dual = np.array([dual[c] for c in cons]) / MONEY_UNIT
    lp_value = float(res.best_feasible_objective)
    return max(value, lp_value), {"budget": budget_dual}


def diagnose_infeasible(
    data: ModelData, state: _State, year: int, years: tuple[int, ...], n_counties: int
) -> str:
    """Name the rule families whose relaxation removes the infeasibility (an elastic copy of
    the model in state ``state``, solved once)."""
    elastic = dataclasses.replace(data, elastic=True)
    em = build_allocation_model(elastic)
    apply_state(
        em,
        state,
        data=data,
        years=years,
        x_by_year=x_index(em, years, n_counties),
        cons_by_year=rule_constraints_by_year(em),
    )
    solver = Highs()
    solver.config.load_solution = False
    res = solver.solve(em)
    head = f"{year}: no allocation meets every rule together"
    if res.termination_condition != TerminationCondition.optimal:
        return head + " (the relaxed model failed too; check the inputs)"
    solver.load_vars()
    found: dict[str, dict[int, float]] = {}
    for key, var in em.slack.items():
        val = var.value or 0.0
        if val > 1e-7:
            fam = family_of(str(key[0]))
            yr = int(key[-2] if key[-1] in ("+", "-") else key[-1])
            found.setdefault(fam, {}).setdefault(yr, 0.0)
            found[fam][yr] += val * MONEY_UNIT
    if not found:
        return head + " (the conflict involves the designation constraints)"
    parts = []
    for fam, by_year in found.items():
        yrs = sorted(by_year)
        total = sum(by_year.values())
        parts.append(
            f"{fam} (years {yrs[0]}–{yrs[-1]}, short by {fmt_yi(total)} in total)"
            if len(yrs) > 1
            else f"{fam} ({yrs[0]}, short by {fmt_yi(total)})"
        )
    return head + "; the conflicting rules are: " + ", ".join(parts)
