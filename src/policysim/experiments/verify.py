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
draws.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from policysim import coupling
from policysim.allocation import INSTRUMENTS, ClosedLoopPlanner, project_index
from policysim.analysis.targets import target_outcomes
from policysim.data import Baseline
from policysim.errors import ScenarioError
from policysim.experiments.design import draw_parameters, run_seed, synthesis_seeds_of
from policysim.experiments.runner import Engine
from policysim.model import CountySummary, PolicyModel
from policysim.scenario.schema import Scenario
from policysim.simulation import baseline_for, simulate

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

FloatArray = NDArray[np.float64]

RULES: Final = ("factor_formula", "equal", "needs_weighted")
COMPONENTS: Final = (*RULES, "surrogate", "replan")
"""Component plans of a mix: the three rules at the year's county facts, the surrogate's
open-loop plan, and the closed-loop re-plan of the year (closed loop only)."""

VERIFY_RUN_OFFSET: Final = 10**6
"""Run ids of the verification runs start here (seeds ``SeedSequence(root, spawn_key=(id,))``
and draws of those ids): apart from the run ids 0.. of every ensemble, so a comparison scores the
verified plan on draws it was not chosen on (a convention, not a source)."""

BETWEEN_RUN_INDEX_SD: Final = 5.0
"""Assumption (range 3-8 index points): spread of a county's index across runs (parameter draws,
synthesis seeds, firm dynamics) that the surrogate's mean response curves do not carry; added to
the evaluation noise in the surrogate's designation probabilities."""

#: the shares of the components in a mix and of the instruments in the rule components
_EPS: Final = 1e-12


@dataclass(frozen=True)
class Mix:
    """A plan as a mix of component plans.

    Attributes
    ----------
    weights : tuple of float, one per :data:`COMPONENTS`, summing to 1
    shares : tuple of float, one per instrument (INSTRUMENTS order), summing to 1
        Instrument split of the rule components.
    """

    weights: tuple[float, ...]
    shares: tuple[float, ...]

    @classmethod
    def vertex(cls, component: str, shares: Sequence[float]) -> Mix:
        w = tuple(1.0 if c == component else 0.0 for c in COMPONENTS)
        return cls(w, tuple(float(s) for s in shares))

    def toward_component(self, component: str, r: float) -> Mix:
        target = np.array([1.0 if c == component else 0.0 for c in COMPONENTS])
        w = (1.0 - r) * np.asarray(self.weights) + r * target
        return Mix(_rounded(w), self.shares)

    def toward_instrument(self, k: int, r: float) -> Mix:
        target = np.zeros(len(INSTRUMENTS))
        target[k] = 1.0
        s = (1.0 - r) * np.asarray(self.shares) + r * target
        return Mix(self.weights, _rounded(s))

    def weight(self, component: str) -> float:
        return self.weights[COMPONENTS.index(component)]

    def describe(self) -> str:
        parts = [f"{c} {w:.3g}" for c, w in zip(COMPONENTS, self.weights, strict=True) if w > 0]
        uses_rules = any(self.weight(r) > 0 for r in RULES)
        split = ", ".join(
            f"{k} {s:.3g}" for k, s in zip(INSTRUMENTS, self.shares, strict=True) if s > 0
        )
        return " + ".join(parts) + (f" (rule split: {split})" if uses_rules else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "weights": dict(zip(COMPONENTS, self.weights, strict=True)),
            "instrument_shares": dict(zip(INSTRUMENTS, self.shares, strict=True)),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Mix:
        return cls(
            tuple(float(d["weights"][c]) for c in COMPONENTS),
            tuple(float(d["instrument_shares"][k]) for k in INSTRUMENTS),
        )


def _rounded(x: FloatArray) -> tuple[float, ...]:
    """Weights rounded to 1e-9 and renormalised (so that the same mix has one key)."""
    y = np.round(np.maximum(x, 0.0), 9)
    return tuple(float(v) for v in y / y.sum())


def _rule_scenario(scenario: Scenario, rule: str, shares: Sequence[float]) -> Scenario:
    alloc = scenario.allocation.model_copy(
        update={
            "strategy": rule,
            "instrument_shares": dict(zip(INSTRUMENTS, (float(s) for s in shares), strict=True)),
        }
    )
    return scenario.model_copy(update={"allocation": alloc})


class MixAllocator:
    """Yearly plan of a :class:`Mix`: the weighted sum of its component plans, each net of the
    pilot packages (so the sum is too). Rule components re-apply their rule to the county facts
    of the year; the closed-loop component sees the mixed plans as the funds spent."""

    def __init__(
        self,
        scenario: Scenario,
        baseline: Baseline,
        mix: Mix,
        surrogate_plan: FloatArray | None,
    ) -> None:
        self.scenario = scenario
        self.mix = mix
        self.years, _ = coupling.budget_path(scenario)
        self.surrogate_plan = surrogate_plan
        self.rules = {
            r: coupling.RuleAllocator(_rule_scenario(scenario, r, mix.shares), baseline)
            for r in RULES
            if mix.weight(r) > 0
        }
        self.replan = (
            coupling.ClosedLoopAllocator(scenario, baseline) if mix.weight("replan") > 0 else None
        )
        if mix.weight("surrogate") > 0 and surrogate_plan is None:
            raise ValueError("a mix with a surrogate component needs the surrogate plan")
        self.solves: list[dict[str, Any]] = []
        self.plans: dict[int, FloatArray] = {}

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        n = len(summary.codes)
        plan = np.zeros((n, len(INSTRUMENTS)))
        for r, alloc in self.rules.items():
            plan += self.mix.weight(r) * alloc(year, summary)
        w_s = self.mix.weight("surrogate")
        if w_s > 0:
            assert self.surrogate_plan is not None
            row = self.surrogate_plan[self.years.index(year)]
            plan += w_s * coupling._net_of_support(row, summary, self.scenario.budget_cny(year))
        if self.replan is not None:
            self.replan.plans.update(self.plans)  # what was really spent
            before = len(self.replan.solves)
            plan += self.mix.weight("replan") * self.replan(year, summary)
            self.solves.extend(self.replan.solves[before:])
        self.plans[year] = plan
        return plan


# -------------------------------------------------------------------------------------------
# the scenario's objective from model runs


@dataclass(frozen=True)
class RunOutcomes:
    """Outcomes of a set of runs of one mix: arrays with one row per run.

    met : (n_runs, n_targets) bool; value : (n_runs, n_targets) float (target metric at its
    year); counties : (n_runs, n_deadlines) float (provincial innovative counties at each
    deadline); provincial : (n_runs, n_deadlines, n_counties) bool.
    """

    met: NDArray[np.bool_]
    value: FloatArray
    counties: FloatArray
    provincial: NDArray[np.bool_]


def deadlines(scenario: Scenario) -> tuple[int, ...]:
    years = set(scenario.horizon.years)
    d = sorted(y for y in scenario.allocation.objective.deadline_weights if y in years)
    if not d:
        d = sorted({t.year for t in scenario.targets if t.year in years}) or [
            scenario.horizon.end_year
        ]
    return tuple(d)


def _outcomes(scenario: Scenario, metrics: pd.DataFrame) -> RunOutcomes:
    m = metrics.assign(replication=0)
    n_t = len(scenario.targets)
    flags = np.zeros((1, n_t), bool)
    values = np.zeros((1, n_t))
    for j, t in enumerate(scenario.targets):
        f, v = target_outcomes(m, t)
        flags[0, j] = bool(f.iloc[0])
        values[0, j] = float(v.iloc[0])
    dl = deadlines(scenario)
    prov = metrics[
        (metrics["level"] == "province") & (metrics["metric"] == "provincial_innovative_counties")
    ]
    by_year = dict(zip(prov["year"].astype(int), prov["value"].astype(float), strict=True))
    counties = np.array([[by_year.get(d, np.nan) for d in dl]])
    c = metrics[(metrics["level"] == "county") & (metrics["metric"] == "designated")]
    provincial = np.stack(
        [c[c["year"] == d]["value"].to_numpy(dtype=np.float64) > 0.5 for d in dl]
    )[None, :, :]
    return RunOutcomes(flags, values, counties, provincial)


def _concat(parts: Sequence[RunOutcomes]) -> RunOutcomes:
    return RunOutcomes(
        np.concatenate([p.met for p in parts]),
        np.concatenate([p.value for p in parts]),
        np.concatenate([p.counties for p in parts]),
        np.concatenate([p.provincial for p in parts]),
    )


def target_weights(scenario: Scenario) -> FloatArray:
    """Weights of the targets in the "targets" objective (checked against the target names)."""
    spec = scenario.allocation.objective
    names = [t.name for t in scenario.targets]
    for key in spec.target_weights:
        if key not in names:
            raise ScenarioError(
                None,
                "unknown target in the objective's target weights",
                key_path=f"allocation.objective.target_weights.{key}",
                value=key,
                expected=f"one of {', '.join(names)}",
            )
    return np.array([float(spec.target_weights.get(n, 1.0)) for n in names])


def objective_of_runs(
    scenario: Scenario, out: RunOutcomes, scale: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """The scenario's objective per run, exact and smoothed, shapes (n_runs,).

    ``kind: targets``: exact = weighted share of targets met (the targets' own definitions);
    smoothed = the same with each ``>=``/``>`` (``<=``/``<``) target scored by
    ``Phi((value - threshold) / scale)`` (its mirror), a margin that moves before the flag flips
    (``rising`` and ``==`` targets keep their flag). ``kind: designations``: provincial innovative
    counties at the deadlines weighted by ``deadline_weights`` (exact = smoothed).
    """
    spec = scenario.allocation.objective
    if spec.kind == "designations":
        w = np.array([spec.deadline_weights.get(d, 0.0) for d in deadlines(scenario)])
        j = out.counties @ w
        return j, j.copy()
    w = target_weights(scenario)
    total = max(float(w.sum()), _EPS)
    exact = out.met.astype(np.float64) @ w / total
    soft = out.met.astype(np.float64).copy()
    for i, t in enumerate(scenario.targets):
        if t.comparator in (">=", ">", "<=", "<") and t.threshold is not None:
            s = 1.0 if scale is None else max(float(scale[i]), _EPS)
            z = (out.value[:, i] - float(t.threshold)) / s
            if t.comparator in ("<=", "<"):
                z = -z
            soft[:, i] = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    return exact, soft @ w / total


def _margin_scale(scenario: Scenario, out: RunOutcomes) -> FloatArray:
    """Scale of each target's margin: the spread of its metric over the runs (at least 1% of the
    threshold)."""
    sd = out.value.std(axis=0)
    thr = np.array([abs(t.threshold) if t.threshold is not None else 1.0 for t in scenario.targets])
    scale: FloatArray = np.maximum(sd, 0.01 * np.maximum(thr, 1.0))
    return scale


# -------------------------------------------------------------------------------------------
# running candidates


Evaluator = Callable[[Sequence[Mix]], list[RunOutcomes]]
"""Outcomes of each mix on the same verification draws."""


@dataclass(frozen=True)
class _Task:
    scenario: Scenario
    mixes: tuple[Mix, ...]
    surrogate_plan: FloatArray | None
    runs: tuple[int, ...]
    params: tuple[dict[str, float], ...]
    synthesis: tuple[int, ...]
    root_seed: int


def _run_task(task: _Task) -> list[RunOutcomes]:
    """Outcomes of every mix of the task on its runs (one RunOutcomes per mix)."""
    out: list[list[RunOutcomes]] = [[] for _ in task.mixes]
    for run, params, synth in zip(task.runs, task.params, task.synthesis, strict=True):
        baseline = baseline_for(task.scenario, synth)
        for i, mix in enumerate(task.mixes):
            alloc = MixAllocator(task.scenario, baseline, mix, task.surrogate_plan)
            res = simulate(
                task.scenario,
                run_seed(task.root_seed, run),
                params=params,
                allocator=alloc,
                township_metrics=(),
                synthesis_seed=synth,
            )
            out[i].append(_outcomes(task.scenario, res.metrics))
    return [_concat(parts) for parts in out]


def verification_runs(
    scenario: Scenario,
) -> tuple[tuple[int, ...], list[dict[str, float]], list[int]]:
    """Run ids, parameter draws and synthesis seeds of the verification runs."""
    n = scenario.allocation.verification.replications
    root = int(scenario.ensemble.root_seed)
    ids = np.arange(VERIFY_RUN_OFFSET, VERIFY_RUN_OFFSET + n, dtype=np.int64)
    draws = draw_parameters(
        scenario.uncertainties,
        ids,
        root_seed=root,
        batch_size=scenario.ensemble.batch_size,
        sampling=scenario.ensemble.sampling,
    )
    names = [c for c in draws.columns if c not in ("replication", "seed_key")]
    params = [{k: float(row[k]) for k in names} for _, row in draws.iterrows()]
    synth = [int(s) for s in synthesis_seeds_of(scenario.baseline, root, ids)]
    return tuple(int(i) for i in ids), params, synth


def evaluate_mixes(
    scenario: Scenario,
    mixes: Sequence[Mix],
    surrogate_plan: FloatArray | None,
    *,
    workers: int = 1,
) -> list[RunOutcomes]:
    """Run every mix on the verification runs (common random numbers); the same numbers for any
    number of workers."""
    ids, params, synth = verification_runs(scenario)
    root = int(scenario.ensemble.root_seed)
    if workers <= 1 or len(ids) < 2:
        return _run_task(
            _Task(scenario, tuple(mixes), surrogate_plan, ids, tuple(params), tuple(synth), root)
        )
    chunks = np.array_split(np.arange(len(ids)), min(len(ids), 2 * workers))
    tasks = [
        _Task(
            scenario,
            tuple(mixes),
            surrogate_plan,
            tuple(ids[i] for i in c),
            tuple(params[i] for i in c),
            tuple(synth[i] for i in c),
            root,
        )
        for c in chunks
        if len(c)
    ]
    with Engine(workers, None) as engine:
        parts = engine.map(_run_task, tasks)
    return [_concat([p[i] for p in parts]) for i in range(len(mixes))]


# -------------------------------------------------------------------------------------------
# the surrogate's calibration


def surrogate_probabilities(
    scenario: Scenario, plan: FloatArray, response: Any, deadlines: Sequence[int]
) -> FloatArray:
    """The surrogate's probability that each county is a provincial innovative county at each
    deadline, shape (n_deadlines, n_counties).

    The index the surrogate projects for the plan (its response curves) plus a normal error
    (evaluation noise ``index_noise_sd`` and :data:`BETWEEN_RUN_INDEX_SD`), against a cut-off set
    so that the expected number designated equals the surrogate's own count of batch seats up to
    the deadline (the batch process: a fixed number of seats filled by rank).
    """
    years, _ = coupling.budget_path(scenario)
    index = project_index(plan, response)  # (n_counties, n_years)
    sd = math.hypot(scenario.parameter("index_noise_sd"), BETWEEN_RUN_INDEX_SD)
    quotas = coupling.objective(scenario).max_new_per_year
    out = np.zeros((len(deadlines), index.shape[0]))
    erf = np.vectorize(math.erf)
    for i, d in enumerate(deadlines):
        col = years.index(d) if d in years else len(years) - 1
        seats = min(sum(q for y, q in quotas.items() if y <= d), index.shape[0])
        x = index[:, col]
        lo, hi = float(x.min()) - 10 * sd, float(x.max()) + 10 * sd
        for _ in range(80):  # bisection on the cut-off: sum of probabilities = seats
            mid = 0.5 * (lo + hi)
            p = 0.5 * (1.0 + erf((x - mid) / (sd * math.sqrt(2.0))))
            if p.sum() > seats:
                lo = mid
            else:
                hi = mid
        out[i] = 0.5 * (1.0 + erf((x - 0.5 * (lo + hi)) / (sd * math.sqrt(2.0))))
    return out


def calibration_table(
    predicted: FloatArray, realised: NDArray[np.bool_], deadlines: Sequence[int], bins: int = 10
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calibration of predicted against realised designation.

    Parameters
    ----------
    predicted : (n_deadlines, n_counties) float array, probabilities
    realised : (n_runs, n_deadlines, n_counties) bool array

    Returns
    -------
    table : DataFrame
        ``deadline, bin_low, bin_high, n, mean_predicted, realised_share`` (one row per non-empty
        bin of predicted probability; ``n`` counts county-runs).
    scores : DataFrame
        ``deadline, brier, brier_reference, skill, n``: Brier score of the surrogate, of the
        reference that predicts the realised overall share for every county, and the skill
        ``1 - brier / brier_reference``.
    """
    rows: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    for i, d in enumerate(deadlines):
        p = np.broadcast_to(predicted[i], realised[:, i].shape).ravel()
        y = realised[:, i].ravel().astype(np.float64)
        which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        for b in range(bins):
            sel = which == b
            if sel.any():
                rows.append(
                    {
                        "deadline": int(d),
                        "bin_low": round(float(edges[b]), 6),
                        "bin_high": round(float(edges[b + 1]), 6),
                        "n": int(sel.sum()),
                        "mean_predicted": float(p[sel].mean()),
                        "realised_share": float(y[sel].mean()),
                    }
                )
        brier = float(np.mean((p - y) ** 2))
        ref = float(np.mean((y.mean() - y) ** 2))
        score_rows.append(
            {
                "deadline": int(d),
                "brier": brier,
                "brier_reference": ref,
                "skill": 1.0 - brier / ref if ref > 0 else float("nan"),
                "n": int(y.size),
            }
        )
    return pd.DataFrame(rows), pd.DataFrame(score_rows)


# -------------------------------------------------------------------------------------------
# the search


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


def _paired(x: FloatArray, y: FloatArray) -> tuple[float, float, float, float]:
    """Mean paired difference x - y, its standard error and a t-based 95% interval."""
    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    n = d.size
    mean = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
    q = float(stats.t.ppf(0.975, n - 1)) if n > 1 else float("inf")
    return mean, se, mean - q * se, mean + q * se


def _surrogate_plan(scenario: Scenario, mode: str) -> tuple[FloatArray, dict[str, Any]]:
    """The surrogate's open-loop plan of the horizon in solver ``mode``."""
    if mode == "mip":
        plan, row = coupling.optimal_plan_for(scenario)
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
        coupling.response_for(scenario),
        coupling.objective(scenario),
        time_limit_s=solver.time_limit_s,
        mip_gap=solver.mip_gap,
        compute_duals=False,
        mode="lp",
    )
    result = planner.solve(years[0], facts, np.zeros((0, facts.n, len(INSTRUMENTS))))
    coupling._check_result(result, scenario)
    return np.asarray(result.plan_cny, dtype=np.float64), coupling._solve_row(result, years[0])


class _Search:
    """Bookkeeping of one search: evaluated mixes and their outcomes on the same draws."""

    def __init__(
        self,
        scenario: Scenario,
        surrogate: FloatArray,
        workers: int,
        evaluate: Evaluator | None = None,
    ) -> None:
        self.scenario = scenario
        self.surrogate = surrogate
        self.workers = workers
        self.evaluate = evaluate
        self.seen: dict[Mix, RunOutcomes] = {}
        self.scale: FloatArray | None = None
        self.n_runs = 0

    def run(self, mixes: Sequence[Mix]) -> None:
        todo = [m for m in dict.fromkeys(mixes) if m not in self.seen]
        if todo:
            if self.evaluate is not None:
                outs = self.evaluate(todo)
            else:
                outs = evaluate_mixes(self.scenario, todo, self.surrogate, workers=self.workers)
            self.seen.update(zip(todo, outs, strict=True))
            self.n_runs += len(todo) * outs[0].met.shape[0]

    def objective(self, mix: Mix) -> tuple[FloatArray, FloatArray]:
        return objective_of_runs(self.scenario, self.seen[mix], self.scale)

    def gain(self, mix: Mix, incumbent: Mix) -> dict[str, float]:
        e1, s1 = self.objective(mix)
        e0, s0 = self.objective(incumbent)
        g, _se, lo, hi = _paired(e1, e0)
        sg, sse, _, _ = _paired(s1, s0)
        return {
            "gain": g,
            "gain_ci_low": lo,
            "gain_ci_high": hi,
            "smoothed_gain": sg,
            "smoothed_se": sse,
        }


def _better(gain: Mapping[str, float], min_t: float) -> bool:
    """Accept a step: the exact objective does not fall and the smoothed one rises by more than
    ``min_t`` standard errors (strictly positive when its standard error is 0)."""
    sg, se = gain["smoothed_gain"], gain["smoothed_se"]
    if gain["gain"] < -1e-12:
        return False
    if not np.isfinite(se):
        return sg > 1e-12
    return sg > max(min_t * se, 1e-12)


def _trust_region(
    search: _Search,
    incumbent: Mix,
    directions: Sequence[str],
    *,
    instruments: bool,
    start_iteration: int,
    log: list[dict[str, Any]],
) -> Mix:
    spec = search.scenario.allocation.verification
    r = spec.radius
    it = start_iteration
    rounds = 0
    while rounds < spec.max_iterations and r >= spec.min_radius - 1e-12:
        rounds += 1
        it += 1
        cands = [incumbent.toward_component(c, r) for c in directions]
        if instruments and any(incumbent.weight(x) > 0 for x in RULES):
            cands += [incumbent.toward_instrument(k, r) for k in range(len(INSTRUMENTS))]
        cands = [c for c in dict.fromkeys(cands) if c != incumbent]
        if not cands:
            break
        search.run(cands)
        gains = [(c, search.gain(c, incumbent)) for c in cands]
        best, g = max(gains, key=lambda cg: (cg[1]["gain"], cg[1]["smoothed_gain"]))
        ok = _better(g, spec.min_t)
        ex, _ = search.objective(best if ok else incumbent)
        log.append(
            {
                "iteration": it,
                "radius": r,
                "candidates": len(cands),
                "best_candidate": best.describe(),
                **g,
                "accepted": bool(ok),
                "objective": float(ex.mean()),
                "plan": (best if ok else incumbent).describe(),
            }
        )
        if ok:
            incumbent = best
        else:
            r /= 2.0
    return incumbent


def verify(
    scenario: Scenario,
    workers: int = 1,
    *,
    evaluate: Evaluator | None = None,
    surrogate: tuple[FloatArray, dict[str, Any]] | None = None,
) -> Verification:
    """Run the verified search (uncached; :func:`verified_policy_for` caches it).

    ``evaluate`` replaces the model runs (a function of a list of mixes returning their
    outcomes on common draws) and ``surrogate`` the surrogate's plan and solve record: for tests
    with a known answer.
    """
    t0 = time.perf_counter()
    a = scenario.allocation
    closed = a.strategy == "closed_loop"
    mode = a.solver.closed_loop_mode if closed else a.solver.open_loop_mode
    shares = tuple(float(a.instrument_shares.get(k, 0.0)) for k in INSTRUMENTS)  # type: ignore[call-overload]
    log: list[dict[str, Any]] = []
    if closed:
        twin = open_loop_twin(scenario)
        base = verified_policy_for(twin, workers=workers)
        surrogate_plan = base.surrogate_plan
        solve_row = dict(base.record.get("surrogate_solve", {}))
    else:
        surrogate_plan, solve_row = (
            _surrogate_plan(scenario, mode) if surrogate is None else surrogate
        )
    t_solve = time.perf_counter() - t0
    search = _Search(scenario, surrogate_plan, workers, evaluate)
    vertices = {c: Mix.vertex(c, shares) for c in (*RULES, "surrogate")}
    search.run(list(vertices.values()))
    # the margin scale of the smoothed objective: the spread of each target over the rule runs
    search.scale = _margin_scale(scenario, _concat([search.seen[vertices[r]] for r in RULES]))
    scores = {c: search.objective(m) for c, m in vertices.items()}
    best_rule = max(RULES, key=lambda r: (scores[r][0].mean(), scores[r][1].mean()))
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
    if closed:
        incumbent = base.mix
        search.run([incumbent])
        incumbent = _trust_region(
            search, incumbent, ("replan",), instruments=False, start_iteration=0, log=log
        )
        # never worse than the best rule on these draws either (by construction of the twin's
        # search the open-loop mix is not; the replan steps are accepted only on a gain)
    else:
        incumbent = vertices[best_rule]
        # the surrogate's own plan as a first step when it wins outright
        g = search.gain(vertices["surrogate"], incumbent)
        if _better(g, a.verification.min_t):
            incumbent = vertices["surrogate"]
        incumbent = _trust_region(
            search,
            incumbent,
            (*RULES, "surrogate"),
            instruments=True,
            start_iteration=0,
            log=log,
        )
    final_exact, _ = search.objective(incumbent)
    vs_rules = []
    for r in RULES:
        g = search.gain(incumbent, vertices[r])
        vs_rules.append({"rule": r, **g})
    dl = deadlines(scenario)
    realised = search.seen[vertices["surrogate"]].provincial
    if realised.shape[-1]:
        predicted = surrogate_probabilities(
            scenario, surrogate_plan, coupling.response_for(scenario), dl
        )
        table, brier = calibration_table(predicted, realised, dl)
    else:  # an evaluator without county outcomes (tests)
        table, brier = pd.DataFrame(), pd.DataFrame()
    objective_desc = (
        "targets: weighted share of the scenario's targets met at their deadlines (weights "
        f"{dict(zip([t.name for t in scenario.targets], target_weights(scenario).tolist(), strict=True))})"
        if a.objective.kind == "targets"
        else "designations: provincial innovative counties at the deadlines weighted by "
        f"{dict(a.objective.deadline_weights)}"
    )
    seconds = {"surrogate": t_solve, "total": time.perf_counter() - t0}
    record: dict[str, Any] = {
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
        "calibration": table.to_dict(orient="records"),
        "brier": brier.to_dict(orient="records"),
        "seconds": seconds,
    }
    logger.info(
        "%s verified in %.1f s (%d model runs): %s",
        a.strategy,
        seconds["total"],
        search.n_runs,
        incumbent.describe(),
    )
    return Verification(incumbent, surrogate_plan, record)


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


@functools.cache
def _own_fingerprint() -> str:
    """Hash of this module as imported (a verified plan is reused only by the code that made
    it; read once, so that editing the file under a running ensemble changes no key)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


_VERIFIED: dict[str, Verification] = {}


def verified_policy_for(scenario: Scenario, *, workers: int = 1) -> Verification:
    """The verified plan of an optimiser scenario (``optimal`` or ``closed_loop``), computed once
    and cached in memory and on disk (the same for every replication, order of runs and number of
    workers)."""
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
        v = verify(scenario, workers)
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
