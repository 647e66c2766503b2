"""What a run's figures and tables draw on besides its results: the observed province history on
the fan charts, the metrics given a fan chart, the prefectures and the synthetic-data note of the
county map, and the figures' captions in the report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from policysim.analysis.history import observed_series, read_history
from policysim.data.caveat import county_caveat
from policysim.data.loader import EMBEDDED_NAME
from policysim.errors import DataError
from policysim.experiments.runner import EnsembleResult
from policysim.metrics import by_level
from policysim.vocabulary import SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH

__all__ = ["map_note", "observed_history", "prefecture_of"]

logger = logging.getLogger(__name__)


def observed_history(baseline: Any, scenario_path: Path) -> list[pd.DataFrame]:
    """Observed province history for the run's fan charts, most authoritative first.

    The baseline's ``province_history.csv`` (the embedded Jiangxi history up to 2017), then, for
    the embedded Jiangxi baseline, the observed file next to the scenario file
    ``scenario_path`` (``observed/*.csv``,
    as shipped in ``scenarios/observed/``) with the most province values: the file the
    briefing's hindcast record scores against. Files that cannot be read are skipped (figures
    only; the hindcast command checks them)."""
    tables = [baseline.history] if len(baseline.history) else []
    folder = Path(scenario_path).parent / "observed"
    if baseline.name != EMBEDDED_NAME or not folder.is_dir():
        return tables  # the shipped observed files are Jiangxi's
    best = pd.DataFrame()
    for path in sorted(folder.glob("*.csv")):
        try:
            table = read_history(path, by_level("province"))
        except DataError as exc:
            logger.debug("observed file %s not drawn: %s", path, exc)
            continue
        if len(table) > len(best):
            best = table
    return [*tables, best] if len(best) else tables


def _fan_metrics(result: EnsembleResult, history: Sequence[pd.DataFrame] = ()) -> list[str]:
    """The scenario's target metrics, then the province metrics with observed history."""
    names = [t.metric for t in result.loaded.scenario.targets]
    names += [m for m in by_level("province") if len(observed_series(history, m))]
    return list(dict.fromkeys(names))


def prefecture_of(baseline: Any) -> dict[str, str]:
    """County code -> prefecture code of a baseline (for prefecture boundaries on maps)."""
    counties = baseline.counties
    if "prefecture_code" not in counties:
        return {}
    return dict(
        zip(counties["code"].astype(str), counties["prefecture_code"].astype(str), strict=True)
    )


def map_note(baseline: Any) -> str | None:
    """The synthetic-data caveat under county maps (None when no county column is synthetic)."""
    if county_caveat(baseline) is None:
        return None
    return f"{SYNTHETIC_CAVEAT_ZH}\n{SYNTHETIC_CAVEAT_EN}"


def _caption(name: str) -> str:
    if name.startswith("fan_"):
        return (
            f"Fan chart of {name[4:]} (median, 50% and 90% bands over runs) with targets and, "
            "where the package has it, observed history (filled points: sourced; hollow: "
            "recalled or derived)"
        )
    if name == "attainment_bars":
        return "Probability of meeting each target"
    if name == "county_map":
        return "Probability that each county is a provincial innovative county"
    return name
