"""Hindcast: run a scenario's ensemble from the base year and score it against observed history.

>>> from policysim.studies.hindcast import run_hindcast, write_hindcast
>>> result = run_hindcast("scenarios/jiangxi_hindcast.yaml",
...                       "scenarios/observed/jiangxi_2017_2022.csv", replications=100)
>>> result.summary["rd_expenditure_100m_cny"]["coverage90"]

Observed values are read with :func:`policysim.analysis.read_observed` (indicators restricted to
:data:`HINDCAST_INDICATORS`, years within the horizon, base year included) and scored with
:func:`policysim.analysis.score_hindcast` at province level. An observation whose ensemble has no
spread (the base-year values the model is initialised to, or a deterministic count) is flagged
``informative = False``: it lies in every interval by construction and says nothing about
calibration.

:func:`held_out_scores` is the self-consistency check of a calibrated model: some runs of the
ensemble play the observations and are scored against the other runs; the coverage of the 50%
and 90% intervals must then be close to nominal and the PIT close to uniform.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from policysim.analysis import fan_quantiles, read_observed, score_hindcast
from policysim.errors import DataError
from policysim.experiments import Engine, EnsembleResult, build_manifest
from policysim.experiments.store import write_bytes
from policysim.metrics import hindcast_indicators
from policysim.report.tables import csv_bytes
from policysim.scenario import LoadedScenario
from policysim.scenario.schema import Scenario
from policysim.studies.runs import load_with_overrides, study_engine, study_ensemble

__all__ = [
    "DEGENERATE_RTOL",
    "HINDCAST_INDICATORS",
    "HindcastResult",
    "held_out_scores",
    "hindcast_years",
    "interval_coverage",
    "read_hindcast_observed",
    "run_hindcast",
    "score_ensemble",
    "synthetic_observations",
    "write_hindcast",
]

logger = logging.getLogger(__name__)

#: Province-level indicators an observed file may name (from the metric registry).
HINDCAST_INDICATORS: Final = hindcast_indicators()

#: Relative spread below which an ensemble cell counts as degenerate (all runs equal up to
#: floating-point noise; e.g. base-year R&D is 255.8 +- 3e-14 over runs).
DEGENERATE_RTOL: Final = 1e-9


def hindcast_years(scenario: Scenario) -> range:
    """Years an observation may have: the base year through the end year, inclusive."""
    return range(scenario.horizon.base_year, scenario.horizon.end_year + 1)


def read_hindcast_observed(path: Path, scenario: Scenario) -> pd.DataFrame:
    """Read an observed file for ``scenario``.

    Parameters
    ----------
    path : Path
        CSV with columns ``indicator, year, value`` (extra columns ignored).
    scenario : Scenario
        Fixes the allowed years (:func:`hindcast_years`).

    Returns
    -------
    DataFrame
        ``indicator, year, value`` in file order.

    Raises
    ------
    DataError
        Unknown indicator, year outside the horizon, bad value or duplicate, naming the row.
    """
    observed = read_observed(Path(path), HINDCAST_INDICATORS, hindcast_years(scenario))
    if observed.empty:
        raise DataError(path, "no observations; expected at least one indicator,year,value row")
    return observed


def _province(metrics: pd.DataFrame) -> pd.DataFrame:
    sub = metrics[metrics["level"] == "province"]
    return sub[sub["metric"].isin(HINDCAST_INDICATORS)]


def score_ensemble(
    metrics: pd.DataFrame, observed: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """Score ensemble metrics against observations, flagging uninformative cells.

    Parameters
    ----------
    metrics : DataFrame
        Long ensemble metrics (``replication, year, level, code, name, metric, value``).
    observed : DataFrame
        ``indicator, year, value``.

    Returns
    -------
    table : DataFrame
        The columns of :func:`policysim.analysis.score_hindcast` plus ``informative`` (bool:
        the ensemble's 5-95% range is not degenerate) and ``n_runs`` (finite ensemble members).
        For a degenerate cell, ``in50``/``in90`` say whether the observation equals the
        ensemble's value to a relative tolerance of :data:`DEGENERATE_RTOL`, and ``pit`` is 0.5
        if so, else 0 or 1 (below or above).
    summary : dict
        Per indicator: the fields of :func:`~policysim.analysis.score_hindcast` (coverage
        recomputed from the adjusted flags) plus
        ``n_informative``, ``coverage50_informative`` and ``coverage90_informative`` (NaN when no
        informative observation).
    """
    province = _province(metrics)
    table, summary = score_hindcast(province, observed)
    spread = (table["p95"] - table["p05"]).to_numpy(dtype=np.float64)
    scale = np.maximum(np.abs(table["median"].to_numpy(dtype=np.float64)), 1.0)
    informative = spread > DEGENERATE_RTOL * scale
    table["informative"] = informative
    # A degenerate ensemble (all runs equal up to rounding noise) contains the observation when
    # the two agree to that tolerance; the raw comparison would turn noise of 1e-12 into a miss.
    obs = table["observed"].to_numpy(dtype=np.float64)
    med = table["median"].to_numpy(dtype=np.float64)
    above = obs > med
    equal = np.abs(obs - med) <= DEGENERATE_RTOL * scale
    for column in ("in50", "in90"):
        table[column] = np.where(informative, table[column].to_numpy(dtype=bool), equal)
    table["pit"] = np.where(
        informative, table["pit"].to_numpy(dtype=np.float64), np.where(equal, 0.5, above * 1.0)
    )
    counts = (
        province.dropna(subset=["value"])
        .groupby(["metric", "year"], observed=True)["value"]
        .size()
        .to_dict()
    )
    table["n_runs"] = [
        int(counts.get((i, y), 0)) for i, y in zip(table["indicator"], table["year"], strict=True)
    ]
    for indicator, entry in summary.items():
        group = table[table["indicator"] == indicator]
        entry["coverage50"] = float(group["in50"].mean())
        entry["coverage90"] = float(group["in90"].mean())
        rows = group[group["informative"]]
        entry["n_informative"] = len(rows)
        entry["coverage50_informative"] = float(rows["in50"].mean()) if len(rows) else math.nan
        entry["coverage90_informative"] = float(rows["in90"].mean()) if len(rows) else math.nan
    return table, summary


def interval_coverage(table: pd.DataFrame) -> dict[str, float]:
    """Pooled scores of a hindcast table.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`score_ensemble` or :func:`held_out_scores`.

    Returns
    -------
    dict
        ``n`` (rows), ``coverage50``, ``coverage90`` (shares of rows inside the 50% / 90%
        intervals), ``mean_pit`` and ``pit_ks`` (Kolmogorov-Smirnov distance of the PIT values
        from the uniform distribution, 0..1); NaN for an empty table.
    """
    n = len(table)
    if n == 0:
        nan = math.nan
        return {"n": 0, "coverage50": nan, "coverage90": nan, "mean_pit": nan, "pit_ks": nan}
    pit = np.sort(table["pit"].to_numpy(dtype=np.float64))
    upper = np.arange(1, n + 1) / n - pit
    lower = pit - np.arange(n) / n
    return {
        "n": n,
        "coverage50": float(table["in50"].mean()),
        "coverage90": float(table["in90"].mean()),
        "mean_pit": float(pit.mean()),
        "pit_ks": float(max(upper.max(), lower.max())),
    }


@dataclass(frozen=True)
class HindcastResult:
    """A scored hindcast.

    Attributes
    ----------
    ensemble : EnsembleResult
        The runs.
    observed : DataFrame
        ``indicator, year, value`` as read.
    observed_path : Path or None
        The observed file.
    table : DataFrame
        One row per observation (see :func:`score_ensemble`).
    summary : dict
        Per indicator scores (see :func:`score_ensemble`).
    """

    ensemble: EnsembleResult
    observed: pd.DataFrame
    observed_path: Path | None
    table: pd.DataFrame
    summary: dict[str, dict[str, float]]

    def overall(self) -> dict[str, float]:
        """Pooled coverage and PIT over all observations and over the informative ones."""
        out = {f"all_{k}": v for k, v in interval_coverage(self.table).items()}
        informative = self.table[self.table["informative"]]
        out.update({f"informative_{k}": v for k, v in interval_coverage(informative).items()})
        return out


def run_hindcast(
    scenario: LoadedScenario | str | Path,
    observed: Path,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    overrides: Sequence[str] = (),
    store: Path | None = None,
    resume: bool = False,
    progress: bool = False,
    engine: Engine | None = None,
) -> HindcastResult:
    """Run a scenario's ensemble and score it against an observed file.

    The observed file is read and checked before any run.

    Parameters
    ----------
    scenario : LoadedScenario, str or Path
        The scenario (its horizon fixes the allowed years).
    observed : Path
        CSV ``indicator, year, value`` (see :func:`read_hindcast_observed`).
    replications, seed, workers, scheduler, overrides, store, resume, progress, engine
        As in :func:`policysim.experiments.run_ensemble` (``resume``: continue the hindcast
        interrupted in ``store``, if it stored any run).

    Returns
    -------
    HindcastResult

    Raises
    ------
    DataError
        A bad observed file, or an ensemble in which every run failed.
    ScenarioError, AllocationError
        A bad scenario.
    """
    loaded = load_with_overrides(scenario, overrides)
    obs = read_hindcast_observed(Path(observed), loaded.scenario)
    with study_engine(workers, scheduler, engine) as backend:
        backend.warm(loaded.scenario)
        ensemble = study_ensemble(
            loaded,
            engine=backend,
            store=store,
            resume=resume,
            replications=replications,
            seed=seed,
            progress=progress,
        )
    if ensemble.n_failed == ensemble.n_runs:
        raise DataError(
            "ensemble", f"all {ensemble.n_runs} runs failed; expected completed runs to score"
        )
    table, summary = score_ensemble(ensemble.metrics, obs)
    logger.info("hindcast of %s: %d observations scored", loaded.name, len(table))
    return HindcastResult(
        ensemble=ensemble, observed=obs, observed_path=Path(observed), table=table, summary=summary
    )


def synthetic_observations(
    metrics: pd.DataFrame,
    replication: int,
    indicators: Sequence[str] = HINDCAST_INDICATORS,
    years: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Take one run of an ensemble as "observed" history.

    Parameters
    ----------
    metrics : DataFrame
        Long ensemble metrics with a ``replication`` column.
    replication : int
        The run to use.
    indicators : sequence of str
        Province metrics to take.
    years : sequence of int, optional
        Years to take (default: all years of the run).

    Returns
    -------
    DataFrame
        ``indicator, year, value`` (the format of :func:`read_hindcast_observed`), sorted by
        indicator then year.

    Raises
    ------
    DataError
        If the run has none of the requested values.
    """
    rows = _province(metrics)
    rows = rows[(rows["replication"] == replication) & rows["metric"].isin(list(indicators))]
    if years is not None:
        rows = rows[rows["year"].isin(list(years))]
    if rows.empty:
        raise DataError(
            "ensemble metrics",
            f"replication {replication} has none of the requested indicators and years",
        )
    out = pd.DataFrame(
        {
            "indicator": rows["metric"].astype(str).to_numpy(),
            "year": rows["year"].to_numpy(dtype=np.int64),
            "value": rows["value"].to_numpy(dtype=np.float64),
        }
    )
    return out.sort_values(["indicator", "year"], ignore_index=True)


def held_out_scores(
    metrics: pd.DataFrame,
    truth_replications: Sequence[int] | None = None,
    indicators: Sequence[str] = HINDCAST_INDICATORS,
    years: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Score held-out runs of an ensemble against the rest of it.

    Each replication in ``truth_replications`` plays the observed history in turn and is scored
    against the ensemble of all other runs (the truth runs excluded). With
    ``truth_replications`` None, every run is held out in turn and scored against all the others
    (leave-one-out). A model is then calibrated by construction, so the coverage of the 50% and
    90% intervals estimates their nominal levels, up to the ensemble's size and ties: with an
    ensemble of n runs and linear quantiles, an exchangeable draw falls inside the central
    interval of level 1 - 2q with probability about ``1 - 2 (1 + q (n - 1)) / (n + 1)``.

    Parameters
    ----------
    metrics : DataFrame
        Long ensemble metrics with a ``replication`` column.
    truth_replications : sequence of int, optional
        Runs used as observations (at least one; the rest must hold at least one run); None:
        leave-one-out over all runs.
    indicators : sequence of str
        Province metrics to score.
    years : sequence of int, optional
        Years to score (default: every year).

    Returns
    -------
    DataFrame
        The rows of :func:`score_ensemble` with a ``truth`` column (the replication observed).

    Raises
    ------
    DataError
        If no truth run is given or no run is left for the ensemble.
    """
    province = _province(metrics)
    province = province[province["metric"].isin(list(indicators))]
    if years is not None:
        province = province[province["year"].isin(list(years))]
    leave_one_out = truth_replications is None
    if truth_replications is None:
        truths = sorted({int(r) for r in province["replication"]})
    else:
        truths = [int(r) for r in truth_replications]
    if not truths:
        raise DataError("ensemble metrics", "no truth replication; expected at least one")
    others = province[~province["replication"].isin(truths)]
    if (not leave_one_out and others.empty) or (leave_one_out and len(truths) < 2):
        raise DataError(
            "ensemble metrics", "no run left after removing the truth runs; expected more runs"
        )
    tables = []
    for r in truths:
        obs = synthetic_observations(province, r, indicators, years)
        ensemble = province[province["replication"] != r] if leave_one_out else others
        table, _ = score_ensemble(ensemble, obs)
        tables.append(table.assign(truth=r))
    return pd.concat(tables, ignore_index=True)


# -----------------------------------------------------------------------------------------------
# outputs


def json_safe(value: Any) -> Any:
    """A summary made JSON-safe: numpy scalars as Python numbers, non-finite floats as null."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def quantile_frame(metrics: pd.DataFrame, indicator: str) -> pd.DataFrame:
    """Yearly 5/25/50/75/95% quantiles of a province indicator across runs (``year, p05..p95``)."""
    q = fan_quantiles(_province(metrics), indicator)
    return pd.DataFrame(
        {
            "year": q.index.to_numpy(dtype=np.int64),
            "p05": q[0.05].to_numpy(),
            "p25": q[0.25].to_numpy(),
            "p50": q[0.5].to_numpy(),
            "p75": q[0.75].to_numpy(),
            "p95": q[0.95].to_numpy(),
        }
    )


def _summary_payload(result: HindcastResult, overall: dict[str, float]) -> dict[str, object]:
    """The content of ``hindcast_summary.json``."""
    ens = result.ensemble
    sc = ens.loaded.scenario
    return {
        "scenario": sc.metadata.name,
        "scenario_hash": ens.loaded.hash,
        "observed_file": str(result.observed_path) if result.observed_path else None,
        "horizon": [sc.horizon.base_year, sc.horizon.end_year],
        "runs": ens.n_runs,
        "failed_runs": ens.n_failed,
        "root_seed": ens.root_seed,
        "overall": overall,
        "indicators": result.summary,
    }


def _hindcast_figures(
    result: HindcastResult, out: Path, written: dict[str, Path]
) -> list[tuple[str, Path]]:
    """One figure per observed indicator (recorded in ``written``); their captions and paths."""
    from policysim.plotting import hindcast_plot, save_figure

    figures: list[tuple[str, Path]] = []
    for indicator in dict.fromkeys(result.table["indicator"]):
        quantiles = quantile_frame(result.ensemble.metrics, str(indicator))
        obs = result.observed[result.observed["indicator"] == indicator][["year", "value"]]
        fig = hindcast_plot(quantiles, obs, str(indicator))
        path = save_figure(fig, out / "figures" / f"hindcast_{indicator}.png")
        written[f"plot_{indicator}"] = path
        figures.append((f"{indicator}: ensemble fan (median, 50%, 90%) and observations", path))
    return figures


def _pct(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.0%}"


#: The notes of the hindcast report.
_REPORT_NOTES: Final = (
    "An observation is informative when the ensemble's 5-95% range is not degenerate; the "
    "base-year values the model is initialised to lie in every interval by construction.",
    "PIT is the observation's mid-rank percentile in the ensemble (0: below every run, "
    "1: above every run); a calibrated model gives uniform PIT values.",
    "CRPS is in the indicator's unit (lower is better); abs_pct_error is the absolute "
    "percentage error of the ensemble median.",
    "Check the observed file's status and source columns: recalled values are assumptions.",
)


def _hindcast_report(
    result: HindcastResult,
    path: Path,
    overall: dict[str, float],
    figures: list[tuple[str, Path]],
    manifest: dict[str, Any],
) -> Path:
    """``report.html``: the summary, the observations and the scores per indicator, the
    figures, the manifest and the notes."""
    from policysim.report import render_report

    ens = result.ensemble
    sc = ens.loaded.scenario
    per_indicator = pd.DataFrame([{"indicator": k, **v} for k, v in sorted(result.summary.items())])
    informative = int(result.table["informative"].sum())
    summary = {
        "scenario": f"{sc.metadata.name} ({sc.allocation.strategy})",
        "horizon": f"{sc.horizon.base_year}-{sc.horizon.end_year}",
        "observed file": str(result.observed_path),
        "runs": f"{ens.n_runs} ({ens.n_failed} failed), root seed {ens.root_seed}",
        "observations": f"{len(result.table)} ({informative} informative)",
        "coverage of the 50% / 90% intervals (informative observations)": (
            f"{_pct(overall['informative_coverage50'])} / {_pct(overall['informative_coverage90'])}"
        ),
    }
    return render_report(
        path,
        title=f"policysim hindcast: {sc.metadata.name}",
        summary=summary,
        tables=[
            ("Observations against the ensemble", result.table),
            ("Scores per indicator", per_indicator),
        ],
        figures=figures,
        manifest=manifest,
        notes=list(_REPORT_NOTES),
    )


def write_hindcast(result: HindcastResult, out_dir: Path) -> dict[str, Path]:
    """Write the hindcast's files, each atomically.

    Parameters
    ----------
    result : HindcastResult
        The scored hindcast.
    out_dir : Path
        Output folder (created if missing).

    Returns
    -------
    dict of str to Path
        ``hindcast`` (``hindcast.csv``), ``summary`` (``hindcast_summary.json``), ``manifest``
        (``manifest.json``), ``draws`` (``draws.csv``), ``plot_<indicator>``
        (``figures/hindcast_<indicator>.png``, one per observed indicator) and ``report``
        (``report.html``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    ens = result.ensemble
    written["hindcast"] = out / "hindcast.csv"
    write_bytes(written["hindcast"], csv_bytes(result.table))
    overall = result.overall()
    written["summary"] = out / "hindcast_summary.json"
    payload = _summary_payload(result, overall)
    write_bytes(
        written["summary"],
        json.dumps(json_safe(payload), indent=1, ensure_ascii=False).encode("utf-8"),
    )
    manifest = build_manifest(ens)
    manifest["observed_file"] = payload["observed_file"]
    written["manifest"] = out / "manifest.json"
    write_bytes(
        written["manifest"],
        json.dumps(manifest, indent=1, ensure_ascii=False, default=str).encode("utf-8"),
    )
    written["draws"] = out / "draws.csv"
    write_bytes(written["draws"], csv_bytes(ens.draws))
    figures = _hindcast_figures(result, out, written)
    written["report"] = _hindcast_report(result, out / "report.html", overall, figures, manifest)
    logger.info("wrote %d hindcast files to %s", len(written), out)
    return written
