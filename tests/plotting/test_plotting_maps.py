"""County choropleth: one path per feature, hatched missing counties, colours, bad files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from plotting_helpers import BOUNDARIES

import policysim.plotting._common as common
from policysim.errors import DataError
from policysim.plotting import county_map, read_boundaries
from policysim.plotting.maps import MISSING_HATCH

Render = Callable[[Figure], bytes]


def _codes() -> list[str]:
    document = json.loads(BOUNDARIES.read_text(encoding="utf-8"))
    return [f["properties"]["code"] for f in document["features"]]


def _collections(fig: Figure) -> list[PolyCollection]:
    return [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]


def test_map_has_one_path_per_feature(render: Render) -> None:
    codes = _codes()
    assert len(codes) == 100
    values = {code: (i % 10) / 10 for i, code in enumerate(codes)}
    fig = county_map(BOUNDARIES, values, title="P(designated by 2030)")
    collections = _collections(fig)
    assert sum(len(c.get_paths()) for c in collections) == 100
    assert len(collections) == 1  # nothing missing, no hatched layer
    assert not fig.axes[0].get_legend()
    render(fig)


def test_missing_counties_are_hatched_grey(rng: np.random.Generator, render: Render) -> None:
    codes = _codes()
    values = pd.Series(rng.uniform(size=100), index=codes)
    values.iloc[[3, 50]] = np.nan  # NaN counts as missing
    values = values.drop(codes[7])  # absent counts as missing
    fig = county_map(BOUNDARIES, values, title="with gaps", vmin=0.0, vmax=1.0)
    filled, hatched = _collections(fig)
    assert len(filled.get_paths()) == 97
    assert len(hatched.get_paths()) == 3
    assert hatched.get_hatch() == MISSING_HATCH
    assert filled.get_hatch() is None
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["no value"]
    render(fig)


def test_colours_follow_values_and_colour_bar(render: Render) -> None:
    codes = _codes()
    values = dict.fromkeys(codes, 0.25)
    values[codes[0]] = 0.75
    fig = county_map(BOUNDARIES, values, title="t", cmap="viridis", label="share")
    render(fig)
    (filled,) = _collections(fig)
    faces = filled.get_facecolor()
    cmap = filled.get_cmap()
    np.testing.assert_allclose(faces[0], cmap(0.75))
    np.testing.assert_allclose(faces[1], cmap(0.25))
    assert len(fig.axes) == 2  # map and colour bar
    assert fig.axes[1].get_ylabel() == "share"


def test_equal_aspect_and_no_ticks(render: Render) -> None:
    fig = county_map(BOUNDARIES, {}, title="empty")
    ax = fig.axes[0]
    assert ax.get_aspect() == 1.0
    assert len(ax.get_xticks()) == 0
    assert len(ax.get_yticks()) == 0
    filled, hatched = _collections(fig)
    assert len(filled.get_paths()) == 0
    assert len(hatched.get_paths()) == 100
    render(fig)


def test_integer_keys_and_unknown_codes(caplog: pytest.LogCaptureFixture) -> None:
    codes = _codes()
    values: dict[object, float] = {int(code): 0.5 for code in codes}
    values[999999] = 0.1
    fig = county_map(BOUNDARIES, values, title="ints")  # type: ignore[arg-type]
    assert sum(len(c.get_paths()) for c in _collections(fig)) == 100
    assert len(_collections(fig)) == 1
    assert "999999" in caplog.text


def test_values_outside_range_extend_colour_bar() -> None:
    codes = _codes()
    values = dict.fromkeys(codes, 0.5)
    values[codes[0]] = 1.5
    fig = county_map(BOUNDARIES, values, title="t")
    assert fig.axes[1].collections  # colour bar drawn
    colour_bar = fig.axes[0].collections[0].colorbar
    assert colour_bar is not None
    assert colour_bar.extend == "max"


def test_annotations_are_codes_without_cjk_font(
    monkeypatch: pytest.MonkeyPatch, render: Render
) -> None:
    monkeypatch.setattr(common, "cjk_font", lambda: None)
    fig = county_map(BOUNDARIES, {}, title="东湖区 and others", annotate=True)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sorted(texts) == sorted(_codes())
    assert "东" not in fig.axes[0].get_title()
    render(fig)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="vmin"):
        county_map(BOUNDARIES, {}, title="t", vmin=1, vmax=1)
    with pytest.raises(ValueError, match="colour map"):
        county_map(BOUNDARIES, {}, title="t", cmap="no-such-map")
    with pytest.raises(DataError, match="not a number"):
        county_map(BOUNDARIES, {"360102": "high"}, title="t")  # type: ignore[dict-item]


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _square(x0: float, y0: float, size: float, clockwise: bool) -> list[list[float]]:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return ring[::-1] if clockwise else ring


def test_rings_are_oriented_for_holes(tmp_path: Path) -> None:
    outer = _square(0, 0, 10, clockwise=True)  # wrong way round on purpose
    hole = _square(4, 4, 2, clockwise=False)
    feature = {
        "type": "Feature",
        "properties": {"code": "360000", "name": "x"},
        "geometry": {"type": "Polygon", "coordinates": [outer, hole]},
    }
    (shape,) = read_boundaries(
        _write(tmp_path, {"type": "FeatureCollection", "features": [feature]})
    )
    assert len(shape.vertices) == 10  # two rings of 4 points + closing vertex each
    first, second = shape.vertices[:4], shape.vertices[5:9]

    def area(r: np.ndarray) -> float:
        return 0.5 * float(
            np.dot(r[:, 0], np.roll(r[:, 1], -1)) - np.dot(np.roll(r[:, 0], -1), r[:, 1])
        )

    assert area(first) == pytest.approx(100.0)
    assert area(second) == pytest.approx(-4.0)
    np.testing.assert_allclose(shape.anchor, [5.0, 5.0])


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"type": "Feature"}, "FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        (
            {"type": "FeatureCollection", "features": [{"properties": {}, "geometry": None}]},
            "properties.code missing",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "properties": {"code": "1"},
                        "geometry": {"type": "Point", "coordinates": [0, 0]},
                    }
                ],
            },
            "geometry type 'Point'",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "properties": {"code": "1"},
                        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
                    }
                ],
            },
            "at least 3",
        ),
    ],
)
def test_bad_geojson(tmp_path: Path, document: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_boundaries(_write(tmp_path, document))


def test_duplicate_code_and_missing_file(tmp_path: Path) -> None:
    feature = {
        "properties": {"code": "360102"},
        "geometry": {"type": "Polygon", "coordinates": [_square(0, 0, 1, clockwise=False)]},
    }
    with pytest.raises(DataError, match="duplicated code"):
        read_boundaries(
            _write(tmp_path, {"type": "FeatureCollection", "features": [feature, feature]})
        )
    with pytest.raises(DataError, match="not found"):
        read_boundaries(tmp_path / "missing.geojson")
