"""The yearly allocators the model calls: the rule strategies, the open-loop optimum and the
closed loop; :func:`make_allocator` builds the scenario's."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from policysim.allocation import (
    INSTRUMENTS,
    AllocationResult,
    ClosedLoopPlanner,
    plan_rule,
    read_fixed_plan,
)
from policysim.coupling.inputs import (
    _base_facts,
    _check_result,
    _feasible,
    _net_of_support,
    _solve_row,
    allocation_rules,
    budget_path,
    county_facts,
    objective,
)
from policysim.coupling.response import optimal_plan_for, response_for
from policysim.data import Baseline
from policysim.errors import InfeasibleAllocationError
from policysim.model import CountySummary
from policysim.scenario.schema import Scenario
from policysim.vocabulary import allocator_class

logger = logging.getLogger("policysim.coupling")

FloatArray = NDArray[np.float64]


class RuleAllocator:
    """Yearly plan by a rule strategy applied to the current county facts (the policy allocates
    every year by its factors as they stand)."""

    def __init__(self, scenario: Scenario, baseline: Baseline) -> None:
        self.scenario = scenario
        a = scenario.allocation
        self.rules = allocation_rules(scenario)
        self.strategy = a.strategy
        self.shares: dict[str, float] = {str(k): v for k, v in a.instrument_shares.items()}
        self.factor_weights = {
            "research_capacity": a.factor_weights.research_capacity,
            "fiscal_st_spending": a.factor_weights.fiscal_st_spending,
            "management_capacity": a.factor_weights.management_capacity,
        }
        self.fixed = None
        self.solves: list[dict[str, Any]] = []
        self.plans: dict[int, FloatArray] = {}
        if a.strategy == "fixed":
            assert a.fixed_plan is not None  # the schema requires it
            from pathlib import Path

            facts = _base_facts(baseline)
            self.fixed = read_fixed_plan(Path(a.fixed_plan), facts, tuple(scenario.horizon.years))

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        facts = county_facts(summary)
        # pilot support packages are paid first; the rule splits what they leave
        budget = np.array([summary.available_budget(self.scenario.budget_cny(year))])
        fixed = None
        if self.fixed is not None:
            fixed = self.fixed[self.fixed["year"] == year]
        try:  # plan_rule checks the rules' consistency first (check_feasibility)
            result = plan_rule(
                self.strategy,
                (year,),
                budget,
                facts,
                self.rules,
                instrument_shares=self.shares,
                factor_weights=self.factor_weights,
                fixed_plan=fixed,
                poverty_bonus=self.scenario.allocation.needs_poverty_bonus,
            )
        except InfeasibleAllocationError as exc:
            raise InfeasibleAllocationError(
                f"scenario {self.scenario.metadata.name}: the allocation rules cannot all be met: "
                f"{exc}"
            ) from None
        return _take_plan(self, result, year, summary)


class OptimalAllocator:
    """Open-loop optimal plan (:func:`optimal_plan_for`), the same for every replication."""

    def __init__(self, scenario: Scenario, baseline: Baseline) -> None:
        self.scenario = scenario
        self.years, _ = budget_path(scenario)
        self.solves: list[dict[str, Any]] = []
        self.plans: dict[int, FloatArray] = {}
        self.plan: FloatArray | None = None

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        if self.plan is None:
            self.plan, row = optimal_plan_for(self.scenario)
            self.solves.append(dict(row))
        plan = _net_of_support(
            self.plan[self.years.index(year)], summary, self.scenario.budget_cny(year)
        )
        self.plans[year] = plan
        return plan


class ClosedLoopAllocator:
    """Re-plan every simulated year from the model's current state with a persistent model."""

    def __init__(self, scenario: Scenario, baseline: Baseline) -> None:
        self.scenario = scenario
        self.rules = allocation_rules(scenario)
        self.objective = objective(scenario)
        self.years, self.budget = budget_path(scenario)
        self.solves: list[dict[str, Any]] = []
        self.plans: dict[int, FloatArray] = {}
        self.planner: ClosedLoopPlanner | None = None

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        facts = county_facts(summary)
        solver = self.scenario.allocation.solver
        if self.planner is None:
            _feasible(self.scenario, self.years, self.budget, facts, self.rules)
            response = response_for(self.scenario)
            self.planner = ClosedLoopPlanner(
                self.years,
                self.budget,
                facts,
                self.rules,
                response,
                self.objective,
                time_limit_s=solver.time_limit_s,
                mip_gap=solver.mip_gap,
                compute_duals=False,
                mode=solver.closed_loop_mode,
            )
        done = [self.plans[y] for y in self.years if y < year]
        spent = np.stack(done) if done else np.zeros((0, len(summary.codes), len(INSTRUMENTS)))
        result = self.planner.solve(year, facts, spent)
        return _take_plan(self, result, year, summary)


def _take_plan(
    alloc: RuleAllocator | ClosedLoopAllocator,
    result: AllocationResult,
    year: int,
    summary: CountySummary,
) -> FloatArray:
    """The year's plan of a solved allocation: checked, its solve recorded, scaled to what the
    pilot packages leave, and kept in ``alloc.plans``."""
    _check_result(result, alloc.scenario)
    alloc.solves.append(_solve_row(result, year))
    plan = _net_of_support(
        np.asarray(result.plan_cny[0], dtype=np.float64), summary, alloc.scenario.budget_cny(year)
    )
    alloc.plans[year] = plan
    return plan


def make_allocator(
    scenario: Scenario,
    baseline: Baseline,
    params: Mapping[str, float] | None = None,
    seed: np.random.SeedSequence | None = None,
) -> RuleAllocator | OptimalAllocator | ClosedLoopAllocator:
    """The yearly allocator of the scenario's strategy (the class the strategy registry,
    :data:`policysim.vocabulary.STRATEGIES`, names for it)."""
    cls = allocator_class(scenario.allocation.strategy)
    allocator: RuleAllocator | OptimalAllocator | ClosedLoopAllocator = cls(scenario, baseline)
    return allocator
