"""Target attainment over an ensemble of runs.

The ensemble's yearly metrics arrive in long format: a DataFrame with columns ``replication``
(int), ``year`` (int), ``level`` (``"province"``, ``"county"`` or ``"township"``), ``code`` (str),
``name`` (str), ``metric`` (str) and ``value`` (float). Everything here works on metric names
generically; nothing knows what a metric means.

A target is met in a run when the metric's value in the target year satisfies the comparator, or,
for ``"rising"``, when the metric increased strictly from each year to the next from the first
(base) year in the table up to the target year. Probabilities are shares of runs with Wilson score
intervals.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.analysis.intervals import wilson_interval
from policysim.errors import DataError, ScenarioError

__all__ = [
    "COMPARATORS",
    "METRICS_COLUMNS",
    "UNIT_COUNT_COLUMNS",
    "UNIT_RUN_COLUMNS",
    "TargetLike",
    "UnitCounts",
    "attainment",
    "check_metrics",
    "combine_unit_counts",
    "fan_quantiles",
    "first_year_met",
    "max_half_width",
    "met",
    "restrict_to_targets",
    "target_outcomes",
    "target_series",
    "unit_counts",
    "unit_probabilities",
    "unit_probabilities_from_counts",
]

logger = logging.getLogger(__name__)

COMPARATORS: Final = (">=", ">", "<=", "<", "rising")
METRICS_COLUMNS: Final = ("replication", "year", "level", "code", "name", "metric", "value")

#: Default attainment rule: P >= 0.8 is "met", P >= 0.5 "at risk", below that "missed".
#: Assumption (a reporting convention, not a published rule); callers may pass 0.5-0.95 / 0.2-0.8.
DEFAULT_MET_AT: Final = 0.8
DEFAULT_AT_RISK_AT: Final = 0.5


class TargetLike(Protocol):
    """What the analysis needs of a target (the scenario's target objects satisfy it)."""

    @property
    def name(self) -> str: ...

    @property
    def metric(self) -> str: ...

    @property
    def comparator(self) -> str: ...

    @property
    def threshold(self) -> float | None: ...

    @property
    def year(self) -> int: ...

    @property
    def level(self) -> str: ...


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


def met(values: npt.ArrayLike, comparator: str, threshold: float | None) -> npt.NDArray[np.bool_]:
    """Evaluate a target condition, vectorised.

    Parameters
    ----------
    values : array
        Metric values. For the threshold comparators any shape; for ``"rising"`` the last axis is
        time (consecutive years, base year first), e.g. ``(n_runs, n_years)``.
    comparator : {">=", ">", "<=", "<", "rising"}
        The condition.
    threshold : float or None
        The threshold, in the metric's unit; must be None for ``"rising"``.

    Returns
    -------
    bool array
        Same shape as ``values`` (threshold comparators) or without the last axis (``"rising"``).
        NaN values never meet a target.

    Raises
    ------
    ScenarioError
        For an unknown comparator, a missing threshold or a threshold given with ``"rising"``.
    """
    arr = np.asarray(values, dtype=np.float64)
    if comparator == "rising":
        if threshold is not None:
            raise ScenarioError(
                None,
                "a 'rising' target takes no threshold",
                key_path="comparator",
                value=comparator,
                expected="threshold: null",
            )
        if arr.ndim == 0 or arr.shape[-1] < 2:
            raise ScenarioError(
                None,
                "a 'rising' target needs at least two years (base year and target year)",
                key_path="year",
                value=arr.shape,
                expected="a target year after the base year",
            )
        steps = np.diff(arr, axis=-1)
        return np.asarray(np.all(steps > 0.0, axis=-1), dtype=np.bool_)
    if comparator not in COMPARATORS:
        raise ScenarioError(
            None,
            "unknown comparator",
            key_path="comparator",
            value=comparator,
            expected="one of " + ", ".join(COMPARATORS),
        )
    if threshold is None:
        raise ScenarioError(
            None,
            "a threshold is required",
            key_path="threshold",
            value=threshold,
            expected=f"a number for comparator {comparator!r}",
        )
    t = float(threshold)
    with np.errstate(invalid="ignore"):
        if comparator == ">=":
            out = arr >= t
        elif comparator == ">":
            out = arr > t
        elif comparator == "<=":
            out = arr <= t
        else:
            out = arr < t
    return np.asarray(out, dtype=np.bool_)


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


def restrict_to_targets(metrics: pd.DataFrame, targets: Sequence[TargetLike]) -> pd.DataFrame:
    """The rows of a metrics table that some target reads (one pass over a large table).

    Parameters
    ----------
    metrics : DataFrame
        Long-format ensemble metrics.
    targets : sequence of TargetLike
        Targets.

    Returns
    -------
    DataFrame
        Rows whose ``(level, metric)`` is that of a target. If some target's metric is absent,
        the table is returned whole so that the per-target lookup can list the known metrics.
    """
    check_metrics(metrics)
    wanted = {(t.level, t.metric) for t in targets}
    mask = metrics["metric"].isin({m for _, m in wanted}) & metrics["level"].isin(
        {lev for lev, _ in wanted}
    )
    sub = metrics.loc[mask]
    present = set(sub[["level", "metric"]].drop_duplicates().itertuples(index=False, name=None))
    return sub if wanted <= present else metrics


def _check_target(target: TargetLike) -> None:
    where = f"targets.{target.name}"
    if target.comparator not in COMPARATORS:
        raise ScenarioError(
            None,
            "unknown comparator",
            key_path=f"{where}.comparator",
            value=target.comparator,
            expected="one of " + ", ".join(COMPARATORS),
        )
    if target.comparator == "rising" and target.threshold is not None:
        raise ScenarioError(
            None,
            "a 'rising' target takes no threshold",
            key_path=f"{where}.threshold",
            value=target.threshold,
            expected="null",
        )
    if target.comparator != "rising" and target.threshold is None:
        raise ScenarioError(
            None,
            "a threshold is required",
            key_path=f"{where}.threshold",
            value=None,
            expected=f"a number for comparator {target.comparator!r}",
        )


def _year_columns(table: pd.DataFrame) -> list[int]:
    return [int(c) for c in table.columns]


def _check_consecutive(years: list[int], metric: str) -> None:
    if any(b - a != 1 for a, b in itertools.pairwise(years)):
        raise DataError(
            "metrics",
            f"metric {metric!r} lacks years between {years[0]} and {years[-1]}; "
            "a 'rising' target needs every year",
            column="year",
            value=years,
        )


def _outcomes_from_series(
    table: pd.DataFrame, target: TargetLike
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    years = _year_columns(table)
    values = table.to_numpy(dtype=np.float64)
    if target.year not in years:
        raise ScenarioError(
            None,
            f"target year not simulated (results cover {years[0]}-{years[-1]})",
            key_path=f"targets.{target.name}.year",
            value=target.year,
            expected=f"a year in {years[0]}..{years[-1]}",
        )
    j = years.index(target.year)
    if target.comparator == "rising":
        if j == 0:
            raise ScenarioError(
                None,
                "a 'rising' target needs a target year after the base year",
                key_path=f"targets.{target.name}.year",
                value=target.year,
                expected=f"a year after {years[0]}",
            )
        _check_consecutive(years[: j + 1], target.metric)
        flags = met(values[:, : j + 1], "rising", None)
    else:
        flags = met(values[:, j], target.comparator, target.threshold)
    return flags, values[:, j]


def target_outcomes(metrics: pd.DataFrame, target: TargetLike) -> tuple[pd.Series, pd.Series]:
    """Per-run outcome of one target and the metric's value in the target year.

    Parameters
    ----------
    metrics : DataFrame
        Long-format ensemble metrics.
    target : TargetLike
        The target.

    Returns
    -------
    met, value : Series indexed by replication
        ``met`` is bool; ``value`` is the metric in the target year (metric unit).
    """
    _check_target(target)
    table = target_series(metrics, target.metric, target.level)
    flags, values = _outcomes_from_series(table, target)
    return (
        pd.Series(flags, index=table.index, name=target.name),
        pd.Series(values, index=table.index, name=target.name),
    )


def _status(probability: float, met_at: float, at_risk_at: float) -> str:
    if probability >= met_at:
        return "met"
    if probability >= at_risk_at:
        return "at risk"
    return "missed"


def attainment(
    metrics: pd.DataFrame,
    targets: Sequence[TargetLike],
    *,
    met_at: float = DEFAULT_MET_AT,
    at_risk_at: float = DEFAULT_AT_RISK_AT,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Probability that each target is met, with a Wilson interval and the metric's spread.

    Parameters
    ----------
    metrics : DataFrame
        Long-format ensemble metrics.
    targets : sequence of TargetLike
        Targets to evaluate.
    met_at, at_risk_at : float
        Status rule: ``probability >= met_at`` is "met", ``>= at_risk_at`` is "at risk", else
        "missed" (assumption, see ``DEFAULT_MET_AT``).
    confidence : float
        Level of the Wilson interval.

    Returns
    -------
    DataFrame
        One row per target with columns ``target, metric, year, comparator, threshold,
        probability, ci_low, ci_high, median, p05, p95, n_runs, status``; ``median, p05, p95`` are
        quantiles of the metric in the target year over runs (metric unit).
    """
    if not 0.0 <= at_risk_at <= met_at <= 1.0:
        raise ValueError(
            f"met_at = {met_at!r}, at_risk_at = {at_risk_at!r}: expected 0 <= at_risk_at <= met_at <= 1"
        )
    metrics = restrict_to_targets(metrics, targets)
    rows: list[dict[str, object]] = []
    for target in targets:
        flags, values = target_outcomes(metrics, target)
        n = int(flags.size)
        k = int(flags.sum())
        p = k / n if n else float("nan")
        lo, hi = wilson_interval(k, n, confidence)
        finite = values.to_numpy()[np.isfinite(values.to_numpy())]
        q = np.quantile(finite, [0.5, 0.05, 0.95]) if finite.size else np.full(3, np.nan)
        rows.append(
            {
                "target": target.name,
                "metric": target.metric,
                "year": int(target.year),
                "comparator": target.comparator,
                "threshold": float("nan") if target.threshold is None else float(target.threshold),
                "probability": p,
                "ci_low": float(lo),
                "ci_high": float(hi),
                "median": float(q[0]),
                "p05": float(q[1]),
                "p95": float(q[2]),
                "n_runs": n,
                "status": _status(p, met_at, at_risk_at) if n else "missed",
            }
        )
        logger.debug("target %s: %d of %d runs meet it", target.name, k, n)
    columns = [
        "target",
        "metric",
        "year",
        "comparator",
        "threshold",
        "probability",
        "ci_low",
        "ci_high",
        "median",
        "p05",
        "p95",
        "n_runs",
        "status",
    ]
    return pd.DataFrame(rows, columns=columns)


def first_year_met(metrics: pd.DataFrame, targets: Sequence[TargetLike]) -> pd.DataFrame:
    """Distribution over runs of the first year in which each target's condition holds.

    For a threshold target, the condition in year ``y`` is the comparator applied to the value in
    ``y``; for ``"rising"`` it is "rose strictly every year from the base year to ``y``" (so it
    can first hold in the year after the base year). All simulated years are scanned, not only
    those up to the target year.

    Parameters
    ----------
    metrics : DataFrame
        Long-format ensemble metrics.
    targets : sequence of TargetLike
        Targets.

    Returns
    -------
    DataFrame
        Columns ``target``, ``year`` (nullable Int64; <NA> on the "never" row), ``label`` (the
        year as text or ``"never"``), ``share`` (share of runs whose first year is this one) and
        ``cumulative_share``. Every simulated year appears (share 0 when no run), then "never";
        shares of a target sum to 1.
    """
    metrics = restrict_to_targets(metrics, targets)
    parts: list[pd.DataFrame] = []
    for target in targets:
        _check_target(target)
        table = target_series(metrics, target.metric, target.level)
        years = _year_columns(table)
        values = table.to_numpy(dtype=np.float64)
        if target.comparator == "rising":
            _check_consecutive(years, target.metric)
            steps = np.diff(values, axis=1) > 0.0
            # condition in year j (j >= 1): all steps up to j are rises
            cond = np.concatenate(
                [
                    np.zeros((values.shape[0], 1), dtype=bool),
                    np.cumprod(steps, axis=1).astype(bool),
                ],
                axis=1,
            )
        else:
            cond = met(values, target.comparator, target.threshold)
        n = values.shape[0]
        any_met = cond.any(axis=1)
        first = np.where(any_met, cond.argmax(axis=1), len(years))
        counts = np.bincount(first, minlength=len(years) + 1).astype(np.float64)
        share = counts / n if n else counts
        parts.append(
            pd.DataFrame(
                {
                    "target": target.name,
                    "year": pd.array([*(int(y) for y in years), None], dtype="Int64"),
                    "label": [str(y) for y in years] + ["never"],
                    "share": share,
                    "cumulative_share": np.cumsum(share),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["target", "year", "label", "share", "cumulative_share"])
    return pd.concat(parts, ignore_index=True)


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
        # one cell per (year, unit): integer keys and bincounts (no grouping on strings)
        value = rows["value"].to_numpy(dtype=np.float64)
        year = rows["year"].to_numpy(dtype=np.int64)
        unit, units = pd.factorize(rows["code"])
        key = (year - year.min()) * max(len(units), 1) + unit
        _, first, cell = np.unique(key, return_index=True, return_inverse=True)
        per_cell = pd.DataFrame(
            {
                "level": level,
                "metric": metric,
                "year": year[first],
                "code": np.asarray(units, dtype=object)[unit[first]].astype(str),
                "name": rows["name"].iloc[first].astype(str).to_numpy(dtype=object),
                "n": np.bincount(cell).astype(np.int64),
                "k": np.bincount(cell, weights=value == 1.0).astype(np.int64),
                "n_bad": np.bincount(cell, weights=~np.isin(value, (0.0, 1.0))).astype(np.int64),
            }
        )
        cells.append(per_cell)
        runs.append({"level": level, "metric": metric, "n_runs": rows["replication"].nunique()})
    return _canonical(cells, [pd.DataFrame(runs, columns=list(UNIT_RUN_COLUMNS))])


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


def max_half_width(
    metrics: pd.DataFrame, targets: Sequence[TargetLike], confidence: float = 0.95
) -> float:
    """Largest Wilson half-width ``(ci_high - ci_low) / 2`` over targets.

    Used for incremental precision: add replications in batches until this is at most the
    requested precision.

    Returns
    -------
    float
        Half-width in probability units; 0.5 when there are no runs, NaN when ``targets`` is empty.
    """
    if not targets:
        return float("nan")
    table = attainment(metrics, targets, confidence=confidence)
    return float(((table["ci_high"] - table["ci_low"]) / 2.0).max())
