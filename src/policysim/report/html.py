"""A single self-contained HTML report: summary, tables, figures and the run manifest.

The file needs nothing else to display: figures are embedded as base64 ``data:`` URIs, the CSS
is inline, and there are no scripts and no external links. All text is HTML-escaped; Chinese
names are written as they are (UTF-8). The file is written atomically.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import html
import io
import json
import logging
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from policysim.errors import DataError
from policysim.report._atomic import atomic_output
from policysim.report.fonts import font_face_css
from policysim.report.labels import format_difference, format_value, unit_kind

__all__ = ["TableCell", "format_table", "infer_units", "render_report"]

logger = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MISSING = "—"

#: A captioned table, optionally with the units of its columns (see :func:`format_table`).
ReportTable = tuple[str, pd.DataFrame] | tuple[str, pd.DataFrame, Mapping[str, str]]

#: Status cell colours: background and text (Okabe-Ito colours, as in the figures).
STATUS_STYLES: dict[str, tuple[str, str]] = {
    "met": ("#009E73", "#ffffff"),
    "at risk": ("#E69F00", "#000000"),
    "missed": ("#D55E00", "#ffffff"),
    "likely met": ("#009E73", "#ffffff"),
    "uncertain": ("#E69F00", "#000000"),
    "likely not met": ("#D55E00", "#ffffff"),
}

# Interval column pairs merged into one column: (low, high, header, kind).
_INTERVALS: tuple[tuple[str, str, str, str], ...] = (
    ("ci_low", "ci_high", "CI", "probability"),
    ("diff_ci_low", "diff_ci_high", "diff CI", "difference"),
    ("p05", "p95", "p05–p95", "number"),
    ("metric_diff_ci_low", "metric_diff_ci_high", "metric diff CI", "number"),
)
_ID_COLUMNS = frozenset({"year", "code", "replication", "seed", "county_code", "township_code"})

_CSS = """
body { font-family: "policysim-cjk", "Noto Sans", "Helvetica Neue", Arial, "PingFang SC",
       "Microsoft YaHei", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1a1a1a;
       line-height: 1.45; }
h1 { font-size: 1.7rem; border-bottom: 2px solid #0072B2; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; color: #0b3a5c; }
nav ol { columns: 2; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1.2rem; }
dl.summary dt { font-weight: 600; }
dl.summary dd { margin: 0; }
table { border-collapse: collapse; margin: .6rem 0 1.4rem; font-size: .9rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; }
th { background: #f3f6f9; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.status { font-weight: 600; text-align: center; }
tbody tr:nth-child(even) td:not(.status) { background: #fafbfc; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e1e4e8; }
figcaption { font-size: .9rem; color: #444; margin-top: .3rem; }
details { margin: 1rem 0; }
summary { cursor: pointer; font-weight: 600; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .8rem; }
.notes li { margin: .2rem 0; }
p.empty { color: #666; font-style: italic; }
"""


_FONT_FACE_SLOT = "/*policysim-font-face*/"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(float(value))


def _as_float(value: object) -> float | None:
    if isinstance(value, (bool, np.bool_)) or _is_missing(value):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return None


def _number(value: object, column: str = "") -> str:
    """Readable number: ids and years plain, integers grouped, floats to 3-4 significant digits."""
    if _is_missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        if column in _ID_COLUMNS or column.endswith(("_year", "_code")):
            return str(int(value))
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isinf(number):
            return "∞" if number > 0 else "−∞"
        if number.is_integer() and abs(number) < 1e15:
            return _number(int(number), column)
        magnitude = abs(number)
        if magnitude >= 1000:
            return f"{number:,.0f}"
        if magnitude >= 1:
            return f"{number:,.2f}"
        return f"{number:.3g}"
    return str(value)


#: Columns holding a level of the row's metric (when the table has a ``metric`` column).
_LEVEL_COLUMNS = frozenset(
    {"mean", "median", "p05", "p25", "p50", "p75", "p95", "threshold", "metric_median"}
)


#: Columns holding a probability (a share of runs, 0-1), whatever else the table holds.
_PROBABILITY_COLUMNS = frozenset(
    {"probability", "versus_probability", "ci_low", "ci_high", "spread"}
)


def _is_difference(column: str) -> bool:
    return column.startswith("diff_") or "_diff_" in column or column in {"diff", "spread"}


def infer_units(columns: Sequence[str]) -> dict[str, str]:
    """Unit of each column that has one, from the column names of a table.

    ``probability``, ``versus_probability``, ``ci_low``, ``ci_high``, ``p_*`` and ``spread`` are
    probabilities; ``diff`` and ``diff_*`` are probability differences when the table has a ``probability`` column (a
    comparison of attainment), else differences of the row's metric when it has a ``metric``
    column, else plain numbers; ``metric_*`` and the levels (``mean``, ``median``, ``p05``...,
    ``threshold``) are in the row's metric unit (``"@metric"``) when there is a ``metric``
    column. Never pp for a count.
    """
    cols = set(columns)
    has_metric = "metric" in cols
    units: dict[str, str] = {}
    for column in columns:
        if column in _PROBABILITY_COLUMNS or column.startswith("p_"):
            units[column] = "probability"
        elif column.startswith("metric_") and column != "metric":
            if has_metric:
                units[column] = "@metric"
        elif column.startswith("diff_") or column == "diff":
            if "probability" in cols:
                units[column] = "probability"
            elif has_metric:
                units[column] = "@metric"
            else:
                units[column] = "ratio"
        elif column in _LEVEL_COLUMNS and has_metric:
            units[column] = "@metric"
    return units


def _cell_formatter(column: str, unit: str | None) -> Callable[[Any, object], str]:
    """``fmt(row, value)``: the text of one value of ``column`` in ``unit`` (a unit kind of
    :mod:`policysim.report.labels`, ``"@<column>"`` = the unit of the metric named in that
    column of the row, or None = a plain readable number)."""
    diff = _is_difference(column)
    if unit is None:
        return lambda row, value: _number(value, column)

    def fmt(row: Any, value: object) -> str:
        number = _as_float(value)
        if number is None:
            return MISSING if _is_missing(value) else str(value)
        metric: str | None = None
        kind = unit
        if unit.startswith("@"):
            metric = str(row[unit[1:]])
            kind = unit_kind(metric)
        if kind == "probability" and column == "spread":
            return f"{100.0 * number:.1f} pp"
        if diff:
            return format_difference(number, kind, metric)
        return format_value(number, kind, metric, words=False)

    return fmt


@dataclasses.dataclass(frozen=True)
class TableCell:
    text: str
    css: str


def format_table(
    frame: pd.DataFrame, units: Mapping[str, str] | None = None
) -> tuple[list[str], list[list[TableCell]]]:
    """Format a table for display: values in their units, merged intervals, coloured statuses.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table. The pairs ``ci_low/ci_high``, ``diff_ci_low/diff_ci_high``, ``p05/p95`` and
        ``metric_diff_ci_low/metric_diff_ci_high`` become one interval column; ``status`` and
        ``verdict`` cells get a colour class. A named or non-default index is shown as columns.
    units : mapping of str to str, optional
        Unit of a column: a unit kind (``probability``, ``share_pct``, ``count``,
        ``money_100m_cny``, ``money_cny``, ``index``, ``ratio``) or ``"@metric"`` (the unit of
        the metric named in the row's ``metric`` column). Added to those inferred by
        :func:`infer_units`. Differences (``diff_*``, ``*_diff_*``) are written signed:
        percentage points only for probabilities and percent shares, counts in counts.

    Returns
    -------
    tuple of (list of str, list of list of TableCell)
        Column headers and, per row, the cells with display text and a CSS class.
    """
    if not isinstance(frame.index, pd.RangeIndex) or any(n is not None for n in frame.index.names):
        frame = frame.reset_index()
    columns = [str(c) for c in frame.columns]
    column_units = {**infer_units(columns), **(units or {})}
    merged: dict[str, tuple[str, str]] = {}
    skip: set[str] = set()
    for low, high, header, _ in _INTERVALS:
        if low in columns and high in columns:
            merged[low] = (high, header)
            skip.add(high)
    headers: list[str] = []
    plan: list[tuple[str, Callable[[Any], TableCell]]] = []
    for column in columns:
        if column in skip:
            continue
        fmt = _cell_formatter(column, column_units.get(column))
        if column in merged:
            high, header = merged[column]

            def cell(row: Any, low: str = column, high: str = high, fmt: Any = fmt) -> TableCell:
                a, b = row[low], row[high]
                if _is_missing(a) and _is_missing(b):
                    return TableCell(MISSING, "num")
                return TableCell(f"[{fmt(row, a)}, {fmt(row, b)}]", "num")

            headers.append(header)
            plan.append((column, cell))
        elif column in {"status", "verdict"}:

            def status_cell(row: Any, column: str = column) -> TableCell:
                value = row[column]
                if _is_missing(value):
                    return TableCell(MISSING, "")
                key = re.sub(r"[\s_\-]+", " ", str(value)).strip().lower()
                css = f"status status-{key.replace(' ', '-')}" if key in STATUS_STYLES else ""
                return TableCell(str(value), css)

            headers.append(column)
            plan.append((column, status_cell))
        else:

            def plain_cell(row: Any, column: str = column, fmt: Any = fmt) -> TableCell:
                value = row[column]
                numeric = _as_float(value) is not None or _is_missing(value)
                return TableCell(fmt(row, value), "num" if numeric else "")

            headers.append(column)
            plan.append((column, plain_cell))
    frame = frame.set_axis(columns, axis=1)
    rows = [[make(row) for _, make in plan] for _, row in frame.iterrows()]
    return headers, rows


def _status_css() -> str:
    return "".join(
        f"td.status-{key.replace(' ', '-')} {{ background: {bg}; color: {fg}; }}\n"
        for key, (bg, fg) in STATUS_STYLES.items()
    )


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, pd.Series):
        return value.to_dict()
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json")
    return str(value)


def _slug(prefix: str, index: int) -> str:
    return f"{prefix}-{index + 1}"


def _read_png(caption: str, path: Path) -> bytes:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(
            path, f"figure {caption!r}: file not found (expected a PNG image)"
        ) from None
    except OSError as exc:
        raise DataError(path, f"figure {caption!r}: cannot read: {exc.strerror}") from None
    if not data.startswith(PNG_SIGNATURE):
        raise DataError(path, f"figure {caption!r}: not a PNG image (expected a PNG file)")
    return data


def _write_body(
    out: IO[str],
    *,
    title: str,
    summary: Mapping[str, str],
    tables: Sequence[ReportTable],
    figures: Sequence[tuple[str, Path]],
    manifest: Mapping[str, object],
    notes: Sequence[str],
) -> None:
    """The page: head, contents, summary, tables, figures (embedded), notes and manifest."""
    w = out.write
    w('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
    w('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    w(f"<title>{_esc(title)}</title>\n<style>{_FONT_FACE_SLOT}{_CSS}{_status_css()}</style>\n")
    w("</head>\n<body>\n")
    w(f"<h1>{_esc(title)}</h1>\n")
    _write_nav(out, summary, tables, figures, notes)
    if summary:
        w('<section id="summary">\n<h2>Summary</h2>\n<dl class="summary">\n')
        for key, value in summary.items():
            w(f"<dt>{_esc(key)}</dt><dd>{_esc(value)}</dd>\n")
        w("</dl>\n</section>\n")
    for i, entry in enumerate(tables):
        _write_table(out, i, entry)
    for i, (caption, figure_path) in enumerate(figures):
        encoded = base64.b64encode(_read_png(caption, figure_path)).decode("ascii")
        w(f'<section id="{_slug("figure", i)}">\n<h2>{_esc(caption)}</h2>\n<figure>\n')
        w(f'<img alt="{_esc(caption)}" src="data:image/png;base64,{encoded}">\n')
        w(f"<figcaption>{_esc(caption)}</figcaption>\n</figure>\n</section>\n")
    if notes:
        w('<section id="notes">\n<h2>Notes</h2>\n<ul class="notes">\n')
        for note in notes:
            w(f"<li>{_esc(note)}</li>\n")
        w("</ul>\n</section>\n")
    manifest_json = json.dumps(manifest, indent=2, ensure_ascii=False, default=_json_default)
    w('<section id="manifest">\n<h2>Run manifest</h2>\n<details>\n')
    w("<summary>Manifest (scenario, seeds, versions, checksums)</summary>\n")
    w(f"<pre>{_esc(manifest_json)}</pre>\n</details>\n</section>\n</body>\n</html>\n")


def _write_nav(
    out: IO[str],
    summary: Mapping[str, str],
    tables: Sequence[ReportTable],
    figures: Sequence[tuple[str, Path]],
    notes: Sequence[str],
) -> None:
    """The contents: a link to each section of the report, in its order."""
    w = out.write
    w("<nav><ol>\n")
    if summary:
        w('<li><a href="#summary">Summary</a></li>\n')
    for i, (caption, *_) in enumerate(tables):
        w(f'<li><a href="#{_slug("table", i)}">{_esc(caption)}</a></li>\n')
    for i, (caption, _) in enumerate(figures):
        w(f'<li><a href="#{_slug("figure", i)}">{_esc(caption)}</a></li>\n')
    if notes:
        w('<li><a href="#notes">Notes</a></li>\n')
    w('<li><a href="#manifest">Run manifest</a></li>\n</ol></nav>\n')


def _write_table(out: IO[str], i: int, entry: ReportTable) -> None:
    """Table section ``i``: its caption, then the formatted table (or "(no rows)")."""
    w = out.write
    caption, frame = entry[0], entry[1]
    units: Mapping[str, str] | None = entry[2] if len(entry) == 3 else None
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"<report table {caption!r}>",
            f"expected a pandas DataFrame, got {type(frame).__name__}",
        )
    w(f'<section id="{_slug("table", i)}">\n<h2>{_esc(caption)}</h2>\n')
    if frame.empty:
        w('<p class="empty">(no rows)</p>\n</section>\n')
        return
    headers, rows = format_table(frame, units)
    w(f"<table>\n<caption>{_esc(caption)}</caption>\n<thead><tr>")
    w("".join(f"<th>{_esc(h)}</th>" for h in headers))
    w("</tr></thead>\n<tbody>\n")
    for row in rows:
        cells = "".join(
            f'<td class="{c.css}">{_esc(c.text)}</td>' if c.css else f"<td>{_esc(c.text)}</td>"
            for c in row
        )
        w(f"<tr>{cells}</tr>\n")
    w("</tbody>\n</table>\n</section>\n")


def render_report(
    path: Path,
    *,
    title: str,
    summary: Mapping[str, str],
    tables: Sequence[ReportTable],
    figures: Sequence[tuple[str, Path]],
    manifest: Mapping[str, object],
    notes: Sequence[str] = (),
) -> Path:
    """Write one self-contained HTML report, atomically.

    Parameters
    ----------
    path : pathlib.Path
        Destination ending in ``.html`` or ``.htm``; missing parent directories are created.
    title : str
        Report title.
    summary : mapping of str to str
        Headline facts, shown as a list of ``key: value``.
    tables : sequence of (str, pandas.DataFrame)
        Captioned tables, formatted by :func:`format_table` (probabilities as percent, intervals
        merged, status cells coloured).
    figures : sequence of (str, pathlib.Path)
        Captioned PNG files, embedded as base64 ``data:`` URIs.
    manifest : mapping of str to object
        Run manifest, shown as pretty JSON in a collapsible ``<details>`` block (values JSON
        cannot represent are converted: numpy scalars, paths, dates, sets, dataclasses,
        pydantic models, else ``str``).
    notes : sequence of str, optional
        Caveats, shown as a list.

    Returns
    -------
    pathlib.Path
        The destination path.

    Raises
    ------
    policysim.errors.DataError
        If a figure file is missing or not a PNG, or a table is not a DataFrame. Nothing is
        written then, and no temporary file stays behind.
    ValueError
        If ``path`` does not end in ``.html`` or ``.htm``.
    """
    target = Path(path)
    if target.suffix.lower() not in {".html", ".htm"}:
        raise ValueError(f"render_report: {target}: expected a path ending in .html")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        try:
            buffer = io.StringIO()
            _write_body(
                buffer,
                title=title,
                summary=summary,
                tables=tables,
                figures=figures,
                manifest=manifest,
                notes=notes,
            )
            page = buffer.getvalue()
            # the glyphs of the page's Chinese (and other non-ASCII) text, embedded
            out.write(page.replace(_FONT_FACE_SLOT, font_face_css(page), 1))
        finally:
            out.detach()  # flushes; leaves closing the file to atomic_output
    logger.info("report written to %s (%d tables, %d figures)", target, len(tables), len(figures))
    return target
