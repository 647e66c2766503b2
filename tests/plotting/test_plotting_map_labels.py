"""Labelled county maps: Chinese names drawn in the packaged CJK font, prefecture boundaries,
the synthetic-data caveat under the map."""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.text import Text
from plotting_helpers import BOUNDARIES

from policysim.data import load_baseline
from policysim.experiments.outputs import map_note, prefecture_of
from policysim.plotting import county_map, read_boundaries
from policysim.report.fonts import cjk_font_file

Render = Callable[[Figure], bytes]


def test_names_prefectures_and_caveat(render: Render) -> None:
    baseline = load_baseline("embedded")
    shapes = read_boundaries(BOUNDARIES)
    values = {s.code: 0.5 for s in shapes}
    prefectures = prefecture_of(baseline)
    assert len(set(prefectures.values())) == 11  # Jiangxi's 11 prefecture-level cities
    note = map_note(baseline)
    assert note is not None and "synthetic" in note and "合成" in note
    fig = county_map(
        BOUNDARIES, values, title="t", annotate=True, prefectures=prefectures, note=note
    )
    render(fig)
    ax = fig.axes[0]
    labels = [t for t in ax.texts if isinstance(t, Text)]
    names = {t.get_text() for t in labels}
    assert {"东湖区", "南昌县", "瑞金市"} <= names  # names, not codes
    font = cjk_font_file()
    assert font is not None
    assert all(t.get_fontproperties().get_file() == str(font) for t in labels)
    assert min(t.get_fontsize() for t in labels) >= 6
    # prefecture boundaries: a subset of the county edges, more than the province outline
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    n_prefecture = len(lines.get_segments())
    all_edges = sum(len(s.vertices) for s in shapes)
    assert 0 < n_prefecture < all_edges / 2
    outline_only = county_map(
        BOUNDARIES, values, title="t", prefectures={s.code: "one" for s in shapes}
    )
    (outline,) = [c for c in outline_only.axes[0].collections if isinstance(c, LineCollection)]
    assert len(outline.get_segments()) < n_prefecture  # inner prefecture borders are drawn
    # the caveat is under the map, inside the figure
    assert "synthetic" in ax.get_xlabel()
    fig.draw_without_rendering()  # lays out at the figure's own dpi
    box = ax.xaxis.label.get_window_extent()
    assert box.y0 >= 0 and box.x1 <= fig.bbox.width + 1
