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

from policysim.allocation.evaluate import INDEX_TOLERANCE, designation_years, gains
from policysim.allocation.feasibility import check_feasibility
from policysim.allocation.lp import RelaxedAllocationLP
from policysim.allocation.model import (
    MONEY_UNIT,
    ModelData,
    build_allocation_model,
    family_of,
    rule_constraints_by_year,
)
from policysim.allocation.types import (
    CNY_PER_YI,
    INSTRUMENTS,
    POVERTY_INSTRUMENT,
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
        if year not in self.years:
            raise AllocationError(
                f"year {year}: expected a planning year {self.years[0]}–{self.years[-1]}"
            )
        if facts.codes != self.codes:
            raise AllocationError(
                "CountyFacts.codes: differ from the planner's counties: expected the same "
                "counties in the same order"
            )
        i0 = self.years.index(year)
        spent = np.asarray(spent_cny, dtype=np.float64)
        shape = (i0, facts.n, len(INSTRUMENTS))
        if spent.shape != shape:
            raise AllocationError(
                f"spent_cny: shape {spent.shape}: expected {shape} (years {self.years[0]}.."
                f"{year - 1} × counties × instruments)"
            )
        if not np.all(np.isfinite(spent)) or np.any(spent < 0):
            raise AllocationError("spent_cny: negative or non-finite amounts: expected CNY >= 0")
        response, objective, rules = self.response, self.objective, self.rules
        lag = response.lag_years
        # Index calibration: the model's index at `year` must equal the observed index.
        offset = np.zeros(facts.n)
        if calibrate:
            n_funded = max(0, min(i0, i0 - lag + 1))
            past_gain = gains(spent[:n_funded].sum(axis=0), response).sum(axis=1)
            offset = facts.index - response.baseline_index[:, i0] - past_gain
        caps = rules.county_caps_cny(facts)
        dyears = self.data.designation_years
        need = np.zeros((facts.n, len(dyears)))
        y_fixed: dict[tuple[int, int], float] = {}
        for j, d in enumerate(dyears):
            t = self.years.index(d)
            missing = np.maximum(
                0.0, objective.entry_threshold - response.baseline_index[:, t] - offset
            )
            reach = self._max_gain(i0, t - lag, spent, facts, caps)
            for c in range(facts.n):
                if facts.designated[c] or d < year:
                    y_fixed[c, d] = float(facts.designated[c])
                elif missing[c] > reach[c] + INDEX_TOLERANCE:
                    y_fixed[c, d] = 0.0
                else:
                    need[c, j] = missing[c]
        if rules.designated_floor_only:
            dcap = np.where(
                facts.designated, rules.floor_cny / MONEY_UNIT, self.data.designated_cap_big
            )
        else:
            dcap = np.full(facts.n, self.data.designated_cap_big)
        county_cap = np.minimum(caps / MONEY_UNIT, self.data.designated_cap_big)
        return _State(
            i0, spent / MONEY_UNIT, need, y_fixed, facts.designated.copy(), dcap, county_cap
        )

    def _max_gain(
        self, i0: int, i_last: int, spent: FloatArray, facts: CountyFacts, caps: FloatArray
    ) -> FloatArray:
        """Largest index gain each county could have from funds up to year index i_last."""
        if i_last < 0:
            return np.zeros(facts.n)
        cum = spent[: min(i0, i_last + 1)].sum(axis=0)
        for i in range(i0, i_last + 1):
            b = float(self.budget[i])
            per_k = np.array([self.rules.share_max(k) * b for k in INSTRUMENTS])
            add = np.minimum(np.minimum(caps, b)[:, None], per_k[None, :])
            add[~facts.poverty, INSTRUMENTS.index(POVERTY_INSTRUMENT)] = 0.0
            cum = cum + add
        out: FloatArray = gains(cum, self.response).sum(axis=1)
        return out

    def _apply(self, m: Any, state: _State) -> None:
        """Fix past funds, release the rules of past years, set the designation state.

        In the persistent model the rules of past years are released through their mutable
        right-hand sides (removing constraints from HiGHS is slow); in the elastic diagnostic copy
        they are deactivated.
        """
        persistent = self._mip is not None and m is self._mip[0]
        x_by_year = self._x_by_year if persistent else self._x_index(m)
        data = self.data
        spent_total = state.spent_model.sum(axis=(1, 2))
        big = 10.0 * (float(data.budget.sum()) + float(state.spent_model.sum()) + 1.0)
        cons_by_year = self._cons_by_year_of(m) if m.elastic else {}
        for i, t in enumerate(self.years):
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
                    if d < self.years[state.i0]
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


def _gap(value: float, bound: float | None) -> float:
    if bound is None:
        return float("inf")
    diff = max(0.0, float(bound) - value)
    return 0.0 if diff <= 1e-9 else diff / max(abs(value), 1e-9)


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
