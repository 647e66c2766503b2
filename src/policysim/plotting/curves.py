"""Budget frontiers and sensitivity indices."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from policysim.errors import DataError
from policysim.plotting._common import (
    PALETTE,
    new_figure,
    require_columns,
    require_probabilities,
    set_tick_labels,
    shared_font,
    text_font,
)

__all__ = ["frontier_plot", "sensitivity_plot"]

logger = logging.getLogger(__name__)

FRONTIER_COLUMNS = ("budget_100m_cny", "target", "probability", "ci_low", "ci_high")
SOBOL_COLUMNS = ("parameter", "output", "S1", "S1_conf", "ST", "ST_conf")
MORRIS_COLUMNS = ("parameter", "output", "mu_star", "mu_star_conf", "sigma")


def frontier_plot(frontier: pd.DataFrame, level: float = 0.8) -> Figure:
    """Probability of meeting each target against the provincial budget.

    Parameters
    ----------
    frontier : pandas.DataFrame
        Columns ``budget_100m_cny, target, probability, ci_low, ci_high``: budget in 100 million
        CNY (亿元), probabilities as fractions; one row per budget and target.
    level : float, default 0.8
        Required probability, drawn as a horizontal line; for each target the smallest budget
        whose probability reaches it is marked.

    Returns
    -------
    matplotlib.figure.Figure
        The figure: one line with an interval band per target.

    Raises
    ------
    policysim.errors.DataError
        If columns are missing, a probability is outside [0, 1] or a target has two rows for one
        budget.
    ValueError
        If ``level`` is not in (0, 1).
    """
    if not (isinstance(level, (int, float)) and 0.0 < float(level) < 1.0):
        raise ValueError(f"frontier_plot: level={level!r} (expected a probability in (0, 1))")
    table = _frontier_table(frontier)
    fig = new_figure(7.5, 4.8)
    ax = fig.add_subplot()
    targets = list(dict.fromkeys(table["target"]))
    handles = []
    for i, target in enumerate(targets):
        rows = table.loc[table["target"] == target].sort_values("budget_100m_cny")
        handles.append(_frontier_curve(ax, rows, PALETTE[i % len(PALETTE)], level))
    ax.axhline(level, color="black", linestyle="--", linewidth=1.0)
    ax.annotate(
        f"required level {level:.0%}",
        (0.0, level),
        xycoords=("axes fraction", "data"),
        xytext=(4, 3),
        textcoords="offset points",
        fontsize=8,
    )
    ax.set_ylim(0.0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("provincial budget (100 million CNY)")
    ax.set_ylabel("probability of meeting the target")
    ax.grid(True, color="0.9")
    ax.set_axisbelow(True)
    names, font = shared_font(targets)
    ax.legend(handles, names, fontsize=8, prop=font, title="target (★ first budget at level)")
    ax.set_title("Budget frontier")
    return fig


def _frontier_table(frontier: pd.DataFrame) -> pd.DataFrame:
    """The frontier table checked (columns, probabilities, one row per target and budget), with
    the targets as text."""
    what = "frontier table"
    require_columns(frontier, FRONTIER_COLUMNS, what)
    require_probabilities(frontier, ("probability", "ci_low", "ci_high"), what)
    table = frontier.copy()
    table["target"] = table["target"].astype(str)
    duplicated = table.duplicated(subset=["target", "budget_100m_cny"])
    if duplicated.any():
        row = table.loc[duplicated].iloc[0]
        raise DataError(
            f"<{what}>",
            f"target {row['target']!r} has several rows for budget {row['budget_100m_cny']} "
            "(expected one)",
        )
    return table


def _frontier_curve(ax: Axes, rows: pd.DataFrame, colour: str, level: float) -> Line2D:
    """One target's probability against the budget (``rows`` sorted by budget): its interval
    band, its line (returned, for the legend) and a star at the first budget reaching
    ``level``."""
    budget = pd.to_numeric(rows["budget_100m_cny"], errors="coerce").to_numpy(dtype=float)
    p = pd.to_numeric(rows["probability"], errors="coerce").to_numpy(dtype=float)
    low = pd.to_numeric(rows["ci_low"], errors="coerce").to_numpy(dtype=float)
    high = pd.to_numeric(rows["ci_high"], errors="coerce").to_numpy(dtype=float)
    ax.fill_between(budget, low, high, color=colour, alpha=0.18, linewidth=0)
    (line,) = ax.plot(budget, p, marker="o", markersize=4, color=colour, linewidth=1.8)
    reached = np.flatnonzero(p >= level)
    if reached.size:
        first = int(reached[0])
        ax.plot(
            [budget[first]],
            [p[first]],
            marker="*",
            markersize=13,
            color=colour,
            markeredgecolor="black",
            linestyle="none",
            zorder=5,
        )
    return line


def _is_morris(indices: pd.DataFrame) -> bool:
    has_sobol = all(c in indices.columns for c in SOBOL_COLUMNS)
    has_morris = all(c in indices.columns for c in MORRIS_COLUMNS)
    if not (has_sobol or has_morris):
        missing_sobol = [c for c in SOBOL_COLUMNS if c not in indices.columns]
        missing_morris = [c for c in MORRIS_COLUMNS if c not in indices.columns]
        raise DataError(
            "<sensitivity indices>",
            f"neither Sobol columns ({', '.join(SOBOL_COLUMNS)}; missing "
            f"{', '.join(missing_sobol)}) nor Morris columns ({', '.join(MORRIS_COLUMNS)}; "
            f"missing {', '.join(missing_morris)})",
        )
    return not has_sobol


def sensitivity_plot(indices: pd.DataFrame) -> Figure:
    """Sensitivity indices per parameter, one panel per output.

    Parameters
    ----------
    indices : pandas.DataFrame
        Either Sobol indices with columns ``parameter, output, S1, S1_conf, ST, ST_conf``
        (drawn as paired horizontal bars of first-order and total indices with their confidence
        half-widths, parameters sorted by ST), or Morris screening results with columns
        ``parameter, output, mu_star, mu_star_conf, sigma`` (drawn as sigma against mu* with the
        mu* confidence half-width, each point labelled). Indices are dimensionless for Sobol and
        in the output's unit for Morris.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    policysim.errors.DataError
        If neither column set is present or the table has no rows.
    """
    morris = _is_morris(indices)
    columns = MORRIS_COLUMNS if morris else SOBOL_COLUMNS
    require_columns(indices, columns, "sensitivity indices")
    table = indices.copy()
    table["parameter"] = table["parameter"].astype(str)
    table["output"] = table["output"].astype(str)
    for column in columns[2:]:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    outputs = list(dict.fromkeys(table["output"]))
    n_out = len(outputs)
    n_par = int(table["parameter"].nunique())
    n_cols = min(n_out, 2)
    n_rows = math.ceil(n_out / n_cols)
    height = (1.2 + 0.32 * n_par) if not morris else 4.2
    fig = new_figure(6.5 * n_cols, max(3.2, height) * n_rows)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for k, output in enumerate(outputs):
        ax = axes[k // n_cols][k % n_cols]
        rows = table.loc[table["output"] == output]
        heading, font = text_font(output)
        ax.set_title(heading, fontproperties=font)
        if morris:
            _morris_panel(ax, rows)
        else:
            _sobol_panel(ax, rows)
        ax.set_axisbelow(True)
    for k in range(n_out, n_rows * n_cols):
        axes[k // n_cols][k % n_cols].set_visible(False)
    fig.suptitle("Morris screening" if morris else "Sobol sensitivity indices")
    return fig


def _morris_panel(ax: Axes, rows: pd.DataFrame) -> None:
    """sigma against mu* with the mu* confidence half-width, each point labelled."""
    mu = rows["mu_star"].to_numpy(dtype=float)
    sigma = rows["sigma"].to_numpy(dtype=float)
    conf = np.nan_to_num(rows["mu_star_conf"].to_numpy(dtype=float))
    ax.errorbar(mu, sigma, xerr=conf, fmt="o", color=PALETTE[0], markeredgecolor="black", capsize=2)
    for x, y, name in zip(mu, sigma, rows["parameter"], strict=True):
        text, text_fp = text_font(name)
        ax.annotate(
            text,
            (x, y),
            xytext=(3, 3),
            textcoords="offset points",
            fontsize=7,
            fontproperties=text_fp,
        )
    ax.set_xlabel("mu* (mean absolute elementary effect)")
    ax.set_ylabel("sigma (spread of elementary effects)")
    ax.set_xlim(left=0.0)
    ax.set_ylim(bottom=0.0)
    ax.grid(True, color="0.9")


def _sobol_panel(ax: Axes, rows: pd.DataFrame) -> None:
    """Paired horizontal bars of the total and first-order indices with their confidence
    half-widths, parameters sorted by ST."""
    rows = rows.sort_values("ST", ascending=True)
    ys = np.arange(len(rows), dtype=float)
    first = rows["S1"].to_numpy(dtype=float)
    total = rows["ST"].to_numpy(dtype=float)
    ax.barh(
        ys + 0.2,
        np.nan_to_num(total),
        height=0.38,
        xerr=np.nan_to_num(rows["ST_conf"].to_numpy(dtype=float)),
        color=PALETTE[0],
        label="total (ST)",
        capsize=2,
    )
    ax.barh(
        ys - 0.2,
        np.nan_to_num(first),
        height=0.38,
        xerr=np.nan_to_num(rows["S1_conf"].to_numpy(dtype=float)),
        color=PALETTE[1],
        label="first order (S1)",
        capsize=2,
    )
    set_tick_labels(ax.yaxis, list(ys), list(rows["parameter"]))
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("Sobol index")
    ax.grid(True, axis="x", color="0.9")
    ax.legend(fontsize=8, loc="lower right")
