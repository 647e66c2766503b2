"""The scenario's objective from model runs (:mod:`policysim.experiments.verify`): the outcomes
of a set of runs of one mix, the exact and smoothed objective per run, and paired gains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from policysim.analysis.targets import target_outcomes
from policysim.errors import ScenarioError
from policysim.experiments.verify_mix import _EPS, FloatArray
from policysim.scenario.schema import Scenario

__all__ = ["RunOutcomes", "deadlines", "objective_of_runs", "target_weights"]


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


def _paired(x: FloatArray, y: FloatArray) -> tuple[float, float, float, float]:
    """Mean paired difference x - y, its standard error and a t-based 95% interval."""
    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    n = d.size
    mean = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
    q = float(stats.t.ppf(0.975, n - 1)) if n > 1 else float("inf")
    return mean, se, mean - q * se, mean + q * se
