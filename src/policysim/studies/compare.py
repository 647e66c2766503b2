"""Compare allocation strategies on common random numbers: targets, metrics and counties.

>>> from policysim.studies.compare import compare_scenarios, write_comparison
>>> result = compare_scenarios(
...     ["scenarios/jiangxi_baseline.yaml", "scenarios/jiangxi_equal.yaml"], replications=50
... )
>>> result.table[["scenario", "target", "probability", "diff_vs_baseline"]]
>>> write_comparison(result, Path("results/compare"))

Every scenario runs with the same root seed and the same run ids, so run ``i`` of each scenario
has the same seeds and (when the scenarios share their uncertainties) the same parameter draws;
differences against the first scenario (the baseline) are taken run by run.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from policysim.analysis import mean_difference_interval, paired_comparison, unit_disagreement
from policysim.analysis.intervals import paired_proportion_difference
from policysim.analysis.targets import target_outcomes
from policysim.data import county_caveat
from policysim.errors import PolicysimError, ScenarioError
from policysim.experiments import Engine, EnsembleResult, report_years
from policysim.experiments.store import sub_store
from policysim.experiments.verify import RunOutcomes, objective_of_runs, verified_policy_for
from policysim.experiments.verify import deadlines as verify_deadlines
from policysim.scenario import LoadedScenario
from policysim.scenario.schema import Scenario
from policysim.studies.marginal import (
    DEFAULT_DELTA_100M_CNY,
    MarginalValue,
    marginal_value,
    standout,
)
from policysim.studies.runs import load_with_overrides, study_engine, study_ensemble
from policysim.vocabulary import SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH, strategy

__all__ = [
    "DEADLINE_METRICS",
    "ComparisonResult",
    "compare_scenarios",
    "decision_line",
    "decisions",
    "standout",
    "unique_names",
    "write_comparison",
]

logger = logging.getLogger(__name__)

#: Province metrics compared at each deadline (besides the targets' own metrics).
DEADLINE_METRICS: Final = (
    "provincial_innovative_counties",
    "national_innovative_counties",
    "innovative_township_share_pct",
    "rd_intensity_pct",
)
METRIC_TABLE_COLUMNS: Final = (
    "scenario",
    "metric",
    "year",
    "mean",
    "median",
    "diff_vs_baseline",
    "diff_ci_low",
    "diff_ci_high",
)


@dataclass(frozen=True)
class ComparisonResult:
    """Outcome of :func:`compare_scenarios`.

    Attributes
    ----------
    results : dict of str to EnsembleResult
        Ensembles by scenario name, in the order given (first = baseline). A name given twice
        gets a suffix (``name#2``).
    table : DataFrame
        ``comparison.csv``: one row per scenario and target: ``scenario, target, year,
        probability, diff_vs_baseline, diff_ci_low, diff_ci_high, metric_median,
        metric_diff_mean, metric_diff_ci_low, metric_diff_ci_high`` (probabilities and their
        paired differences as fractions with Newcombe's paired 95% interval; metric
        differences in the target metric's unit with a paired t interval).
    counties : DataFrame
        One row per county: ``code, name, p_<scenario>`` (probability of being a provincial
        innovative county by the last policy deadline, 2030), ``spread`` (max - min over
        scenarios), ``funds_<scenario>`` (mean provincial funds received from the first planning
        year to the end, CNY), then the marginal value columns of
        :class:`policysim.studies.marginal.MarginalValue` (``marginal_designations_per_100m_cny``
        ranks where an extra yuan matters most); sorted by spread.
    metrics : DataFrame
        ``scenario, metric, year, mean, median, diff_vs_baseline, diff_ci_low, diff_ci_high``:
        the province metrics of :data:`DEADLINE_METRICS` at each deadline, differences paired.
    marginal : MarginalValue or None
        The marginal value study (None when skipped).
    baseline : str
        Name of the first scenario.
    root_seed : int
        The common root seed.
    year : int
        Deadline of the county probabilities.
    seconds : dict of str to float
        Wall-clock time of each ensemble, s (and ``"marginal"``).
    """

    results: dict[str, EnsembleResult]
    table: pd.DataFrame
    counties: pd.DataFrame
    metrics: pd.DataFrame = field(default_factory=pd.DataFrame)
    marginal: MarginalValue | None = None
    baseline: str = ""
    root_seed: int = 0
    year: int = 2030
    seconds: dict[str, float] = field(default_factory=dict)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)


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


def decisions(results: dict[str, EnsembleResult], loaded: Sequence[LoadedScenario]) -> pd.DataFrame:
    """The best strategy per target and on the objective, the value of optimisation and the
    value of re-planning (:data:`DECISION_COLUMNS`), from paired runs."""
    names = list(results)
    if not names:
        return pd.DataFrame(columns=list(DECISION_COLUMNS))
    obj_sc, obj_desc = _objective_spec(loaded)
    by_name = dict(zip(names, loaded, strict=True))
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
    targets = [t.name for t in obj_sc.targets]
    out: list[dict[str, Any]] = []

    def target_row(kind: str, j: int, a: str, b: str, note: str = "") -> dict[str, Any]:
        x, y = aligned[a].met[:, j], aligned[b].met[:, j]
        diff, lo, hi = paired_proportion_difference(x, y)
        return {
            "kind": kind,
            "target": targets[j],
            "scenario": a,
            "versus": b,
            "probability": float(x.mean()),
            "versus_probability": float(y.mean()),
            "diff": diff,
            "diff_ci_low": lo,
            "diff_ci_high": hi,
            "note": note,
        }

    def objective_row(kind: str, a: str, b: str, note: str = "") -> dict[str, Any]:
        diff, lo, hi = mean_difference_interval(objective[a] - objective[b])
        return {
            "kind": kind,
            "target": "objective",
            "scenario": a,
            "versus": b,
            "probability": float(objective[a].mean()),
            "versus_probability": float(objective[b].mean()),
            "diff": diff,
            "diff_ci_low": lo,
            "diff_ci_high": hi,
            "note": note or obj_desc,
        }

    for n in names:
        out.append(objective_row("objective", n, names[0]))

    def ranked(score: dict[str, float]) -> list[str]:
        return sorted(names, key=lambda n: (-score[n], names.index(n)))

    for j, _ in enumerate(targets):
        order = ranked({n: float(aligned[n].met[:, j].mean()) for n in names})
        best, second = order[0], order[1] if len(order) > 1 else order[0]
        tie = aligned[best].met[:, j].mean() == aligned[second].met[:, j].mean()
        out.append(target_row("best", j, best, second, "tied with the runner-up" if tie else ""))
    order = ranked({n: float(objective[n].mean()) for n in names})
    out.append(objective_row("best", order[0], order[1] if len(order) > 1 else order[0]))

    rules = [n for n in names if strategy(by_name[n].scenario.allocation.strategy).kind == "rule"]
    optimal = [n for n in names if by_name[n].scenario.allocation.strategy == "optimal"]
    closed = [n for n in names if by_name[n].scenario.allocation.strategy == "closed_loop"]
    if rules:
        best_rule = max(rules, key=lambda n: (float(objective[n].mean()), -names.index(n)))
        for o in optimal:
            note = f"best rule on the objective: {best_rule}"
            out.append(objective_row("value_of_optimisation", o, best_rule, f"{obj_desc}; {note}"))
            for j, _ in enumerate(targets):
                out.append(target_row("value_of_optimisation", j, o, best_rule, note))
    for c in closed:
        for o in optimal:
            cm = by_name[c].scenario.allocation.solver.closed_loop_mode
            om = by_name[o].scenario.allocation.solver.open_loop_mode
            note = (
                f"same solver mode ({cm})"
                if cm == om
                else f"solver modes differ: closed loop {cm}, open loop {om} (not only re-planning)"
            )
            out.append(objective_row("value_of_replanning", c, o, f"{obj_desc}; {note}"))
            for j, _ in enumerate(targets):
                out.append(target_row("value_of_replanning", j, c, o, note))
    return pd.DataFrame(out, columns=list(DECISION_COLUMNS))


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


def unique_names(loaded: Sequence[LoadedScenario]) -> list[str]:
    """The scenarios' names, a name given twice with a suffix (``name#2``)."""
    names: list[str] = []
    for ls in loaded:
        name = ls.name
        k = 1
        while name in names:
            k += 1
            name = f"{ls.name}#{k}"
        names.append(name)
    return names


def _check_pairing(loaded: Sequence[LoadedScenario]) -> None:
    base = loaded[0]
    b = base.scenario
    for other in loaded[1:]:
        o = other.scenario
        if o.horizon != b.horizon:
            raise ScenarioError(
                other.path,
                "horizon differs from the baseline's; strategies must be compared over the same "
                "years",
                key_path="horizon",
                value=f"{o.horizon.base_year}-{o.horizon.end_year}",
                expected=f"{b.horizon.base_year}-{b.horizon.end_year} as in {base.path.name}",
            )
        if [t.name for t in o.targets] != [t.name for t in b.targets] or o.targets != b.targets:
            raise ScenarioError(
                other.path,
                "targets differ from the baseline's; a paired comparison needs the same targets",
                key_path="targets",
                expected=f"the targets of {base.path.name}",
            )
        if o.uncertainties != b.uncertainties or o.ensemble.batch_size != b.ensemble.batch_size:
            logger.warning(
                "%s and %s differ in their uncertainties: runs share seeds but not parameter "
                "draws, so the paired differences are wider",
                other.name,
                base.name,
            )


def _metric_table(
    results: dict[str, EnsembleResult], baseline: str, years: Sequence[int]
) -> pd.DataFrame:
    def by_run(result: EnsembleResult) -> pd.DataFrame:
        m = result.metrics
        rows = m[
            (m["level"] == "province")
            & (m["metric"].isin(list(DEADLINE_METRICS)))
            & (m["year"].isin(list(years)))
        ]
        frame = rows.assign(metric=rows["metric"].astype(str)).pivot_table(
            index="replication", columns=["metric", "year"], values="value", observed=True
        )
        return frame

    base = by_run(results[baseline])
    out: list[dict[str, Any]] = []
    for name, result in results.items():
        frame = by_run(result)
        common = frame.index.intersection(base.index)
        for metric in DEADLINE_METRICS:
            for year in years:
                if (metric, year) not in frame.columns:
                    continue
                values = frame[(metric, year)].to_numpy(dtype=np.float64)
                x = frame.loc[common, (metric, year)].to_numpy(dtype=np.float64)
                y = base.loc[common, (metric, year)].to_numpy(dtype=np.float64)
                diff, lo, hi = mean_difference_interval(x - y)
                out.append(
                    {
                        "scenario": name,
                        "metric": metric,
                        "year": int(year),
                        "mean": float(np.nanmean(values)),
                        "median": float(np.nanmedian(values)),
                        "diff_vs_baseline": diff,
                        "diff_ci_low": lo,
                        "diff_ci_high": hi,
                    }
                )
    return pd.DataFrame(out, columns=list(METRIC_TABLE_COLUMNS))


def _county_funds(result: EnsembleResult) -> pd.Series:
    """Mean provincial funds per county summed over the planning years, CNY (index: code)."""
    m = result.metrics
    base_year = result.loaded.scenario.horizon.base_year
    rows = m[(m["level"] == "county") & (m["metric"] == "funds_cny") & (m["year"] > base_year)]
    per_run = rows.groupby(["replication", "code"], observed=True)["value"].sum()
    mean = per_run.groupby(level="code", observed=True).mean()
    mean.index = mean.index.astype(str)
    return mean.astype(np.float64)


def compare_scenarios(
    scenarios: Sequence[str | Path | LoadedScenario],
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    overrides: Sequence[str] = (),
    progress: bool = False,
    marginal_replications: int | None = None,
    delta_100m_cny: float | None = None,
    marginal: bool = True,
    store: Path | None = None,
    resume: bool = False,
    engine: Engine | None = None,
) -> ComparisonResult:
    """Run scenarios on common random numbers and compare them with the first.

    Parameters
    ----------
    scenarios : sequence of str, Path or LoadedScenario
        At least one; the first is the baseline. The same file may appear twice (a self
        comparison gives exactly zero differences).
    replications : int, optional
        Runs per scenario (default: the baseline's ``ensemble.replications``).
    seed : int, optional
        Common root seed (default: the baseline's ``ensemble.root_seed``, used for all).
    workers : int
        Local worker processes (1 = in this process), shared by every ensemble.
    scheduler : str, optional
        Dask scheduler address (overrides ``workers``).
    overrides : sequence of str
        ``key.path=value`` overrides applied to every scenario.
    progress : bool
        Rich progress bars on stderr.
    marginal_replications : int, optional
        Baseline runs reused per perturbed prefecture in the marginal value study (default
        :data:`policysim.studies.marginal.DEFAULT_PERTURBATION_REPLICATIONS`); 0 skips the
        perturbation runs (the response-curve slopes and duals are still reported).
    delta_100m_cny : float, optional
        Extra funds per county and year in the perturbation runs, 亿元 (default
        :data:`policysim.studies.marginal.DEFAULT_DELTA_100M_CNY`).
    marginal : bool
        Run the marginal value study (False: no ``marginal_*`` county columns, ``marginal`` is
        None; the ``compare`` command runs it only with ``--marginal``).
    store : Path, optional
        Run directory: each scenario's ensemble (and each perturbation of the marginal study)
        streams its runs to its own store under ``store/runs/`` (see
        :mod:`policysim.studies.runs`).
    resume : bool
        Continue the comparison interrupted in ``store``: finished runs are read back, not run
        again (the same numbers as an uninterrupted comparison).
    engine : Engine, optional
        A running engine to submit the runs to (default: one of ``workers`` / ``scheduler``).

    Returns
    -------
    ComparisonResult

    Raises
    ------
    ScenarioError
        No scenario, a bad scenario, different horizons or targets, a bad seed or counts, or
        inputs that changed since the interrupted comparison in ``store``.
    InfeasibleAllocationError, AllocationError
        Before any run of the scenario whose allocation cannot be planned.
    """
    if not scenarios:
        raise ScenarioError(
            None, "no scenario to compare", key_path="SCENARIOS", expected="one or more files"
        )
    loaded = [load_with_overrides(s, overrides) for s in scenarios]
    _check_pairing(loaded)
    names = unique_names(loaded)
    base = loaded[0].scenario
    root_seed = base.ensemble.root_seed if seed is None else int(seed)
    n_runs = base.ensemble.replications if replications is None else int(replications)
    seconds: dict[str, float] = {}
    with study_engine(workers, scheduler, engine) as backend:
        results = _run_all(
            loaded, names, n_runs, root_seed, backend, seconds,
            store=store, resume=resume, progress=progress,
        )  # fmt: skip
        baseline = names[0]
        mv: MarginalValue | None = None
        if marginal:
            t0 = time.perf_counter()
            mv = marginal_value(
                results[baseline],
                replications=marginal_replications,
                delta_100m_cny=(
                    DEFAULT_DELTA_100M_CNY if delta_100m_cny is None else delta_100m_cny
                ),
                optimal=next(
                    (ls for ls in loaded if ls.scenario.allocation.strategy == "optimal"), None
                ),
                engine=backend,
                store=sub_store(store, len(loaded), "marginal"),
                resume=resume,
            )
            seconds["marginal"] = time.perf_counter() - t0
    return _assemble(results, loaded, baseline, root_seed, seconds, mv)


def _run_all(
    loaded: Sequence[LoadedScenario],
    names: Sequence[str],
    n_runs: int,
    root_seed: int,
    engine: Engine,
    seconds: dict[str, float],
    *,
    store: Path | None,
    resume: bool,
    progress: bool,
) -> dict[str, EnsembleResult]:
    """Every scenario's ensemble on the same seeds, streamed to its own store under ``store``;
    ``seconds`` gets the time of each. A failed run makes the comparison unpaired: an error."""
    results: dict[str, EnsembleResult] = {}
    for i, (name, ls) in enumerate(zip(names, loaded, strict=True)):
        logger.info("comparing: %s (%s), %d runs", name, ls.scenario.allocation.strategy, n_runs)
        t0 = time.perf_counter()
        if strategy(ls.scenario.allocation.strategy).kind == "optimiser":
            # verified once here with every worker (the ensemble's workers then read the cache)
            verified_policy_for(ls.scenario, workers=engine.workers)
            seconds[f"{name} (verification)"] = time.perf_counter() - t0
            t0 = time.perf_counter()
        engine.warm(ls.scenario)
        results[name] = study_ensemble(
            ls,
            engine=engine,
            store=sub_store(store, i, name),
            resume=resume,
            full_metrics=True,  # county rows: designation probabilities and funds
            replications=n_runs,
            seed=root_seed,
            progress=f"compare: {name} ({ls.scenario.allocation.strategy})" if progress else False,
        )
        seconds[name] = time.perf_counter() - t0
        failed = results[name].failures
        if len(failed):
            first = failed.iloc[0]
            raise PolicysimError(
                f"{ls.path}: {len(failed)} of {n_runs} runs failed, so the comparison would not be "
                f"paired; first failure (run {first['replication']}): {first['error']}"
            )
    return results


def _assemble(
    results: dict[str, EnsembleResult],
    loaded: Sequence[LoadedScenario],
    baseline: str,
    root_seed: int,
    seconds: dict[str, float],
    mv: MarginalValue | None,
) -> ComparisonResult:
    """The comparison's tables from the paired ensembles (and the marginal study)."""
    base = loaded[0].scenario
    metrics_by = {name: r.metrics for name, r in results.items()}
    table = paired_comparison(metrics_by, base.targets, baseline)
    years = report_years(base)
    year = years[-1]
    with warnings.catch_warnings():
        # analysis groups a categorical code column without observed=: pandas' FutureWarning
        # about that default does not concern the result (every county is reindexed)
        warnings.filterwarnings("ignore", "The default of observed=False", FutureWarning)
        counties = unit_disagreement(metrics_by, "designated", "county", year)
    for name, result in results.items():
        funds = _county_funds(result)
        counties[f"funds_{name}"] = funds.reindex(counties["code"].astype(str)).to_numpy(
            dtype=np.float64
        )
    if mv is not None:
        extra = mv.counties.drop(columns=["name"]).rename(columns={"rank": "marginal_rank"})
        counties = counties.merge(extra, on="code", how="left")
    return ComparisonResult(
        results=results,
        table=table,
        counties=counties,
        metrics=_metric_table(results, baseline, years),
        marginal=mv,
        baseline=baseline,
        root_seed=root_seed,
        year=int(year),
        seconds=seconds,
        decisions=decisions(results, loaded),
    )


# -----------------------------------------------------------------------------------------------
# writing


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    from policysim.experiments.store import write_bytes
    from policysim.report.tables import csv_bytes

    write_bytes(path, csv_bytes(frame))
    return path


def _manifest(result: ComparisonResult) -> dict[str, Any]:
    from policysim.experiments import build_manifest

    runs = {}
    for name, r in result.results.items():
        m = build_manifest(r)
        runs[name] = {
            "scenario": {k: m["scenario"][k] for k in ("name", "file", "overrides", "hash")},
            "strategy": r.loaded.scenario.allocation.strategy,
            "solver": m["solver"],
            "runs": m["runs"],
            "times": m["times"],
        }
    first = next(iter(result.results.values()))
    base_manifest = build_manifest(first)
    return {
        "comparison": {
            "baseline": result.baseline,
            "root_seed": result.root_seed,
            "county_year": result.year,
            "seconds": result.seconds,
            "common_random_numbers": (
                "run i of every scenario uses SeedSequence(root_seed, spawn_key=(i,)) and the "
                "same draw batches"
            ),
        },
        "scenarios": runs,
        "seeds": base_manifest["seeds"],
        "versions": base_manifest["versions"],
        "data": base_manifest["data"],
        "marginal": None
        if result.marginal is None
        else {
            "delta_100m_cny_per_county_year": result.marginal.delta_100m_cny,
            "outcome_year": result.marginal.outcome_year,
            "groups": "prefectures",
        },
    }


def write_comparison(
    result: ComparisonResult, out_dir: Path, lang: str = "both"
) -> dict[str, Path]:
    """Write the comparison's tables, figures and report.

    Parameters
    ----------
    result : ComparisonResult
    out_dir : pathlib.Path
        Output folder (created if missing).
    lang : {"both", "zh", "en"}
        Language of ``briefing.html`` / ``briefing.txt``.

    Returns
    -------
    dict of str to Path
        ``comparison`` (comparison.csv), ``metrics`` (comparison_metrics.csv), ``counties``
        (counties.csv), ``marginal_groups`` (marginal_groups.csv, when perturbation runs were
        made), ``duals`` (budget_duals.csv, with an optimal strategy), ``manifest``, the figures
        ``strategy_bars``, ``paired_difference`` (two or more scenarios), ``fan_<metric>``,
        ``map_<scenario>``, ``map_disagreement``, and ``report`` (report.html). Every file is
        written atomically.
    """
    from policysim.experiments.outputs import map_note, prefecture_of
    from policysim.plotting import (
        county_map,
        fan_chart,
        paired_difference_plot,
        save_figure,
        strategy_bars,
    )
    from policysim.plotting.io import VECTOR_FORMATS
    from policysim.report import render_report
    from policysim.report.html import ReportTable
    from policysim.simulation import baseline_for

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figdir = out / "figures"
    written: dict[str, Path] = {}
    written["comparison"] = _write_csv(
        pd.concat(
            [
                result.table.assign(kind="attainment"),
                result.decisions.rename(columns={"diff": "diff_vs_baseline"}).assign(year=np.nan),
            ],
            ignore_index=True,
        )
        if len(result.decisions)
        else result.table,
        out / "comparison.csv",
    )
    written["metrics"] = _write_csv(result.metrics, out / "comparison_metrics.csv")
    caveat = county_caveat(baseline_for(result.results[result.baseline].loaded.scenario))
    counties = result.counties if caveat is None else result.counties.assign(caveat=caveat)
    written["counties"] = _write_csv(counties, out / "counties.csv")
    mv = result.marginal
    if mv is not None and len(mv.groups):
        written["marginal_groups"] = _write_csv(mv.groups, out / "marginal_groups.csv")
    if mv is not None and len(mv.duals):
        written["duals"] = _write_csv(mv.duals, out / "budget_duals.csv")

    names = list(result.results)
    base = result.results[result.baseline].loaded.scenario
    figures: list[tuple[str, Path]] = []
    if len(result.table):
        fig = strategy_bars(result.table)
        written["strategy_bars"] = save_figure(
            fig, figdir / "strategy_bars.png", vector=VECTOR_FORMATS
        )
        figures.append(
            ("Probability of meeting each target, by strategy", written["strategy_bars"])
        )
        if len(names) > 1:
            fig = paired_difference_plot(result.table, baseline=result.baseline)
            written["paired_difference"] = save_figure(
                fig, figdir / "paired_difference.png", vector=VECTOR_FORMATS
            )
            figures.append(
                (
                    f"Paired difference in attainment against {result.baseline} (95% interval)",
                    written["paired_difference"],
                )
            )
    for metric in dict.fromkeys(t.metric for t in base.targets):
        main = _province_rows(result.results[result.baseline].metrics, metric)
        overlays = {n: _province_rows(result.results[n].metrics, metric) for n in names[1:]}
        fig = fan_chart(
            main.assign(scenario=result.baseline),
            metric,
            targets=base.targets,
            overlays=overlays,
        )
        key = f"fan_{metric}"
        written[key] = save_figure(fig, figdir / f"{key}.png", vector=VECTOR_FORMATS)
        figures.append((f"Fan charts of {metric}, strategies overlaid", written[key]))
    boundaries = baseline_for(base).boundaries
    if boundaries is not None:
        for name in names:
            values = result.counties.set_index("code")[f"p_{name}"]
            fig = county_map(
                boundaries,
                values,
                title=f"{name}: P(provincial innovative county by {result.year})",
                label=f"P(provincial innovative county in {result.year})",
                annotate=True,
                prefectures=prefecture_of(baseline_for(base)),
                note=map_note(baseline_for(base)),
            )
            key = f"map_{name}"
            written[key] = save_figure(
                fig, figdir / f"map_{_safe(name)}.png", vector=VECTOR_FORMATS
            )
            figures.append((f"{name}: county designation probability", written[key]))
        spread = result.counties.set_index("code")["spread"]
        fig = county_map(
            boundaries,
            spread,
            title=f"Where the strategies disagree: max - min P(designated by {result.year})",
            label="spread of probability (max - min over strategies)",
            cmap="magma",
            annotate=True,
            prefectures=prefecture_of(baseline_for(base)),
            note=map_note(baseline_for(base)),
        )
        written["map_disagreement"] = save_figure(
            fig, figdir / "map_disagreement.png", vector=VECTOR_FORMATS
        )
        figures.append(("Disagreement between strategies", written["map_disagreement"]))

    manifest = _manifest(result)
    written["manifest"] = out / "manifest.json"
    from policysim.experiments.store import write_bytes

    write_bytes(
        written["manifest"],
        json.dumps(manifest, indent=1, ensure_ascii=False, default=str).encode("utf-8"),
    )
    target_metric = {t.name: t.metric for t in base.targets}
    shown = result.table.copy()
    shown.insert(2, "metric", shown["target"].map(target_metric))
    tables: list[ReportTable] = [
        ("Attainment and paired difference against the baseline (95% intervals)", shown),
        ("Province metrics at the deadlines, paired differences (95% t intervals)", result.metrics),
        (
            f"Counties where the strategies disagree most (P designated by {result.year})",
            result.counties[["code", "name", *[f"p_{n}" for n in names], "spread"]].head(15),
        ),
    ]
    if len(result.decisions):
        tables.insert(
            1,
            (
                "Which strategy is best (per target and on the objective, against the runner-up), "
                "the value of optimisation (optimal vs the best rule) and of re-planning (closed "
                "loop vs open loop); paired 95% intervals",
                result.decisions,
            ),
        )
    if mv is not None:
        shown_mv, mv_sentence = standout(mv)
        ranked = result.counties[result.counties["code"].isin(shown_mv["code"])]
        ranked = ranked.sort_values("marginal_rank").head(15)
        cols = [
            "marginal_rank",
            "code",
            "name",
            "group",
            "marginal_designations_per_100m_cny",
            "group_designations_per_100m_cny",
            "slope_index_per_100m_cny",
            "optimal_dual_per_100m_cny",
        ]
        tables.append(
            (
                "Where an extra yuan matters most (top 15; only counties whose prefecture's "
                "interval excludes zero)",
                ranked[cols],
            )
        )
        if len(mv.groups):
            tables.append(("Paired perturbation by prefecture", mv.groups))
        if len(mv.duals):
            tables.append(("Optimiser's budget duals", mv.duals))
    summary = {
        "baseline": f"{result.baseline} ({base.allocation.strategy})",
        "scenarios": ", ".join(
            f"{n} ({r.loaded.scenario.allocation.strategy})" for n, r in result.results.items()
        ),
        "runs": ", ".join(
            f"{n}: {r.n_runs} ({r.n_failed} failed)" for n, r in result.results.items()
        ),
        "root seed": str(result.root_seed),
        "time": ", ".join(f"{k}: {v:.1f} s" for k, v in result.seconds.items()),
    }
    notes = [
        *([caveat] if caveat is not None else []),
        "Every scenario runs with the same root seed and run ids (common random numbers): "
        "differences are taken run by run. Probability differences carry Newcombe's paired 95% "
        "interval; metric differences a paired t interval.",
        "County probabilities count a county that is a provincial innovative county (pilot or "
        f"designated) in {result.year}; the spread is max - min over strategies.",
        "Funds are mean provincial funds received over the planning years, CNY.",
    ]
    if mv is not None:
        notes.append(mv_sentence)
    if mv is not None:
        notes.append(
            "Marginal value: every county of one prefecture gets "
            f"{mv.delta_100m_cny:g} 亿元 extra per year on top of the baseline strategy, in paired "
            "runs (same seeds and draws); the change in provincial innovative counties by "
            f"{mv.outcome_year} per extra 亿元 is the group's value, apportioned to its counties "
            "by their response-curve slope (index points per extra 亿元). The optimiser's dual "
            "is the value of one more 亿元 in the first year for counties funded strictly "
            "between their floor and ceiling in the optimal plan."
        )
    from policysim.experiments import write_briefing
    from policysim.report.briefing import briefing_for_comparison

    written.update(write_briefing(briefing_for_comparison(result, out), out, lang))
    written["workbook"] = _write_comparison_workbook(result, out)
    written["report"] = render_report(
        out / "report.html",
        title="policysim: strategy comparison",
        summary=summary,
        tables=tables,
        figures=figures,
        manifest=manifest,
        notes=notes,
    )
    logger.info("wrote %d files to %s", len(written), out)
    return written


def _write_comparison_workbook(result: ComparisonResult, out: Path) -> Path:
    from policysim.analysis import first_year_met
    from policysim.report.tables import unit_table, write_workbook
    from policysim.simulation import baseline_for

    base = result.results[result.baseline]
    sc = base.loaded.scenario
    baseline = baseline_for(sc)
    sheets: list[tuple[str, pd.DataFrame, str]] = [
        (
            "comparison",
            result.table,
            "Per scenario and target: probability (0-1), paired difference against the "
            "baseline (probability units, Newcombe 95% interval), metric median and paired "
            "metric difference (metric unit, t interval).",
        ),
        ("attainment", base.attainment(), f"Attainment of the baseline {result.baseline}."),
    ]
    if sc.targets:
        sheets.append(
            (
                "first_year",
                first_year_met(base.metrics, sc.targets),
                "First year each target is met in the baseline's runs (shares 0-1).",
            )
        )
    sheets += [
        (
            "metrics",
            result.metrics,
            "Province metrics at the deadlines; differences paired, in the metric's unit.",
        ),
        (
            "counties",
            unit_table(result.counties, baseline.counties, "county"),
            f"Probability (0-1) per county of being a provincial innovative county in "
            f"{result.year}, by scenario, with prefecture; funds in CNY.",
        ),
    ]
    return write_workbook(
        out / "results.xlsx",
        sheets,
        title=f"policysim comparison against {result.baseline}, root seed {result.root_seed}",
        notes=[SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH],
    )


def _province_rows(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    return metrics[(metrics["metric"] == metric) & (metrics["level"] == "province")]


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
