"""Figures fit to publish: legends cover no bar, label or line; axes carry words and units."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from policysim.plotting import attainment_bars

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
