"""Closed-loop re-planning in LP mode (designations relaxed to [0, 1]) against the exact MIP."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo
import pytest
from alloc_helpers import facts, one_instrument_curves
from hypothesis import given, settings
from hypothesis import strategies as st
from pyomo.contrib.appsi.solvers import Highs

from policysim.allocation import (
    INSTRUMENTS,
    AllocationResult,
    AllocationRules,
    ClosedLoopPlanner,
    CountyFacts,
    Objective,
    SolveStatus,
    plan_violations,
    project_index,
)
from policysim.allocation.model import build_allocation_model
from policysim.allocation.solve import LP_NOTE
from policysim.allocation.synthetic import SyntheticInputs, synthetic_inputs
from policysim.errors import AllocationError

K_V = INSTRUMENTS.index("vouchers")

RULES = (
    AllocationRules(floor_cny=2e5, ceiling_cny=4e7, poverty_share_min=0.2, max_change_pct=60.0),
    AllocationRules(
        floor_cny=1e5,
        poverty_share_min=0.3,
        instrument_share_min={"poverty_programme": 0.05, "vouchers": 0.1},
        instrument_share_max={"credit": 0.2},
        absorptive_multiple=5.0,
        max_change_pct=30.0,
    ),
    AllocationRules(floor_cny=1e6, ceiling_cny=6e7, designated_floor_only=True, spend_all=False),
)


def _inputs(seed: int, n: int = 8, n_years: int = 5) -> tuple[SyntheticInputs, Objective]:
    s = synthetic_inputs(
        np.random.default_rng(seed), n_counties=n, years=range(2019, 2019 + n_years)
    )
    obj = Objective(
        deadlines={2020: 1.0, s.years[-1]: 1.0},
        entry_threshold=70.0,
        max_new_per_year={2021: 2},
        rd_weight=0.05,
        index_weight=0.01,
    )
    return s, obj


def _empty(n: int) -> np.ndarray:
    return np.zeros((0, n, len(INSTRUMENTS)))


def _next_facts(f: CountyFacts, spent: np.ndarray, s: SyntheticInputs, thr: float) -> CountyFacts:
    """The 'simulation' of the tests: the index follows the model's own projection."""
    i = spent.shape[0]
    n_years = len(s.years)
    padded = np.concatenate([spent, np.zeros((n_years - i, f.n, len(INSTRUMENTS)))])
    index = project_index(padded, s.response)[:, min(i, n_years - 1)]
    return CountyFacts(
        codes=f.codes,
        names=f.names,
        poverty=f.poverty,
        research_capacity=f.research_capacity,
        fiscal_st_spending_cny=f.fiscal_st_spending_cny,
        management_capacity=f.management_capacity,
        index=np.clip(index, 0.0, 100.0),
        designated=f.designated | (index >= thr),
    )


def _run_loop(
    s: SyntheticInputs, rules: AllocationRules, obj: Objective, **kw: Any
) -> tuple[np.ndarray, list[AllocationResult]]:
    planner = ClosedLoopPlanner(
        s.years, s.budget_cny, s.facts, rules, s.response, obj, time_limit_s=10.0, **kw
    )
    f = s.facts
    spent = _empty(f.n)
    results = []
    for year in s.years:
        res = planner.solve(year, f, spent)
        results.append(res)
        spent = np.concatenate([spent, res.plan_cny[:1]])
        f = _next_facts(f, spent, s, obj.entry_threshold)
    return spent, results


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), r=st.integers(0, len(RULES) - 1))
def test_closed_loop_lp_plans_respect_every_rule(seed: int, r: int) -> None:
    """Every year re-planned with the LP, the first year applied: the applied history respects
    every rule over all years and spends each year's budget (when it must)."""
    s, obj = _inputs(seed)
    rules = RULES[r]
    spent, results = _run_loop(s, rules, obj)
    # designated_floor_only depends on designations as they happen; check each applied year
    # against the facts in force when it was planned (those of the start for the first year).
    if not rules.designated_floor_only:
        assert plan_violations(spent, s.years, s.budget_cny, s.facts, rules) == []
    assert np.all(spent >= 0)
    if rules.spend_all:
        np.testing.assert_allclose(spent.sum(axis=(1, 2)), s.budget_cny, rtol=1e-7)
    else:
        assert np.all(spent.sum(axis=(1, 2)) <= s.budget_cny * (1 + 1e-7))
    for i, res in enumerate(results):
        assert res.status is SolveStatus.OPTIMAL
        assert res.mip_gap == 0.0
        assert res.years == s.years[i:]
        assert LP_NOTE in res.message
        whole = np.concatenate([spent[:i], res.plan_cny])
        assert whole.shape == (len(s.years), s.facts.n, len(INSTRUMENTS))


def test_floor_only_rule_holds_for_counties_designated_when_planned() -> None:
    s, obj = _inputs(5, n=10)
    rules = RULES[2]
    planner = ClosedLoopPlanner(
        s.years, s.budget_cny, s.facts, rules, s.response, obj, time_limit_s=10.0
    )
    f = s.facts
    spent = _empty(f.n)
    for year in s.years:
        res = planner.solve(year, f, spent)
        totals = res.plan_cny.sum(axis=2)
        assert np.all(totals[:, f.designated] <= rules.floor_cny * (1 + 1e-7) + 1e-3)
        assert (
            plan_violations(res.plan_cny, res.years, s.budget_cny[-len(res.years) :], f, rules)
            == []
        )
        spent = np.concatenate([spent, res.plan_cny[:1]])
        f = _next_facts(f, spent, s, obj.entry_threshold)


def test_lp_resolve_is_consistent_with_spending() -> None:
    """After spending a perturbed first year, the re-plan covers the remaining years and history
    plus plan respects every rule from the second year on, including the max change across the
    seam; re-planning from the first year again gives the first plan's objective."""
    s, obj = _inputs(11)
    rules = RULES[0]
    planner = ClosedLoopPlanner(s.years, s.budget_cny, s.facts, rules, s.response, obj)
    first = planner.solve(s.years[0], s.facts, _empty(s.facts.n))
    spent = first.plan_cny[:1] * 0.95
    spent[0, :, K_V] += first.plan_cny[0].sum() * 0.05 / s.facts.n
    second = planner.solve(s.years[1], s.facts, spent)
    assert second.years == s.years[1:]
    whole = np.concatenate([spent, second.plan_cny])
    broken = plan_violations(whole, s.years, s.budget_cny, s.facts, rules)
    assert [b for b in broken if not b.startswith(str(s.years[0]))] == []
    np.testing.assert_allclose(second.plan_cny.sum(axis=(1, 2)), s.budget_cny[1:], rtol=1e-7)
    again = planner.solve(s.years[0], s.facts, _empty(s.facts.n))
    assert again.objective == pytest.approx(first.objective, rel=1e-7)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), r=st.integers(0, len(RULES) - 1))
def test_lp_objective_bounds_mip_from_above(seed: int, r: int) -> None:
    """The LP relaxes the binaries: its optimum is >= the exact MIP optimum, at the first solve
    and at a re-solve from the same state."""
    s, obj = _inputs(seed, n=6, n_years=4)
    rules = RULES[r]
    lp = ClosedLoopPlanner(s.years, s.budget_cny, s.facts, rules, s.response, obj, mode="lp")
    mip = ClosedLoopPlanner(
        s.years, s.budget_cny, s.facts, rules, s.response, obj, mode="mip", mip_gap=0.0
    )
    a = lp.solve(s.years[0], s.facts, _empty(s.facts.n))
    b = mip.solve(s.years[0], s.facts, _empty(s.facts.n))
    assert b.status is SolveStatus.OPTIMAL
    assert LP_NOTE not in b.message
    assert a.objective is not None and b.objective is not None
    assert a.objective >= b.objective - 1e-6
    spent = b.plan_cny[:1]
    f = _next_facts(s.facts, spent, s, obj.entry_threshold)
    a2 = lp.solve(s.years[1], f, spent)
    b2 = mip.solve(s.years[1], f, spent)
    assert a2.objective is not None and b2.objective is not None
    assert a2.objective >= b2.objective - 1e-6


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), r=st.integers(0, len(RULES) - 1))
def test_array_lp_equals_pyomo_relaxation(seed: int, r: int) -> None:
    """The array-built LP and the Pyomo model with designated_by relaxed to [0, 1] have the same
    optimum, at the first solve and at a re-solve with money spent and designations fixed."""
    s, obj = _inputs(seed, n=6, n_years=4)
    rules = RULES[r]
    planner = ClosedLoopPlanner(s.years, s.budget_cny, s.facts, rules, s.response, obj)
    first = planner.solve(s.years[0], s.facts, _empty(s.facts.n))
    spent = first.plan_cny[:1]
    f = _next_facts(s.facts, spent, s, obj.entry_threshold)
    second = planner.solve(s.years[1], f, spent)
    for year, ff, sp, res in (
        (s.years[0], s.facts, _empty(f.n), first),
        (s.years[1], f, spent, second),
    ):
        state = planner._state(year, ff, sp, calibrate=True)
        m = build_allocation_model(planner.data)
        planner._apply(m, state)
        for var in m.designated_by.values():
            var.domain = pyo.UnitInterval
        solver = Highs()
        out = solver.solve(m)
        assert res.objective == pytest.approx(out.best_feasible_objective, rel=1e-7, abs=1e-7)


def test_lp_budget_dual_known_answer() -> None:
    """The two-county R&D case of test_known_answers (no designations, so the LP is exact):
    x = (1e8, 0.5e8) vouchers, objective 0.7, budget dual 0.40 / 1e8 per CNY."""
    f = facts(2)
    curves = one_instrument_curves(
        [0.0, 1e8, 2e8],
        index_gain=[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        rd_gain=[[0.0, 0.5e8, 0.75e8], [0.0, 0.4e8, 0.8e8]],
        baseline=[[50.0], [50.0]],
    )
    obj = Objective(deadlines={}, entry_threshold=70.0, rd_weight=1.0)
    planner = ClosedLoopPlanner((2019,), np.array([1.5e8]), f, AllocationRules(), curves, obj)
    res = planner.solve(2019, f, _empty(2))
    assert res.status is SolveStatus.OPTIMAL and res.mip_gap == 0.0
    np.testing.assert_allclose(res.plan_cny[0, :, K_V], [1.0e8, 0.5e8], rtol=1e-7)
    assert res.objective == pytest.approx(0.7, rel=1e-7)
    assert res.duals is not None
    np.testing.assert_allclose(res.duals["budget"], [4e-9], rtol=1e-6)


def test_lp_designation_is_a_probability() -> None:
    """Threshold 70, both counties at 65, 1 point per 1e7 CNY (lag 0), budget 6e7: each county
    needs 5e7, so the MIP designates one (objective 1); the LP buys 6e7 / 5e7 = 1.2 expected
    designations (objective 1.2) and says it is the relaxation."""
    f = facts(2, index=[65.0, 65.0])
    curves = one_instrument_curves(
        [0.0, 1e8],
        index_gain=[[0.0, 10.0], [0.0, 10.0]],
        rd_gain=[[0.0, 0.0], [0.0, 0.0]],
        baseline=[[65.0], [65.0]],
    )
    obj = Objective(deadlines={2019: 1.0}, entry_threshold=70.0)
    args = ((2019,), np.array([6e7]), f, AllocationRules(), curves, obj)
    lp = ClosedLoopPlanner(*args).solve(2019, f, _empty(2))
    mip = ClosedLoopPlanner(*args, mode="mip", mip_gap=0.0).solve(2019, f, _empty(2))
    assert lp.objective == pytest.approx(1.2, rel=1e-7)
    assert mip.objective == pytest.approx(1.0, rel=1e-7)
    assert "designation probabilities" in lp.message


def test_first_mode_mip_then_lp() -> None:
    s, obj = _inputs(3)
    _, results = _run_loop(s, RULES[0], obj, first_mode="mip", mip_gap=0.0)
    assert LP_NOTE not in results[0].message
    assert all(LP_NOTE in r.message for r in results[1:])


def test_lp_loop_is_deterministic_and_cold_start_agrees_on_objective() -> None:
    s, obj = _inputs(7)
    a, ra = _run_loop(s, RULES[1], obj)
    b, _ = _run_loop(s, RULES[1], obj)
    np.testing.assert_array_equal(a, b)
    planner = ClosedLoopPlanner(
        s.years, s.budget_cny, s.facts, RULES[1], s.response, obj, warm_start=False
    )
    f = s.facts
    spent = _empty(f.n)
    for i, year in enumerate(s.years):
        res = planner.solve(year, f, spent)
        if i == 0:
            assert res.objective == pytest.approx(ra[0].objective, rel=1e-7)
        assert (
            plan_violations(
                np.concatenate([spent, res.plan_cny]), s.years, s.budget_cny, s.facts, RULES[1]
            )
            == []
        )
        spent = np.concatenate([spent, res.plan_cny[:1]])
        f = _next_facts(f, spent, s, obj.entry_threshold)


@pytest.mark.parametrize("kw", [{"mode": "milp"}, {"first_mode": "exact"}])
def test_unknown_mode(kw: dict[str, str]) -> None:
    s, obj = _inputs(1, n=3, n_years=2)
    with pytest.raises(AllocationError, match="expected one of lp, mip"):
        ClosedLoopPlanner(s.years, s.budget_cny, s.facts, RULES[0], s.response, obj, **kw)  # type: ignore[arg-type]
