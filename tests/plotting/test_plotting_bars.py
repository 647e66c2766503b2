"""Attainment bars, strategy bars and paired differences: geometry matches the tables."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from policysim.errors import DataError
from policysim.plotting import (
    STATUS_COLOURS,
    attainment_bars,
    paired_difference_plot,
    strategy_bars,
)

Render = Callable[[Figure], bytes]


def _bars(fig: Figure) -> list[Rectangle]:
    return [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]


def test_attainment_bars_lengths_colours_and_labels(
    attainment: pd.DataFrame, render: Render
) -> None:
    fig = attainment_bars(attainment)
    bars = _bars(fig)
    assert [b.get_width() for b in bars] == pytest.approx([0.85, 0.55, 0.10])
    expected = [to_rgba(STATUS_COLOURS[s]) for s in ("met", "at risk", "missed")]
    assert [b.get_facecolor() for b in bars] == expected
    # first row on top
    assert bars[0].get_y() > bars[1].get_y() > bars[2].get_y()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [
        "provincial counties (2020)",
        "township share (2030)",
        "national counties (2030)",
    ]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["met", "at risk", "missed"]
    render(fig)


def test_attainment_error_bars_span_the_interval(attainment: pd.DataFrame) -> None:
    fig = attainment_bars(attainment)
    segments = [
        seg
        for coll in fig.axes[0].collections
        for seg in coll.get_segments()  # type: ignore[attr-defined]
        if len(seg) == 2 and seg[0][1] == seg[1][1]
    ]
    spans = np.array(sorted((float(s[0][0]), float(s[1][0])) for s in segments))
    np.testing.assert_allclose(spans, [[0.03, 0.30], [0.34, 0.74], [0.64, 0.95]])


def test_attainment_status_spellings_and_unknown_status(
    attainment: pd.DataFrame, render: Render
) -> None:
    table = attainment.assign(status=["MET", "at_risk", "unclear"])
    fig = attainment_bars(table)
    colours = [b.get_facecolor() for b in _bars(fig)]
    assert colours[0] == to_rgba(STATUS_COLOURS["met"])
    assert colours[1] == to_rgba(STATUS_COLOURS["at risk"])
    assert colours[2] == to_rgba("#999999")
    render(fig)


def test_attainment_rejects_percent_and_bad_interval(attainment: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="probability outside"):
        attainment_bars(attainment.assign(probability=[85.0, 55.0, 10.0]))
    with pytest.raises(DataError, match="does not contain"):
        attainment_bars(attainment.assign(ci_low=[0.9, 0.34, 0.03]))
    with pytest.raises(DataError, match="column 'status'"):
        attainment_bars(attainment.drop(columns="status"))
    with pytest.raises(DataError, match="no rows"):
        attainment_bars(attainment.iloc[0:0])


def test_strategy_bars_one_bar_per_scenario_and_target(
    comparison: pd.DataFrame, render: Render
) -> None:
    fig = strategy_bars(comparison)
    bars = _bars(fig)
    assert len(bars) == 6
    heights = [b.get_height() for b in bars]
    # order: scenario by scenario, target within
    assert heights == pytest.approx([0.60, 0.40, 0.65, 0.45, 0.75, 0.55])
    centres = [b.get_x() + b.get_width() / 2 for b in bars]
    # each target group holds its three scenarios left to right, around the tick
    group0 = sorted(centres[0::2])
    assert group0[0] < 0 < group0[2]
    assert group0[1] == pytest.approx(0.0)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "provincial counties (2020)",
        "townships (2030)",
    ]
    render(fig)


def test_strategy_bars_rejects_duplicates(comparison: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="several rows for scenario 'optimised'"):
        strategy_bars(pd.concat([comparison, comparison.tail(1)]))


def test_paired_difference_points_and_zero_line(comparison: pd.DataFrame, render: Render) -> None:
    fig = paired_difference_plot(comparison)
    ax = fig.axes[0]
    points = [line for line in ax.lines if line.get_marker() == "o"]
    xs = sorted(float(x) for line in points for x in line.get_xdata())
    # the baseline rows have no difference and are left out
    assert xs == pytest.approx([0.05, 0.05, 0.15, 0.15])
    zero = [line for line in ax.lines if list(line.get_xdata()) == [0.0, 0.0]]
    assert len(zero) == 1
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["factor formula", "optimised"]
    render(fig)


def test_paired_difference_leaves_out_the_baseline(comparison: pd.DataFrame) -> None:
    zeros = comparison.copy()
    base = zeros["scenario"] == "baseline"
    zeros.loc[base, ["diff_vs_baseline", "diff_ci_low", "diff_ci_high"]] = 0.0
    fig = paired_difference_plot(zeros)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "factor formula",
        "optimised",
    ]
    fig = paired_difference_plot(comparison, baseline="factor formula")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["optimised"]


def test_paired_difference_errors(comparison: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="difference outside"):
        paired_difference_plot(comparison.assign(diff_vs_baseline=5.0))
    with pytest.raises(DataError, match="no row has a diff_vs_baseline"):
        paired_difference_plot(comparison.assign(diff_vs_baseline=np.nan))
    with pytest.raises(DataError, match="does not contain"):
        paired_difference_plot(comparison.assign(diff_ci_high=0.0))
