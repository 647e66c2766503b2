"""Benchmark of the allocation optimiser: 100 counties × 6 instruments × 13 years (2018–2030).

Open loop: model build, HiGHS solve, MIP gap (target ≤ 1 % within 10 s including the build).
Closed loop: one build, then a re-solve per simulated year, the first year of each plan applied
(target ≤ 0.2 s per re-solve). Inputs are synthetic (:mod:`policysim.allocation.synthetic`),
index 40–80, entry threshold 70, concave curves with 4 breakpoints.

Run: ``.venv/bin/python benchmarks/bench_allocation.py [--seed N]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from policysim.allocation import (
    AllocationRules,
    ClosedLoopPlanner,
    Objective,
    evaluate_objective,
    plan_optimal,
    plan_rule,
    project_index,
)
from policysim.allocation.synthetic import synthetic_inputs
from policysim.allocation.types import INSTRUMENTS, CountyFacts


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=20180104)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    s = synthetic_inputs(rng)
    rules = AllocationRules(
        floor_cny=1e6,
        ceiling_cny=4e7,
        poverty_share_min=0.30,
        instrument_share_min={"poverty_programme": 0.05},
        absorptive_multiple=3.0,
        max_change_pct=30.0,
    )
    objective = Objective(
        deadlines={2020: 1.0, 2030: 1.0}, entry_threshold=70.0, rd_weight=0.01, index_weight=0.001
    )
    shares = dict.fromkeys(INSTRUMENTS, 1 / len(INSTRUMENTS))
    print(f"counties {s.facts.n}, instruments {len(INSTRUMENTS)}, years {s.years[0]}–{s.years[-1]}")

    t0 = time.perf_counter()
    rule = plan_rule(
        "factor_formula", s.years, s.budget_cny, s.facts, rules, instrument_shares=shares
    )
    t_rule = time.perf_counter() - t0
    v_rule = evaluate_objective(rule.plan_cny, s.response, objective, s.facts, s.years)
    print(f"factor_formula: {t_rule:.3f} s, objective {v_rule:.3f}")

    t0 = time.perf_counter()
    opt = plan_optimal(s.years, s.budget_cny, s.facts, rules, s.response, objective)
    total = time.perf_counter() - t0
    v_opt = evaluate_objective(opt.plan_cny, s.response, objective, s.facts, s.years)
    print(
        f"optimal (open loop): status {opt.status.value}, total {total:.2f} s (build + solve + "
        f"LP duals), gap {opt.mip_gap:.3%}, model objective {opt.objective:.3f}, exact "
        f"objective {v_opt:.3f}"
    )
    assert opt.duals is not None
    print(f"  budget dual 2019: {opt.duals['budget'][1] * 1e8:.4f} objective per 亿元")

    planner = ClosedLoopPlanner(
        s.years,
        s.budget_cny,
        s.facts,
        rules,
        s.response,
        objective,
        time_limit_s=10.0,
        mip_gap=0.01,
        compute_duals=False,
    )
    print(f"closed loop: build {planner.build_seconds:.2f} s")
    facts = s.facts
    spent = np.zeros((0, facts.n, len(INSTRUMENTS)))
    times = []
    for i, year in enumerate(s.years):
        t0 = time.perf_counter()
        res = planner.solve(year, facts, spent)
        dt = time.perf_counter() - t0
        times.append(dt)
        spent = np.concatenate([spent, res.plan_cny[:1]], axis=0)
        # The "simulation": the index follows the model's own projection (no shocks).
        padded = np.concatenate(
            [spent, np.zeros((len(s.years) - i - 1, facts.n, len(INSTRUMENTS)))], axis=0
        )
        index_next = project_index(padded, s.response)[:, min(i + 1, len(s.years) - 1)]
        designated = facts.designated | (index_next >= objective.entry_threshold)
        facts = CountyFacts(
            codes=facts.codes,
            names=facts.names,
            poverty=facts.poverty,
            research_capacity=facts.research_capacity,
            fiscal_st_spending_cny=facts.fiscal_st_spending_cny,
            management_capacity=facts.management_capacity,
            index=np.clip(index_next, 0.0, 100.0),
            designated=designated,
        )
        print(
            f"  {year}: re-solve {dt:.3f} s, status {res.status.value}, gap {res.mip_gap:.3%}, "
            f"designated {int(facts.designated.sum())}"
        )
    print(
        f"closed loop re-solves: mean {np.mean(times[1:]):.3f} s, max {np.max(times[1:]):.3f} s "
        f"(first solve {times[0]:.3f} s)"
    )


if __name__ == "__main__":
    main()
