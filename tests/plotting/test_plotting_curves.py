"""Budget frontier and sensitivity plots."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from policysim.errors import DataError
from policysim.plotting import frontier_plot, sensitivity_plot

Render = Callable[[Figure], bytes]


def test_frontier_lines_level_and_first_budget(frontier: pd.DataFrame, render: Render) -> None:
    fig = frontier_plot(frontier, level=0.8)
    ax = fig.axes[0]
    curves = [line for line in ax.lines if len(line.get_xdata()) == 5]
    assert len(curves) == 2
    np.testing.assert_allclose(
        curves[0].get_ydata(), 1 - np.exp(-0.12 * np.array([5, 10, 15, 20, 25]))
    )
    level_lines = [line for line in ax.lines if list(line.get_ydata()) == [0.8, 0.8]]
    assert len(level_lines) == 1
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    # 1 - exp(-0.12 b) first reaches 0.8 at b = 15 (0.835); 1 - exp(-0.06 b) never does by 25
    assert [(float(s.get_xdata()[0])) for s in stars] == [15.0]
    render(fig)


def test_frontier_errors(frontier: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="level"):
        frontier_plot(frontier, level=1.5)
    with pytest.raises(DataError, match=r"several rows for budget 5\.0"):
        frontier_plot(pd.concat([frontier, frontier.head(1)]))
    with pytest.raises(DataError, match="column 'budget_100m_cny'"):
        frontier_plot(frontier.drop(columns="budget_100m_cny"))


def _sobol(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for output in ("counties_2030", "townships_2030", "rd_intensity_2030"):
        for parameter in (
            "rd_elasticity",
            "subsidy_additionality",
            "firm_entry_rate",
            "voucher_uptake",
        ):
            s1 = rng.uniform(0.0, 0.3)
            rows.append((parameter, output, s1, 0.04, s1 + rng.uniform(0.0, 0.3), 0.05))
    return pd.DataFrame(rows, columns=["parameter", "output", "S1", "S1_conf", "ST", "ST_conf"])


def test_sobol_panels_sorted_by_total(rng: np.random.Generator, render: Render) -> None:
    table = _sobol(rng)
    fig = sensitivity_plot(table)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [
        "counties_2030",
        "townships_2030",
        "rd_intensity_2030",
    ]
    first = visible[0]
    bars = [p for p in first.patches if isinstance(p, Rectangle)]
    totals = [b.get_width() for b in bars[:4]]
    expected = np.sort(table.loc[table["output"] == "counties_2030", "ST"].to_numpy())
    np.testing.assert_allclose(totals, expected)
    render(fig)


def test_morris_scatter(rng: np.random.Generator, render: Render) -> None:
    table = pd.DataFrame(
        {
            "parameter": ["rd_elasticity", "additionality", "entry_rate"],
            "output": ["counties_2030"] * 3,
            "mu_star": [3.0, 1.0, 0.2],
            "mu_star_conf": [0.3, 0.2, 0.1],
            "sigma": [1.5, 0.4, 0.1],
        }
    )
    fig = sensitivity_plot(table)
    ax = fig.axes[0]
    points = [line for line in ax.lines if line.get_marker() == "o"]
    np.testing.assert_allclose(points[0].get_xdata(), [3.0, 1.0, 0.2])
    np.testing.assert_allclose(points[0].get_ydata(), [1.5, 0.4, 0.1])
    assert sorted(t.get_text() for t in ax.texts) == [
        "additionality",
        "entry_rate",
        "rd_elasticity",
    ]
    render(fig)


def test_sensitivity_rejects_unknown_columns() -> None:
    with pytest.raises(DataError, match="neither Sobol columns"):
        sensitivity_plot(pd.DataFrame({"parameter": ["a"], "output": ["b"], "S1": [0.1]}))
