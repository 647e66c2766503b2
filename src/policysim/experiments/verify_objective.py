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

from policysim.analysis.targets import _check_target, _outcomes_from_series, target_outcomes
from policysim.errors import ScenarioError
from policysim.experiments.verify_mix import _EPS, FloatArray
from policysim.scenario.schema import Scenario
from policysim.simulation import LEVELS, MetricColumns

__all__ = ["RunOutcomes", "deadlines", "objective_of_runs", "target_scores", "target_weights"]


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
    """Outcomes of one run from its long-format metrics (the reference definition: the targets'
    own :func:`~policysim.analysis.targets.target_outcomes`; :func:`_outcomes_of_columns` gives
    the same numbers without building the frame)."""
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


def _rows(cols: MetricColumns, level: str, metric: str) -> NDArray[np.intp] | None:
    """Rows of one metric at one level (None when absent)."""
    code = cols.metric_code(metric)
    if code < 0:
        return None
    rows: NDArray[np.intp] = np.flatnonzero(
        (cols.metric == code) & (cols.level == LEVELS.index(level))
    )
    return rows if rows.size else None


def _outcomes_of_columns(scenario: Scenario, cols: MetricColumns) -> RunOutcomes:
    """:func:`_outcomes` from a run's metric columns, without the long frame (a verification
    run's outcomes cost about a twentieth of the frame's). A target whose metric is not one
    unit's series at its level falls back to the frame (and its checks and messages)."""
    n_t = len(scenario.targets)
    flags = np.zeros((1, n_t), bool)
    values = np.zeros((1, n_t))
    for j, t in enumerate(scenario.targets):
        _check_target(t)
        rows = _rows(cols, t.level, t.metric)
        if rows is None or np.unique(cols.unit[rows]).size != 1:
            return _outcomes(scenario, cols.frame())
        years = cols.year[rows]
        order = np.argsort(years, kind="stable")
        table = pd.DataFrame(
            cols.value[rows][order][None, :],
            index=pd.Index([0], name="replication"),
            columns=pd.Index(years[order].astype(int).tolist(), name="year"),
        )
        f, v = _outcomes_from_series(table, t)
        flags[0, j] = bool(f[0])
        values[0, j] = float(v[0])
    dl = deadlines(scenario)
    prov = _rows(cols, "province", "provincial_innovative_counties")
    by_year = (
        {}
        if prov is None
        else dict(zip(cols.year[prov].tolist(), cols.value[prov].tolist(), strict=True))
    )
    counties = np.array([[float(by_year.get(d, np.nan)) for d in dl]])
    des = _rows(cols, "county", "designated")
    if des is None:
        provincial = np.zeros((1, len(dl), 0), bool)
    else:
        provincial = np.stack([cols.value[des[cols.year[des] == d]] > 0.5 for d in dl])[None]
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


def target_scores(
    scenario: Scenario, out: RunOutcomes, scale: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Each target's outcome per run, exact (1 if met) and smoothed, shapes (n_runs, n_targets).

    The smoothed score of a ``>=``/``>`` (``<=``/``<``) target is
    ``Phi((value - threshold) / scale)`` (its mirror), a margin that moves before the flag flips;
    ``rising`` and ``==`` targets keep their flag."""
    exact = out.met.astype(np.float64)
    soft = exact.copy()
    for i, t in enumerate(scenario.targets):
        if t.comparator in (">=", ">", "<=", "<") and t.threshold is not None:
            s = 1.0 if scale is None else max(float(scale[i]), _EPS)
            z = (out.value[:, i] - float(t.threshold)) / s
            if t.comparator in ("<=", "<"):
                z = -z
            soft[:, i] = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    return exact, soft


def objective_of_runs(
    scenario: Scenario, out: RunOutcomes, scale: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """The scenario's objective per run, exact and smoothed, shapes (n_runs,).

    ``kind: targets``: exact = weighted share of targets met (the targets' own definitions);
    smoothed = the same with each target's smoothed score (:func:`target_scores`).
    ``kind: designations``: provincial innovative counties at the deadlines weighted by
    ``deadline_weights`` (exact = smoothed).
    """
    spec = scenario.allocation.objective
    if spec.kind == "designations":
        w = np.array([spec.deadline_weights.get(d, 0.0) for d in deadlines(scenario)])
        j = out.counties @ w
        return j, j.copy()
    w = target_weights(scenario)
    total = max(float(w.sum()), _EPS)
    exact, soft = target_scores(scenario, out, scale)
    return exact @ w / total, soft @ w / total


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
