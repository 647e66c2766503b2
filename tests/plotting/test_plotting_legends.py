"""Figures fit to publish: legends cover no bar, label or line; axes carry words and units."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from policysim.plotting import attainment_bars, fan_chart
from policysim.plotting.fans import OBSERVED_LABEL, OBSERVED_UNSOURCED_LABEL

Render = Callable[[Figure], bytes]


def _attainment(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "target": [f"target_{i}" for i in range(n)],
            "metric": ["provincial_innovative_counties"] * n,
            "year": [2020 + i for i in range(n)],
            "comparator": [">="] * n,
            "threshold": [20.0] * n,
            "probability": [1.0, 0.99, 0.7, 0.3, 1.0, 0.95, 1.0, 1.0][:n],
            "ci_low": [0.84, 0.9, 0.5, 0.2, 0.84, 0.85, 0.84, 0.84][:n],
            "ci_high": [1.0, 1.0, 0.85, 0.42, 1.0, 0.99, 1.0, 1.0][:n],
            "status": ["likely met", "likely met", "uncertain", "likely not met"]
            + ["likely met"] * 4,
        }
    )


def _overlaps(a: Bbox, b: Bbox) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_attainment_legend_covers_no_bar_or_label(render: Render) -> None:
    fig = attainment_bars(_attainment())
    render(fig)
    fig.draw_without_rendering()
    ax = fig.axes[0]
    legend = ax.get_legend()
    box = legend.get_window_extent()
    assert [t.get_text() for t in legend.get_texts()] == [
        "likely met",
        "uncertain",
        "likely not met",
    ]
    assert "verdict" in legend.get_title().get_text()
    artists = [*ax.patches, *ax.texts]
    assert artists
    for artist in artists:
        assert not _overlaps(box, artist.get_window_extent()), artist
    # the legend is inside the figure and the x axis says what and in which unit
    assert box.x1 <= fig.bbox.x1 + 1 and box.y0 >= fig.bbox.y0 - 1
    assert "probability" in ax.get_xlabel()
    assert ax.xaxis.get_major_formatter()(0.5, 0).endswith("%")


def _rd_metrics(n_rep: int = 30) -> pd.DataFrame:
    """Province R&D expenditure growing about 10% a year from the 2017 value, ``n_rep`` runs."""
    rng = np.random.default_rng(2017)
    rows = []
    for rep in range(n_rep):
        value = 255.8
        for year in range(2017, 2031):
            rows.append((rep, year, "province", "36", "江西省", "rd_expenditure_100m_cny", value))
            value *= 1.1 + rng.normal(0.0, 0.03)
    return pd.DataFrame(
        rows, columns=["replication", "year", "level", "code", "name", "metric", "value"]
    )


#: Observed R&D as in province_history.csv and scenarios/observed/jiangxi_2017_2022.csv.
OBSERVED_RD = pd.DataFrame(
    {
        "year": [2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022],
        "value": [173.2, 201.1, 255.8, 310.7, 384.3, 430.72, 502.2, 558.2],
        "status": ["recalled", "verified (preliminary)", "recalled", "recalled", "derived",
                   "verified (secondary)", "recalled", "recalled"],
    }
)  # fmt: skip


def _data_covered(ax: Axes, box: Bbox) -> list[object]:
    """Bands, lines, points and labels of ``ax`` under ``box`` (display coordinates)."""
    hit: list[object] = []
    for band in ax.collections:
        paths = [p.transformed(band.get_transform()) for p in band.get_paths()]
        if any(p.intersects_bbox(box, filled=True) for p in paths):
            hit.append(band)
    for line in ax.lines:
        path = line.get_transform().transform_path(line.get_path())
        if line.get_linestyle() not in ("None", "none") and path.intersects_bbox(box, False):
            hit.append(line)
        grown = box.padded(line.get_markersize() * ax.figure.dpi / 72.0)
        if any(grown.contains(x, y) for x, y in path.vertices):
            hit.append(line)
    hit += [t for t in ax.texts if _overlaps(box, t.get_window_extent())]
    return hit


def test_fan_chart_observed_history_is_labelled_and_the_legend_covers_no_data(
    render: Render,
) -> None:
    fig = fan_chart(_rd_metrics(), "rd_expenditure_100m_cny", observed=OBSERVED_RD)
    render(fig)
    fig.draw_without_rendering()
    ax = fig.axes[0]
    # the observed line through every value, filled points on the sourced ones only
    (line,) = [a for a in ax.lines if a.get_gid() == "observed"]
    np.testing.assert_allclose(line.get_xdata(), OBSERVED_RD["year"])
    np.testing.assert_allclose(line.get_ydata(), OBSERVED_RD["value"])
    assert line.get_markevery() == [1, 5]  # 2016 and 2020: verified
    # recalled and derived values as hollow points
    (hollow,) = [a for a in ax.lines if a.get_gid() == "observed_unsourced"]
    np.testing.assert_allclose(hollow.get_xdata(), [2015, 2017, 2018, 2019, 2021, 2022])
    assert hollow.get_markerfacecolor() == "white"
    assert hollow.get_linestyle() == "None"
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert OBSERVED_LABEL in texts and OBSERVED_UNSOURCED_LABEL in texts
    assert OBSERVED_LABEL.startswith("observed") and "观测值" in OBSERVED_LABEL
    assert (
        "hollow" in OBSERVED_UNSOURCED_LABEL and "recalled or derived" in OBSERVED_UNSOURCED_LABEL
    )
    handles = legend.legend_handles
    assert handles[texts.index(OBSERVED_UNSOURCED_LABEL)].get_markerfacecolor() == "white"
    box = legend.get_window_extent()
    assert not _data_covered(ax, box)
    assert box.x1 <= fig.bbox.x1 + 1 and box.y0 >= fig.bbox.y0 - 1
    # the x axis reaches back to the first observed year
    assert ax.get_xlim()[0] <= 2015


def test_fan_chart_legend_moves_off_a_band_that_fills_the_corners(render: Render) -> None:
    # a metric whose 90% band spans the whole height at both ends: no inside corner is free
    rng = np.random.default_rng(3)
    rows = [
        (rep, year, "province", "36", "江西省", "rd_intensity_pct", rng.uniform(0.0, 10.0))
        for rep in range(40)
        for year in range(2017, 2031)
    ]
    metrics = pd.DataFrame(
        rows, columns=["replication", "year", "level", "code", "name", "metric", "value"]
    )
    fig = fan_chart(metrics, "rd_intensity_pct", observed=OBSERVED_RD.assign(value=5.0))
    render(fig)
    fig.draw_without_rendering()
    ax = fig.axes[0]
    box = ax.get_legend().get_window_extent()
    assert not _data_covered(ax, box)
    assert box.x0 >= ax.get_window_extent().x1  # to the right of the axes
    assert box.x1 <= fig.bbox.x1 + 1  # and inside the figure


def test_fan_chart_without_status_draws_every_value_as_sourced() -> None:
    observed = pd.DataFrame({"year": [2017, 2018], "value": [255.8, 310.7]})
    fig = fan_chart(_rd_metrics(5), "rd_expenditure_100m_cny", observed=observed)
    ax = fig.axes[0]
    assert [a.get_gid() for a in ax.lines if str(a.get_gid()).startswith("observed")] == [
        "observed"
    ]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert OBSERVED_LABEL in texts and OBSERVED_UNSOURCED_LABEL not in texts
