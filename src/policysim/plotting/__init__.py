"""Figures from policysim results: fan charts, attainment bars, maps, frontiers.

Every function takes tables in the analysis layer's formats and returns a
:class:`matplotlib.figure.Figure` drawn on its own Agg canvas (pyplot's global state is never
used, and importing this package does not select a backend). :func:`save_figure` writes a figure
as PNG atomically. Counties are labelled by code, with Chinese names only when a CJK font is
installed (:func:`cjk_font`).
"""

from __future__ import annotations

from policysim.plotting._common import STATUS_COLOURS, cjk_font
from policysim.plotting.bars import attainment_bars, paired_difference_plot, strategy_bars
from policysim.plotting.curves import frontier_plot, sensitivity_plot
from policysim.plotting.fans import TargetLike, fan_chart, hindcast_plot, metric_label
from policysim.plotting.io import save_figure
from policysim.plotting.maps import county_map, read_boundaries

__all__ = [
    "STATUS_COLOURS",
    "TargetLike",
    "attainment_bars",
    "cjk_font",
    "county_map",
    "fan_chart",
    "frontier_plot",
    "hindcast_plot",
    "metric_label",
    "paired_difference_plot",
    "read_boundaries",
    "save_figure",
    "sensitivity_plot",
    "strategy_bars",
]
