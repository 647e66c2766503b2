"""Response curves of the optimiser estimated from runs of the agent-based model (common random
numbers), and the open-loop optimal plan of a scenario, both cached."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from policysim.allocation import (
    INSTRUMENTS,
    ResponseCurves,
    plan_optimal,
    plan_violations,
)
from policysim.coupling.cache import _cache_key, _load_npz, _save_npz, cache_dir
from policysim.coupling.inputs import (
    _check_result,
    _feasible,
    _solve_row,
    allocation_rules,
    budget_path,
    county_facts,
    objective,
)
from policysim.data import Baseline
from policysim.model import CountySummary, PolicyModel, zero_allocator
from policysim.scenario.schema import Scenario

logger = logging.getLogger("policysim.coupling")

FloatArray = NDArray[np.float64]


def _run_index(
    scenario: Scenario,
    baseline: Baseline,
    params: dict[str, float],
    seed: np.random.SeedSequence,
    allocator: Any,
) -> tuple[FloatArray, FloatArray]:
    """Index (n_years+1, n_counties) and county R&D (n_years+1, n_counties) of one run."""
    model = PolicyModel(scenario, baseline, params, np.random.default_rng(seed), allocator)
    for _ in scenario.horizon.years:
        model.step()
    index = np.vstack([r.index for r in model.records])
    rd = np.vstack([r.rd_reported for r in model.records])
    return index, rd


class _ConstantPlan:
    def __init__(self, plan: FloatArray) -> None:
        self.plan = plan

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        return self.plan


def _concave(gains: FloatArray, bp: FloatArray) -> FloatArray:
    """Nondecreasing concave fit through (bp, gains) along the last axis, 0 at bp = 0.

    Slopes are clipped at 0 and made nonincreasing by a running minimum (a conservative
    concave minorant of the noisy estimates).
    """
    g = np.maximum(gains, 0.0)
    g[..., 0] = 0.0
    slopes = np.maximum(np.diff(g, axis=-1) / np.diff(bp), 0.0)
    slopes = np.minimum.accumulate(slopes, axis=-1)
    out = np.zeros_like(g)
    out[..., 1:] = np.cumsum(slopes * np.diff(bp), axis=-1)
    return out


class Mapper(Protocol):
    """What runs the estimation's model runs: an engine's ``map`` (in order)."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]: ...


@dataclass(frozen=True)
class _ResponseRun:
    """One model run of the estimation: no provincial funds (``plan`` None) or a constant
    plan every year."""

    scenario: Scenario
    params: dict[str, float]
    seed: np.random.SeedSequence
    plan: FloatArray | None


def _fresh(seed: np.random.SeedSequence) -> np.random.SeedSequence:
    """An unused copy of a seed sequence (the same streams as the original before any use)."""
    return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)


def _baseline_of(scenario: Scenario) -> Baseline:
    """The scenario's baseline (:func:`policysim.simulation.baseline_for`; imported here, as the
    simulation layer imports this one)."""
    from policysim.simulation import baseline_for

    return baseline_for(scenario)


def _response_run(task: _ResponseRun) -> tuple[FloatArray, FloatArray]:
    allocator = zero_allocator if task.plan is None else _ConstantPlan(task.plan)
    return _run_index(task.scenario, _baseline_of(task.scenario), task.params, task.seed, allocator)


def estimate_response(
    scenario: Scenario,
    baseline: Baseline,
    params: dict[str, float],
    root: int,
    engine: Mapper | None = None,
) -> ResponseCurves:
    """Estimate index and R&D responses to cumulative funds per county and instrument.

    For each instrument k and breakpoint B (cumulative CNY per county), every county receives
    B / 3 per year of instrument k and nothing else; the gain of each county's index three years
    in (the 2020 deadline of the policy) over a run without provincial funds, with the same seeds
    (common random numbers) and averaged over ``allocation.response.replications`` seeds, is the
    response at B. Counties interact only through designation quotas, which do not feed back into
    the index within the window, so one run measures all counties at once. With ``engine`` the
    runs go to its workers (the scenario's own baseline, ``baseline`` unused); the same curves.
    """
    spec = scenario.allocation.response
    bp = np.asarray(spec.breakpoints_100m_cny, dtype=np.float64) * 1e8
    n_years = len(scenario.horizon.years)
    seeds = np.random.SeedSequence(root).spawn(spec.replications)
    n_c = len(baseline.counties)
    horizon_years = 3
    base_index = np.zeros((n_years + 1, n_c))
    base_rd = np.zeros((n_years + 1, n_c))
    gains = np.zeros((n_c, len(INSTRUMENTS), len(bp)))
    rd_gains = np.zeros_like(gains)
    plans: list[FloatArray | None] = [None]
    for k in range(len(INSTRUMENTS)):
        for j in range(1, len(bp)):
            plan = np.zeros((n_c, len(INSTRUMENTS)))
            plan[:, k] = bp[j] / horizon_years
            plans.append(plan)
    # a fresh copy of the seed for every run: the model spawns its streams from the generator's
    # seed sequence, which counts its children, so runs given one SeedSequence object in turn
    # drew different streams (funded and unfunded runs were not on common random numbers)
    tasks = [_ResponseRun(scenario, params, _fresh(s), p) for s in seeds for p in plans]
    if engine is None:
        runs = [
            _run_index(
                scenario,
                baseline,
                params,
                t.seed,
                zero_allocator if t.plan is None else _ConstantPlan(t.plan),
            )
            for t in tasks
        ]
    else:
        runs = engine.map(_response_run, tasks)
    per_seed = len(plans)
    for i in range(len(seeds)):
        idx0, rd0 = runs[i * per_seed]
        base_index += idx0 / len(seeds)
        base_rd += rd0 / len(seeds)
        m = 1
        for k in range(len(INSTRUMENTS)):
            for j in range(1, len(bp)):
                idx, rd = runs[i * per_seed + m]
                m += 1
                gains[:, k, j] += (idx[horizon_years] - idx0[horizon_years]) / len(seeds)
                rd_gains[:, k, j] += (rd[horizon_years] - rd0[horizon_years]) / len(seeds)
    poverty = baseline.counties["poverty_county"].to_numpy(bool)
    k_pov = INSTRUMENTS.index("poverty_programme")
    gains[~poverty, k_pov, :] = 0.0
    rd_gains[~poverty, k_pov, :] = 0.0
    return ResponseCurves(
        breakpoints_cny=bp,
        index_gain=_concave(gains, bp),
        rd_gain_cny=_concave(rd_gains, bp),
        baseline_index=np.clip(base_index[1:].T, 0.0, 100.0),
        lag_years=1,
    )


_RESPONSES: dict[str, ResponseCurves] = {}
_PLANS: dict[str, tuple[FloatArray, dict[str, Any]]] = {}


def response_for(scenario: Scenario, engine: Mapper | None = None) -> ResponseCurves:
    """Response curves of a scenario at its default parameters, estimated once (on ``engine``'s
    workers when given) and cached in memory and on disk."""
    key = _cache_key(scenario, "response")
    if key in _RESPONSES:
        return _RESPONSES[key]
    path = cache_dir() / f"response-{key}.npz"
    z = _load_npz(path, key)
    if z is not None:
        curves = ResponseCurves(
            breakpoints_cny=z["breakpoints_cny"],
            index_gain=z["index_gain"],
            rd_gain_cny=z["rd_gain_cny"],
            baseline_index=z["baseline_index"],
            lag_years=int(z["lag_years"]),
        )
    else:
        start = time.perf_counter()
        curves = estimate_response(
            scenario,
            _baseline_of(scenario),
            scenario.parameters(),
            int(scenario.ensemble.root_seed),
            engine,
        )
        logger.info("response curves estimated in %.1f s", time.perf_counter() - start)
        _save_npz(
            path,
            {
                "breakpoints_cny": curves.breakpoints_cny,
                "index_gain": curves.index_gain,
                "rd_gain_cny": curves.rd_gain_cny,
                "baseline_index": curves.baseline_index,
                "lag_years": np.array(curves.lag_years),
            },
            key,
        )
    _RESPONSES[key] = curves
    return curves


def optimal_plan_for(
    scenario: Scenario, engine: Mapper | None = None
) -> tuple[FloatArray, dict[str, Any]]:
    """The open-loop optimal plan of the whole horizon, decided at the start from the expected
    base-year county facts (a model at the scenario's default parameters and root seed): the
    province plans before it knows how the years turn out. Solved once per scenario and cached,
    so every replication applies the same plan whatever the order of runs or workers."""
    key = _cache_key(scenario, "optimal-plan")
    if key in _PLANS:
        return _PLANS[key]
    path = cache_dir() / f"plan-{key}.npz"
    rules = allocation_rules(scenario)
    years, budget = budget_path(scenario)
    start_model = PolicyModel(
        scenario,
        _baseline_of(scenario),
        scenario.parameters(),
        np.random.default_rng(np.random.SeedSequence(int(scenario.ensemble.root_seed))),
    )
    facts = county_facts(start_model.summary())
    z = _load_npz(path, key)
    if z is not None:
        # a cached plan must still keep the budget and every rule (or it is solved again)
        broken = plan_violations(z["plan"], years, budget, facts, rules, rtol=1e-6)
        if not broken:
            entry = (z["plan"], json.loads(str(z["solve"])))
            _PLANS[key] = entry
            return entry
        logger.warning("ignoring the cached plan %s: %s", path, "; ".join(broken[:2]))
        path.unlink(missing_ok=True)
    _feasible(scenario, years, budget, facts, rules)
    solver = scenario.allocation.solver
    result = plan_optimal(
        years,
        budget,
        facts,
        rules,
        response_for(scenario, engine),
        objective(scenario),
        time_limit_s=solver.time_limit_s,
        mip_gap=solver.mip_gap,
    )
    _check_result(result, scenario)
    row = _solve_row(result, years[0])
    if result.duals and "budget" in result.duals:
        row["budget_dual_per_100m_cny"] = [float(d) * 1e8 for d in result.duals["budget"]]
    plan = np.asarray(result.plan_cny, dtype=np.float64)
    _save_npz(path, {"plan": plan, "solve": np.array(json.dumps(row, default=str))}, key)
    _PLANS[key] = (plan, row)
    return plan, row
