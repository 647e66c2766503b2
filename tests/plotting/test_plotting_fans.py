"""Fan chart and hindcast plot: known quantiles, targets, overlays, errors, no warnings."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from plotting_helpers import Target

import policysim.plotting._common as common
from policysim.errors import DataError
from policysim.plotting import fan_chart, hindcast_plot, metric_label

Render = Callable[[Figure], bytes]


def _ramp_metrics(n_rep: int = 20) -> pd.DataFrame:
    """Replication r has value r + (year - 2018) * 10: quantiles are known by hand."""
    rows = [
        (r, y, "province", "36", "江西省", "m_count", float(r + (y - 2018) * 10))
        for r in range(n_rep)
        for y in (2018, 2019, 2020)
    ]
    return pd.DataFrame(
        rows, columns=["replication", "year", "level", "code", "name", "metric", "value"]
    )


def test_fan_chart_draws_without_warnings(
    metrics: pd.DataFrame, targets: list[Target], render: Render
) -> None:
    fig = fan_chart(metrics, "provincial_innovative_counties", targets=targets)
    render(fig)


def test_fan_chart_median_and_bands_match_hand_quantiles() -> None:
    fig = fan_chart(_ramp_metrics(), "m_count")
    ax = fig.axes[0]
    median = ax.lines[0]
    # values 0..19 (+10 per year): median 9.5; linear quantile p05 = 0.95, p95 = 18.05
    np.testing.assert_allclose(median.get_xdata(), [2018, 2019, 2020])
    np.testing.assert_allclose(median.get_ydata(), [9.5, 19.5, 29.5])
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    band90 = bands[0].get_paths()[0].vertices[:, 1]
    assert band90.min() == pytest.approx(0.95)
    assert band90.max() == pytest.approx(38.05)
    band50 = bands[1].get_paths()[0].vertices[:, 1]
    assert band50.min() == pytest.approx(4.75)
    assert band50.max() == pytest.approx(34.25)
    assert ax.get_legend().get_title().get_text() == "20 replications"


def test_fan_chart_draws_targets_on_this_metric_only(
    metrics: pd.DataFrame, targets: list[Target]
) -> None:
    fig = fan_chart(metrics, "provincial_innovative_counties", targets=targets)
    ax = fig.axes[0]
    markers = [
        (float(line.get_xdata()[0]), float(line.get_ydata()[0]), line.get_marker())
        for line in ax.lines
        if len(line.get_xdata()) == 1
    ]
    assert sorted(markers) == [(2020.0, 20.0, "^"), (2030.0, 60.0, "^")]
    verticals = sorted(
        float(line.get_xdata()[0])
        for line in ax.lines
        if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]
    )
    assert verticals == [2020.0, 2030.0]
    texts = [t.get_text() for t in ax.texts]
    assert "provincial counties 2030 ≥ 60" in texts
    assert not any("township" in t for t in texts)


def test_fan_chart_rising_target_has_line_and_label_only(
    metrics: pd.DataFrame, targets: list[Target], render: Render
) -> None:
    fig = fan_chart(metrics, "rd_intensity_pct", targets=targets)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["R&D rising (rising)"]
    assert not [line for line in ax.lines if len(line.get_xdata()) == 1]
    render(fig)


def test_fan_chart_target_at_other_level_is_skipped(metrics: pd.DataFrame) -> None:
    county_target = Target(
        "county goal", "provincial_innovative_counties", ">=", 5.0, 2025, "county"
    )
    fig = fan_chart(metrics, "provincial_innovative_counties", targets=[county_target])
    assert not fig.axes[0].texts


def test_fan_chart_overlays_get_own_colours_and_legend(
    metrics: pd.DataFrame, rng: np.random.Generator, render: Render
) -> None:
    other = metrics.assign(value=metrics["value"] * 1.2)
    third = metrics.assign(value=metrics["value"] * 0.8)
    fig = fan_chart(
        metrics,
        "provincial_innovative_counties",
        overlays={"factor formula": other, "optimised <b>": third},
        title="Provincial counties: three strategies",
    )
    ax = fig.axes[0]
    medians = [line for line in ax.lines if len(line.get_xdata()) > 2]
    assert len(medians) == 3
    assert len({line.get_color() for line in medians}) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "factor formula: median" in labels
    assert "optimised <b>: 90% band" in labels
    np.testing.assert_allclose(medians[1].get_ydata(), medians[0].get_ydata() * 1.2, rtol=1e-12)
    render(fig)


def test_county_fan_chart_labels_by_code_without_cjk_font(
    metrics: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, render: Render
) -> None:
    monkeypatch.setattr(common, "cjk_font", lambda: None)
    fig = fan_chart(metrics, "rd_intensity_pct", level="county", code="360102")
    title = fig.axes[0].get_title()
    assert "360102" in title
    assert "东湖区" not in title
    render(fig)


def test_county_fan_chart_adds_chinese_name_when_cjk_font_exists(
    metrics: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a real font file: the figure is laid out (drawn) to place its legend
    font = common.cjk_font()
    assert font is not None  # the packaged Noto Sans CJK SC (mplfonts)
    monkeypatch.setattr(common, "cjk_font", lambda: font)
    fig = fan_chart(metrics, "rd_intensity_pct", level="county", code="360102")
    assert fig.axes[0].get_title().endswith("360102 东湖区")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "no_such_metric"}, "no rows"),
        ({"metric": "rd_intensity_pct", "level": "township"}, "no rows at this level"),
        ({"metric": "rd_intensity_pct", "level": "county"}, "pass code="),
        ({"metric": "rd_intensity_pct", "level": "county", "code": "369999"}, "no rows"),
    ],
)
def test_fan_chart_selection_errors(
    metrics: pd.DataFrame, kwargs: dict[str, str], message: str
) -> None:
    metric = kwargs.pop("metric")
    with pytest.raises(DataError, match=message):
        fan_chart(metrics, metric, **kwargs)  # type: ignore[arg-type]


def test_fan_chart_rejects_missing_column_and_duplicates(metrics: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="column 'replication'"):
        fan_chart(metrics.drop(columns="replication"), "rd_intensity_pct")
    doubled = pd.concat([metrics, metrics])
    with pytest.raises(DataError, match="several rows for replication"):
        fan_chart(doubled, "rd_intensity_pct")


def test_metric_label_units() -> None:
    assert metric_label("rd_expenditure_100m_cny") == "R&D expenditure (100 million CNY)"
    assert metric_label("new_firms_count") == "new firms (count)"
    assert metric_label("odd") == "odd"


def _quantile_table() -> pd.DataFrame:
    years = np.arange(2010, 2018)
    mid = np.linspace(0.8, 1.3, len(years))
    return pd.DataFrame(
        {
            "year": years,
            "p05": mid - 0.2,
            "p25": mid - 0.1,
            "p50": mid,
            "p75": mid + 0.1,
            "p95": mid + 0.2,
        }
    )


def test_hindcast_plot_draws_median_and_observations(render: Render) -> None:
    observed = pd.DataFrame({"year": [2015, 2016, 2017], "value": [1.04, 1.10, 1.28]})
    fig = hindcast_plot(_quantile_table(), observed, "rd_intensity_pct")
    ax = fig.axes[0]
    lines: list[Line2D] = ax.lines  # type: ignore[assignment]
    np.testing.assert_allclose(lines[0].get_ydata(), np.linspace(0.8, 1.3, 8))
    np.testing.assert_allclose(lines[1].get_ydata(), [1.04, 1.10, 1.28])
    assert ax.get_ylabel() == "R&D intensity (% of GDP)"
    render(fig)


def test_hindcast_plot_rejects_disordered_quantiles() -> None:
    table = _quantile_table()
    table.loc[3, "p25"] = table.loc[3, "p75"] + 1.0
    observed = pd.DataFrame({"year": [2015], "value": [1.0]})
    with pytest.raises(DataError, match=r"year 2013: p25 .* exceeds p50"):
        hindcast_plot(table, observed, "rd_intensity_pct")
