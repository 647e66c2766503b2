"""Which strategy is best: per target and on the objective, the value of optimisation and of
re-planning, from paired runs of a comparison (:func:`decisions`, rows of ``comparison.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.analysis import mean_difference_interval
from policysim.analysis.intervals import paired_proportion_difference
from policysim.analysis.targets import target_outcomes
from policysim.experiments import EnsembleResult
from policysim.experiments.verify import RunOutcomes, objective_of_runs
from policysim.experiments.verify import deadlines as verify_deadlines
from policysim.scenario import LoadedScenario
from policysim.scenario.schema import Scenario
from policysim.vocabulary import strategy

__all__ = ["DECISION_COLUMNS", "decision_line", "decisions"]


DECISION_COLUMNS: Final = (
    "kind",
    "target",
    "scenario",
    "versus",
    "probability",
    "versus_probability",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "note",
)
"""Rows of ``comparison.csv`` after the attainment rows (``kind`` says which):
``objective`` (each scenario's value of the objective, against the baseline), ``best`` (the best
strategy on a target or on the objective, against the runner-up), ``value_of_optimisation``
(``optimal`` against the best rule on the objective) and ``value_of_replanning`` (``closed_loop``
against ``optimal``). Probabilities as fractions; target differences with Newcombe's paired 95%
interval, objective differences with a paired t interval."""


def _objective_spec(loaded: Sequence[LoadedScenario]) -> tuple[Scenario, str]:
    """The scenario whose objective the comparison scores (the first optimiser's, else the
    baseline's targets, equally weighted) and a description."""
    for ls in loaded:
        if strategy(ls.scenario.allocation.strategy).kind == "optimiser":
            return (
                ls.scenario,
                f"the objective of {ls.name} ({ls.scenario.allocation.objective.kind})",
            )
    base = loaded[0].scenario
    obj = base.allocation.objective.model_copy(update={"kind": "targets", "target_weights": {}})
    alloc = base.allocation.model_copy(update={"objective": obj})
    return base.model_copy(update={"allocation": alloc}), "share of targets met (equal weights)"


def _run_outcomes(sc: Scenario, metrics: pd.DataFrame) -> tuple[pd.Index, RunOutcomes]:
    flags: list[pd.Series] = []
    values: list[pd.Series] = []
    for t in sc.targets:
        f, v = target_outcomes(metrics, t)
        flags.append(f)
        values.append(v)
    index = flags[0].index if flags else pd.Index([])
    prov = metrics[
        (metrics["level"] == "province") & (metrics["metric"] == "provincial_innovative_counties")
    ]
    wide = prov.pivot_table(index="replication", columns="year", values="value", observed=True)
    deadlines = list(verify_deadlines(sc))
    counties = wide.reindex(index=index, columns=deadlines).to_numpy(dtype=np.float64)
    out = RunOutcomes(
        np.column_stack([f.reindex(index).to_numpy(bool) for f in flags]),
        np.column_stack([v.reindex(index).to_numpy(np.float64) for v in values]),
        counties,
        np.zeros((len(index), len(deadlines), 0), bool),
    )
    return index, out


@dataclass(frozen=True)
class _Paired:
    """The scenarios' runs on the runs every one completed, scored on the objective."""

    names: list[str]
    aligned: dict[str, RunOutcomes]
    objective: dict[str, npt.NDArray[np.float64]]
    targets: list[str]
    description: str

    def target_row(self, kind: str, j: int, a: str, b: str, note: str = "") -> dict[str, Any]:
        x, y = self.aligned[a].met[:, j], self.aligned[b].met[:, j]
        diff, lo, hi = paired_proportion_difference(x, y)
        return {
            "kind": kind,
            "target": self.targets[j],
            "scenario": a,
            "versus": b,
            "probability": float(x.mean()),
            "versus_probability": float(y.mean()),
            "diff": diff,
            "diff_ci_low": lo,
            "diff_ci_high": hi,
            "note": note,
        }

    def objective_row(self, kind: str, a: str, b: str, note: str = "") -> dict[str, Any]:
        diff, lo, hi = mean_difference_interval(self.objective[a] - self.objective[b])
        return {
            "kind": kind,
            "target": "objective",
            "scenario": a,
            "versus": b,
            "probability": float(self.objective[a].mean()),
            "versus_probability": float(self.objective[b].mean()),
            "diff": diff,
            "diff_ci_low": lo,
            "diff_ci_high": hi,
            "note": note or self.description,
        }

    def ranked(self, score: dict[str, float]) -> list[str]:
        return sorted(self.names, key=lambda n: (-score[n], self.names.index(n)))


def _paired(results: dict[str, EnsembleResult], loaded: Sequence[LoadedScenario]) -> _Paired:
    names = list(results)
    obj_sc, obj_desc = _objective_spec(loaded)
    outcomes = {n: _run_outcomes(obj_sc, results[n].metrics) for n in names}
    common = outcomes[names[0]][0]
    for n in names[1:]:
        common = common.intersection(outcomes[n][0])

    def rows_of(n: str) -> RunOutcomes:
        idx, o = outcomes[n]
        pos = idx.get_indexer(common)
        return RunOutcomes(o.met[pos], o.value[pos], o.counties[pos], o.provincial[pos])

    aligned = {n: rows_of(n) for n in names}
    objective = {n: objective_of_runs(obj_sc, aligned[n])[0] for n in names}
    return _Paired(names, aligned, objective, [t.name for t in obj_sc.targets], obj_desc)


def decisions(results: dict[str, EnsembleResult], loaded: Sequence[LoadedScenario]) -> pd.DataFrame:
    """The best strategy per target and on the objective, the value of optimisation and the
    value of re-planning (:data:`DECISION_COLUMNS`), from paired runs."""
    if not results:
        return pd.DataFrame(columns=list(DECISION_COLUMNS))
    p = _paired(results, loaded)
    names = p.names
    out = [p.objective_row("objective", n, names[0]) for n in names]
    for j, _ in enumerate(p.targets):
        order = p.ranked({n: float(p.aligned[n].met[:, j].mean()) for n in names})
        best, second = order[0], order[1] if len(order) > 1 else order[0]
        tie = p.aligned[best].met[:, j].mean() == p.aligned[second].met[:, j].mean()
        out.append(p.target_row("best", j, best, second, "tied with the runner-up" if tie else ""))
    order = p.ranked({n: float(p.objective[n].mean()) for n in names})
    out.append(p.objective_row("best", order[0], order[1] if len(order) > 1 else order[0]))
    out += _value_rows(p, dict(zip(names, loaded, strict=True)))
    return pd.DataFrame(out, columns=list(DECISION_COLUMNS))


def _value_rows(p: _Paired, by_name: dict[str, LoadedScenario]) -> list[dict[str, Any]]:
    """The value of optimisation (``optimal`` vs the best rule) and of re-planning
    (``closed_loop`` vs ``optimal``), on the objective and per target."""
    names = p.names
    out: list[dict[str, Any]] = []
    rules = [n for n in names if strategy(by_name[n].scenario.allocation.strategy).kind == "rule"]
    optimal = [n for n in names if by_name[n].scenario.allocation.strategy == "optimal"]
    closed = [n for n in names if by_name[n].scenario.allocation.strategy == "closed_loop"]
    if rules:
        best_rule = max(rules, key=lambda n: (float(p.objective[n].mean()), -names.index(n)))
        for o in optimal:
            note = f"best rule on the objective: {best_rule}"
            out.append(
                p.objective_row("value_of_optimisation", o, best_rule, f"{p.description}; {note}")
            )
            for j, _ in enumerate(p.targets):
                out.append(p.target_row("value_of_optimisation", j, o, best_rule, note))
    for c in closed:
        for o in optimal:
            cm = by_name[c].scenario.allocation.solver.closed_loop_mode
            om = by_name[o].scenario.allocation.solver.open_loop_mode
            note = (
                f"same solver mode ({cm})"
                if cm == om
                else f"solver modes differ: closed loop {cm}, open loop {om} (not only re-planning)"
            )
            out.append(p.objective_row("value_of_replanning", c, o, f"{p.description}; {note}"))
            for j, _ in enumerate(p.targets):
                out.append(p.target_row("value_of_replanning", j, c, o, note))
    return out


def decision_line(rec: Mapping[str, Any]) -> str:
    """One line of terminal text for a row of :func:`decisions`."""
    kind = str(rec["kind"])
    d, lo, hi = (100 * float(rec[k]) for k in ("diff", "diff_ci_low", "diff_ci_high"))
    unit = "pp" if rec["target"] != "objective" else "points (x100)"
    gap = f"{d:+.1f} {unit} [{lo:+.1f}, {hi:+.1f}]"
    label = {
        "objective": "objective",
        "best": "best",
        "value_of_optimisation": "value of optimisation",
        "value_of_replanning": "value of re-planning",
    }.get(kind, kind)
    if kind == "best":
        return (
            f"{label} on {rec['target']}: {rec['scenario']} (P = {float(rec['probability']):.2f}), "
            f"vs runner-up {rec['versus']}: {gap}"
        )
    if kind == "objective":
        return f"objective: {rec['scenario']} vs {rec['versus']}: {gap}"
    return f"{label}, {rec['target']}: {rec['scenario']} vs {rec['versus']}: {gap}"
