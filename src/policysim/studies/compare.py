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

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from policysim.analysis import mean_difference_interval, paired_comparison, unit_disagreement
from policysim.errors import PolicysimError, ScenarioError
from policysim.experiments import Engine, EnsembleResult, report_years
from policysim.experiments.store import sub_store
from policysim.experiments.verify import verified_policy_for
from policysim.scenario import LoadedScenario
from policysim.studies.compare_output import write_comparison
from policysim.studies.decisions import DECISION_COLUMNS, decision_line, decisions
from policysim.studies.marginal import (
    DEFAULT_DELTA_100M_CNY,
    MarginalValue,
    marginal_value,
    standout,
)
from policysim.studies.runs import load_with_overrides, study_engine, study_ensemble
from policysim.vocabulary import strategy

__all__ = [
    "DEADLINE_METRICS",
    "DECISION_COLUMNS",
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
            mv = _marginal_study(
                results[baseline], loaded, backend, seconds,
                replications=marginal_replications, delta_100m_cny=delta_100m_cny,
                store=store, resume=resume,
            )  # fmt: skip
    return _assemble(results, loaded, baseline, root_seed, seconds, mv)


def _marginal_study(
    baseline: EnsembleResult,
    loaded: Sequence[LoadedScenario],
    backend: Engine,
    seconds: dict[str, float],
    *,
    replications: int | None,
    delta_100m_cny: float | None,
    store: Path | None,
    resume: bool,
) -> MarginalValue:
    """The marginal value study on the baseline's ensemble (with the duals of the first
    ``optimal`` scenario, if any), its runs streaming to the store after the scenarios'; its
    wall-clock time goes into ``seconds["marginal"]``."""
    t0 = time.perf_counter()
    mv = marginal_value(
        baseline,
        replications=replications,
        delta_100m_cny=DEFAULT_DELTA_100M_CNY if delta_100m_cny is None else delta_100m_cny,
        optimal=next((ls for ls in loaded if ls.scenario.allocation.strategy == "optimal"), None),
        engine=backend,
        store=sub_store(store, len(loaded), "marginal"),
        resume=resume,
    )
    seconds["marginal"] = time.perf_counter() - t0
    return mv


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
            # verified once here on the study's engine (its local workers or its Dask cluster;
            # the ensemble's workers then read the cache)
            verified_policy_for(ls.scenario, workers=engine.workers, engine=engine)
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
