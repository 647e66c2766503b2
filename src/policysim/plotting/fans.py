"""Fan charts of ensemble metrics over years, with targets, and the hindcast plot."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from policysim.analysis.history import is_sourced
from policysim.errors import DataError
from policysim.metrics import METRICS
from policysim.plotting._common import (
    PALETTE,
    county_label,
    new_figure,
    place_legend,
    require_columns,
    shared_font,
    text_font,
)

__all__ = [
    "METRIC_LABELS",
    "OBSERVED_LABEL",
    "OBSERVED_UNSOURCED_LABEL",
    "TargetLike",
    "fan_chart",
    "hindcast_plot",
    "metric_label",
]

logger = logging.getLogger(__name__)

METRICS_COLUMNS = ("replication", "year", "level", "code", "name", "metric", "value")
QUANTILE_COLUMNS = ("year", "p05", "p25", "p50", "p75", "p95")

#: Axis labels, with units, of the province metrics (from the metric registry).
METRIC_LABELS: dict[str, str] = {m.name: m.label_en for m in METRICS if m.level == "province"}

#: Legend entries of observed history on a fan chart (English and Chinese, as the briefing):
#: sourced values (verified or documented) as filled points on the line, the others as hollow
#: points.
OBSERVED_LABEL = "observed, sourced (filled) 观测值（有出处）"
OBSERVED_UNSOURCED_LABEL = "observed, recalled or derived (hollow) 观测值（回忆或推算）"
#: Colour of observed history (Okabe-Ito vermillion; the bands use the blue).
OBSERVED_COLOUR = PALETTE[3]

_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_pct", "%"),
    ("_100m_cny", "100 million CNY"),
    ("_cny", "CNY"),
    ("_count", "count"),
)

_COMPARATOR_SYMBOLS: dict[str, str] = {
    ">=": "≥",
    "ge": "≥",
    "≥": "≥",
    ">": ">",
    "gt": ">",
    "<=": "≤",
    "le": "≤",
    "≤": "≤",
    "<": "<",
    "lt": "<",
    "==": "=",
    "=": "=",
    "eq": "=",
}
_COMPARATOR_MARKERS: dict[str, str] = {"≥": "^", ">": "^", "≤": "v", "<": "v", "=": "D"}


class TargetLike(Protocol):
    """What a figure needs to know about a policy target (the analysis layer's target type)."""

    @property
    def name(self) -> str:
        """Target name, e.g. ``"provincial_counties_2020"``."""

    @property
    def metric(self) -> str:
        """Metric the target is stated on, e.g. ``"provincial_innovative_counties"``."""

    @property
    def comparator(self) -> str:
        """Comparison: ``">="``, ``">"``, ``"<="``, ``"<"``, ``"=="`` or ``"rising"``."""

    @property
    def threshold(self) -> float | None:
        """Threshold value, in the metric's unit (``None`` for ``"rising"``)."""

    @property
    def year(self) -> int:
        """Deadline year."""


def metric_label(metric: str) -> str:
    """Axis label with unit for ``metric`` (known names, else a unit read from the suffix)."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    for suffix, unit in _UNIT_SUFFIXES:
        if metric.endswith(suffix):
            return f"{metric.removesuffix(suffix).replace('_', ' ')} ({unit})"
    return metric.replace("_", " ")


def _select(
    metrics: pd.DataFrame, metric: str, level: str, code: str | None, what: str
) -> tuple[pd.DataFrame, str, str | None]:
    """Rows of one metric, level and unit; returns (rows, code, name)."""
    require_columns(metrics, METRICS_COLUMNS, what)
    rows = metrics.loc[metrics["metric"] == metric]
    if rows.empty:
        known = ", ".join(sorted(map(str, metrics["metric"].unique()))[:12])
        raise DataError(
            f"<{what}>", f"no rows (expected one of the metrics: {known})", value=metric
        )
    rows = rows.loc[rows["level"].astype(str) == level]
    if rows.empty:
        known = ", ".join(
            sorted(map(str, metrics.loc[metrics["metric"] == metric, "level"].unique()))
        )
        raise DataError(
            f"<{what}>", f"metric {metric!r} has no rows at this level (has: {known})", value=level
        )
    codes = rows["code"].astype(str)
    if code is None:
        unique = sorted(codes.unique())
        if len(unique) > 1:
            shown = ", ".join(unique[:8]) + (", ..." if len(unique) > 8 else "")
            raise DataError(
                f"<{what}>",
                f"metric {metric!r} at level {level!r} covers {len(unique)} units ({shown}); "
                "pass code= to choose one",
            )
        chosen = unique[0]
    else:
        chosen = str(code)
        rows = rows.loc[codes == chosen]
        if rows.empty:
            raise DataError(
                f"<{what}>", f"no rows for metric {metric!r} at level {level!r}", value=chosen
            )
    duplicated = rows.duplicated(subset=["replication", "year"])
    if duplicated.any():
        first = rows.loc[duplicated].iloc[0]
        raise DataError(
            f"<{what}>",
            f"several rows for replication {first['replication']}, year {first['year']} "
            "(expected one: select a single scenario and strategy first)",
        )
    names = rows["name"].dropna().astype(str).unique()
    return rows, chosen, (names[0] if len(names) else None)


def _quantiles(rows: pd.DataFrame) -> pd.DataFrame:
    """Per-year 5/25/50/75/95% quantiles over replications; index year, columns p05..p95."""
    values = rows.assign(value=pd.to_numeric(rows["value"], errors="coerce"))
    grouped = values.groupby("year")["value"]
    out = pd.DataFrame(
        {
            "p05": grouped.quantile(0.05),
            "p25": grouped.quantile(0.25),
            "p50": grouped.quantile(0.50),
            "p75": grouped.quantile(0.75),
            "p95": grouped.quantile(0.95),
        }
    )
    return out.sort_index()


def _scenario_name(rows: pd.DataFrame, default: str) -> str:
    if "scenario" in rows.columns:
        names = rows["scenario"].dropna().astype(str).unique()
        if len(names) == 1:
            return str(names[0])
    return default


def _draw_target(ax: Axes, target: TargetLike, colour: str) -> None:
    comparator = str(target.comparator).strip()
    symbol = _COMPARATOR_SYMBOLS.get(comparator.lower(), comparator)
    year = float(target.year)
    ax.axvline(year, color="0.45", linestyle=":", linewidth=1.0, zorder=1)
    threshold = float(target.threshold) if target.threshold is not None else float("nan")
    if np.isnan(threshold):
        label_y = ax.get_ylim()[1]
        text = f"{target.name} ({symbol})"
    else:
        ax.plot(
            [year],
            [threshold],
            marker=_COMPARATOR_MARKERS.get(symbol, "o"),
            markersize=8,
            color=colour,
            markeredgecolor="black",
            linestyle="none",
            zorder=5,
        )
        label_y = threshold
        text = f"{target.name} {symbol} {threshold:g}"
    drawn, font = text_font(text)
    ax.annotate(
        drawn,
        (year, label_y),
        xytext=(-6, 6),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=8,
        fontproperties=font,
        zorder=6,
    )


def _draw_observed(ax: Axes, observed: pd.DataFrame) -> list[tuple[Artist, str]]:
    """Observed history over the bands; returns the legend handles and labels."""
    require_columns(observed, ("year", "value"), "fan chart observed history")
    obs = observed.assign(value=pd.to_numeric(observed["value"], errors="coerce"))
    obs = obs.loc[np.isfinite(obs["value"].to_numpy(dtype=float))].sort_values("year")
    if obs.empty:
        return []
    if "sourced" in obs.columns:
        sourced = obs["sourced"].astype(bool).to_numpy()
    elif "status" in obs.columns:
        sourced = np.array([is_sourced(s) for s in obs["status"]], dtype=bool)
    else:
        sourced = np.ones(len(obs), dtype=bool)
    years = obs["year"].to_numpy(dtype=float)
    values = obs["value"].to_numpy(dtype=float)
    out: list[tuple[Artist, str]] = []
    # the line through every observed value, with filled markers on the sourced ones only
    (line,) = ax.plot(
        years,
        values,
        color=OBSERVED_COLOUR,
        linewidth=1.2,
        marker="o",
        markersize=4.5,
        markeredgecolor="black",
        markeredgewidth=0.6,
        markevery=[int(i) for i in np.flatnonzero(sourced)],
        zorder=4,
        label=OBSERVED_LABEL,
        gid="observed",
    )
    out.append((line, OBSERVED_LABEL))
    if (~sourced).any():
        (hollow,) = ax.plot(
            years[~sourced],
            values[~sourced],
            linestyle="none",
            marker="o",
            markersize=4.5,
            markerfacecolor="white",
            markeredgecolor=OBSERVED_COLOUR,
            markeredgewidth=1.2,
            zorder=4.5,
            label=OBSERVED_UNSOURCED_LABEL,
            gid="observed_unsourced",
        )
        out.append((hollow, OBSERVED_UNSOURCED_LABEL))
    return out


def fan_chart(
    metrics: pd.DataFrame,
    metric: str,
    *,
    level: str = "province",
    code: str | None = None,
    targets: Sequence[TargetLike] = (),
    title: str | None = None,
    overlays: Mapping[str, pd.DataFrame] | None = None,
    observed: pd.DataFrame | None = None,
) -> Figure:
    """Fan chart of one metric over years: median, 50% and 90% bands across replications.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Long metrics with columns ``replication, year, level, code, name, metric, value``
        (one row per replication, year, unit and metric; value in the metric's unit).
    metric : str
        Metric to draw, e.g. ``"provincial_innovative_counties"``.
    level : str, default "province"
        Level of the unit (``"province"``, ``"prefecture"``, ``"county"``...).
    code : str, optional
        Code of the unit; needed when the level holds several units.
    targets : sequence of TargetLike
        Targets; those on ``metric`` (and on ``level``, if the target has a ``level``
        attribute) are drawn as a marker at ``(year, threshold)`` labelled with the comparator,
        and a dotted vertical line at the deadline. A target without a threshold (``"rising"``)
        gets only the line and a label.
    title : str, optional
        Title; by default the metric, and for sub-provincial units the code (and the Chinese
        name when a CJK font is installed).
    overlays : mapping of str to pandas.DataFrame, optional
        Other scenarios' long metrics, by scenario name; each is drawn as a median line and a
        90% band in its own colour.
    observed : pandas.DataFrame, optional
        Observed history of the metric for this unit: columns ``year, value`` (the metric's
        unit) and optionally ``status`` (as in the observed files: ``verified ...``,
        ``documented``, ``recalled``, ``derived``) or a boolean ``sourced``. Drawn as a thin line
        through the points over the bands: sourced values as filled points (legend
        :data:`OBSERVED_LABEL`), the others as hollow points (legend
        :data:`OBSERVED_UNSOURCED_LABEL`). Without ``status`` or ``sourced`` every value counts as
        sourced.

    Returns
    -------
    matplotlib.figure.Figure
        The figure. The legend is placed where it covers no band, line, point or label (inside
        the axes if such a corner exists, else to the right of them).

    Raises
    ------
    policysim.errors.DataError
        If a table lacks columns, has no rows for the metric, level and code, or has several rows
        for one replication and year.
    """
    rows, chosen_code, unit_name = _select(metrics, metric, level, code, "fan chart metrics")
    quantiles = _quantiles(rows)
    n_rep = int(rows["replication"].nunique())
    fig = new_figure(8.0, 4.8)
    ax = fig.add_subplot()
    handles, labels = _draw_ensemble(ax, quantiles, _scenario_name(rows, "ensemble"))
    for index, (scenario, frame) in enumerate((overlays or {}).items()):
        colour = PALETTE[(index + 1) % len(PALETTE)]
        other, _, _ = _select(frame, metric, level, chosen_code, f"fan chart overlay {scenario!r}")
        handles += _draw_overlay(ax, _quantiles(other), colour)
        labels += [f"{scenario}: median", f"{scenario}: 90% band"]
    if observed is not None and len(observed):
        for handle, label in _draw_observed(ax, observed):
            handles.append(handle)
            labels.append(label)
    for target in targets:
        target_level = getattr(target, "level", level)  # targets may name their level
        if target.metric == metric and str(target_level) == level:
            _draw_target(ax, target, "white")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("year")
    ax.set_ylabel(metric_label(metric))
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    heading, font = _fan_title(title, metric, level, chosen_code, unit_name)
    ax.set_title(heading, fontproperties=font)
    legend_labels, legend_font = shared_font(labels)
    place_legend(
        ax,
        handles,
        legend_labels,
        fontsize=8,
        prop=legend_font,
        title=f"{n_rep} replications",
        title_fontsize=8,
    )
    logger.debug("fan chart of %s (%s %s): %d replications", metric, level, chosen_code, n_rep)
    return fig


def _draw_ensemble(ax: Axes, quantiles: pd.DataFrame, name: str) -> tuple[list[Artist], list[str]]:
    """The ensemble's 90% and 50% bands and median line; their legend handles and labels."""
    years = quantiles.index.to_numpy(dtype=float)
    colour = PALETTE[0]
    band90 = ax.fill_between(
        years,
        quantiles["p05"].to_numpy(),
        quantiles["p95"].to_numpy(),
        color=colour,
        alpha=0.18,
        linewidth=0,
    )
    band50 = ax.fill_between(
        years,
        quantiles["p25"].to_numpy(),
        quantiles["p75"].to_numpy(),
        color=colour,
        alpha=0.38,
        linewidth=0,
    )
    (median,) = ax.plot(years, quantiles["p50"].to_numpy(), color=colour, linewidth=2.0)
    handles: list[Artist] = [median, band50, band90]
    return handles, [f"{name}: median", f"{name}: 50% band", f"{name}: 90% band"]


def _draw_overlay(ax: Axes, q: pd.DataFrame, colour: str) -> list[Artist]:
    """Another scenario's 90% band and dashed median line; their legend handles."""
    years = q.index.to_numpy(dtype=float)
    band = ax.fill_between(
        years, q["p05"].to_numpy(), q["p95"].to_numpy(), color=colour, alpha=0.15, linewidth=0
    )
    (line,) = ax.plot(years, q["p50"].to_numpy(), color=colour, linewidth=1.8, linestyle="--")
    return [line, band]


def _fan_title(
    title: str | None, metric: str, level: str, code: str, unit_name: str | None
) -> tuple[str, FontProperties | None]:
    """The title and its font: ``title``, else the metric (and below the province the unit)."""
    if title is not None:
        return text_font(title)
    if level == "province":
        return text_font(metric_label(metric))
    unit, font = county_label(code, unit_name)
    return f"{metric_label(metric)}: {level} {unit}", font


def hindcast_plot(
    ensemble_quantiles: pd.DataFrame, observed: pd.DataFrame, indicator: str
) -> Figure:
    """Ensemble hindcast bands against observed values.

    Parameters
    ----------
    ensemble_quantiles : pandas.DataFrame
        Columns ``year, p05, p25, p50, p75, p95``: quantiles of the simulated indicator per year,
        in the indicator's unit; non-decreasing from p05 to p95.
    observed : pandas.DataFrame
        Columns ``year, value``: observed values in the same unit.
    indicator : str
        Indicator name (a metric name gets its unit from :func:`metric_label`).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    policysim.errors.DataError
        If a table lacks columns or the quantiles are not ordered.
    """
    require_columns(ensemble_quantiles, QUANTILE_COLUMNS, "hindcast ensemble quantiles")
    require_columns(observed, ("year", "value"), "hindcast observations")
    q = ensemble_quantiles.sort_values("year")
    columns = list(QUANTILE_COLUMNS[1:])
    values = q[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    disordered = np.nan_to_num(np.diff(values, axis=1), nan=0.0) < 0
    if disordered.any():
        row, col = (int(v[0]) for v in np.nonzero(disordered))
        raise DataError(
            "<hindcast ensemble quantiles>",
            f"year {q['year'].iloc[row]}: {columns[col]} = {values[row, col]:g} exceeds "
            f"{columns[col + 1]} = {values[row, col + 1]:g} (expected p05 <= p25 <= p50 <= p75 <= p95)",
        )
    years = q["year"].to_numpy(dtype=float)
    fig = new_figure(7.5, 4.5)
    ax = fig.add_subplot()
    colour = PALETTE[0]
    band90 = ax.fill_between(years, values[:, 0], values[:, 4], color=colour, alpha=0.18, lw=0)
    band50 = ax.fill_between(years, values[:, 1], values[:, 3], color=colour, alpha=0.38, lw=0)
    (median,) = ax.plot(years, values[:, 2], color=colour, linewidth=2.0)
    obs = observed.sort_values("year")
    (points,) = ax.plot(
        obs["year"].to_numpy(dtype=float),
        pd.to_numeric(obs["value"], errors="coerce").to_numpy(dtype=float),
        marker="o",
        linestyle="none",
        color=PALETTE[3],
        markeredgecolor="black",
        zorder=5,
    )
    ax.legend(
        [median, band50, band90, points],
        ["simulated median", "simulated 50% band", "simulated 90% band", "observed"],
        loc="upper left",
        fontsize=8,
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("year")
    label, font = text_font(metric_label(indicator))
    ax.set_ylabel(label, fontproperties=font)
    heading, font = text_font(f"Hindcast: {indicator}")
    ax.set_title(heading, fontproperties=font)
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig
