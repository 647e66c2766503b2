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
from pyomo.contrib.appsi.base import TerminationCondition
from pyomo.contrib.appsi.solvers import Highs

from policysim.allocation.feasibility import check_feasibility
from policysim.allocation.lp import RelaxedAllocationLP
from policysim.allocation.mip_solve import (
    diagnose_infeasible,
    lp_duals,
    persistent_highs,
    read_plan,
    x_index,
)
from policysim.allocation.model import (
    MONEY_UNIT,
    build_allocation_model,
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
        self._x_by_year = x_index(self.model, self.years, len(self.codes))
        self._solver = persistent_highs()
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
        x_by_year = self._x_by_year if persistent else x_index(m, self.years, len(self.codes))
        cons_by_year = self._cons_by_year_of(m) if m.elastic else {}
        apply_state(
            m,
            state,
            data=self.data,
            years=self.years,
            x_by_year=x_by_year,
            cons_by_year=cons_by_year,
        )

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
        return self._solve_mip(state, year, strategy, start, bool(started))

    def _solve_mip(
        self, state: _State, year: int, strategy: str, start: float, budgeted: bool
    ) -> AllocationResult:
        """Solve the exact MIP through the persistent appsi interface (duals from the LP with
        designations fixed). ``budgeted``: the time limit counts the time since ``start``."""
        m, _ = self._build_mip()
        self._apply(m, state)
        solver = self._solver
        elapsed = time.perf_counter() - start
        solver.config.time_limit = max(0.1, self.time_limit_s - (elapsed if budgeted else 0.0))
        solver.config.mip_gap = self.mip_gap
        res = solver.solve(m)
        tc = res.termination_condition
        incumbent = res.best_feasible_objective
        if tc in (TerminationCondition.infeasible, TerminationCondition.infeasibleOrUnbounded):
            raise InfeasibleAllocationError(
                diagnose_infeasible(self.data, state, year, self.years, len(self.codes))
            )
        status = _mip_status(tc, incumbent, year, solver.config.time_limit)
        bound = res.best_objective_bound
        solver.load_vars()
        value = float(incumbent)
        duals: dict[str, FloatArray] | None = None
        if self.compute_duals:
            value, duals = lp_duals(self._solver, m, self.years[state.i0 :], value)
        gap = _gap(value, bound)
        if status is SolveStatus.OPTIMAL and gap > OPTIMAL_GAP:
            status = SolveStatus.FEASIBLE_WITH_GAP
        plan = read_plan(self._x_by_year, self.years, state.i0, len(self.codes), self.budget)
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
            raise InfeasibleAllocationError(
                diagnose_infeasible(self.data, state, year, self.years, len(self.codes))
            )
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


def _mip_status(
    tc: TerminationCondition, incumbent: float | None, year: int, time_limit: float
) -> SolveStatus:
    """The status of a MIP solve that was not infeasible: optimal, or stopped at a limit with an
    incumbent; a limit without one or any other ending is an :class:`AllocationError`."""
    if tc == TerminationCondition.optimal:
        return SolveStatus.OPTIMAL
    if tc in (
        TerminationCondition.maxTimeLimit,
        TerminationCondition.maxIterations,
        TerminationCondition.objectiveLimit,
    ):
        if incumbent is None:
            raise AllocationError(
                f"{year}: HiGHS found no allocation within {time_limit:.3g} s "
                f"({_status_name(tc)}): expected a larger time_limit_s"
            )
        return SolveStatus.TIME_LIMIT
    raise AllocationError(f"{year}: HiGHS failed ({_status_name(tc)})")


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
