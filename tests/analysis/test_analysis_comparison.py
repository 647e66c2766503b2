"""Paired comparison on common random numbers and per-county disagreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import MetricsBuilder, Target

from policysim.analysis.comparison import paired_comparison, unit_disagreement
from policysim.errors import ScenarioError

TARGETS = [
    Target("counties_2020", "provincial_innovative_counties", ">=", 20, 2020),
    Target("rd_rising", "county_rd_100m_cny", "rising", None, 2020),
]


def _ensemble(province_metrics: MetricsBuilder, shift: float, seed: int = 7) -> pd.DataFrame:
    """30 runs whose noise depends only on the replication id (common random numbers)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 3.0, size=(30, 1))
    trend = np.array([[0.0, 6.0, 12.0, 18.0]])
    counties = trend + noise * np.array([[0, 1, 1, 1]]) + shift * np.array([[0, 0, 0.5, 1]])
    rd = 10 + np.cumsum(rng.normal(0.5, 0.6, size=(30, 4)), axis=1) + shift * 0.1
    return province_metrics(
        {"provincial_innovative_counties": counties.tolist(), "county_rd_100m_cny": rd.tolist()}
    )


def test_self_comparison_is_exactly_zero(province_metrics: MetricsBuilder) -> None:
    base = _ensemble(province_metrics, 0.0)
    table = paired_comparison({"base": base, "same": base.copy()}, TARGETS, "base")
    assert len(table) == 4
    for col in (
        "diff_vs_baseline",
        "diff_ci_low",
        "diff_ci_high",
        "metric_diff_mean",
        "metric_diff_ci_low",
        "metric_diff_ci_high",
    ):
        assert (table[col] == 0.0).all(), col


def test_paired_difference_by_hand(province_metrics: MetricsBuilder) -> None:
    base = province_metrics({"provincial_innovative_counties": [[0, 19], [0, 21], [0, 18]]})
    alt = province_metrics({"provincial_innovative_counties": [[0, 20], [0, 23], [0, 18]]})
    t = [Target("c", "provincial_innovative_counties", ">=", 20, 2018)]
    row = paired_comparison({"base": base, "alt": alt}, t, "base").set_index("scenario").loc["alt"]
    assert row["probability"] == pytest.approx(2 / 3)
    assert row["diff_vs_baseline"] == pytest.approx(1 / 3)
    assert row["diff_ci_low"] <= 1 / 3 <= row["diff_ci_high"]
    # per-run metric differences 1, 2, 0: mean 1, sd 1, t(0.975, 2) / sqrt(3) = 2.484138
    assert row["metric_diff_mean"] == pytest.approx(1.0)
    assert row["metric_diff_ci_low"] == pytest.approx(1.0 - 2.484138, abs=1e-5)
    assert row["metric_median"] == pytest.approx(20.0)


def test_shift_is_detected_and_paired_interval_is_narrow(province_metrics: MetricsBuilder) -> None:
    base = _ensemble(province_metrics, 0.0)
    better = _ensemble(province_metrics, 4.0)
    table = paired_comparison({"base": base, "better": better}, TARGETS, "base")
    row = table[(table["scenario"] == "better") & (table["target"] == "counties_2020")].iloc[0]
    # every run gains exactly 4 counties in 2020: the metric difference is known exactly
    assert row["metric_diff_mean"] == pytest.approx(4.0)
    assert row["metric_diff_ci_low"] == pytest.approx(4.0)
    assert row["diff_vs_baseline"] > 0
    assert row["diff_ci_low"] <= row["diff_vs_baseline"] <= row["diff_ci_high"]


def test_unknown_baseline_and_disjoint_runs(province_metrics: MetricsBuilder) -> None:
    base = _ensemble(province_metrics, 0.0)
    with pytest.raises(ScenarioError, match="baseline"):
        paired_comparison({"base": base}, TARGETS, "nope")
    other = base.assign(replication=base["replication"] + 1000)
    with pytest.raises(ScenarioError, match="common random numbers"):
        paired_comparison({"base": base, "other": other}, TARGETS, "base")


def test_unit_disagreement(unit_metrics: MetricsBuilder) -> None:
    a = unit_metrics("designated", "county", {"X": [[0, 1], [0, 1]], "Y": [[0, 0], [0, 1]]})
    b = unit_metrics("designated", "county", {"X": [[0, 1], [0, 1]], "Y": [[0, 0], [0, 0]]})
    table = unit_disagreement({"formula": a, "optimal": b}, year=2018)
    assert list(table.columns) == ["code", "name", "p_formula", "p_optimal", "spread"]
    assert table["code"].tolist() == ["Y", "X"]
    assert table["spread"].tolist() == pytest.approx([0.5, 0.0])
    assert table.loc[0, "p_formula"] == pytest.approx(0.5)
