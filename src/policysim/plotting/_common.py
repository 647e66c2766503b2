"""Shared helpers of the figure functions: figures, fonts, text and input checks.

Nothing here touches pyplot or the global matplotlib state: every figure is a
:class:`matplotlib.figure.Figure` with its own Agg canvas, and fonts are chosen per text
object through :class:`matplotlib.font_manager.FontProperties`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, fontManager
from matplotlib.ft2font import FT2Font
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox

from policysim.errors import DataError

__all__ = [
    "PALETTE",
    "STATUS_COLOURS",
    "STATUS_ORDER",
    "cjk_font",
    "county_label",
    "legend_covers",
    "new_figure",
    "normalise_status",
    "place_legend",
    "plain_text",
    "require_columns",
    "require_probabilities",
    "set_tick_labels",
    "shared_font",
    "status_colour",
    "target_label",
    "text_font",
]

logger = logging.getLogger(__name__)

#: Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008), used in this order for scenarios.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

#: Colours of attainment statuses (Okabe-Ito bluish green, orange, vermillion).
STATUS_COLOURS: dict[str, str] = {
    "met": "#009E73",
    "at risk": "#E69F00",
    "missed": "#D55E00",
    # the briefing's verdicts (policysim.report.briefing.verdict)
    "likely met": "#009E73",
    "uncertain": "#E69F00",
    "likely not met": "#D55E00",
}
STATUS_ORDER: tuple[str, ...] = (
    "met",
    "at risk",
    "missed",
    "likely met",
    "uncertain",
    "likely not met",
)
UNKNOWN_STATUS_COLOUR = "#999999"

# Characters probed to decide whether a font can draw Chinese county names.
_CJK_PROBE = "东湖区县市乡镇赣"
# Matplotlib's bundled "Last Resort" font maps every code point to a placeholder box.
_EXCLUDED_FONT_PREFIXES = ("Last Resort",)


def new_figure(width_in: float, height_in: float) -> Figure:
    """Create a figure drawn by its own Agg canvas, outside pyplot's global state.

    Parameters
    ----------
    width_in, height_in : float
        Figure size in inches.

    Returns
    -------
    Figure
        An empty figure with constrained layout.
    """
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


@functools.cache
def _charmap(fname: str) -> frozenset[int]:
    try:
        return frozenset(FT2Font(fname).get_charmap())
    except (OSError, RuntimeError, ValueError):  # unreadable font file: treat as empty
        return frozenset()


@functools.cache
def _default_charmap() -> frozenset[int]:
    return _charmap(findfont(FontProperties(), fallback_to_default=True))


@functools.cache
def cjk_font() -> Path | None:
    """Find, once per process, a font file that can draw Chinese county names.

    Returns
    -------
    pathlib.Path or None
        The packaged Noto Sans CJK SC (:mod:`policysim.report.fonts`, registered with
        matplotlib for this process), else an installed font covering the probe characters, else
        ``None`` (then figures label counties by their 6-digit codes).
    """
    from policysim.report.fonts import register_cjk_font

    packaged = register_cjk_font()  # Noto Sans CJK SC from the mplfonts package, this process
    probe = {ord(ch) for ch in _CJK_PROBE}
    if packaged is not None and probe <= _charmap(str(packaged)):
        logger.debug("CJK font: packaged %s", packaged)
        return packaged
    for entry in sorted(fontManager.ttflist, key=lambda e: (e.name, e.fname)):
        if entry.name.startswith(_EXCLUDED_FONT_PREFIXES):
            continue
        if probe <= _charmap(entry.fname):
            logger.debug("CJK font found: %s (%s)", entry.name, entry.fname)
            return Path(entry.fname)
    logger.debug("no CJK font found; counties are labelled by code")
    return None


def _escape_mathtext(text: str) -> str:
    # A lone "$" would switch matplotlib into mathtext; draw it literally.
    return text.replace("$", r"\$")


def _spaces(text: str) -> str:
    # Tabs, carriage returns and exotic spaces have no glyph: draw them as plain spaces.
    return "".join(" " if (ch.isspace() and ch != "\n") else ch for ch in text)


def _drawable(ch: str, charmap: frozenset[int]) -> bool:
    return ch in " \n" or ord(ch) in charmap


def text_font(text: str) -> tuple[str, FontProperties | None]:
    """Make arbitrary user text safe to draw without glyph warnings.

    Parameters
    ----------
    text : str
        Text such as a title, target or scenario name, possibly containing Chinese.

    Returns
    -------
    tuple of (str, FontProperties or None)
        The text to draw and the font to draw it with (``None``: the default font). Characters
        that neither the default font nor a CJK font can draw are replaced by ``?``.
    """
    text = _spaces(text)
    default = _default_charmap()
    if all(_drawable(ch, default) for ch in text):
        return _escape_mathtext(text), None
    cjk = cjk_font()
    if cjk is not None:
        cjk_map = _charmap(str(cjk))
        if all(_drawable(ch, default) or ord(ch) in cjk_map for ch in text):
            return _escape_mathtext(text), FontProperties(fname=cjk)
    cleaned = "".join(ch if _drawable(ch, default) else "?" for ch in text)
    cleaned = re.sub(r"\?{2,}", "?", cleaned)
    logger.debug("text %r has characters no installed font can draw; drawn as %r", text, cleaned)
    return _escape_mathtext(cleaned), None


def plain_text(text: str) -> str:
    """Return ``text`` drawable in the default font: other characters become ``?``.

    Use this where one font serves many strings at once, e.g. legend entries without a
    CJK font.
    """
    default = _default_charmap()
    cleaned = "".join(ch if _drawable(ch, default) else "?" for ch in _spaces(text))
    return _escape_mathtext(re.sub(r"\?{2,}", "?", cleaned))


def shared_font(texts: Sequence[str]) -> tuple[list[str], FontProperties | None]:
    """Choose one font for a group of strings drawn together (a legend).

    Parameters
    ----------
    texts : sequence of str
        The strings.

    Returns
    -------
    tuple of (list of str, FontProperties or None)
        The strings to draw and the font: the CJK font if one string needs it and it exists,
        else the default font with undrawable characters replaced by ``?``.
    """
    cjk = cjk_font()
    if cjk is not None and any(text_font(t)[1] is not None for t in texts):
        return [_escape_mathtext(t) for t in texts], FontProperties(fname=cjk)
    return [text_font(t)[0] for t in texts], None


def set_tick_labels(axis: Axis, positions: Sequence[float], labels: Sequence[str]) -> None:
    """Set tick positions and labels, each label in a font that can draw it.

    Parameters
    ----------
    axis : matplotlib.axis.Axis
        ``ax.xaxis`` or ``ax.yaxis``.
    positions : sequence of float
        Tick positions in data units, same length as ``labels``.
    labels : sequence of str
        Tick labels.
    """
    drawn = [text_font(label) for label in labels]
    axis.set_ticks(list(positions), labels=[d[0] for d in drawn])
    for tick_text, (_, font) in zip(axis.get_ticklabels(), drawn, strict=True):
        if font is not None:
            tick_text.set_fontproperties(font)


def county_label(code: str, name: str | None) -> tuple[str, FontProperties | None]:
    """Label a county by code, adding its Chinese name only when a CJK font exists.

    Parameters
    ----------
    code : str
        6-digit county code.
    name : str or None
        Chinese name.

    Returns
    -------
    tuple of (str, FontProperties or None)
        Label text and the font to draw it with.
    """
    cjk = cjk_font()
    if cjk is None or not name:
        return code, None
    return f"{code} {name}", FontProperties(fname=cjk)


#: Corners tried, in order, for a legend inside the axes before it goes to their right.
Corner = Literal[
    "upper left",
    "lower right",
    "upper right",
    "lower left",
    "center left",
    "center right",
    "upper center",
    "lower center",
]
LEGEND_CORNERS: tuple[Corner, ...] = (
    "upper left",
    "lower right",
    "upper right",
    "lower left",
    "center left",
    "center right",
    "upper center",
    "lower center",
)
_NO_LINE = {"None", "none", "", " "}


def _boxes_overlap(a: Bbox, b: Bbox) -> bool:
    return bool(a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1)


def legend_covers(ax: Axes, box: Bbox) -> list[Artist]:
    """The artists of ``ax`` that a legend with window extent ``box`` would cover.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes already laid out (drawn once).
    box : matplotlib.transforms.Bbox
        The legend's extent in display coordinates.

    Returns
    -------
    list of Artist
        Filled areas (bands, bars) whose outline or inside meets the box, lines passing through
        it, markers within it (their size included) and texts overlapping it.
    """
    covered: list[Artist] = []
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for collection in ax.collections:
        transform = collection.get_transform()
        if any(p.transformed(transform).intersects_bbox(box, filled=True)
               for p in collection.get_paths()):  # fmt: skip
            covered.append(collection)
    for patch in ax.patches:
        if _boxes_overlap(patch.get_window_extent(renderer), box):
            covered.append(patch)
    for line in ax.lines:
        if not isinstance(line, Line2D) or not line.get_visible():
            continue
        path = line.get_transform().transform_path(line.get_path())
        vertices = np.asarray(path.vertices, dtype=float)
        drawn_line = str(line.get_linestyle()) not in _NO_LINE and len(vertices) > 1
        if drawn_line and path.intersects_bbox(box, filled=False):
            covered.append(line)
            continue
        if str(line.get_marker()) not in _NO_LINE and len(vertices):
            pad = float(line.get_markersize()) * ax.figure.dpi / 72.0 / 2.0
            grown = box.padded(pad)
            inside = (
                (vertices[:, 0] > grown.x0)
                & (vertices[:, 0] < grown.x1)
                & (vertices[:, 1] > grown.y0)
                & (vertices[:, 1] < grown.y1)
            )
            if inside.any():
                covered.append(line)
    for text in ax.texts:
        if (
            text.get_visible()
            and text.get_text()
            and _boxes_overlap(text.get_window_extent(renderer), box)
        ):
            covered.append(text)
    return covered


def place_legend(
    ax: Axes,
    handles: Sequence[Artist],
    labels: Sequence[str],
    **kwargs: Any,
) -> Legend:
    """Add a legend where it covers no data: the first free corner inside the axes
    (:data:`LEGEND_CORNERS`), else to the right of the axes.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes with everything else drawn on them (bands, lines, labels).
    handles, labels : sequence
        Legend entries.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.legend` (font, title...; not ``loc``).

    Returns
    -------
    matplotlib.legend.Legend
        The legend.
    """
    figure = ax.get_figure(root=True)
    if figure is None:
        raise ValueError("place_legend: the axes belong to no figure")
    for corner in LEGEND_CORNERS:
        legend: Legend = ax.legend(handles, labels, loc=corner, **kwargs)
        figure.draw_without_rendering()
        if not legend_covers(ax, legend.get_window_extent()):
            return legend
        legend.remove()
    outside: Legend = ax.legend(
        handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs
    )
    return outside


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`DataError` if ``frame`` lacks one of ``columns`` or has no rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table passed by the caller.
    columns : iterable of str
        Required column names.
    what : str
        Name of the table in the message, e.g. ``"attainment table"``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"<{what}>", f"expected a pandas DataFrame, got {type(frame).__name__}")
    required = list(columns)
    for column in required:
        if column not in frame.columns:
            raise DataError(
                f"<{what}>",
                f"missing column (expected columns {', '.join(required)}; "
                f"found {', '.join(map(str, frame.columns))})",
                column=column,
            )
    if frame.empty:
        raise DataError(f"<{what}>", "the table has no rows (expected at least one)")


def require_probabilities(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise :class:`DataError` unless every non-missing value of ``columns`` is in [0, 1].

    Parameters
    ----------
    frame : pandas.DataFrame
        The table passed by the caller.
    columns : sequence of str
        Columns holding probabilities (fractions, not percent).
    what : str
        Name of the table in the message.
    """
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isnan(values) & ((values < 0.0) | (values > 1.0))
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"<{what}>",
                f"row with index {frame.index[position]}: probability outside [0, 1] "
                "(expected a fraction, not percent)",
                column=column,
                value=float(values[position]),
            )


def normalise_status(status: object) -> str:
    """Map status spellings (``"at_risk"``, ``"At-Risk"``) to ``"at risk"`` etc."""
    return re.sub(r"[\s_\-]+", " ", str(status)).strip().lower()


def status_colour(status: object) -> str:
    """Colour of an attainment status; grey for a status this module does not know."""
    return STATUS_COLOURS.get(normalise_status(status), UNKNOWN_STATUS_COLOUR)


def target_label(target: object, year: object) -> str:
    """Label ``"target (year)"`` with the year printed as an integer when it is one."""
    try:
        number = float(str(year))
    except ValueError:
        return f"{target} ({year})"
    year_text = str(int(number)) if number.is_integer() else str(year)
    return f"{target} ({year_text})"
