"""Known answers computed by hand, and the feasibility messages."""

from __future__ import annotations

import numpy as np
import pytest
from alloc_helpers import facts, one_instrument_curves

from policysim.allocation import (
    INSTRUMENTS,
    AllocationRules,
    ClosedLoopPlanner,
    Objective,
    SolveStatus,
    check_feasibility,
    evaluate_objective,
    plan_optimal,
)
from policysim.errors import InfeasibleAllocationError

K_V = INSTRUMENTS.index("vouchers")


def test_two_counties_rd_optimum_and_budget_dual() -> None:
    """Two counties, one instrument (vouchers), one year, budget B = 1.5e8 CNY, lag 0.

    Extra R&D curves (breakpoints 0, 1e8, 2e8 CNY):
      county A: 0, 0.5e8, 0.75e8 CNY/yr  -> slopes 0.50, 0.25 CNY R&D per CNY
      county B: 0, 0.4e8, 0.80e8 CNY/yr  -> slopes 0.40, 0.40
    Other instruments have zero effect. Objective: rd_weight = 1 per 1e8 CNY of extra R&D.
    Concave maximisation = fill the steepest segments first:
      A's first segment (slope 0.50, 1e8 CNY), then B (slope 0.40) with the remaining 0.5e8.
      x_A = 1.0e8, x_B = 0.5e8 (all as vouchers).
      objective = (0.5 × 1e8 + 0.4 × 0.5e8) / 1e8 = 0.7.
    The last yuan goes to B at slope 0.40, so one more CNY of budget adds 0.40 CNY of R&D,
    i.e. the budget dual = 0.40 / 1e8 = 4e-9 objective per CNY.
    """
    f = facts(2)
    curves = one_instrument_curves(
        [0.0, 1e8, 2e8],
        index_gain=[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        rd_gain=[[0.0, 0.5e8, 0.75e8], [0.0, 0.4e8, 0.8e8]],
        baseline=[[50.0], [50.0]],
    )
    obj = Objective(deadlines={}, entry_threshold=70.0, rd_weight=1.0)
    res = plan_optimal((2019,), np.array([1.5e8]), f, AllocationRules(), curves, obj, mip_gap=0.0)
    assert res.status is SolveStatus.OPTIMAL
    assert res.plan_cny.shape == (1, 2, len(INSTRUMENTS))
    np.testing.assert_allclose(res.plan_cny[0, :, K_V], [1.0e8, 0.5e8], rtol=1e-7)
    np.testing.assert_allclose(res.plan_cny.sum(), 1.5e8, rtol=1e-9)
    assert res.objective == pytest.approx(0.7, rel=1e-7)
    assert res.duals is not None
    np.testing.assert_allclose(res.duals["budget"], [4e-9], rtol=1e-6)
    assert evaluate_objective(res.plan_cny, curves, obj, f, (2019,)) == pytest.approx(0.7)


def test_two_counties_designation() -> None:
    """Threshold 70; baseline A 68, B 65; vouchers give 1 index point per 1e7 CNY (linear up to
    1e8). Budget 3e7 CNY, lag 0, one deadline with weight 1.
    A needs 2e7 CNY (2 points), B needs 5e7: only A can be designated -> objective 1, and A
    gets at least 2e7 CNY.
    """
    f = facts(2)
    curves = one_instrument_curves(
        [0.0, 1e8],
        index_gain=[[0.0, 10.0], [0.0, 10.0]],
        rd_gain=[[0.0, 0.0], [0.0, 0.0]],
        baseline=[[68.0], [65.0]],
    )
    obj = Objective(deadlines={2019: 1.0}, entry_threshold=70.0)
    res = plan_optimal((2019,), np.array([3e7]), f, AllocationRules(), curves, obj, mip_gap=0.0)
    assert res.objective == pytest.approx(1.0)
    assert res.plan_cny[0, 0, K_V] >= 2e7 * (1 - 1e-7)
    assert evaluate_objective(res.plan_cny, curves, obj, f, (2019,)) == pytest.approx(1.0)


def test_floors_above_budget_message() -> None:
    f = facts(100)
    rules = AllocationRules(floor_cny=0.12e8)
    with pytest.raises(InfeasibleAllocationError) as err:
        check_feasibility((2019,), np.array([9.5e8]), f, rules)
    assert "2019: county floors 100 × 0.12亿元 = 12亿元 exceed the budget 9.5亿元" in str(err.value)


def test_poverty_set_aside_above_capacity_message() -> None:
    f = facts(100, poverty=[i < 25 for i in range(100)])
    rules = AllocationRules(ceiling_cny=0.1e8, poverty_share_min=0.30)
    with pytest.raises(InfeasibleAllocationError) as err:
        check_feasibility((2019,), np.array([9.5e8]), f, rules)
    msg = str(err.value)
    assert "poverty set-aside 30% of 9.5亿元 = 2.85亿元 exceeds what 25 poverty counties" in msg
    assert "25 × 0.1亿元 = 2.5亿元" in msg


def test_instrument_minimum_shares_above_100_percent() -> None:
    rules = AllocationRules(instrument_share_min={"vouchers": 0.6, "credit": 0.5})
    with pytest.raises(InfeasibleAllocationError, match=r"minimum shares sum to 110%"):
        check_feasibility((2019,), np.array([1e8]), facts(3), rules)


def test_absorptive_cap_below_floor() -> None:
    f = facts(3, fiscal=[1e6, 5e7, 5e7])
    rules = AllocationRules(floor_cny=5e6, absorptive_multiple=2.0)
    with pytest.raises(InfeasibleAllocationError) as err:
        check_feasibility((2019,), np.array([1e8]), f, rules)
    assert "absorptive cap below the floor 0.05亿元" in str(err.value)
    assert "county 0 (c0): 2 × 0.01亿元 = 0.02亿元" in str(err.value)


def test_budget_above_capacity_when_spending_all() -> None:
    rules = AllocationRules(ceiling_cny=1e7)
    with pytest.raises(InfeasibleAllocationError, match="must be spent but counties may absorb"):
        check_feasibility((2019,), np.array([1e8]), facts(3), rules)
    check_feasibility(
        (2019,), np.array([1e8]), facts(3), AllocationRules(ceiling_cny=1e7, spend_all=False)
    )


def test_solver_infeasibility_names_the_rules() -> None:
    """Past spending (all to county 0) plus a 0% max change forces county 0 to keep everything,
    but a 50% poverty set-aside for county 1 needs half of it: only the solver sees this."""
    f = facts(2, poverty=[False, True])
    curves = one_instrument_curves(
        [0.0, 1e8],
        [[0.0, 5.0], [0.0, 5.0]],
        [[0.0, 0.0], [0.0, 0.0]],
        baseline=[[60.0, 60.0], [60.0, 60.0]],
        lag=0,
    )
    rules = AllocationRules(max_change_pct=0.0, poverty_share_min=0.5)
    obj = Objective(deadlines={2020: 1.0}, entry_threshold=70.0)
    planner = ClosedLoopPlanner(
        (2019, 2020), np.array([1e7, 1e7]), f, rules, curves, obj, time_limit_s=5.0, mip_gap=0.0
    )
    spent = np.zeros((1, 2, len(INSTRUMENTS)))
    spent[0, 0, K_V] = 1e7
    with pytest.raises(InfeasibleAllocationError) as err:
        planner.solve(2020, f, spent)
    msg = str(err.value)
    assert msg.startswith("2020: no allocation meets every rule together")
    assert "max_change" in msg or "poverty_set_aside" in msg
