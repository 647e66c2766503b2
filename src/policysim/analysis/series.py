"""One unit's metric over the runs of an ensemble: the long metrics table, its check, one
unit's replication x year table and its fan-chart quantiles.

The long format is described in :mod:`policysim.analysis.targets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from policysim.errors import DataError, ScenarioError

__all__ = ["METRICS_COLUMNS", "check_metrics", "fan_quantiles", "target_series"]

METRICS_COLUMNS: Final = ("replication", "year", "level", "code", "name", "metric", "value")


def check_metrics(metrics: pd.DataFrame, source: str = "metrics") -> None:
    """Check that a metrics table has the long-format columns.

    Parameters
    ----------
    metrics : DataFrame
        Long-format ensemble metrics.
    source : str
        Name used in error messages (a file name when the table was read from one).

    Raises
    ------
    DataError
        If a column is missing.
    """
    missing = [c for c in METRICS_COLUMNS if c not in metrics.columns]
    if missing:
        raise DataError(
            source,
            f"missing column(s) {', '.join(missing)}; expected columns {', '.join(METRICS_COLUMNS)}",
        )


def _select(
    metrics: pd.DataFrame, metric: str, level: str, code: str | None, what: str
) -> pd.DataFrame:
    check_metrics(metrics)
    rows = metrics[(metrics["metric"] == metric) & (metrics["level"] == level)]
    if rows.empty:
        known = sorted(metrics.loc[metrics["level"] == level, "metric"].unique().tolist())
        raise ScenarioError(
            None,
            f"{what}: metric not in the results at level {level!r}",
            key_path="metric",
            value=metric,
            expected="one of "
            + ", ".join(map(str, known[:20]))
            + (" ..." if len(known) > 20 else ""),
        )
    if code is not None:
        rows = rows[rows["code"] == code]
        if rows.empty:
            raise ScenarioError(
                None,
                f"{what}: no {level} with this code has metric {metric!r}",
                key_path="code",
                value=code,
            )
    elif len(units := rows["code"].unique()) > 1:
        raise ScenarioError(
            None,
            f"{what}: metric {metric!r} has {len(units)} units at level {level!r}",
            key_path="code",
            value=None,
            expected="a unit code to choose one",
        )
    return rows


def target_series(
    metrics: pd.DataFrame, metric: str, level: str = "province", code: str | None = None
) -> pd.DataFrame:
    """One unit's metric as a replication x year table.

    Parameters
    ----------
    metrics : DataFrame
        Long-format ensemble metrics.
    metric, level : str
        Which metric at which level.
    code : str, optional
        Unit code; required when the level has more than one unit with this metric.

    Returns
    -------
    DataFrame
        Index ``replication`` (sorted), columns the years (sorted ints), values in the metric's
        unit; NaN where a run lacks a year.

    Raises
    ------
    ScenarioError
        If the metric is absent at that level or the unit is ambiguous.
    DataError
        If a (replication, year) appears twice.
    """
    rows = _select(metrics, metric, level, code, f"metric {metric!r}")
    dup = rows.duplicated(subset=["replication", "year"])
    if bool(dup.any()):
        first = rows.loc[dup].iloc[0]
        raise DataError(
            "metrics",
            f"duplicate value for metric {metric!r} at level {level!r}",
            row=None,
            column="replication, year",
            value=(int(first["replication"]), int(first["year"])),
        )
    # pivot, not pivot_table: duplicates were rejected above and nothing should be aggregated
    table = rows.pivot(index="replication", columns="year", values="value")
    table = table.sort_index()
    table = table.reindex(sorted(table.columns), axis=1)
    table.columns = pd.Index([int(c) for c in table.columns], name="year")
    return table.astype(np.float64)


def fan_quantiles(
    metrics: pd.DataFrame,
    metric: str,
    level: str = "province",
    code: str | None = None,
    quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
) -> pd.DataFrame:
    """Quantiles over runs of one unit's metric, per year (for fan charts).

    Parameters
    ----------
    metrics : DataFrame
        Long-format ensemble metrics.
    metric, level : str
        Which metric at which level.
    code : str, optional
        Unit code; needed when the level has several units.
    quantiles : sequence of float in [0, 1]
        Quantile levels.

    Returns
    -------
    DataFrame
        Index ``year``; one float column per quantile level (column labels are the levels);
        values in the metric's unit. NaN runs are ignored.
    """
    qs = [float(q) for q in quantiles]
    if any(not 0.0 <= q <= 1.0 for q in qs):
        raise ValueError(f"quantiles = {quantiles!r}: expected levels in [0, 1]")
    table = target_series(metrics, metric, level, code)
    out = table.quantile(qs, axis=0).T
    out.columns = pd.Index(qs, name="quantile")
    out.index.name = "year"
    return out
