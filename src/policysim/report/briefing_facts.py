"""The facts of a briefing (:mod:`policysim.report.briefing`): the verdict rule, one dataclass per
kind of statement, and the functions that build them from a run directory's tables
(``attainment.csv``, ``first_year.csv``, ``comparison.csv``, ``sensitivity_indices.csv``, a
hindcast score table).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pandas as pd

from policysim.analysis.targets import DEFAULT_MET_AT

__all__ = [
    "LANGS",
    "VERDICTS",
    "Briefing",
    "Driver",
    "HindcastLine",
    "Lang",
    "StrategyGain",
    "TargetBrief",
    "Verdict",
    "best_strategies",
    "drivers_from_indices",
    "hindcast_lines",
    "target_briefs",
    "verdict",
]

Verdict = Literal["likely met", "uncertain", "likely not met"]
Lang = Literal["zh", "en", "both"]
LANGS: Final = ("zh", "en", "both")
VERDICTS: Final[dict[str, str]] = {
    "likely met": "很可能实现",
    "uncertain": "尚不确定",
    "likely not met": "很可能无法实现",
}
#: Years after the target year for which the first-year sentence gives the cumulative share.
_LATER_YEARS: Final = 2


def verdict(ci_low: float, ci_high: float, bar: float = DEFAULT_MET_AT) -> Verdict:
    """The verdict in words from the 95% interval of the probability of meeting a target.

    ``"likely met"`` only when the interval's lower end clears the bar (``ci_low >= bar``),
    ``"likely not met"`` when its upper end is below it (``ci_high < bar``), otherwise
    ``"uncertain"`` (also for a missing interval).

    >>> verdict(0.72, 0.87)
    'uncertain'
    >>> verdict(0.23, 0.42)
    'likely not met'
    >>> verdict(0.81, 0.9)
    'likely met'
    """
    if math.isnan(ci_low) or math.isnan(ci_high):
        return "uncertain"
    if ci_low >= bar:
        return "likely met"
    if ci_high < bar:
        return "likely not met"
    return "uncertain"


@dataclass(frozen=True)
class TargetBrief:
    """One target: definition, estimate, verdict and first-year distribution."""

    name: str
    metric: str
    comparator: str
    threshold: float | None
    year: int
    description: str
    source: str
    probability: float
    ci_low: float
    ci_high: float
    median: float
    p05: float
    p95: float
    verdict: Verdict
    #: (year, cumulative share of runs that have first reached the target by then)
    reached_by: tuple[tuple[int, float], ...] = ()
    never: float = math.nan
    end_year: int = 0


@dataclass(frozen=True)
class StrategyGain:
    """The best strategy for one target, with its paired gain against the baseline."""

    target: str
    best: str
    probability: float
    baseline: str
    baseline_probability: float
    gain: float
    gain_low: float
    gain_high: float


@dataclass(frozen=True)
class Driver:
    """One of the uncertain parameters that most drive a target's attainment."""

    target: str
    parameter: str
    value: float
    measure: str  # "ST" (Sobol' total index) or "mu_star" (Morris)


@dataclass(frozen=True)
class HindcastLine:
    """How an indicator's observed history falls in the ensemble's bands."""

    indicator: str
    n: int
    in90: int
    above_median: int
    first_year: int
    last_year: int


@dataclass(frozen=True)
class Briefing:
    """Everything the briefing says (see the module docstring)."""

    title: str
    scenario: str
    strategy: str
    horizon: str
    n_runs: int
    n_failed: int
    root_seed: int
    targets: tuple[TargetBrief, ...]
    bar: float = DEFAULT_MET_AT
    gains: tuple[StrategyGain, ...] = ()
    overall_best: str | None = None
    drivers: tuple[Driver, ...] = ()
    drivers_source: str = ""
    hindcast: tuple[HindcastLine, ...] = ()
    hindcast_source: str = ""
    synthetic: bool = True
    created: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))


def target_briefs(
    targets: Sequence[Any],
    attainment: pd.DataFrame,
    first_year: pd.DataFrame | None,
    *,
    end_year: int,
    bar: float = DEFAULT_MET_AT,
) -> tuple[TargetBrief, ...]:
    """One :class:`TargetBrief` per scenario target, from ``attainment.csv`` and
    ``first_year.csv`` data."""
    rows = {str(r["target"]): r for r in attainment.to_dict("records")}
    out: list[TargetBrief] = []
    for t in targets:
        row = rows.get(t.name)
        if row is None:
            continue
        reached: list[tuple[int, float]] = []
        never = math.nan
        if first_year is not None and len(first_year):
            sub = first_year[first_year["target"] == t.name]
            years = sub[sub["label"] != "never"]
            for k in range(_LATER_YEARS + 1):
                y = int(t.year) + k
                hit = years[years["year"].astype("Int64") == y]
                if len(hit):
                    share = float(hit["cumulative_share"].iloc[0])
                    reached.append((y, share))
                    if share >= 1.0 - 1e-12:  # every run has reached it: no later year to add
                        break
            nev = sub[sub["label"] == "never"]
            if len(nev):
                never = float(nev["share"].iloc[0])
        lo, hi = float(row["ci_low"]), float(row["ci_high"])
        out.append(
            TargetBrief(
                name=t.name,
                metric=t.metric,
                comparator=t.comparator,
                threshold=t.threshold,
                year=int(t.year),
                description=t.description,
                source=t.source,
                probability=float(row["probability"]),
                ci_low=lo,
                ci_high=hi,
                median=float(row["median"]),
                p05=float(row["p05"]),
                p95=float(row["p95"]),
                verdict=verdict(lo, hi, bar),
                reached_by=tuple(reached),
                never=never,
                end_year=end_year,
            )
        )
    return tuple(out)


def best_strategies(table: pd.DataFrame, baseline: str) -> tuple[tuple[StrategyGain, ...], str]:
    """Per target the scenario with the highest probability and its paired gain over the
    baseline (``comparison.csv`` data); and the overall best: the highest mean probability over
    the targets (ties: the earlier scenario)."""
    gains: list[StrategyGain] = []
    for target, sub in table.groupby("target", sort=False):
        base = sub[sub["scenario"] == baseline]
        best = sub.loc[sub["probability"].idxmax()]
        gains.append(
            StrategyGain(
                target=str(target),
                best=str(best["scenario"]),
                probability=float(best["probability"]),
                baseline=baseline,
                baseline_probability=float(base["probability"].iloc[0]) if len(base) else math.nan,
                gain=float(best["diff_vs_baseline"]),
                gain_low=float(best["diff_ci_low"]),
                gain_high=float(best["diff_ci_high"]),
            )
        )
    means = table.groupby("scenario", sort=False)["probability"].mean()
    overall = str(means.idxmax()) if len(means) else baseline
    return tuple(gains), overall


def drivers_from_indices(indices: pd.DataFrame, top: int = 3) -> tuple[Driver, ...]:
    """The ``top`` parameters with the largest total Sobol' index (or Morris mu*) of each
    target's attainment, from ``sensitivity_indices.csv`` data."""
    if "target" not in indices.columns:
        return ()
    sub = indices
    if "quantity" in sub.columns:
        sub = sub[sub["quantity"] == "attainment"]
    measure = "ST" if "ST" in sub.columns else "mu_star" if "mu_star" in sub.columns else None
    if measure is None:
        return ()
    out: list[Driver] = []
    for target, rows in sub.groupby("target", sort=False):
        ranked = rows.dropna(subset=[measure]).sort_values(measure, ascending=False).head(top)
        out.extend(
            Driver(str(target), str(r["parameter"]), float(r[measure]), measure)
            for r in ranked.to_dict("records")
            if float(r[measure]) > 0
        )
    return tuple(out)


def hindcast_lines(table: pd.DataFrame, base_year: int) -> tuple[HindcastLine, ...]:
    """Per indicator, of the observed years after the base year (the base year is the model's
    starting point, not a test): how many lie in the ensemble's 90% band, how many above its
    median (a :func:`policysim.studies.hindcast.score_ensemble` table)."""
    sub = table[table["year"] > base_year]
    out: list[HindcastLine] = []
    for indicator, rows in sub.groupby("indicator", sort=False):
        out.append(
            HindcastLine(
                indicator=str(indicator),
                n=len(rows),
                in90=int(rows["in90"].sum()),
                above_median=int((rows["observed"] > rows["median"]).sum()),
                first_year=int(rows["year"].min()),
                last_year=int(rows["year"].max()),
            )
        )
    return tuple(out)
