"""Bar and interval charts of target attainment and strategy comparisons."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from policysim.errors import DataError
from policysim.plotting._common import (
    PALETTE,
    STATUS_ORDER,
    UNKNOWN_STATUS_COLOUR,
    new_figure,
    normalise_status,
    require_columns,
    require_probabilities,
    set_tick_labels,
    shared_font,
    status_colour,
    target_label,
)

__all__ = ["attainment_bars", "paired_difference_plot", "strategy_bars"]

logger = logging.getLogger(__name__)

ATTAINMENT_COLUMNS = (
    "target",
    "metric",
    "year",
    "comparator",
    "threshold",
    "probability",
    "ci_low",
    "ci_high",
    "status",
)
COMPARISON_COLUMNS = (
    "scenario",
    "target",
    "year",
    "probability",
    "diff_vs_baseline",
    "diff_ci_low",
    "diff_ci_high",
)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _interval_errors(
    centre: np.ndarray, low: np.ndarray, high: np.ndarray, what: str
) -> np.ndarray:
    """Error-bar half-lengths, shape (2, n); zero where the interval is missing."""
    below = centre - low
    above = high - centre
    tol = 1e-9
    bad = (below < -tol) | (above < -tol)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"<{what}>",
            f"row {i + 1}: interval [{low[i]:g}, {high[i]:g}] does not contain {centre[i]:g} "
            "(expected low <= estimate <= high)",
        )
    return np.vstack([np.nan_to_num(below.clip(min=0.0)), np.nan_to_num(above.clip(min=0.0))])


def attainment_bars(attainment: pd.DataFrame) -> Figure:
    """Horizontal bars of the probability of meeting each target, with its interval.

    Parameters
    ----------
    attainment : pandas.DataFrame
        Attainment table with columns ``target, metric, year, comparator, threshold,
        probability, ci_low, ci_high, status`` (probabilities as fractions in [0, 1]; the
        interval is the analysis layer's Wilson interval; status ``met``, ``at risk`` or
        ``missed``). One bar per row, labelled ``"target (year)"``, coloured by status.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    policysim.errors.DataError
        If columns are missing, a probability is outside [0, 1] or an interval excludes its
        estimate.
    """
    what = "attainment table"
    require_columns(attainment, ATTAINMENT_COLUMNS, what)
    require_probabilities(attainment, ("probability", "ci_low", "ci_high"), what)
    table = attainment.reset_index(drop=True)
    probability = _numeric(table, "probability")
    errors = _interval_errors(
        probability, _numeric(table, "ci_low"), _numeric(table, "ci_high"), what
    )
    n = len(table)
    positions = np.arange(n, dtype=float)[::-1]  # first row on top
    colours = [status_colour(s) for s in table["status"]]
    fig = new_figure(7.5, 1.2 + 0.42 * n)
    ax = fig.add_subplot()
    ax.barh(positions, np.nan_to_num(probability), color=colours, height=0.65, zorder=2)
    ax.errorbar(
        probability,
        positions,
        xerr=errors,
        fmt="none",
        ecolor="black",
        elinewidth=1.2,
        capsize=3,
        zorder=3,
    )
    for y, p, upper in zip(positions, probability, probability + errors[1], strict=True):
        if not np.isnan(p):
            ax.text(min(upper + 0.015, 1.08), y, f"{p:.0%}", va="center", fontsize=8)
    labels = [target_label(t, y) for t, y in zip(table["target"], table["year"], strict=True)]
    set_tick_labels(ax.yaxis, list(positions), labels)
    ax.set_xlim(0.0, 1.12)
    ax.set_xticks(np.linspace(0.0, 1.0, 6))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("probability of meeting the target")
    ax.grid(True, axis="x", color="0.9")
    ax.set_axisbelow(True)
    seen = [normalise_status(s) for s in table["status"]]
    known = [s for s in STATUS_ORDER if s in seen]
    others = sorted({s for s in seen if s not in STATUS_ORDER})
    handles = [Patch(color=status_colour(s), label=s) for s in known]
    handles += [Patch(color=UNKNOWN_STATUS_COLOUR, label=s) for s in others]
    legend_labels, font = shared_font([str(h.get_label()) for h in handles])
    # outside the axes, right of the bars: it covers neither bars nor their labels
    verdicts = bool(known) and all(s.startswith(("likely", "uncertain")) for s in known)
    ax.legend(
        handles,
        legend_labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        fontsize=8,
        prop=font,
        title="verdict (95% interval\nagainst P = 80%)" if verdicts else "status",
    )
    ax.set_title("Probability of meeting each target")
    return fig


def _comparison_table(comparison: pd.DataFrame, what: str) -> pd.DataFrame:
    require_columns(comparison, COMPARISON_COLUMNS, what)
    require_probabilities(comparison, ("probability",), what)
    table = comparison.reset_index(drop=True).copy()
    table["label"] = [
        target_label(t, y) for t, y in zip(table["target"], table["year"], strict=True)
    ]
    table["scenario"] = table["scenario"].astype(str)
    duplicated = table.duplicated(subset=["scenario", "label"])
    if duplicated.any():
        row = table.loc[duplicated].iloc[0]
        raise DataError(
            f"<{what}>",
            f"several rows for scenario {row['scenario']!r} and target {row['label']!r} "
            "(expected one)",
        )
    return table


def strategy_bars(comparison: pd.DataFrame) -> Figure:
    """Probability of meeting each target under each strategy, side by side per target.

    Parameters
    ----------
    comparison : pandas.DataFrame
        Comparison table with columns ``scenario, target, year, probability, diff_vs_baseline,
        diff_ci_low, diff_ci_high`` (probabilities as fractions). One group of bars per
        ``"target (year)"``, one bar per scenario in order of first appearance.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    policysim.errors.DataError
        If columns are missing, a probability is outside [0, 1] or a scenario has two rows for
        one target.
    """
    table = _comparison_table(comparison, "comparison table")
    scenarios = list(dict.fromkeys(table["scenario"]))
    groups = list(dict.fromkeys(table["label"]))
    n_s, n_g = len(scenarios), len(groups)
    width = 0.8 / n_s
    fig = new_figure(max(6.5, 1.0 + 0.35 * n_s * n_g + 0.6 * n_g), 4.8)
    ax = fig.add_subplot()
    lookup = table.set_index(["scenario", "label"])["probability"]
    handles = []
    for i, scenario in enumerate(scenarios):
        xs = np.arange(n_g) - 0.4 + width * (i + 0.5)
        ps = np.array([float(lookup.get((scenario, g), np.nan)) for g in groups])
        bars = ax.bar(
            xs, np.nan_to_num(ps), width=width * 0.92, color=PALETTE[i % len(PALETTE)], zorder=2
        )
        handles.append(bars)
        for x, p in zip(xs, ps, strict=True):
            if not np.isnan(p):
                ax.text(x, p + 0.01, f"{p:.0%}", ha="center", va="bottom", fontsize=7)
    set_tick_labels(ax.xaxis, list(range(n_g)), groups)
    if n_g > 3:
        for label in ax.get_xticklabels():
            label.set_rotation(20)
            label.set_horizontalalignment("right")
    ax.set_ylim(0.0, 1.1)
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_ylabel("probability of meeting the target")
    ax.grid(True, axis="y", color="0.9")
    ax.set_axisbelow(True)
    names, font = shared_font(scenarios)
    ax.legend(handles, names, fontsize=8, prop=font, title="strategy", loc="upper right")
    ax.set_title("Target attainment by strategy")
    return fig


def paired_difference_plot(comparison: pd.DataFrame, *, baseline: str | None = None) -> Figure:
    """Paired difference in attainment probability against the baseline, with intervals.

    Parameters
    ----------
    comparison : pandas.DataFrame
        Comparison table with columns ``scenario, target, year, probability, diff_vs_baseline,
        diff_ci_low, diff_ci_high`` (differences as fractions, e.g. 0.05 = 5 percentage
        points). Rows without a difference are left out.
    baseline : str, optional
        The baseline scenario, left out of the plot. By default a scenario whose every row is
        exactly zero with a zero-width interval is taken to be the baseline compared with
        itself and left out.

    Returns
    -------
    matplotlib.figure.Figure
        The figure: one row per ``"target (year)"``, scenarios offset within it, a point at the
        difference, a line over its interval and a vertical line at zero.

    Raises
    ------
    policysim.errors.DataError
        If columns are missing, a difference is outside [-1, 1], an interval excludes its
        estimate, or no row has a difference.
    """
    what = "comparison table"
    table = _comparison_table(comparison, what)
    diff = _differences(table, what)
    keep = _difference_rows(table, diff, baseline)
    if not keep.any():
        raise DataError(f"<{what}>", "no row has a diff_vs_baseline (expected at least one)")
    table = table.loc[keep].reset_index(drop=True)
    diff = diff[keep]
    errors = _interval_errors(
        diff, _numeric(table, "diff_ci_low"), _numeric(table, "diff_ci_high"), what
    )
    return _paired_difference_figure(table, diff, errors)


def _differences(table: pd.DataFrame, what: str) -> np.ndarray:
    """The ``diff_vs_baseline`` column, each difference (where given) within [-1, 1]."""
    diff = _numeric(table, "diff_vs_baseline")
    outside = np.abs(np.nan_to_num(diff)) > 1.0
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"<{what}>",
            f"row {i + 1}: difference outside [-1, 1] (expected a difference of fractions)",
            column="diff_vs_baseline",
            value=float(diff[i]),
        )
    return diff


def _difference_rows(table: pd.DataFrame, diff: np.ndarray, baseline: str | None) -> np.ndarray:
    """The rows to plot: those with a difference, less the baseline's (``baseline``, or by
    default every scenario whose rows are all exactly zero with zero-width intervals)."""
    keep: np.ndarray = ~np.isnan(diff)
    if baseline is not None:
        keep &= (table["scenario"] != str(baseline)).to_numpy()
    else:
        low, high = _numeric(table, "diff_ci_low"), _numeric(table, "diff_ci_high")
        zero = (diff == 0.0) & (low == 0.0) & (high == 0.0)
        trivial = pd.Series(zero).groupby(table["scenario"].to_numpy()).all()
        for scenario in trivial.index[trivial.to_numpy()]:
            logger.debug(
                "paired difference plot: %r has no difference; taken as baseline", scenario
            )
            keep &= (table["scenario"] != scenario).to_numpy()
    return keep


def _paired_difference_figure(table: pd.DataFrame, diff: np.ndarray, errors: np.ndarray) -> Figure:
    """Draw the checked rows: one row per ``"target (year)"`` label, scenarios offset within it,
    each difference with its interval (``errors``: distances below and above), a line at zero."""
    scenarios = list(dict.fromkeys(table["scenario"]))
    groups = list(dict.fromkeys(table["label"]))
    n_s, n_g = len(scenarios), len(groups)
    step = 0.7 / max(n_s, 1)
    group_pos = {g: float(n_g - 1 - k) for k, g in enumerate(groups)}
    fig = new_figure(7.5, 1.4 + 0.3 * n_g * max(n_s, 2))
    ax = fig.add_subplot()
    ax.axvline(0.0, color="black", linewidth=1.0, zorder=1)
    handles = []
    for i, scenario in enumerate(scenarios):
        mask = (table["scenario"] == scenario).to_numpy()
        ys = np.array([group_pos[g] for g in table.loc[mask, "label"]]) + 0.35 - step * (i + 0.5)
        container = ax.errorbar(
            diff[mask],
            ys,
            xerr=errors[:, mask],
            fmt="o",
            color=PALETTE[(i + 1) % len(PALETTE)],
            markeredgecolor="black",
            capsize=3,
            zorder=3,
        )
        handles.append(container)
    set_tick_labels(ax.yaxis, [group_pos[g] for g in groups], groups)
    for k in range(n_g - 1):
        ax.axhline(k + 0.5, color="0.85", linewidth=0.8)
    ax.set_ylim(-0.6, n_g - 0.4)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0, symbol=" pp"))
    ax.set_xlabel("difference in probability vs baseline (percentage points)")
    names, font = shared_font(scenarios)
    ax.legend(handles, names, fontsize=8, prop=font, title="scenario", loc="best")
    ax.set_title("Paired difference against the baseline")
    return fig
