"""Hypothesis properties of the rule strategies and the optimiser, and closed-loop consistency."""

from __future__ import annotations

import numpy as np
import pytest
from alloc_helpers import facts
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policysim.allocation import (
    INSTRUMENTS,
    AllocationRules,
    ClosedLoopPlanner,
    CountyFacts,
    Objective,
    ResponseCurves,
    check_feasibility,
    evaluate_objective,
    plan_optimal,
    plan_rule,
    plan_violations,
)
from policysim.allocation.synthetic import synthetic_inputs
from policysim.errors import InfeasibleAllocationError

SHARES = dict(zip(INSTRUMENTS, (0.25, 0.25, 0.15, 0.1, 0.15, 0.1), strict=True))
RULE_STRATEGIES = ("factor_formula", "equal", "needs_weighted")


@st.composite
def rule_cases(draw: st.DrawFn) -> tuple[tuple[int, ...], np.ndarray, CountyFacts, AllocationRules]:
    n = draw(st.integers(2, 10))
    n_years = draw(st.integers(1, 4))
    poverty = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    index = draw(st.lists(st.floats(0, 100), min_size=n, max_size=n))
    fiscal = draw(st.lists(st.floats(1e6, 1e8), min_size=n, max_size=n))
    f = facts(
        n,
        poverty=poverty,
        index=index,
        fiscal=fiscal,
        designated=draw(st.lists(st.booleans(), min_size=n, max_size=n)),
    )
    budget = np.array(draw(st.lists(st.floats(1e7, 1e9), min_size=n_years, max_size=n_years)))
    rules = AllocationRules(
        floor_cny=draw(st.sampled_from([0.0, 1e5, 1e6])),
        ceiling_cny=draw(st.sampled_from([None, 5e7, 2e8])),
        poverty_share_min=draw(st.sampled_from([0.0, 0.2, 0.4])) if any(poverty) else 0.0,
        instrument_share_min=draw(st.sampled_from([{}, {"vouchers": 0.2}])),
        instrument_share_max=draw(st.sampled_from([{}, {"credit": 0.1}])),
        absorptive_multiple=draw(st.sampled_from([None, 5.0, 20.0])),
        max_change_pct=draw(st.sampled_from([None, 50.0])),
        designated_floor_only=draw(st.booleans()),
        spend_all=draw(st.booleans()),
    )
    years = tuple(range(2019, 2019 + n_years))
    try:
        check_feasibility(years, budget, f, rules)
    except InfeasibleAllocationError:
        assume(False)
    return years, budget, f, rules


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(case=rule_cases(), strategy=st.sampled_from(RULE_STRATEGIES))
def test_rule_plans_respect_every_rule(case: tuple, strategy: str) -> None:
    years, budget, f, rules = case
    message = ""
    try:
        res = plan_rule(strategy, years, budget, f, rules, instrument_shares=SHARES)
    except InfeasibleAllocationError as err:
        message = str(err)
    if message:
        # Only the max-change path can defeat a rule strategy after check_feasibility.
        assert "max change" in message
        return
    assert np.all(res.plan_cny >= 0)
    assert plan_violations(res.plan_cny, years, budget, f, rules) == []
    if rules.spend_all:
        np.testing.assert_allclose(res.plan_cny.sum(axis=(1, 2)), budget, rtol=1e-12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    case=rule_cases(),
    strategy=st.sampled_from(RULE_STRATEGIES),
    k=st.sampled_from([1e-3, 7.0, 1e3]),
)
def test_rule_plans_scale_with_money(case: tuple, strategy: str, k: float) -> None:
    years, budget, f, rules = case
    scaled_facts = facts(
        f.n,
        poverty=list(f.poverty),
        index=list(f.index),
        fiscal=list(f.fiscal_st_spending_cny * k),
        designated=list(f.designated),
    )
    scaled_rules = AllocationRules(
        floor_cny=rules.floor_cny * k,
        ceiling_cny=None if rules.ceiling_cny is None else rules.ceiling_cny * k,
        poverty_share_min=rules.poverty_share_min,
        instrument_share_min=rules.instrument_share_min,
        instrument_share_max=rules.instrument_share_max,
        absorptive_multiple=rules.absorptive_multiple,
        max_change_pct=rules.max_change_pct,
        designated_floor_only=rules.designated_floor_only,
        spend_all=rules.spend_all,
    )
    try:
        base = plan_rule(strategy, years, budget, f, rules, instrument_shares=SHARES)
    except InfeasibleAllocationError:
        return
    scaled = plan_rule(
        strategy, years, budget * k, scaled_facts, scaled_rules, instrument_shares=SHARES
    )
    np.testing.assert_allclose(
        scaled.plan_cny, base.plan_cny * k, rtol=1e-7, atol=1e-9 * float(budget.max()) * k
    )


def _small(seed: int, n: int = 6, n_years: int = 4) -> tuple:
    s = synthetic_inputs(
        np.random.default_rng(seed), n_counties=n, years=range(2019, 2019 + n_years)
    )
    rules = AllocationRules(
        floor_cny=2e5, ceiling_cny=4e7, poverty_share_min=0.2, max_change_pct=60.0
    )
    obj = Objective(
        deadlines={2020: 1.0, s.years[-1]: 1.0},
        entry_threshold=70.0,
        rd_weight=0.05,
        index_weight=0.01,
    )
    return s, rules, obj


def _scale(r: ResponseCurves, k: float) -> ResponseCurves:
    return ResponseCurves(
        breakpoints_cny=r.breakpoints_cny * k,
        index_gain=r.index_gain,
        rd_gain_cny=r.rd_gain_cny * k,
        baseline_index=r.baseline_index,
        lag_years=r.lag_years,
    )


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.sampled_from([1e-2, 10.0]))
def test_optimal_scaling_keeps_designations_and_scales_rd(seed: int, k: float) -> None:
    """Scaling all money by k: with only designation terms the objective is unchanged; with only
    the R&D term it scales by k; the scaled plan divided by k is as good on the original."""
    s, rules, obj = _small(seed)
    rules_k = AllocationRules(
        floor_cny=rules.floor_cny * k,
        ceiling_cny=rules.ceiling_cny * k,
        poverty_share_min=rules.poverty_share_min,
        max_change_pct=rules.max_change_pct,
    )
    f_k = facts(
        s.facts.n,
        poverty=list(s.facts.poverty),
        index=list(s.facts.index),
        fiscal=list(s.facts.fiscal_st_spending_cny * k),
        designated=list(s.facts.designated),
    )
    f = facts(
        s.facts.n,
        poverty=list(s.facts.poverty),
        index=list(s.facts.index),
        fiscal=list(s.facts.fiscal_st_spending_cny),
        designated=list(s.facts.designated),
    )
    for o in (
        Objective(deadlines=obj.deadlines, entry_threshold=70.0),
        Objective(deadlines={}, entry_threshold=70.0, rd_weight=1.0),
    ):
        base = plan_optimal(s.years, s.budget_cny, f, rules, s.response, o, mip_gap=0.0)
        scaled = plan_optimal(
            s.years, s.budget_cny * k, f_k, rules_k, _scale(s.response, k), o, mip_gap=0.0
        )
        factor = k if o.rd_weight else 1.0
        assert base.objective is not None and scaled.objective is not None
        assert scaled.objective == pytest.approx(base.objective * factor, rel=1e-6, abs=1e-6)
        back = evaluate_objective(scaled.plan_cny / k, s.response, o, f, s.years)
        assert back == pytest.approx(base.objective, rel=1e-6, abs=1e-6)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_optimal_beats_factor_formula_and_respects_rules(seed: int) -> None:
    s, rules, obj = _small(seed)
    opt = plan_optimal(s.years, s.budget_cny, s.facts, rules, s.response, obj, mip_gap=0.0)
    rule = plan_rule(
        "factor_formula", s.years, s.budget_cny, s.facts, rules, instrument_shares=SHARES
    )
    v_opt = evaluate_objective(opt.plan_cny, s.response, obj, s.facts, s.years)
    v_rule = evaluate_objective(rule.plan_cny, s.response, obj, s.facts, s.years)
    assert v_opt >= v_rule - 1e-6
    assert opt.objective == pytest.approx(v_opt, rel=1e-6, abs=1e-6)
    assert np.all(opt.plan_cny >= 0)
    assert plan_violations(opt.plan_cny, s.years, s.budget_cny, s.facts, rules) == []


def test_optimal_is_deterministic() -> None:
    s, rules, obj = _small(3)
    a = plan_optimal(s.years, s.budget_cny, s.facts, rules, s.response, obj, mip_gap=0.0)
    b = plan_optimal(s.years, s.budget_cny, s.facts, rules, s.response, obj, mip_gap=0.0)
    np.testing.assert_array_equal(a.plan_cny, b.plan_cny)


def test_closed_loop_plan_is_consistent_with_spending() -> None:
    """Re-planning from the second year after spending the first year of the open-loop plan:
    the remaining plan has the remaining years, and history + plan satisfies every rule over
    all years (including the max change across the seam)."""
    s, rules, obj = _small(11, n=8, n_years=5)
    planner = ClosedLoopPlanner(
        s.years, s.budget_cny, s.facts, rules, s.response, obj, time_limit_s=10.0, mip_gap=0.0
    )
    first = planner.solve(s.years[0], s.facts, np.zeros((0, s.facts.n, len(INSTRUMENTS))))
    spent = first.plan_cny[:1] * 0.9 + first.plan_cny[:1].sum() * 0.1 / first.plan_cny[0].size
    second = planner.solve(s.years[1], s.facts, spent)
    assert second.years == s.years[1:]
    assert second.plan_cny.shape == (len(s.years) - 1, s.facts.n, len(INSTRUMENTS))
    whole = np.concatenate([spent, second.plan_cny])
    # The perturbed history gives poverty-programme money to non-poverty counties; only check
    # the re-planned years' rules plus the max change from the spent year.
    broken = plan_violations(whole, s.years, s.budget_cny, s.facts, rules)
    assert [b for b in broken if not b.startswith(str(s.years[0]))] == []
    # Going back to year one reproduces a full plan of all years.
    again = planner.solve(s.years[0], s.facts, np.zeros((0, s.facts.n, len(INSTRUMENTS))))
    assert again.plan_cny.shape[0] == len(s.years)
    assert again.objective == pytest.approx(first.objective, rel=1e-6)


def _bisection_fill(w: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float) -> np.ndarray:
    """Reference: bisection on the level ``lam`` of ``clip(lam * w, lo, hi)``."""
    a, b = 0.0, 1.0
    while np.clip(b * w, lo, hi).sum() < total:
        b *= 2.0
    for _ in range(200):
        mid = 0.5 * (a + b)
        a, b = (mid, b) if np.clip(mid * w, lo, hi).sum() < total else (a, mid)
    return np.clip(b * w, lo, hi)


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(0.01, 10.0), st.floats(0.0, 1e6), st.floats(0.0, 1e7)),
        min_size=1,
        max_size=40,
    ),
    fill=st.floats(0.0, 0.999),
)
def test_water_fill_matches_bisection(data: list[tuple[float, float, float]], fill: float) -> None:
    from policysim.allocation.rules import water_fill

    w = np.array([d[0] for d in data])
    lo = np.array([d[1] for d in data])
    hi = lo + np.array([d[2] for d in data])
    total = float(lo.sum() + fill * (hi.sum() - lo.sum()))
    x = water_fill(w, lo, hi, total)
    assert x.sum() == pytest.approx(total, rel=1e-12, abs=1e-6)
    assert (x >= lo - 1e-6).all() and (x <= hi + 1e-6).all()
    np.testing.assert_allclose(x, _bisection_fill(w, lo, hi, total), rtol=1e-9, atol=1e-3)


def test_needs_weighted_poverty_split_is_never_negative() -> None:
    """Regression (found by Hypothesis in test_rule_plans_respect_every_rule): one poverty county
    whose poverty-programme share is water-filled up to its whole total; the rounding residue
    made the rest of that county -1e-9 CNY, split among the other instruments."""
    f = facts(
        5,
        poverty=[False, False, False, True, False],
        index=[85.96, 85.39, 56.35, 94.16, 57.32],
        fiscal=[74396000.0, 67739000.0, 72672000.0, 29359000.0, 75204000.0],
        designated=[False, False, True, False, True],
    )
    rules = AllocationRules(floor_cny=1e5, absorptive_multiple=5.0, spend_all=True)
    budget = np.array([385100000.0, 927000000.0, 748000000.0, 676400000.0])
    years = (2019, 2020, 2021, 2022)
    res = plan_rule("needs_weighted", years, budget, f, rules, instrument_shares=SHARES)
    assert res.plan_cny.min() >= 0.0
    assert plan_violations(res.plan_cny, years, budget, f, rules) == []
    np.testing.assert_allclose(res.plan_cny.sum(axis=(1, 2)), budget, rtol=1e-12)
