"""Choropleth maps of county values from a GeoJSON FeatureCollection (no geopandas)."""

from __future__ import annotations

import json
import logging
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.path import Path as MplPath

from policysim.errors import DataError
from policysim.plotting._common import county_label, new_figure, text_font

__all__ = ["CountyShape", "county_map", "read_boundaries"]

logger = logging.getLogger(__name__)

MISSING_FACE = "#d9d9d9"
MISSING_HATCH = "///"


@dataclass(frozen=True)
class CountyShape:
    """One county's outline as a single compound path.

    Attributes
    ----------
    code : str
        6-digit county code.
    name : str
        Name as given in the file (Chinese).
    vertices : (n_points, 2) float array, metres
        All rings one after another, in the file's projected coordinates.
    codes : (n_points,) uint8 array
        Matplotlib path codes: MOVETO at each ring start, CLOSEPOLY at each ring end.
    anchor : (2,) float array, metres
        Centroid of the largest ring, where a label goes.
    """

    code: str
    name: str
    vertices: np.ndarray
    codes: np.ndarray
    anchor: np.ndarray


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _centroid(ring: np.ndarray) -> np.ndarray:
    x, y = ring[:, 0], ring[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2.0
    if abs(area) < 1e-12:
        return np.asarray(ring.mean(axis=0), dtype=float)
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6.0 * area)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6.0 * area)
    return np.array([cx, cy])


def _ring(raw: object, path: Path, where: str) -> np.ndarray:
    try:
        ring = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise DataError(path, f"{where}: ring is not a list of [x, y] numbers") from None
    if ring.ndim != 2 or ring.shape[1] < 2 or ring.shape[0] < 3:
        raise DataError(
            path, f"{where}: ring of shape {ring.shape} (expected at least 3 [x, y] points)"
        )
    if not np.isfinite(ring[:, :2]).all():
        raise DataError(path, f"{where}: ring has non-finite coordinates")
    ring = ring[:, :2]
    if np.array_equal(ring[0], ring[-1]):
        ring = ring[:-1]
    if ring.shape[0] < 3:
        raise DataError(path, f"{where}: ring has fewer than 3 distinct points")
    return ring


def read_boundaries(path: Path) -> list[CountyShape]:
    """Read county outlines from a GeoJSON FeatureCollection.

    Parameters
    ----------
    path : pathlib.Path
        GeoJSON with Polygon and MultiPolygon features in projected metres, each with
        ``properties.code`` (6-digit county code) and ``properties.name``.

    Returns
    -------
    list of CountyShape
        One shape per feature, in file order. Exterior rings are oriented counter-clockwise and
        holes clockwise, so holes stay empty under the non-zero fill rule.

    Raises
    ------
    policysim.errors.DataError
        If the file is missing, is not JSON, is not a FeatureCollection, or a feature has a bad
        geometry, a missing code or a duplicated code.
    """
    path = Path(path)
    shapes: list[CountyShape] = []
    seen: set[str] = set()
    for index, feature in enumerate(_features(path)):
        where = f"feature {index}"
        properties = feature.get("properties") if isinstance(feature, dict) else None
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(properties, dict) or properties.get("code") in (None, ""):
            raise DataError(path, f"{where}: properties.code missing (expected a 6-digit code)")
        code = str(properties["code"])
        where = f"feature {index} (code {code})"
        if code in seen:
            raise DataError(path, f"{where}: duplicated code (expected one feature per county)")
        seen.add(code)
        rings = _oriented_rings(geometry, path, where)
        shapes.append(_shape(code, str(properties.get("name") or ""), rings))
    logger.debug("read %d county outlines from %s", len(shapes), path)
    return shapes


def _features(path: Path) -> list[Any]:
    """The features of a GeoJSON FeatureCollection file (at least one)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "boundary file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(path, f"cannot read as GeoJSON: {exc}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise DataError(path, "expected a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise DataError(path, "FeatureCollection has no features (expected one per county)")
    return features


def _oriented_rings(geometry: object, path: Path, where: str) -> list[np.ndarray]:
    """The rings of a Polygon or MultiPolygon: exteriors counter-clockwise, holes clockwise."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, dict) else geometry
        raise DataError(path, f"{where}: geometry type {kind!r} (expected Polygon or MultiPolygon)")
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons:
        raise DataError(path, f"{where}: empty coordinates")
    rings: list[np.ndarray] = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise DataError(path, f"{where}: polygon without rings")
        for k, raw in enumerate(polygon):
            ring = _ring(raw, path, where)
            exterior = k == 0
            if (_signed_area(ring) > 0) != exterior:
                ring = ring[::-1]
            rings.append(ring)
    return rings


def _shape(code: str, name: str, rings: list[np.ndarray]) -> CountyShape:
    """One compound path of closed rings, anchored at the centroid of the largest."""
    vertices = np.concatenate([np.vstack([r, r[:1]]) for r in rings])
    codes = np.concatenate(
        [
            np.array(
                [MplPath.MOVETO] + [MplPath.LINETO] * (len(r) - 1) + [MplPath.CLOSEPOLY],
                dtype=MplPath.code_type,
            )
            for r in rings
        ]
    )
    largest = max(rings, key=lambda r: abs(_signed_area(r)))
    return CountyShape(
        code=code, name=name, vertices=vertices, codes=codes, anchor=_centroid(largest)
    )


def _prefecture_edges(
    shapes: list[CountyShape], prefectures: Mapping[str, str]
) -> list[np.ndarray]:
    """Segments on a prefecture boundary: edges shared by counties of different prefectures,
    or not shared at all (the province's outline). Vertices are matched to 1 m."""
    owners: dict[tuple[tuple[float, float], tuple[float, float]], set[str]] = {}
    counts: dict[tuple[tuple[float, float], tuple[float, float]], int] = {}
    for shape in shapes:
        group = prefectures.get(shape.code, shape.code)
        points = np.round(shape.vertices, 0)
        codes = shape.codes
        for i in range(len(points) - 1):
            if codes[i + 1] == MplPath.CLOSEPOLY or codes[i + 1] == MplPath.MOVETO:
                continue
            a = (float(points[i, 0]), float(points[i, 1]))
            b = (float(points[i + 1, 0]), float(points[i + 1, 1]))
            key = (a, b) if a <= b else (b, a)
            owners.setdefault(key, set()).add(group)
            counts[key] = counts.get(key, 0) + 1
    return [np.array(key) for key, groups in owners.items() if len(groups) > 1 or counts[key] == 1]


def _code_key(key: object) -> str:
    if isinstance(key, (int, np.integer)):
        return str(int(key))
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key).strip()


def _values_by_code(values: Mapping[str, float] | pd.Series) -> dict[str, float]:
    items = values.items()
    out: dict[str, float] = {}
    for key, raw in items:
        code = _code_key(key)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise DataError(
                "<county values>", f"code {code}: value is not a number", value=raw
            ) from None
        if code in out:
            raise DataError("<county values>", f"code {code}: given twice (expected once)")
        out[code] = value
    return out


def county_map(
    boundaries: Path,
    values: Mapping[str, float] | pd.Series,
    *,
    title: str,
    cmap: str | Colormap = "viridis",
    vmin: float = 0,
    vmax: float = 1,
    label: str = "P(designated by 2030)",
    annotate: bool = False,
    prefectures: Mapping[str, str] | None = None,
    note: str | None = None,
) -> Figure:
    """Choropleth of one value per county, with a colour bar.

    Parameters
    ----------
    boundaries : pathlib.Path
        GeoJSON FeatureCollection of county outlines (see :func:`read_boundaries`).
    values : mapping of str to float, or pandas.Series
        Value per 6-digit county code (a Series is read by its index). Counties without a value
        (absent or NaN) are drawn hatched grey; codes not in the boundaries are logged and
        ignored.
    title : str
        Figure title.
    cmap : str or matplotlib.colors.Colormap, default "viridis"
        Colour map.
    vmin, vmax : float, default 0 and 1
        Value range of the colour bar, in the values' unit; values outside are clipped and the
        bar shows an extension arrow.
    label : str, default "P(designated by 2030)"
        Colour bar label.
    annotate : bool, default False
        Write each county's Chinese name at its centroid (6 pt on a larger figure; the code when
        no CJK font can draw it).
    prefectures : mapping of str to str, optional
        Prefecture of each county code: prefecture boundaries are drawn as dark lines (the
        county edges between counties of different prefectures, and the outer boundary).
    note : str, optional
        A caveat printed under the map (e.g. that county economics are synthetic).

    Returns
    -------
    matplotlib.figure.Figure
        The figure: one path per county feature, equal aspect, no axis ticks.

    Raises
    ------
    policysim.errors.DataError
        If the boundary file is invalid or a value is not a number.
    ValueError
        If ``vmin >= vmax`` or ``cmap`` is not a known colour map.
    """
    colormap = _colormap(cmap, vmin, vmax)
    shapes = read_boundaries(boundaries)
    by_code = _values_by_code(values)
    _warn_unknown(by_code, shapes, boundaries)
    with_value = [s for s in shapes if not math.isnan(by_code.get(s.code, math.nan))]
    missing = [s for s in shapes if math.isnan(by_code.get(s.code, math.nan))]
    fig = new_figure(9.0, 9.6) if annotate else new_figure(7.0, 7.5)
    ax = fig.add_subplot()
    filled = _fill_counties(ax, with_value, by_code, colormap, Normalize(vmin=vmin, vmax=vmax))
    if missing:
        _hatch_missing(ax, missing)
    _frame(ax, shapes)
    if prefectures is not None:
        edges = _prefecture_edges(shapes, prefectures)
        if edges:
            ax.add_collection(
                LineCollection(edges, colors="0.1", linewidths=1.3, zorder=3), autolim=False
            )
    if annotate:
        _label_counties(ax, shapes)
    present = np.array([by_code[s.code] for s in with_value], dtype=float)
    _colour_bar(fig, ax, filled, present, vmin=vmin, vmax=vmax, label=label)
    heading, heading_font = text_font(title)
    ax.set_title(heading, fontproperties=heading_font)
    if note:
        _note(ax, note, width=110 if annotate else 85)
    logger.debug("county map: %d counties with values, %d missing", len(with_value), len(missing))
    return fig


def _colormap(cmap: str | Colormap, vmin: float, vmax: float) -> Colormap:
    """The colour map, after checking the value range."""
    if not (math.isfinite(vmin) and math.isfinite(vmax) and vmin < vmax):
        raise ValueError(f"county_map: vmin={vmin!r}, vmax={vmax!r} (expected finite vmin < vmax)")
    if isinstance(cmap, Colormap):
        return cmap
    try:
        return mpl.colormaps[cmap]
    except KeyError:
        raise ValueError(f"county_map: unknown colour map {cmap!r}") from None


def _warn_unknown(
    by_code: Mapping[str, float], shapes: list[CountyShape], boundaries: Path
) -> None:
    """Log the codes that have a value but no outline (they are not drawn)."""
    known = {s.code for s in shapes}
    unknown = sorted(set(by_code) - known)
    if unknown:
        logger.warning(
            "county_map: %d codes have values but no outline in %s (ignored): %s",
            len(unknown),
            boundaries,
            ", ".join(unknown[:10]),
        )


def _fill_counties(
    ax: Axes,
    with_value: list[CountyShape],
    by_code: Mapping[str, float],
    colormap: Colormap,
    norm: Normalize,
) -> PolyCollection:
    """The counties with a value, coloured by it (the collection the colour bar reads)."""
    filled = PolyCollection([], cmap=colormap, norm=norm, edgecolor="white", linewidth=0.4)
    # matplotlib's stub types codes as Sequence[int]; at run time it takes one array per path.
    filled_codes: list[Any] = [s.codes for s in with_value]
    filled.set_verts_and_codes([s.vertices for s in with_value], filled_codes)
    filled.set_array(np.array([by_code[s.code] for s in with_value], dtype=float))
    ax.add_collection(filled, autolim=True)
    return filled


def _hatch_missing(ax: Axes, missing: list[CountyShape]) -> None:
    """The counties without a value, hatched grey, with a legend entry."""
    hatched = PolyCollection(
        [],
        facecolor=MISSING_FACE,
        edgecolor="0.45",
        hatch=MISSING_HATCH,
        linewidth=0.4,
    )
    hatched_codes: list[Any] = [s.codes for s in missing]
    hatched.set_verts_and_codes([s.vertices for s in missing], hatched_codes)
    ax.add_collection(hatched, autolim=True)
    ax.legend(
        handles=[
            Patch(facecolor=MISSING_FACE, edgecolor="0.45", hatch=MISSING_HATCH, label="no value")
        ],
        loc="lower left",
        fontsize=8,
    )


def _frame(ax: Axes, shapes: list[CountyShape]) -> None:
    """All outlines in view with a 2% margin, equal aspect, no ticks or spines."""
    everything = np.concatenate([s.vertices for s in shapes])
    span = everything.max(axis=0) - everything.min(axis=0)
    pad = 0.02 * span
    ax.set_xlim(everything[:, 0].min() - pad[0], everything[:, 0].max() + pad[0])
    ax.set_ylim(everything[:, 1].min() - pad[1], everything[:, 1].max() + pad[1])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _label_counties(ax: Axes, shapes: list[CountyShape]) -> None:
    """Each county's name (its code when no CJK font draws it) at its anchor, 6 pt."""
    for shape in shapes:
        text, font = county_label(shape.code, shape.name)
        if font is not None:  # the name alone: the codes are in the tables
            text = shape.name
        ax.text(
            shape.anchor[0],
            shape.anchor[1],
            text,
            fontsize=6,
            ha="center",
            va="center",
            fontproperties=font,
            zorder=4,
            path_effects=[patheffects.withStroke(linewidth=1.5, foreground="white")],
        )


def _colour_bar(
    fig: Figure,
    ax: Axes,
    filled: PolyCollection,
    present: np.ndarray,
    *,
    vmin: float,
    vmax: float,
    label: str,
) -> None:
    """The colour bar, with an extension arrow at each end some value lies beyond."""
    below = bool(present.size and present.min() < vmin)
    above = bool(present.size and present.max() > vmax)
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )
    bar_label, bar_font = text_font(label)
    colourbar = fig.colorbar(filled, ax=ax, shrink=0.7, extend=extend)
    colourbar.set_label(bar_label, fontproperties=bar_font)


def _note(ax: Axes, note: str, *, width: int) -> None:
    """A caveat under the map, wrapped to ``width`` Latin characters (a CJK one counts two)."""
    # as the x label: constrained layout keeps it clear of the map (no ticks there)
    wrapped = "\n".join(
        line
        for paragraph in note.splitlines()
        # a CJK character is about two Latin ones wide
        for line in textwrap.wrap(
            paragraph, width // 2 if any(ord(ch) > 0x2E80 for ch in paragraph) else width
        )
    )
    drawn, note_font = text_font(wrapped)
    ax.set_xlabel(drawn, fontproperties=note_font, fontsize=7, color="0.25", loc="left")
