"""Open-loop and closed-loop optimisation with HiGHS.

:class:`ClosedLoopPlanner` builds the model once; each :meth:`ClosedLoopPlanner.solve` fixes the
funds already spent, switches off the rules of past years, updates the designation state and the
index still missing, and re-solves with the same HiGHS instance. Two modes:

- ``mode="lp"`` (default for the closed loop): the designation binaries are relaxed to [0, 1] and
  read as designation probabilities; the LP is held in a persistent ``highspy`` instance
  (:mod:`policysim.allocation.lp`), updated with array operations and re-solved by the dual
  simplex from the previous optimal basis. About 0.05–0.1 s per re-solve on the real Jiangxi
  inputs. Its objective is the LP optimum, an upper bound of the MIP objective; status
  ``OPTIMAL``, gap 0.
- ``mode="mip"``: the exact MIP through Pyomo's persistent appsi interface (seconds per
  re-solve on real inputs). :func:`plan_optimal` (open loop) always solves the MIP.

:func:`plan_optimal` is one solve from the first year with nothing spent.

After the MIP, the designation binaries are fixed, made continuous and the LP is re-solved: its
budget duals are the marginal objective of one more yuan in each year (given the designations).
A solution is read only when HiGHS reports one; an infeasible model is diagnosed with an elastic
copy whose slacks name the rules in conflict.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.appsi.base import TerminationCondition
from pyomo.contrib.appsi.solvers import Highs

from policysim.allocation.feasibility import check_feasibility
from policysim.allocation.lp import RelaxedAllocationLP
from policysim.allocation.model import (
    MONEY_UNIT,
    build_allocation_model,
    family_of,
    rule_constraints_by_year,
)
from policysim.allocation.planner_state import (
    _check_inputs,
    _gap,
    _model_data,
    _State,
    _status_name,
    apply_state,
    closed_loop_state,
)
from policysim.allocation.types import (
    CNY_PER_YI,
    INSTRUMENTS,
    AllocationResult,
    AllocationRules,
    CountyFacts,
    FloatArray,
    Objective,
    ResponseCurves,
    SolveStatus,
    check_years,
    fmt_yi,
)
from policysim.errors import AllocationError, InfeasibleAllocationError

__all__ = ["ClosedLoopPlanner", "plan_optimal"]

logger = logging.getLogger(__name__)

OPTIMAL_GAP = 1e-6
"""Relative gap below which a MIP solution is reported as OPTIMAL (numerical)."""

MODES: tuple[str, ...] = ("lp", "mip")
"""Solve modes of :class:`ClosedLoopPlanner`: relaxed designations (LP) or the exact MIP."""

LP_NOTE = "LP relaxation, designations in [0, 1] read as designation probabilities"
"""How results of ``mode="lp"`` describe themselves in their message."""


class ClosedLoopPlanner:
    """Build the allocation model once and re-plan the remaining years as the state changes.

    Parameters
    ----------
    years : sequence of int, length n_years
        All planning years (consecutive).
    budget_cny : (n_years,) float array, CNY
    facts : CountyFacts
        Counties at the start (their codes are fixed for the planner's life).
    rules : AllocationRules
    response : ResponseCurves
        ``baseline_index`` has one column per planning year.
    objective : Objective
    time_limit_s : float
        HiGHS time limit per solve, seconds.
    mip_gap : float
        Relative MIP gap at which HiGHS stops.
    compute_duals : bool
        Report budget duals: in ``mode="mip"`` from a re-solve of the LP with designations fixed;
        in ``mode="lp"`` from the LP itself (designations relaxed, not fixed).
    mode : {"lp", "mip"}
        ``"lp"`` (default): designation variables relaxed to [0, 1] and read as designation
        probabilities, so the objective counts expected designations; a linear programme in a
        persistent HiGHS instance, warm-started from the previous basis (fast enough for
        ensembles). The plans satisfy every :class:`AllocationRules` constraint exactly as in
        the MIP; the reported objective is the LP optimum (an upper bound of the MIP's), with
        status ``OPTIMAL`` and gap 0, and the message says it is the LP relaxation.
        ``"mip"``: the exact MIP with binary designations (Pyomo + appsi HiGHS; seconds per
        re-solve on real inputs, gap up to ``mip_gap``).
    first_mode : {"lp", "mip"} or None
        Mode of a solve from the first planning year (nothing spent yet); default ``mode``. Use
        ``"mip"`` to start from the exact plan and re-plan with the LP.
    warm_start : bool
        LP mode: start each re-solve from the previous optimal basis (default) rather than from
        scratch with presolve (see :class:`~policysim.allocation.lp.RelaxedAllocationLP`).

    Raises
    ------
    InfeasibleAllocationError
        If the rules contradict each other (see :func:`check_feasibility`).
    AllocationError
        Malformed inputs or an unknown mode.
    """

    def __init__(
        self,
        years: Sequence[int],
        budget_cny: FloatArray,
        facts: CountyFacts,
        rules: AllocationRules,
        response: ResponseCurves,
        objective: Objective,
        *,
        time_limit_s: float = 10.0,
        mip_gap: float = 0.01,
        compute_duals: bool = True,
        mode: str = "lp",
        first_mode: str | None = None,
        warm_start: bool = True,
    ) -> None:
        start = time.perf_counter()
        for name, value in (("mode", mode), ("first_mode", first_mode)):
            if value not in MODES and not (name == "first_mode" and value is None):
                raise AllocationError(
                    f"ClosedLoopPlanner {name} = {value!r}: expected one of {', '.join(MODES)}"
                )
        self.mode = mode
        self.first_mode = mode if first_mode is None else first_mode
        self.warm_start = warm_start
        self.years, self.budget = check_years(years, budget_cny)
        _check_inputs(facts, response, len(self.years))
        if not (time_limit_s > 0 and 0 <= mip_gap < 1):
            raise AllocationError(
                f"time_limit_s = {time_limit_s!r}, mip_gap = {mip_gap!r}: expected a positive "
                "time and a relative gap in [0, 1)"
            )
        check_feasibility(self.years, self.budget, facts, rules)
        self.codes = facts.codes
        self.rules = rules
        self.response = response
        self.objective = objective
        self.time_limit_s = float(time_limit_s)
        self.mip_gap = float(mip_gap)
        self.compute_duals = compute_duals
        self.data = _model_data(self.years, self.budget, facts, rules, response, objective)
        self._lp: RelaxedAllocationLP | None = None
        self._mip: tuple[Any, Highs] | None = None
        if "lp" in (self.mode, self.first_mode):
            self._lp = RelaxedAllocationLP(self.data, warm_start=self.warm_start)
        if "mip" in (self.mode, self.first_mode):
            self._build_mip()
        self.build_seconds = time.perf_counter() - start
        logger.info("allocation model (%s) built in %.3f s", self.mode, self.build_seconds)

    def _build_mip(self) -> tuple[Any, Highs]:
        """The Pyomo model and its persistent appsi HiGHS solver (built on first use)."""
        if self._mip is not None:
            return self._mip
        self.model = build_allocation_model(self.data)
        self._cons_by_year = rule_constraints_by_year(self.model)
        self._x_by_year = self._x_index(self.model)
        self._solver = Highs()
        self._solver.config.load_solution = False
        self._solver.config.stream_solver = False
        self._solver.config.log_level = logging.DEBUG
        self._solver.config.warmstart = True
        # Fixing past funds must only change bounds in HiGHS, not rebuild the rows using them;
        # the structure never changes after the build, only mutable parameters, bounds and
        # fixed values do.
        upd = self._solver.update_config
        upd.treat_fixed_vars_as_params = False
        upd.check_for_new_or_removed_constraints = False
        upd.check_for_new_or_removed_vars = False
        upd.check_for_new_or_removed_params = False
        upd.check_for_new_objective = False
        upd.update_constraints = False
        upd.update_named_expressions = False
        upd.update_objective = False
        self._solver.highs_options = {"random_seed": 0, "output_flag": False}
        self._mip = (self.model, self._solver)
        return self._mip

    # ----------------------------------------------------------------------------------------
    def _state(
        self, year: int, facts: CountyFacts, spent_cny: FloatArray, calibrate: bool
    ) -> _State:
        return closed_loop_state(
            year,
            facts,
            spent_cny,
            calibrate,
            years=self.years,
            codes=self.codes,
            budget=self.budget,
            data=self.data,
            rules=self.rules,
            response=self.response,
            objective=self.objective,
        )

    def _apply(self, m: Any, state: _State) -> None:
        """Fix past funds, release the rules of past years, set the designation state
        (:func:`~policysim.allocation.planner_state.apply_state`)."""
        persistent = self._mip is not None and m is self._mip[0]
        x_by_year = self._x_by_year if persistent else self._x_index(m)
        cons_by_year = self._cons_by_year_of(m) if m.elastic else {}
        apply_state(
            m,
            state,
            data=self.data,
            years=self.years,
            x_by_year=x_by_year,
            cons_by_year=cons_by_year,
        )

    def _x_index(self, m: Any) -> dict[int, list[tuple[int, int, Any]]]:
        return {
            t: [
                (c, k, m.x[c, INSTRUMENTS[k], t])
                for c in range(len(self.codes))
                for k in range(len(INSTRUMENTS))
            ]
            for t in self.years
        }

    def _cons_by_year_of(self, m: Any) -> dict[int, list[Any]]:
        if self._mip is not None and m is self._mip[0]:
            return self._cons_by_year
        return rule_constraints_by_year(m)

    def _set_response(self, response: ResponseCurves, facts: CountyFacts) -> None:
        _check_inputs(facts, response, len(self.years))
        if response.lag_years != self.response.lag_years or (
            response.breakpoints_cny.size != self.response.breakpoints_cny.size
        ):
            raise AllocationError(
                "response: lag_years or number of breakpoints changed: expected the structure "
                "the planner was built with"
            )
        self.response = response
        self.data = dataclasses.replace(
            self.data,
            widths=np.diff(response.breakpoints_cny) / MONEY_UNIT,
            slope_index=response.slopes("index") * MONEY_UNIT,
            slope_rd=response.slopes("rd") * MONEY_UNIT / CNY_PER_YI,
        )
        if self._lp is not None:
            self._lp = RelaxedAllocationLP(self.data, warm_start=self.warm_start)
        if self._mip is None:
            return
        m = self.model
        widths = np.diff(response.breakpoints_cny) / MONEY_UNIT
        for s, w in enumerate(widths):
            m.width[s] = float(w)
        si = response.slopes("index") * MONEY_UNIT
        sr = response.slopes("rd") * MONEY_UNIT / CNY_PER_YI
        for c in range(facts.n):
            for k, name in enumerate(INSTRUMENTS):
                for s in range(widths.size):
                    m.slope_index[c, name, s] = float(si[c, k, s])
                    m.slope_rd[c, name, s] = float(sr[c, k, s])

    # ----------------------------------------------------------------------------------------
    def solve(
        self,
        year: int,
        facts: CountyFacts,
        spent_cny: FloatArray,
        response: ResponseCurves | None = None,
    ) -> AllocationResult:
        """Re-plan years ``year``.. given the funds spent so far and the current state.

        Parameters
        ----------
        year : int
            First year to plan.
        facts : CountyFacts
            Current state: designated counties (their designation is kept), current index.
        spent_cny : (n_years_done, n_counties, n_instruments) float array, CNY
            Funds applied in the years before ``year`` (``n_years_done = year - years[0]``).
        response : ResponseCurves, optional
            Re-estimated curves (same breakpoint count and lag); default: keep the current ones.

        Returns
        -------
        AllocationResult
            Plan of the remaining years, shape (n_years - n_years_done, n_counties,
            n_instruments); the caller applies only the first year.
        """
        return self._solve(year, facts, spent_cny, response, calibrate=True, strategy="closed_loop")

    def _solve(
        self,
        year: int,
        facts: CountyFacts,
        spent_cny: FloatArray,
        response: ResponseCurves | None,
        *,
        calibrate: bool,
        strategy: str,
        started: float | None = None,
    ) -> AllocationResult:
        start = time.perf_counter() if started is None else started
        if response is not None:
            self._set_response(response, facts)
        state = self._state(year, facts, spent_cny, calibrate)
        check_feasibility(self.years[state.i0 :], self.budget[state.i0 :], facts, self.rules)
        mode = self.first_mode if state.i0 == 0 else self.mode
        if mode == "lp":
            return self._solve_lp(state, year, strategy, start, started is not None)
        m, _ = self._build_mip()
        self._apply(m, state)
        solver = self._solver
        elapsed = time.perf_counter() - start
        solver.config.time_limit = max(0.1, self.time_limit_s - (elapsed if started else 0.0))
        solver.config.mip_gap = self.mip_gap
        res = solver.solve(m)
        tc = res.termination_condition
        incumbent = res.best_feasible_objective
        if tc in (TerminationCondition.infeasible, TerminationCondition.infeasibleOrUnbounded):
            raise InfeasibleAllocationError(self._diagnose(state, year))
        if tc == TerminationCondition.optimal:
            status = SolveStatus.OPTIMAL
        elif tc in (
            TerminationCondition.maxTimeLimit,
            TerminationCondition.maxIterations,
            TerminationCondition.objectiveLimit,
        ):
            if incumbent is None:
                raise AllocationError(
                    f"{year}: HiGHS found no allocation within {solver.config.time_limit:.3g} s "
                    f"({_status_name(tc)}): expected a larger time_limit_s"
                )
            status = SolveStatus.TIME_LIMIT
        else:
            raise AllocationError(f"{year}: HiGHS failed ({_status_name(tc)})")
        bound = res.best_objective_bound
        solver.load_vars()
        value = float(incumbent)
        duals: dict[str, FloatArray] | None = None
        if self.compute_duals:
            value, duals = self._lp_duals(m, state, value)
        gap = _gap(value, bound)
        if status is SolveStatus.OPTIMAL and gap > OPTIMAL_GAP:
            status = SolveStatus.FEASIBLE_WITH_GAP
        plan = self._read_plan(m, state.i0)
        seconds = time.perf_counter() - start
        msg = (
            f"{strategy} from {year}: {_status_name(tc)}, objective {value:.6g}, gap {gap:.3%}, "
            f"{seconds:.3f} s"
        )
        logger.info(msg)
        return AllocationResult(
            strategy=strategy,
            status=status,
            plan_cny=plan,
            years=self.years[state.i0 :],
            objective=value,
            mip_gap=gap,
            seconds=seconds,
            duals=duals,
            message=msg,
        )

    def _solve_lp(
        self, state: _State, year: int, strategy: str, start: float, budgeted: bool
    ) -> AllocationResult:
        """Solve the relaxed model (designations in [0, 1]) warm-started in HiGHS."""
        lp = (
            self._lp
            if self._lp is not None
            else RelaxedAllocationLP(self.data, warm_start=self.warm_start)
        )
        self._lp = lp
        lp.update(
            state.i0,
            state.spent_model,
            state.need,
            state.y_fixed,
            float(state.designated.sum()),
            state.county_cap,
        )
        elapsed = time.perf_counter() - start
        limit = max(0.1, self.time_limit_s - (elapsed if budgeted else 0.0))
        out = lp.solve(limit)
        if out.status == "infeasible":
            raise InfeasibleAllocationError(self._diagnose(state, year))
        if out.status == "time_limit":
            raise AllocationError(
                f"{year}: HiGHS solved no LP allocation within {limit:.3g} s: expected a larger "
                "time_limit_s"
            )
        if out.x is None or out.objective is None or out.budget_dual is None:
            raise AllocationError(f"{year}: HiGHS failed on the LP ({out.status})")
        x = out.x[state.i0 :]
        low = float(x.min()) if x.size else 0.0
        if low < -1e-6 * max(float(self.budget.max() / MONEY_UNIT), 1.0):
            raise AllocationError(f"solver returned a negative amount {low * MONEY_UNIT:.6g} CNY")
        plan: FloatArray = np.maximum(x, 0.0) * MONEY_UNIT
        duals = {"budget": out.budget_dual[state.i0 :] / MONEY_UNIT} if self.compute_duals else None
        seconds = time.perf_counter() - start
        msg = (
            f"{strategy} from {year} ({LP_NOTE}): optimal, objective {out.objective:.6g} "
            f"(designations counted as probabilities; an upper bound of the MIP objective), "
            f"{out.iterations} simplex iterations, {seconds:.3f} s"
        )
        logger.info(msg)
        return AllocationResult(
            strategy=strategy,
            status=SolveStatus.OPTIMAL,
            plan_cny=plan,
            years=self.years[state.i0 :],
            objective=out.objective,
            mip_gap=0.0,
            seconds=seconds,
            duals=duals,
            message=msg,
        )

    def _read_plan(self, m: Any, i0: int) -> FloatArray:
        plan = np.zeros((len(self.years) - i0, len(self.codes), len(INSTRUMENTS)))
        for i, t in enumerate(self.years[i0:]):
            for c, k, var in self._x_by_year[t]:
                plan[i, c, k] = var.value
        low = float(plan.min()) if plan.size else 0.0
        if low < -1e-6 * max(float(self.budget.max() / MONEY_UNIT), 1.0):
            raise AllocationError(f"solver returned a negative amount {low * MONEY_UNIT:.6g} CNY")
        out: FloatArray = np.maximum(plan, 0.0) * MONEY_UNIT
        return out

    def _lp_duals(
        self, m: Any, state: _State, value: float
    ) -> tuple[float, dict[str, FloatArray] | None]:
        """Fix designations, solve the LP, return its objective and the budget duals per CNY."""
        ys = list(m.designated_by.values())
        for var in ys:
            var.fix(float(round(var.value)))
            var.domain = pyo.Reals
        res = self._solver.solve(m)
        if res.termination_condition != TerminationCondition.optimal:
            logger.warning(
                "LP with fixed designations: %s; no duals", _status_name(res.termination_condition)
            )
            return value, None
        self._solver.load_vars()
        remaining = self.years[state.i0 :]
        cons = [m.budget_balance[t] for t in remaining]
        dual = self._solver.get_duals(cons)
        budget_dual = np.array([dual[c] for c in cons]) / MONEY_UNIT
        lp_value = float(res.best_feasible_objective)
        return max(value, lp_value), {"budget": budget_dual}

    def _diagnose(self, state: _State, year: int) -> str:
        """Name the rule families whose relaxation removes the infeasibility."""
        data = dataclasses.replace(self.data, elastic=True)
        em = build_allocation_model(data)
        self._apply(em, state)
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


def plan_optimal(
    years: Sequence[int],
    budget_cny: FloatArray,
    facts: CountyFacts,
    rules: AllocationRules,
    response: ResponseCurves,
    objective: Objective,
    *,
    time_limit_s: float = 10.0,
    mip_gap: float = 0.01,
    compute_duals: bool = True,
) -> AllocationResult:
    """Open-loop optimal allocation of every planning year.

    Maximises ``sum_d w_d * (counties designated by d) + rd_weight * extra R&D / 1e8 CNY +
    index_weight * index gain`` (last year) subject to every :class:`AllocationRules` constraint.
    The index is ``baseline_index + sum_k g_ck(cumulative funds up to t - lag)``, not recalibrated
    to ``facts.index``.

    Parameters
    ----------
    years : sequence of int, length n_years
    budget_cny : (n_years,) float array, CNY
    facts, rules, response, objective
        See :mod:`policysim.allocation.types`.
    time_limit_s : float
        Wall-clock limit including the model build, seconds.
    mip_gap : float
        Relative MIP gap at which HiGHS stops.
    compute_duals : bool
        Report budget duals from the LP with designations fixed.

    Returns
    -------
    AllocationResult
        ``plan_cny`` (n_years, n_counties, n_instruments), CNY.

    Raises
    ------
    InfeasibleAllocationError
        Rules in conflict (before the solve, or named from an elastic re-solve).
    AllocationError
        Malformed inputs, no incumbent at the time limit, or a solver failure.
    """
    start = time.perf_counter()
    planner = ClosedLoopPlanner(
        years,
        budget_cny,
        facts,
        rules,
        response,
        objective,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        compute_duals=compute_duals,
        mode="mip",
    )
    empty = np.zeros((0, facts.n, len(INSTRUMENTS)))
    return planner._solve(
        planner.years[0], facts, empty, None, calibrate=False, strategy="optimal", started=start
    )
