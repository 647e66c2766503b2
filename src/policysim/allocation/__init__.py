"""Allocation of provincial S&T special funds among counties and instruments.

Rule strategies (the policy's factor formula, equal, needs-weighted, a fixed plan), the open-loop
optimiser and the closed-loop re-planner (Pyomo + HiGHS), feasibility diagnostics in policy terms,
and an exact evaluator of the optimiser's objective. This package knows nothing of the agent-based
model or of scenarios: :mod:`policysim.coupling` builds its typed inputs.
"""

from __future__ import annotations

from policysim.allocation.evaluate import evaluate_objective, project_index
from policysim.allocation.feasibility import check_feasibility, plan_violations
from policysim.allocation.rules import (
    DEFAULT_FACTOR_WEIGHTS,
    FACTORS,
    county_weights,
    plan_rule,
    read_fixed_plan,
    water_fill,
)
from policysim.allocation.solve import ClosedLoopPlanner, plan_optimal
from policysim.allocation.types import (
    INSTRUMENTS,
    STRATEGIES,
    AllocationResult,
    AllocationRules,
    CountyFacts,
    Objective,
    ResponseCurves,
    SolveStatus,
)

__all__ = [
    "DEFAULT_FACTOR_WEIGHTS",
    "FACTORS",
    "INSTRUMENTS",
    "STRATEGIES",
    "AllocationResult",
    "AllocationRules",
    "ClosedLoopPlanner",
    "CountyFacts",
    "Objective",
    "ResponseCurves",
    "SolveStatus",
    "check_feasibility",
    "county_weights",
    "evaluate_objective",
    "plan_optimal",
    "plan_rule",
    "plan_violations",
    "project_index",
    "read_fixed_plan",
    "water_fill",
]
