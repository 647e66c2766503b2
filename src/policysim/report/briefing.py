"""The briefing: the answer in words for a policy office, in Chinese and English.

One :class:`Briefing` holds what a reader needs: per target the verdict in words with the rule
behind it, the target's description and source (from the scenario), the probability with its 95%
interval, when the target is first reached over the runs (``first_year.csv``), the best strategy
with its paired gain (comparisons), what drives the result (a sensitivity study, when one is in
the run directory), the model's hindcast record against observed history, and the synthetic-data
caveat. The same sentences are written to ``briefing.html`` (self-contained, printable, with the
glyphs of its Chinese text embedded) and printed on the terminal.

Verdict rule (:func:`verdict`): a target is **likely met** only when the lower end of the 95%
interval of its probability clears the bar (P >= 0.8 by default, the reporting convention of
:data:`policysim.analysis.targets.DEFAULT_MET_AT`), **likely not met** when the upper end is
below the bar, and **uncertain** otherwise (more runs narrow the interval).

The HTML is made with Jinja2 templates (autoescaping on): the briefing is prose with loops and
conditions in two languages, which a template states far more readably than string building.

The parts: :mod:`~policysim.report.briefing_facts` (the verdict rule, the facts and their
building from a run directory's tables), :mod:`~policysim.report.briefing_words` (the sentences)
and :mod:`~policysim.report.briefing_html` (the page). This module gathers the facts of a run or
a comparison and re-exports the rest.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from policysim.report.briefing_facts import (
    LANGS,
    VERDICTS,
    Briefing,
    Driver,
    HindcastLine,
    StrategyGain,
    TargetBrief,
    best_strategies,
    drivers_from_indices,
    hindcast_lines,
    target_briefs,
    verdict,
)
from policysim.report.briefing_facts import Lang as Lang
from policysim.report.briefing_facts import Verdict as Verdict
from policysim.report.briefing_html import briefing_summary as briefing_summary
from policysim.report.briefing_html import render_briefing
from policysim.report.briefing_html import render_html as render_html
from policysim.report.briefing_words import Section as Section
from policysim.report.briefing_words import briefing_lines, briefing_text

__all__ = [
    "LANGS",
    "VERDICTS",
    "Briefing",
    "Driver",
    "HindcastLine",
    "StrategyGain",
    "TargetBrief",
    "best_strategies",
    "briefing_lines",
    "briefing_text",
    "drivers_from_indices",
    "hindcast_lines",
    "render_briefing",
    "target_briefs",
    "verdict",
]

logger = logging.getLogger(__name__)

# -----------------------------------------------------------------------------------------------
# from a run or a comparison


def _observed_files(scenario_path: Path) -> list[Path]:
    folder = Path(scenario_path).parent / "observed"
    return sorted(folder.glob("*.csv")) if folder.is_dir() else []


#: Largest relative gap, at the base year, between an observed value and the run's median for the
#: file to be taken as history of the run's province (the model starts from the base-year
#: statistics; the shipped Jiangxi files beside ``tiny.yaml`` are ten times its totals).
BASE_YEAR_TOLERANCE = 0.2


def other_province(table: pd.DataFrame, base_year: int) -> str | None:
    """Why a scored observed file is not the run's province (its base-year values are far from
    where the run starts), or None (a :func:`policysim.studies.hindcast.score_ensemble`
    table)."""
    base = table[table["year"] == base_year]
    observed = pd.to_numeric(base["observed"], errors="coerce").to_numpy(dtype=float)
    median = pd.to_numeric(base["median"], errors="coerce").to_numpy(dtype=float)
    for indicator, obs, med in zip(base["indicator"], observed, median, strict=True):
        if obs != 0 and abs(med / obs - 1.0) > BASE_YEAR_TOLERANCE:
            return f"{indicator} {base_year}: observed {obs:g}, the run starts at {med:g}"
    return None


def find_hindcast(
    metrics: pd.DataFrame, scenario: Any, scenario_path: Path
) -> tuple[tuple[HindcastLine, ...], str]:
    """Score the run's province metrics against the observed history next to the scenario
    (``observed/*.csv``; the file with the most observations after the base year). Files that do
    not fit the scenario (years outside its horizon, unknown indicators) are skipped, and so are
    files about another province: base-year values more than :data:`BASE_YEAR_TOLERANCE` from
    where the run starts."""
    from policysim.errors import PolicysimError
    from policysim.studies.hindcast import read_hindcast_observed, score_ensemble

    base_year = int(scenario.horizon.base_year)
    best: tuple[tuple[HindcastLine, ...], str] = ((), "")
    best_n = 0
    for path in _observed_files(scenario_path):
        try:
            observed = read_hindcast_observed(path, scenario)
            table, _ = score_ensemble(metrics, observed)
        except (PolicysimError, KeyError, ValueError) as exc:
            logger.debug("observed file %s skipped: %s", path, exc)
            continue
        elsewhere = other_province(table, base_year)
        if elsewhere is not None:
            logger.debug("observed file %s skipped (another province: %s)", path, elsewhere)
            continue
        lines = hindcast_lines(table, base_year)
        n = sum(h.n for h in lines)
        if n > best_n:
            best, best_n = (lines, str(path)), n
    return best


def _drivers(out_dir: Path | None) -> tuple[tuple[Driver, ...], str]:
    if out_dir is None:
        return (), ""
    path = Path(out_dir) / "sensitivity_indices.csv"
    if not path.is_file():
        return (), ""
    try:
        indices = pd.read_csv(path, encoding="utf-8-sig")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        logger.warning("%s: not read (%s); no drivers in the briefing", path, exc)
        return (), ""
    return drivers_from_indices(indices), str(path)


def briefing_for_run(
    result: Any,
    attainment: pd.DataFrame,
    first_year: pd.DataFrame | None,
    out_dir: Path | None = None,
) -> Briefing:
    """The briefing of an ensemble (:class:`policysim.experiments.EnsembleResult`)."""
    from policysim.simulation import baseline_for

    loaded = result.loaded
    sc = loaded.scenario
    hindcast, source = find_hindcast(result.metrics, sc, loaded.path)
    drivers, drivers_source = _drivers(out_dir)
    synthetic = any(baseline_for(sc).synthetic_columns.values())
    return Briefing(
        title=f"policysim: {sc.metadata.name}",
        scenario=sc.metadata.name,
        strategy=sc.allocation.strategy,
        horizon=f"{sc.horizon.base_year}–{sc.horizon.end_year}",
        n_runs=int(result.n_runs),
        n_failed=int(result.n_failed),
        root_seed=int(result.root_seed),
        targets=target_briefs(sc.targets, attainment, first_year, end_year=sc.horizon.end_year),
        drivers=drivers,
        drivers_source=drivers_source,
        hindcast=hindcast,
        hindcast_source=source,
        synthetic=synthetic,
    )


def briefing_for_comparison(result: Any, out_dir: Path | None = None) -> Briefing:
    """The briefing of a comparison (:class:`policysim.studies.compare.ComparisonResult`): the
    baseline's verdicts, and the best strategy per target with its paired gain."""
    from policysim.analysis import first_year_met

    base = result.results[result.baseline]
    sc = base.loaded.scenario
    attain = base.attainment()
    first = first_year_met(base.metrics, sc.targets) if sc.targets else None
    b = briefing_for_run(base, attain, first, out_dir)
    gains, overall = (
        best_strategies(result.table, result.baseline) if len(result.table) else ((), None)
    )
    others = [n for n in result.results if n != result.baseline]
    return Briefing(
        **{
            **b.__dict__,
            "title": "policysim: strategy comparison",
            "scenario": f"{result.baseline} vs {', '.join(others)}" if others else result.baseline,
            "gains": gains,
            "overall_best": overall,
        }
    )
