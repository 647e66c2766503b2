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
from collections.abc import Sequence
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.analysis.intervals import wilson_interval
from policysim.analysis.series import METRICS_COLUMNS, check_metrics, fan_quantiles, target_series
from policysim.analysis.units import (
    UNIT_COUNT_COLUMNS,
    UNIT_RUN_COLUMNS,
    UnitCounts,
    combine_unit_counts,
    unit_counts,
    unit_probabilities,
    unit_probabilities_from_counts,
)
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
