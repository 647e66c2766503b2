"""Per-unit designation probabilities over an ensemble: counts of 0/1 indicator metrics per unit
and year (of a fixed size whatever the number of runs, summed chunk by chunk) and the
probabilities with Wilson intervals drawn from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.analysis.intervals import wilson_interval
from policysim.analysis.series import check_metrics
from policysim.errors import DataError, ScenarioError

__all__ = [
    "UNIT_COUNT_COLUMNS",
    "UNIT_RUN_COLUMNS",
    "CodedRows",
    "UnitCounts",
    "combine_unit_counts",
    "unit_counts",
    "unit_counts_coded",
    "unit_probabilities",
    "unit_probabilities_from_counts",
]

#: Columns of :attr:`UnitCounts.cells`.
UNIT_COUNT_COLUMNS: Final = ("level", "metric", "year", "code", "name", "n", "k", "n_bad")
#: Columns of :attr:`UnitCounts.runs`.
UNIT_RUN_COLUMNS: Final = ("level", "metric", "n_runs")
_CELL_KEYS: Final = ["level", "metric", "year", "code"]


@dataclass(frozen=True)
class UnitCounts:
    """Per-unit counts of 0/1 indicator metrics over a set of runs.

    They are all that :func:`unit_probabilities` needs, and their size does not depend on the
    number of runs: an ensemble sums them chunk by chunk instead of keeping the unit rows of
    every run. Counts of disjoint sets of runs add up (:func:`combine_unit_counts`).

    Attributes
    ----------
    cells : DataFrame
        Columns :data:`UNIT_COUNT_COLUMNS`, one row per level, metric, year and unit (``code``,
        ``name`` as text): ``n`` runs with a value, ``k`` runs where the value is 1, ``n_bad`` runs
        where it is neither 0 nor 1 (NaN included); sorted by level, metric, year and code.
    runs : DataFrame
        Columns :data:`UNIT_RUN_COLUMNS`: runs with at least one value of the metric at the level.
    """

    cells: pd.DataFrame
    runs: pd.DataFrame

    @classmethod
    def empty(cls) -> UnitCounts:
        """Counts over no run."""
        cells = pd.DataFrame(
            {
                "level": pd.Series(dtype=object),
                "metric": pd.Series(dtype=object),
                "year": pd.Series(dtype=np.int64),
                "code": pd.Series(dtype=object),
                "name": pd.Series(dtype=object),
                "n": pd.Series(dtype=np.int64),
                "k": pd.Series(dtype=np.int64),
                "n_bad": pd.Series(dtype=np.int64),
            }
        )
        runs = pd.DataFrame(
            {
                "level": pd.Series(dtype=object),
                "metric": pd.Series(dtype=object),
                "n_runs": pd.Series(dtype=np.int64),
            }
        )
        return cls(cells=cells, runs=runs)


def unit_counts(
    metrics: pd.DataFrame,
    indicators: Sequence[tuple[str, str]],
    years: Sequence[int] | None = None,
) -> UnitCounts:
    """Count, per unit and year, the runs in which 0/1 indicator metrics are 1.

    Parameters
    ----------
    metrics : DataFrame
        Long-format ensemble metrics (any subset of the rows of some runs).
    indicators : sequence of (level, metric)
        The indicators to count, e.g. ``[("county", "designated")]``.
    years : sequence of int, optional
        Years to count (default: every year in ``metrics``).

    Returns
    -------
    UnitCounts
        Indicators absent from ``metrics`` have no rows.
    """
    check_metrics(metrics)
    cells: list[pd.DataFrame] = []
    runs: list[dict[str, object]] = []
    for level, metric in indicators:
        rows = metrics[(metrics["level"] == level) & (metrics["metric"] == metric)]
        if years is not None:
            rows = rows[rows["year"].isin(list(years))]
        if rows.empty:
            continue
        unit, units = pd.factorize(rows["code"])
        _, first_of_unit = np.unique(unit, return_index=True)
        coded = CodedRows(
            year=rows["year"].to_numpy(dtype=np.int64),
            unit=unit,
            value=rows["value"].to_numpy(dtype=np.float64),
            replication=rows["replication"].to_numpy(),
        )
        names = rows["name"].iloc[first_of_unit].astype(str).to_numpy(dtype=object)
        cells.append(_indicator_cells(level, metric, coded, np.asarray(units, dtype=object), names))
        runs.append(_indicator_runs(level, metric, coded))
    return _canonical(cells, [pd.DataFrame(runs, columns=list(UNIT_RUN_COLUMNS))])


def unit_counts_coded(
    indicators: Sequence[tuple[str, str, CodedRows]],
    unit_codes: Sequence[str],
    unit_names: Sequence[str],
) -> UnitCounts:
    """:func:`unit_counts` of rows given as integer codes (an ensemble worker's form: no text
    columns to build and compare row by row); the same table for the same rows.

    Parameters
    ----------
    indicators : sequence of (level, metric, rows)
        Each indicator's rows: year, unit (index into ``unit_codes``), value and replication
        arrays of equal length; an indicator without rows has no cells and no run count.
    unit_codes, unit_names : sequences of str
        Code and name of each unit index.
    """
    cells: list[pd.DataFrame] = []
    runs: list[dict[str, object]] = []
    codes = np.asarray(unit_codes, dtype=object)
    names = np.asarray(unit_names, dtype=object)
    for level, metric, rows in indicators:
        if rows.year.size:
            cells.append(_indicator_cells(level, metric, rows, codes, names))
            runs.append(_indicator_runs(level, metric, rows))
    return _canonical(cells, [pd.DataFrame(runs, columns=list(UNIT_RUN_COLUMNS))])


def _indicator_cells(
    level: str,
    metric: str,
    rows: CodedRows,
    codes: npt.NDArray[np.object_],
    names: npt.NDArray[np.object_],
) -> pd.DataFrame:
    """One indicator's cells: one per (year, unit), by integer keys and bincounts (no grouping
    on strings); ``codes`` and ``names`` are the text of each unit index."""
    key = (rows.year - rows.year.min()) * max(codes.size, 1) + rows.unit
    _, first, cell = np.unique(key, return_index=True, return_inverse=True)
    unit = rows.unit[first]
    return pd.DataFrame(
        {
            "level": level,
            "metric": metric,
            "year": rows.year[first].astype(np.int64),
            "code": codes[unit].astype(str),
            "name": names[unit].astype(str).astype(object),
            "n": np.bincount(cell).astype(np.int64),
            "k": np.bincount(cell, weights=rows.value == 1.0).astype(np.int64),
            "n_bad": np.bincount(cell, weights=~np.isin(rows.value, (0.0, 1.0))).astype(np.int64),
        }
    )


def _indicator_runs(level: str, metric: str, rows: CodedRows) -> dict[str, object]:
    return {"level": level, "metric": metric, "n_runs": int(np.unique(rows.replication).size)}


@dataclass(frozen=True)
class CodedRows:
    """Rows of one indicator as arrays of equal length (see :func:`unit_counts_coded`)."""

    year: npt.NDArray[np.int64]
    unit: npt.NDArray[np.intp]
    value: npt.NDArray[np.float64]
    replication: npt.NDArray[np.int32]


def combine_unit_counts(parts: Iterable[UnitCounts]) -> UnitCounts:
    """Sum counts over disjoint sets of runs (chunks of an ensemble), in any order.

    Parameters
    ----------
    parts : iterable of UnitCounts
        Counts of disjoint sets of runs.

    Returns
    -------
    UnitCounts
        The counts of the union of the runs; the same whatever the order of ``parts``.
    """
    parts = list(parts)
    return _canonical([p.cells for p in parts], [p.runs for p in parts])


def _canonical(cells: list[pd.DataFrame], runs: list[pd.DataFrame]) -> UnitCounts:
    """Sum the counts of each cell (and the runs of each indicator): sorted, fixed dtypes."""
    empty = UnitCounts.empty()
    cells = [c for c in cells if len(c)]
    runs = [r for r in runs if len(r)]
    if not cells and not runs:
        return empty
    out_cells = empty.cells
    if cells:
        out_cells = (
            pd.concat(cells, ignore_index=True)
            .groupby(_CELL_KEYS, sort=True)
            .agg(name=("name", "first"), n=("n", "sum"), k=("k", "sum"), n_bad=("n_bad", "sum"))
            .reset_index()
            .astype({"year": np.int64, "n": np.int64, "k": np.int64, "n_bad": np.int64})
        )[list(UNIT_COUNT_COLUMNS)]
    out_runs = empty.runs
    if runs:
        out_runs = (
            pd.concat(runs, ignore_index=True)
            .groupby(["level", "metric"], sort=True)["n_runs"]
            .sum()
            .reset_index()
            .astype({"n_runs": np.int64})
        )[list(UNIT_RUN_COLUMNS)]
    return UnitCounts(cells=out_cells, runs=out_runs)


def unit_probabilities(
    metrics: pd.DataFrame,
    metric: str = "designated",
    level: str = "county",
    years: Sequence[int] = (2020, 2030),
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per-unit probability that a 0/1 indicator metric is 1 in given years.

    Parameters
    ----------
    metrics : DataFrame
        Long-format ensemble metrics.
    metric : str
        Indicator metric (values 0 or 1), e.g. ``"designated"``, ``"national"``, ``"innovative"``.
    level : str
        ``"county"`` or ``"township"``.
    years : sequence of int
        Years to report.
    confidence : float
        Level of the Wilson intervals.

    Returns
    -------
    DataFrame
        Columns ``code, name`` (text), then for each year ``p_<year>, p_<year>_ci_low,
        p_<year>_ci_high`` and ``n_runs`` (runs with the metric); one row per unit, sorted by code.
        The same as :func:`unit_probabilities_from_counts` on :func:`unit_counts` of ``metrics``.

    Raises
    ------
    ScenarioError
        If the metric is absent at this level or a year is not simulated.
    DataError
        If a value is not 0 or 1.
    """
    check_metrics(metrics)
    rows = metrics[(metrics["metric"] == metric) & (metrics["level"] == level)]
    if rows.empty:
        raise _absent(metric, level)
    bad = rows[~rows["value"].isin([0.0, 1.0])]
    if not bad.empty:
        first = bad.iloc[0]
        raise DataError(
            "metrics",
            f"indicator metric {metric!r} of unit {first['code']} in {int(first['year'])} is not 0 or 1",
            column="value",
            value=first["value"],
        )
    counts = unit_counts(rows, [(level, metric)])
    return unit_probabilities_from_counts(counts, metric, level, years, confidence=confidence)


def _absent(metric: str, level: str) -> ScenarioError:
    return ScenarioError(
        None, f"metric not in the results at level {level!r}", key_path="metric", value=metric
    )


def unit_probabilities_from_counts(
    counts: UnitCounts,
    metric: str = "designated",
    level: str = "county",
    years: Sequence[int] = (2020, 2030),
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per-unit probability that a 0/1 indicator metric is 1 in given years, from counts.

    Parameters
    ----------
    counts : UnitCounts
        Per-unit counts (:func:`unit_counts`, :func:`combine_unit_counts`).
    metric, level, years, confidence
        As in :func:`unit_probabilities`.

    Returns
    -------
    DataFrame
        As :func:`unit_probabilities`: ``code, name``, ``p_<year>, p_<year>_ci_low,
        p_<year>_ci_high`` per year (NaN and ``[0, 1]`` for a unit without runs that year),
        ``n_runs``; one row per unit (every unit counted in any year), sorted by code.

    Raises
    ------
    ScenarioError
        If the metric is not counted at this level or a year is not counted.
    DataError
        If a counted value was not 0 or 1.
    """
    c = counts.cells
    cells = c[(c["level"] == level) & (c["metric"] == metric)]
    if cells.empty:
        raise _absent(metric, level)
    bad = cells[cells["n_bad"] > 0]
    if not bad.empty:
        first = bad.iloc[0]
        raise DataError(
            "metrics",
            f"indicator metric {metric!r} of unit {first['code']} in {int(first['year'])} is not "
            f"0 or 1 in {int(first['n_bad'])} run(s)",
            column="value",
        )
    counted = set(cells["year"].tolist())
    names = cells.drop_duplicates("code").set_index("code")["name"]
    out = pd.DataFrame({"code": sorted(str(code) for code in names.index)})
    out["name"] = out["code"].map(names).astype(object)
    r = counts.runs
    n_runs = r.loc[(r["level"] == level) & (r["metric"] == metric), "n_runs"]
    for year in years:
        if year not in counted:
            raise ScenarioError(
                None,
                "year not simulated",
                key_path="years",
                value=year,
                expected=f"a year in {min(counted)}..{max(counted)}",
            )
        at = cells[cells["year"] == year].set_index("code")
        k = at["k"].reindex(out["code"], fill_value=0).to_numpy(dtype=np.int64)
        n = at["n"].reindex(out["code"], fill_value=0).to_numpy(dtype=np.int64)
        lo, hi = wilson_interval(k, n, confidence)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"p_{year}"] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
        out[f"p_{year}_ci_low"] = lo
        out[f"p_{year}_ci_high"] = hi
    out["n_runs"] = int(n_runs.sum())
    return out
