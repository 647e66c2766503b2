"""Paired comparison of scenarios or strategies run on common random numbers.

Replication ``i`` of every scenario uses the same seeds and uncertainty draws, so differences are
taken run by run and their intervals come from the paired differences: far narrower than comparing
two independent attainment probabilities when the scenarios share most of their noise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from policysim.analysis.intervals import mean_difference_interval, paired_proportion_difference
from policysim.analysis.targets import (
    TargetLike,
    check_metrics,
    restrict_to_targets,
    target_outcomes,
)
from policysim.errors import ScenarioError

__all__ = ["paired_comparison", "unit_disagreement"]

logger = logging.getLogger(__name__)

COMPARISON_COLUMNS = [
    "scenario",
    "target",
    "year",
    "probability",
    "diff_vs_baseline",
    "diff_ci_low",
    "diff_ci_high",
    "metric_median",
    "metric_diff_mean",
    "metric_diff_ci_low",
    "metric_diff_ci_high",
]


def _common_replications(name: str, runs: pd.Index, baseline: str, base_runs: pd.Index) -> pd.Index:
    common = runs.intersection(base_runs).sort_values()
    if common.empty:
        raise ScenarioError(
            None,
            f"scenario {name!r} shares no replication id with the baseline {baseline!r}; "
            "paired comparison needs common random numbers",
            key_path="replication",
        )
    if len(common) < max(len(runs), len(base_runs)):
        logger.warning(
            "scenario %r and baseline %r share %d of %d/%d replications; comparing those",
            name,
            baseline,
            len(common),
            len(runs),
            len(base_runs),
        )
    return common


def paired_comparison(
    metrics_by_scenario: Mapping[str, pd.DataFrame],
    targets: Sequence[TargetLike],
    baseline: str,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Attainment of each target per scenario and its paired difference from a baseline.

    Parameters
    ----------
    metrics_by_scenario : mapping of str to DataFrame
        Long-format ensemble metrics per scenario (or strategy); the same replication id means
        the same seeds and draws.
    targets : sequence of TargetLike
        Targets.
    baseline : str
        Key of the reference scenario.
    confidence : float
        Level of all intervals.

    Returns
    -------
    DataFrame
        One row per scenario and target with columns ``scenario, target, year, probability,
        diff_vs_baseline, diff_ci_low, diff_ci_high, metric_median, metric_diff_mean,
        metric_diff_ci_low, metric_diff_ci_high``. Probability differences are in probability
        units with Newcombe's paired interval (method 10); metric differences are means of the
        per-run differences in the metric's unit with a paired t interval. Both are computed over
        the replications the scenario shares with the baseline; ``probability`` and
        ``metric_median`` use all of the scenario's runs. A scenario identical to the baseline
        gives exactly 0 with a [0, 0] interval.

    Raises
    ------
    ScenarioError
        If ``baseline`` is not a key, or a scenario shares no replication with it.
    """
    if baseline not in metrics_by_scenario:
        raise ScenarioError(
            None,
            "baseline scenario not among the compared ones",
            key_path="baseline",
            value=baseline,
            expected="one of " + ", ".join(map(repr, metrics_by_scenario)),
        )
    restricted = {
        name: restrict_to_targets(metrics, targets) for name, metrics in metrics_by_scenario.items()
    }
    base_outcomes = {t.name: target_outcomes(restricted[baseline], t) for t in targets}
    rows = [
        _comparison_row(
            name,
            target,
            target_outcomes(metrics, target),
            baseline,
            base_outcomes[target.name],
            confidence,
        )
        for name, metrics in restricted.items()
        for target in targets
    ]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _comparison_row(
    name: str,
    target: TargetLike,
    outcome: tuple[pd.Series, pd.Series],
    baseline: str,
    base_outcome: tuple[pd.Series, pd.Series],
    confidence: float,
) -> dict[str, object]:
    """One row of :func:`paired_comparison`: scenario ``name`` on ``target`` (its run flags and
    metric values, ``outcome``) against the baseline's, paired over their common runs."""
    flags, values = outcome
    base_flags, base_values = base_outcome
    common = _common_replications(name, flags.index, baseline, base_flags.index)
    x = flags.reindex(common).to_numpy(dtype=bool)
    y = base_flags.reindex(common).to_numpy(dtype=bool)
    diff, lo, hi = paired_proportion_difference(x, y, confidence)
    vx = values.reindex(common).to_numpy(dtype=np.float64)
    vy = base_values.reindex(common).to_numpy(dtype=np.float64)
    m_diff, m_lo, m_hi = mean_difference_interval(vx - vy, confidence)
    all_values = values.to_numpy(dtype=np.float64)
    finite = all_values[np.isfinite(all_values)]
    return {
        "scenario": name,
        "target": target.name,
        "year": int(target.year),
        "probability": float(np.mean(flags.to_numpy(dtype=bool))),
        "diff_vs_baseline": diff,
        "diff_ci_low": lo,
        "diff_ci_high": hi,
        "metric_median": float(np.median(finite)) if finite.size else float("nan"),
        "metric_diff_mean": m_diff,
        "metric_diff_ci_low": m_lo,
        "metric_diff_ci_high": m_hi,
    }


def unit_disagreement(
    metrics_by_scenario: Mapping[str, pd.DataFrame],
    metric: str = "designated",
    level: str = "county",
    year: int = 2030,
) -> pd.DataFrame:
    """Per-unit probability of a 0/1 indicator under each scenario, and the spread.

    Parameters
    ----------
    metrics_by_scenario : mapping of str to DataFrame
        Long-format ensemble metrics per scenario.
    metric : str
        Indicator metric (0/1), by default county designation.
    level : str
        Level of the units.
    year : int
        Year of the indicator (designation "by" that year: the indicator is cumulative).

    Returns
    -------
    DataFrame
        Columns ``code, name``, one column ``p_<scenario>`` per scenario (share of that
        scenario's runs with the indicator at 1; NaN if the unit is absent), and ``spread``
        (max - min over scenarios, probability units); sorted by spread, largest first, then
        code.

    Raises
    ------
    ScenarioError
        If no scenario has the metric in that year at that level.
    """
    columns: dict[str, pd.Series] = {}
    names: dict[str, str] = {}
    for scenario, metrics in metrics_by_scenario.items():
        check_metrics(metrics)
        rows = metrics[
            (metrics["metric"] == metric) & (metrics["level"] == level) & (metrics["year"] == year)
        ]
        for code, unit_name in zip(rows["code"], rows["name"], strict=True):
            names.setdefault(str(code), str(unit_name))
        share = rows.assign(flag=rows["value"] >= 0.5).groupby("code")["flag"].mean()
        share.index = share.index.astype(str)
        columns[f"p_{scenario}"] = share.astype(np.float64)
    if not names:
        raise ScenarioError(
            None,
            f"no scenario has metric {metric!r} at level {level!r} in {year}",
            key_path="metric",
            value=metric,
        )
    codes = sorted(names)
    out = pd.DataFrame({"code": codes, "name": [names[c] for c in codes]})
    for col, share in columns.items():
        out[col] = share.reindex(codes).to_numpy(dtype=np.float64)
    probs = out[list(columns)].to_numpy(dtype=np.float64)
    out["spread"] = np.nanmax(probs, axis=1) - np.nanmin(probs, axis=1)
    return out.sort_values(["spread", "code"], ascending=[False, True], ignore_index=True)
