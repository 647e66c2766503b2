"""The outcome of an ensemble (:class:`EnsembleResult`) and the tables it is made of.

See :mod:`policysim.experiments.runner` for how an ensemble is run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pandas as pd
from pandas.api.types import union_categoricals

from policysim.analysis import UnitCounts, unit_probabilities_from_counts
from policysim.analysis import attainment as _attainment
from policysim.analysis import unit_probabilities as _unit_probabilities
from policysim.errors import ScenarioError
from policysim.experiments.store import PartsStore
from policysim.scenario import LoadedScenario
from policysim.scenario.schema import Scenario

__all__ = ["POLICY_DEADLINES", "EnsembleResult", "concat_frames", "report_years"]

#: Years of the per-unit designation probabilities (the policy's deadlines).
POLICY_DEADLINES: Final = (2020, 2030)


def report_years(scenario: Scenario) -> tuple[int, ...]:
    """Years of the unit probability tables: the policy deadlines inside the horizon, else the
    end year."""
    h = scenario.horizon
    years = tuple(y for y in POLICY_DEADLINES if h.base_year < y <= h.end_year)
    return years or (h.end_year,)


@dataclass(frozen=True)
class EnsembleResult:
    """The outcome of an ensemble.

    Attributes
    ----------
    loaded : LoadedScenario
        The scenario as run (overrides applied).
    metrics : DataFrame
        Long metrics ``replication, year, level, code, name, metric, value`` of the completed runs.
        In memory (``store`` None): province and county levels, all metrics, every year, and
        township ``innovative`` in :func:`report_years`. Streamed (``store`` given): the province
        rows only (the results: attainment, first years, fan charts, paired comparisons); the
        county and township rows are in the store (:meth:`read_metrics`), so memory grows with the
        runs by ~270 rows each.
    unit_counts : UnitCounts or None
        Per-unit counts over the completed runs of the indicators of
        :data:`~policysim.experiments.worker.UNIT_INDICATORS` in :func:`report_years`: the
        sufficient statistics of :meth:`unit_probabilities`, of a fixed size whatever the number of
        runs (summed chunk by chunk in both modes). None: computed from :attr:`metrics`.
    draws : DataFrame
        ``replication, seed_key`` and one column per uncertain parameter, one row per run
        (failed runs included).
    failures : DataFrame
        ``replication, seed_key, error`` of the runs that raised.
    solves : DataFrame
        ``replication, year, strategy, status, objective, mip_gap, seconds, message``.
    allocations : DataFrame or None
        ``replication, year, county_code, county_name, instrument, cny`` in memory; None when
        streamed (see the store) or when the strategy records no plans.
    seconds : float
        Wall-clock time of the ensemble, s.
    root_seed : int
        Root of the run seeds.
    store : Path or None
        Run directory holding the streamed parts.
    started, ended : str
        ISO 8601 times (UTC).
    precision : float or None
        Requested half-width of the attainment intervals.
    half_width : float or None
        Largest Wilson half-width reached (probability units), when ``precision`` was given.
    workers : int
        Local worker processes (1 = in-process).
    scheduler : str or None
        Dask scheduler address, if used.
    warnings : dict of str to int
        Warnings raised inside runs, with counts.
    """

    loaded: LoadedScenario
    metrics: pd.DataFrame
    draws: pd.DataFrame
    failures: pd.DataFrame
    solves: pd.DataFrame
    allocations: pd.DataFrame | None
    seconds: float
    root_seed: int = 0
    store: Path | None = None
    started: str = ""
    ended: str = ""
    precision: float | None = None
    half_width: float | None = None
    workers: int = 1
    scheduler: str | None = None
    warnings: dict[str, int] = field(default_factory=dict)
    unit_counts: UnitCounts | None = None

    @property
    def n_runs(self) -> int:
        """Runs attempted (completed and failed)."""
        return len(self.draws)

    @property
    def n_failed(self) -> int:
        """Runs that raised."""
        return len(self.failures)

    def attainment(self) -> pd.DataFrame:
        """Attainment of the scenario's targets (see :func:`policysim.analysis.attainment`)."""
        return _attainment(self.metrics, self.loaded.scenario.targets)

    def unit_probabilities(self, level: str = "county") -> pd.DataFrame:
        """Per-unit probability of designation in each of :func:`report_years`.

        Parameters
        ----------
        level : {"county", "township"}
            Counties: provincial innovative county (pilot or designated, metric
            ``designated``); townships: innovative township (metric ``innovative``).

        Returns
        -------
        DataFrame
            See :func:`policysim.analysis.unit_probabilities` (here from :attr:`unit_counts`:
            the same table as from the runs' rows).
        """
        if level not in ("county", "township"):
            raise ScenarioError(
                None, "unknown level", key_path="level", value=level, expected="county or township"
            )
        metric = "designated" if level == "county" else "innovative"
        years = report_years(self.loaded.scenario)
        if self.unit_counts is None:
            return _unit_probabilities(self.metrics, metric, level, years)
        return unit_probabilities_from_counts(self.unit_counts, metric, level, years)

    def read_metrics(self) -> pd.DataFrame:
        """All stored metrics (from the store's parts when streamed, else :attr:`metrics`)."""
        if self.store is None:
            return self.metrics
        files = PartsStore(self.store).metric_files()
        final = self.store / "metrics.parquet"
        if not files and final.is_file():
            return pd.read_parquet(final)
        frames = [pd.read_parquet(f) for f in files]
        table = concat_frames(frames)
        return table[table["replication"].isin(self.draws["replication"])].reset_index(drop=True)


def concat_frames(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames whose categorical columns may have different categories (the union is
    kept, still categorical), sorted by replication then original order."""
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    columns = list(frames[0].columns)
    data: dict[str, Any] = {}
    for c in columns:
        parts = [f[c] for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            data[c] = union_categoricals(parts, ignore_order=True)
        else:
            nonempty = [p for p in parts if len(p)] or parts[:1]
            data[c] = pd.concat(nonempty, ignore_index=True)
    out = pd.DataFrame(data)
    if "replication" in out.columns and len(out):
        out = out.sort_values("replication", kind="stable", ignore_index=True)
    return out
