"""Unit-aware table formatting: pp only for probabilities and shares, counts in counts."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from policysim.report import format_table
from policysim.report.labels import (
    METRICS,
    UNIT_KINDS,
    format_difference,
    format_value,
    metric_label,
    unit_kind,
)


def _texts(frame: pd.DataFrame, units: dict[str, str] | None = None) -> list[dict[str, str]]:
    headers, rows = format_table(frame, units)
    return [dict(zip(headers, (c.text for c in row), strict=True)) for row in rows]


def test_compare_metric_table_differences_in_the_rows_unit() -> None:
    """The issue's wrong numbers: -0.29 counties was '-29.0 pp', +1.16 points '+116.4 pp'."""
    frame = pd.DataFrame(
        {
            "scenario": ["equal", "equal", "equal", "equal"],
            "metric": [
                "provincial_innovative_counties",
                "innovative_township_share_pct",
                "rd_intensity_pct",
                "rd_expenditure_100m_cny",
            ],
            "year": [2020, 2020, 2030, 2030],
            "mean": [19.71, 12.5, 1.9, 420.25],
            "median": [20.0, 12.25, 1.88, 420.0],
            "diff_vs_baseline": [-0.29, 1.164, 0.05, -3.5],
            "diff_ci_low": [-0.5, 0.9, 0.01, -5.0],
            "diff_ci_high": [-0.08, 1.4, 0.09, -2.0],
        }
    )
    rows = _texts(frame)
    counties, townships, rd, money = rows
    assert counties["diff_vs_baseline"] == "-0.29 counties"
    assert counties["diff CI"] == "[-0.50 counties, -0.08 counties]"
    assert counties["median"] == "20"
    assert "pp" not in "".join(counties.values())
    assert townships["diff_vs_baseline"] == "+1.16 pp"
    assert townships["median"] == "12.2%"
    assert rd["diff_vs_baseline"] == "+0.05 pp"
    assert rd["mean"] == "1.90%"
    assert money["diff_vs_baseline"] == "-3.50 亿元"
    assert money["mean"] == "420.2 亿元"


def test_comparison_table_probability_differences_in_pp_metric_differences_in_unit() -> None:
    frame = pd.DataFrame(
        {
            "scenario": ["equal"],
            "target": ["counties_2020"],
            "metric": ["provincial_innovative_counties"],
            "probability": [0.32],
            "diff_vs_baseline": [-0.05],
            "diff_ci_low": [-0.1],
            "diff_ci_high": [0.002],
            "metric_median": [19.0],
            "metric_diff_mean": [-0.29],
            "metric_diff_ci_low": [-0.5],
            "metric_diff_ci_high": [-0.08],
        }
    )
    (row,) = _texts(frame)
    assert row["probability"] == "32.0%"
    assert row["diff_vs_baseline"] == "-5.0 pp"
    assert row["diff CI"] == "[-10.0 pp, +0.2 pp]"
    assert row["metric_median"] == "19"
    assert row["metric_diff_mean"] == "-0.29 counties"
    assert row["metric diff CI"] == "[-0.50 counties, -0.08 counties]"


@pytest.mark.parametrize(
    ("kind", "metric", "value", "level", "difference"),
    [
        ("probability", None, 0.8123, "81.2%", "+81.2 pp"),
        ("share_pct", "innovative_township_share_pct", 12.34, "12.3%", "+12.3 pp"),
        ("count", "provincial_innovative_counties", 2.5, "2.50 counties", "+2.50 counties"),
        ("count", "hnte_count", 1200.0, "1,200 firms", "+1,200 firms"),
        ("money_100m_cny", "gdp_100m_cny", 2.25, "2.25 亿元", "+2.25 亿元"),
        ("money_cny", "funds_cny", 1234567.0, "1,234,567 CNY", "+1,234,567 CNY"),
        ("index", "index", 61.25, "61.2 points", "+61.2 points"),
        ("ratio", None, 0.84, "0.84", "+0.84"),
    ],
)
def test_each_unit_kind(
    kind: str, metric: str | None, value: float, level: str, difference: str
) -> None:
    assert format_value(value, kind, metric) == level
    assert format_difference(value, kind, metric) == difference
    assert format_difference(-value, kind, metric) == difference.replace("+", "-")


@pytest.mark.parametrize("kind", UNIT_KINDS)
@given(x=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_pp_only_for_probabilities_and_shares(kind: str, x: float) -> None:
    text = format_difference(x, kind)
    assert text.endswith(" pp") == (kind in {"probability", "share_pct"})
    assert text[0] in "+-"


def test_every_metric_has_a_kind_and_both_labels() -> None:
    for name, entry in METRICS.items():
        assert entry.kind in UNIT_KINDS, name
        assert entry.label_en and entry.label_zh, name
        assert any("\u4e00" <= ch <= "\u9fff" for ch in entry.label_zh), name
    assert unit_kind("unknown_thing_pct") == "share_pct"
    assert unit_kind("unknown_thing") == "ratio"
    assert metric_label("provincial_innovative_counties", "zh").startswith("省级创新型县")
    assert metric_label("some_new_metric") == "some new metric"
    assert format_value(math.nan, "count") == "—"


def test_best_strategy_table_probabilities_and_their_difference_in_pp() -> None:
    """The compare report's best-strategy table showed 'versus_probability' as 0.688 and its
    'diff' as a bare 0 beside a CI in pp."""
    frame = pd.DataFrame(
        {
            "kind": ["best", "objective"],
            "target": ["counties_2030", "objective"],
            "scenario": ["jiangxi_equal", "jiangxi_equal"],
            "versus": ["jiangxi_baseline", "jiangxi_baseline"],
            "probability": [0.55, 0.6875],
            "versus_probability": [0.5, 0.625],
            "diff": [0.05, 0.0625],
            "diff_ci_low": [-0.02, 0.0],
            "diff_ci_high": [0.12, 0.125],
            "note": ["", "share of targets met (equal weights)"],
        }
    )
    best, objective = _texts(frame)
    assert best["versus_probability"] == "50.0%"
    assert best["diff"] == "+5.0 pp"
    assert objective["versus_probability"] == "62.5%"
    assert objective["diff"] == "+6.2 pp"
