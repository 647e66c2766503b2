"""Optimised allocation verified in the agent-based model (issue 15).

The allocation model (:mod:`policysim.allocation`) optimises a *surrogate* of the agent-based
model: concave response curves, a fixed entry score, no evaluation noise, no batch process as
the model runs it. Its plan is a proposal, not an answer. This module checks proposals in the
model itself, on common random numbers, against the rule strategies, and keeps only what wins
there:

1. **Start.** The three rule strategies (factor formula, equal, needs-weighted, each at the
   county facts of every simulated year) and the surrogate's plan are run on the same
   ``allocation.verification.replications`` seeds and parameter draws (run ids from
   :data:`VERIFY_RUN_OFFSET`, apart from every ensemble's). The incumbent is the best rule on
   the scenario's objective (:func:`objective_of_runs`).
2. **Trust region.** A plan is a *mix*: yearly plan = sum of weights x component plans
   (:data:`COMPONENTS`), with one instrument split for the rule components. Each round moves the
   incumbent a share ``r`` (the trust-region radius) toward every component and toward every
   instrument, runs all candidates on the same draws, and accepts the best only if its paired
   gain on the exact objective is >= 0 and its gain on the smoothed objective exceeds
   ``min_t`` standard errors. A round without an accepted step halves ``r``; the search stops
   below ``min_radius`` or after ``max_iterations`` rounds. Convex combinations of plans that keep
   every linear allocation rule keep them too, so every candidate is feasible.
3. **Never worse than the best rule.** The result is the incumbent: the best rule unless a mix
   beats it on the verification draws. The record (:class:`Verification`) holds every round, the
   paired gains, and the surrogate's calibration: its predicted probability that each county is
   a provincial innovative county at each deadline against what the model did in the surrogate's
   own verification runs (out of sample: the curves were estimated on other seeds), with the
   Brier score.

The closed loop (strategy ``closed_loop``) starts from the verified open-loop mix of the same
scenario with the surrogate solved in the closed loop's own solver mode, and tries moving toward
the yearly re-plan (component ``replan``): the value of re-planning is measured against the open
loop in the same solver mode, and the closed loop is never worse than it on the verification
dra

The parts: :mod:`~policysim.experiments.verify_mix` (mixes and their allocator),
:mod:`~policysim.experiments.verify_objective` (the objective from model runs),
:mod:`~policysim.experiments.verify_runs` (the verification runs),
:mod:`~policysim.experiments.verify_search` (the trust-region search) and
:mod:`~policysim.experiments.verify_calibration` (the surrogate's calibration); this module runs
the search and keeps its record and cache, and holds the two optimiser strategies.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from policysim import coupling
from policysim.allocation import INSTRUMENTS, ClosedLoopPlanner
from policysim.data import Baseline
from policysim.experiments.runner import Engine
from policysim.experiments.verify_calibration import BETWEEN_RUN_INDEX_SD as BETWEEN_RUN_INDEX_SD
from policysim.experiments.verify_calibration import calibration_table
from policysim.experiments.verify_calibration import (
    surrogate_probabilities as surrogate_probabilities,
)
from policysim.experiments.verify_mix import (
    COMPONENTS,
    POLICY_RULE,
    RULES,
    FloatArray,
    Mix,
    MixAllocator,
)
from policysim.experiments.verify_objective import RunOutcomes as RunOutcomes
from policysim.experiments.verify_objective import (
    _concat,
    _margin_scale,
    deadlines,
    objective_of_runs,
    target_weights,
)
from policysim.experiments.verify_runs import VERIFY_RUN_OFFSET, Evaluator, evaluate_mixes
from policysim.experiments.verify_runs import verification_runs as verification_runs
from policysim.experiments.verify_search import _better, _Search, _trust_region
from policysim.model import CountySummary, PolicyModel
from policysim.scenario.schema import Scenario
from policysim.simulation import baseline_for

__all__ = [
    "COMPONENTS",
    "VERIFY_RUN_OFFSET",
    "Mix",
    "MixAllocator",
    "Verification",
    "VerifiedAllocator",
    "VerifiedClosedLoopAllocator",
    "calibration_table",
    "deadlines",
    "evaluate_mixes",
    "objective_of_runs",
    "verified_policy_for",
    "verify",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verification:
    """What the verified optimiser did (stored with the plan, written into run directories).

    Attributes
    ----------
    mix : Mix
        The returned plan.
    surrogate_plan : (n_years, n_counties, n_instruments) float array, CNY
    record : dict
        JSON-ready: objective, runs, the rules' and surrogate's objective, the rounds
        (``iterations``), the final paired gains against every rule, the surrogate's calibration
        table and Brier scores, seconds.
    """

    mix: Mix
    surrogate_plan: FloatArray
    record: dict[str, Any] = field(default_factory=dict)

    def iterations(self) -> pd.DataFrame:
        return pd.DataFrame(self.record.get("iterations", []))

    def calibration(self) -> pd.DataFrame:
        return pd.DataFrame(self.record.get("calibration", []))

    def brier(self) -> pd.DataFrame:
        return pd.DataFrame(self.record.get("brier", []))


def _surrogate_plan(
    scenario: Scenario, mode: str, engine: Engine | None = None
) -> tuple[FloatArray, dict[str, Any]]:
    """The surrogate's open-loop plan of the horizon in solver ``mode`` (its response curves
    estimated on ``engine`` when given)."""
    if mode == "mip":
        plan, row = coupling.optimal_plan_for(scenario, engine)
        return np.asarray(plan, dtype=np.float64), dict(row)
    start = PolicyModel(
        scenario,
        baseline_for(scenario),
        scenario.parameters(),
        np.random.default_rng(np.random.SeedSequence(int(scenario.ensemble.root_seed))),
    )
    facts = coupling.county_facts(start.summary())
    years, budget = coupling.budget_path(scenario)
    rules = coupling.allocation_rules(scenario)
    coupling._feasible(scenario, years, budget, facts, rules)
    solver = scenario.allocation.solver
    planner = ClosedLoopPlanner(
        years,
        budget,
        facts,
        rules,
        coupling.response_for(scenario, engine),
        coupling.objective(scenario),
        time_limit_s=solver.time_limit_s,
        mip_gap=solver.mip_gap,
        compute_duals=False,
        mode="lp",
    )
    result = planner.solve(years[0], facts, np.zeros((0, facts.n, len(INSTRUMENTS))))
    coupling._check_result(result, scenario)
    return np.asarray(result.plan_cny, dtype=np.float64), coupling._solve_row(result, years[0])


def verify(
    scenario: Scenario,
    workers: int = 1,
    *,
    evaluate: Evaluator | None = None,
    surrogate: tuple[FloatArray, dict[str, Any]] | None = None,
    engine: Engine | None = None,
) -> Verification:
    """Run the verified search (uncached; :func:`verified_policy_for` caches it) on ``engine``
    (the caller's, e.g. a study's, so that a Dask scheduler runs the verification too), else on
    one engine of ``workers`` local processes started for the whole search.

    ``evaluate`` replaces the model runs (a function of a list of mixes returning their
    outcomes on common draws) and ``surrogate`` the surrogate's plan and solve record: for tests
    with a known answer.
    """
    if engine is None and workers > 1 and evaluate is None:
        # one pool for every round (a pool per round started its processes again each time)
        with Engine(workers, None) as own:
            return verify(scenario, workers, surrogate=surrogate, engine=own)
    t0 = time.perf_counter()
    a = scenario.allocation
    closed = a.strategy == "closed_loop"
    mode = a.solver.closed_loop_mode if closed else a.solver.open_loop_mode
    shares = tuple(float(a.instrument_shares.get(k, 0.0)) for k in INSTRUMENTS)  # type: ignore[call-overload]
    log: list[dict[str, Any]] = []
    base: Verification | None = None
    if closed:
        twin = open_loop_twin(scenario)
        base = verified_policy_for(twin, workers=workers, engine=engine)
        surrogate_plan = base.surrogate_plan
        solve_row = dict(base.record.get("surrogate_solve", {}))
    else:
        surrogate_plan, solve_row = (
            _surrogate_plan(scenario, mode, engine) if surrogate is None else surrogate
        )
    t_solve = time.perf_counter() - t0
    search = _Search(scenario, surrogate_plan, workers, evaluate, engine)
    if closed and evaluate is None:
        # the open-loop twin's runs of mixes without re-planning are these runs too (the model
        # reads neither the strategy nor the solver mode): not run twice in one process
        search.seen.update(_SEEN.get(_key(open_loop_twin(scenario)), {}))
    vertices = {c: Mix.vertex(c, shares) for c in (*RULES, "surrogate")}
    scores, best_rule = _first_round(search, vertices, log)
    if base is not None:
        incumbent = base.mix
        search.run([incumbent])
        # re-planning must not fall below the open-loop plan either
        search.references = list(dict.fromkeys([*search.references, incumbent]))
        incumbent = _trust_region(
            search, incumbent, ("replan",), instruments=False, start_iteration=0, log=log
        )
        # never worse than the best rule on these draws either (by construction of the twin's
        # search the open-loop mix is not; the replan steps are accepted only on a gain)
    else:
        incumbent = _open_loop_search(search, vertices, best_rule, log)
    record = _record(
        search,
        incumbent,
        vertices,
        scores,
        best_rule,
        log,
        surrogate=(surrogate_plan, solve_row, mode),
        times=(t0, t_solve),
    )
    logger.info(
        "%s verified in %.1f s (%d model runs): %s",
        a.strategy,
        record["seconds"]["total"],
        search.n_runs,
        incumbent.describe(),
    )
    if not closed and evaluate is None:
        _SEEN[_key(scenario)] = dict(search.seen)
    return Verification(incumbent, surrogate_plan, record)


_SEEN: dict[str, dict[Mix, RunOutcomes]] = {}
"""The verification runs of each open-loop search made in this process, by its cache key."""


Scores = dict[str, tuple[FloatArray, FloatArray]]
"""Exact and smoothed objective per run of each vertex (rule or surrogate)."""


def _first_round(
    search: _Search, vertices: Mapping[str, Mix], log: list[dict[str, Any]]
) -> tuple[Scores, str]:
    """Run the rules and the surrogate's plan; set the margin scale; log and return their
    objectives and the best rule."""
    search.run(list(vertices.values()))
    # the margin scale of the smoothed objective: the spread of each target over the rule runs
    search.scale = _margin_scale(
        search.scenario, _concat([search.seen[vertices[r]] for r in RULES])
    )
    scores = {c: search.objective(m) for c, m in vertices.items()}
    # the start: the best rule among those that fall on no target below the policy's own rule
    policy = vertices[POLICY_RULE]
    admissible = [r for r in RULES if not search.falls(vertices[r], [policy])]
    best_rule = max(admissible, key=lambda r: (scores[r][0].mean(), scores[r][1].mean()))
    search.references = list(dict.fromkeys([policy, vertices[best_rule]]))
    log.append(
        {
            "iteration": 0,
            "radius": float("nan"),
            "candidates": len(vertices),
            "best_candidate": f"best rule: {best_rule}",
            **search.gain(vertices["surrogate"], vertices[best_rule]),
            "accepted": True,
            "objective": float(scores[best_rule][0].mean()),
            "plan": vertices[best_rule].describe(),
        }
    )
    return scores, best_rule


def _open_loop_search(
    search: _Search, vertices: Mapping[str, Mix], best_rule: str, log: list[dict[str, Any]]
) -> Mix:
    """From the best rule (or the surrogate's own plan when it wins outright), the trust region
    toward every rule, the surrogate and every instrument."""
    incumbent = vertices[best_rule]
    # the surrogate's own plan as a first step when it wins outright
    g = search.gain(vertices["surrogate"], incumbent)
    if _better(g, search.scenario.allocation.verification.min_t) and not search.falls(
        vertices["surrogate"]
    ):
        incumbent = vertices["surrogate"]
    return _trust_region(
        search,
        incumbent,
        (*RULES, "surrogate"),
        instruments=True,
        start_iteration=0,
        log=log,
    )


def _calibration(
    search: _Search, vertices: Mapping[str, Mix], surrogate_plan: FloatArray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The surrogate's calibration table and Brier scores on its own verification runs."""
    scenario = search.scenario
    dl = deadlines(scenario)
    realised = search.seen[vertices["surrogate"]].provincial
    if realised.shape[-1]:
        predicted = surrogate_probabilities(
            scenario, surrogate_plan, coupling.response_for(scenario), dl
        )
        return calibration_table(predicted, realised, dl)
    # an evaluator without county outcomes (tests)
    return pd.DataFrame(), pd.DataFrame()


def _objective_text(scenario: Scenario) -> str:
    a = scenario.allocation
    return (
        "targets: weighted share of the scenario's targets met at their deadlines (weights "
        f"{dict(zip([t.name for t in scenario.targets], target_weights(scenario).tolist(), strict=True))})"
        if a.objective.kind == "targets"
        else "designations: provincial innovative counties at the deadlines weighted by "
        f"{dict(a.objective.deadline_weights)}"
    )


def _record(
    search: _Search,
    incumbent: Mix,
    vertices: Mapping[str, Mix],
    scores: Scores,
    best_rule: str,
    log: list[dict[str, Any]],
    *,
    surrogate: tuple[FloatArray, dict[str, Any], str],
    times: tuple[float, float],
) -> dict[str, Any]:
    """The JSON-ready record of a search (see :class:`Verification`); ``surrogate`` is the
    surrogate's plan, solve record and solver mode, ``times`` the start and the surrogate's
    solve time."""
    scenario = search.scenario
    a = scenario.allocation
    surrogate_plan, solve_row, mode = surrogate
    t0, t_solve = times
    final_exact, _ = search.objective(incumbent)
    vs_rules = []
    vs_targets = []
    for r in RULES:
        g = search.gain(incumbent, vertices[r])
        vs_rules.append({"rule": r, **g})
        vs_targets += [{"rule": r, **row} for row in search.target_gains(incumbent, vertices[r])]
    table, brier = _calibration(search, vertices, surrogate_plan)
    objective_desc = _objective_text(scenario)
    seconds = {"surrogate": t_solve, "total": time.perf_counter() - t0}
    return {
        "strategy": a.strategy,
        "objective_kind": a.objective.kind,
        "objective": objective_desc,
        "surrogate_objective": "expected designations by the deadlines (allocation model)",
        "solver_mode": mode,
        "surrogate_solve": solve_row,
        "verification_runs": a.verification.replications,
        "run_ids_from": VERIFY_RUN_OFFSET,
        "model_runs": search.n_runs,
        "best_rule": best_rule,
        "rules": {
            c: {"objective": float(scores[c][0].mean()), "smoothed": float(scores[c][1].mean())}
            for c in (*RULES, "surrogate")
        },
        "iterations": log,
        "plan": incumbent.as_dict(),
        "plan_text": incumbent.describe(),
        "objective_value": float(final_exact.mean()),
        "vs_rules": vs_rules,
        "vs_rules_by_target": vs_targets,
        "target_guard": {
            "t": a.verification.target_guard_t,
            "references": [m.describe() for m in search.references],
            "falls": search.falls(incumbent),
        },
        "calibration": table.to_dict(orient="records"),
        "brier": brier.to_dict(orient="records"),
        "seconds": seconds,
    }


def open_loop_twin(scenario: Scenario) -> Scenario:
    """The open-loop (strategy ``optimal``) version of a closed-loop scenario, its surrogate
    solved in the closed loop's solver mode."""
    a = scenario.allocation
    solver = a.solver.model_copy(update={"open_loop_mode": a.solver.closed_loop_mode})
    alloc = a.model_copy(update={"strategy": "optimal", "solver": solver})
    return scenario.model_copy(update={"allocation": alloc})


def _key(scenario: Scenario) -> str:
    dump = scenario.model_dump(mode="json")
    dump.pop("metadata", None)  # the name and description do not change the plan
    text = json.dumps(
        [
            "verified",
            coupling.CACHE_FORMAT,
            coupling._code_fingerprint(),
            _own_fingerprint(),
            dump,
            dict(baseline_for(scenario).checksums),
        ],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


#: The modules of the verified search (this one and its parts), hashed into the cache key.
_SEARCH_MODULES: Final = (
    "verify.py",
    "verify_calibration.py",
    "verify_mix.py",
    "verify_objective.py",
    "verify_runs.py",
    "verify_search.py",
)


@functools.cache
def _own_fingerprint() -> str:
    """Hash of the search's modules as imported (a verified plan is reused only by the code that
    made it; read once, so that editing a file under a running ensemble changes no key)."""
    digest = hashlib.sha256()
    for name in _SEARCH_MODULES:
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()[:16]


_VERIFIED: dict[str, Verification] = {}


def verified_policy_for(
    scenario: Scenario, *, workers: int = 1, engine: Engine | None = None
) -> Verification:
    """The verified plan of an optimiser scenario (``optimal`` or ``closed_loop``), computed once
    and cached in memory and on disk (the same for every replication, order of runs, number of
    workers and backend); computed on ``engine`` when given, else on ``workers`` local
    processes."""
    if scenario.allocation.strategy not in ("optimal", "closed_loop"):
        raise ValueError(f"strategy {scenario.allocation.strategy!r} is not an optimiser")
    key = _key(scenario)
    if key in _VERIFIED:
        return _VERIFIED[key]
    path = coupling.cache_dir() / f"plan-verified-{key}.npz"
    z = coupling._load_npz(path, key)
    if z is not None:
        record = json.loads(str(z["record"]))
        v = Verification(Mix.from_dict(record["plan"]), z["surrogate"], record)
    else:
        v = verify(scenario, workers, engine=engine)
        coupling._save_npz(
            path,
            {
                "surrogate": v.surrogate_plan,
                "record": np.array(json.dumps(v.record, default=_json_default)),
            },
            key,
        )
        v = replace(v, record=json.loads(json.dumps(v.record, default=_json_default)))
    _VERIFIED[key] = v
    return v


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return str(o)


class VerifiedAllocator:
    """Strategy ``optimal``: the verified mix (:func:`verified_policy_for`)."""

    def __init__(self, scenario: Scenario, baseline: Baseline) -> None:
        self.scenario = scenario
        self.baseline = baseline
        self.inner: MixAllocator | None = None
        self.solves: list[dict[str, Any]] = []
        self.plans: dict[int, FloatArray] = {}

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        if self.inner is None:
            v = verified_policy_for(self.scenario)
            self.inner = MixAllocator(self.scenario, self.baseline, v.mix, v.surrogate_plan)
            row = dict(v.record.get("surrogate_solve", {}))
            row["message"] = (
                f"verified in the model ({v.record['objective_kind']} objective): "
                f"{v.record['plan_text']}"
            )
            self.solves.append(row)
        before = len(self.inner.solves)
        plan = self.inner(year, summary)
        self.solves.extend(self.inner.solves[before:])
        self.plans[year] = plan
        return plan


class VerifiedClosedLoopAllocator(VerifiedAllocator):
    """Strategy ``closed_loop``: the verified open-loop mix, moved toward the yearly re-plan
    where that wins in the model."""

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        return super().__call__(year, summary)
