"""A scenario as the allocation package's typed inputs: rules, objective, county facts, the
budget path; solver results checked and logged."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from policysim.agents.counties import INDEX_MEAN, INDEX_SD
from policysim.allocation import (
    AllocationResult,
    AllocationRules,
    CountyFacts,
    Objective,
    SolveStatus,
    check_feasibility,
)
from policysim.data import Baseline
from policysim.errors import AllocationError, InfeasibleAllocationError
from policysim.model import CountySummary
from policysim.scenario.schema import Scenario

logger = logging.getLogger("policysim.coupling")

FloatArray = NDArray[np.float64]


OPTIMISER_ENTRY_SCORE = INDEX_MEAN + INDEX_SD
"""The optimiser's proxy for entering a batch: the model's index is re-scored every year (mean
50, sd 10 over counties) and pilots are the best of their class, so the optimiser aims counties
at one sd above the mean (about the top sixth)."""


def _net_of_support(plan: FloatArray, summary: CountySummary, budget_cny: float) -> FloatArray:
    """A plan made for the whole budget, scaled down to what the pilot packages leave."""
    available = summary.available_budget(budget_cny)
    total = float(plan.sum())
    if total > available + 1e-6 and total > 0:
        out: FloatArray = plan * (available / total)
        return out
    return plan


def allocation_rules(scenario: Scenario) -> AllocationRules:
    """The scenario's allocation constraints in the allocation package's terms (CNY)."""
    a = scenario.allocation
    return AllocationRules(
        floor_cny=a.floor_100m_cny * 1e8,
        ceiling_cny=None if a.ceiling_100m_cny is None else a.ceiling_100m_cny * 1e8,
        poverty_share_min=a.poverty_share_min,
        instrument_share_min={str(k): v for k, v in a.instrument_share_min.items()},
        instrument_share_max={str(k): v for k, v in a.instrument_share_max.items()},
        absorptive_multiple=a.absorptive_multiple,
        max_change_pct=a.max_change_pct,
        designated_floor_only=a.designated_floor_only,
    )


def objective(scenario: Scenario) -> Objective:
    """The optimiser's objective from the scenario (deadline weights, quotas, threshold)."""
    a = scenario.allocation
    years = scenario.horizon.years
    county = scenario.designation.county
    quotas: dict[int, int] = {}
    for b in county.batches:
        if b.year in years:
            quotas[b.year] = quotas.get(b.year, 0) + b.size
    if county.projected_batches is not None:
        size = round(scenario.parameter("county_batch_size"))
        for y in county.projected_batches.years(scenario.horizon.end_year):
            if y in years and y not in quotas:
                quotas[y] = size
    return Objective(
        deadlines={y: w for y, w in a.objective.deadline_weights.items() if y in years},
        entry_threshold=OPTIMISER_ENTRY_SCORE,
        max_new_per_year=quotas,
        rd_weight=a.objective.rd_weight,
        index_weight=a.objective.index_weight,
    )


def county_facts(summary: CountySummary) -> CountyFacts:
    """The allocator's view of the counties; the model's arrays are valid by construction
    (codes unique, shares in [0, 1] once clipped, money >= 0), so they are not checked again
    every year."""
    return CountyFacts.unchecked(
        codes=summary.codes,
        names=summary.names,
        poverty=summary.poverty,
        research_capacity=np.clip(summary.research_capacity, 0.0, 1.0),
        fiscal_st_spending_cny=summary.fiscal_st_spending_cny,
        management_capacity=np.clip(summary.management_capacity, 0.0, 1.0),
        index=np.clip(summary.index, 0.0, 100.0),
        designated=summary.designated,
    )


def budget_path(scenario: Scenario) -> tuple[tuple[int, ...], FloatArray]:
    years = tuple(scenario.horizon.years)
    return years, np.array([scenario.budget_cny(y) for y in years])


def _solve_row(result: AllocationResult, year: int | None) -> dict[str, Any]:
    return {
        "year": year if year is not None else (result.years[0] if result.years else None),
        "strategy": result.strategy,
        "status": result.status.value,
        "objective": result.objective,
        "mip_gap": result.mip_gap,
        "seconds": result.seconds,
        "message": result.message,
    }


def _check_result(result: AllocationResult, scenario: Scenario) -> None:
    if result.status in (SolveStatus.INFEASIBLE,):
        raise InfeasibleAllocationError(
            f"{scenario.metadata.name}: the allocation is infeasible: {result.message}"
        )
    if result.status is SolveStatus.ERROR:
        raise AllocationError(f"{scenario.metadata.name}: the solver failed: {result.message}")


def _feasible(
    scenario: Scenario,
    years: tuple[int, ...],
    budget: FloatArray,
    facts: CountyFacts,
    rules: AllocationRules,
) -> None:
    """:func:`check_feasibility`, with the scenario named in the message."""
    try:
        check_feasibility(years, budget, facts, rules)
    except InfeasibleAllocationError as exc:
        raise InfeasibleAllocationError(
            f"scenario {scenario.metadata.name}: the allocation rules cannot all be met: {exc}"
        ) from None


def _base_facts(baseline: Baseline) -> CountyFacts:
    c = baseline.counties
    return CountyFacts(
        codes=tuple(c["code"].astype(str)),
        names=tuple(c["name"].astype(str)),
        poverty=c["poverty_county"].to_numpy(bool),
        research_capacity=c["research_capacity"].to_numpy(float),
        fiscal_st_spending_cny=c["fiscal_st_spending_cny"].to_numpy(float),
        management_capacity=c["management_capacity"].to_numpy(float),
        index=np.zeros(len(c)),
        designated=np.zeros(len(c), bool),
    )
