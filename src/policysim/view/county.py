"""One county up close, from a run directory: the list of counties (Chinese name, code,
prefecture) and their yearly trajectories over the runs. No UI here.

The list comes from the ``counties`` sheet of ``results.xlsx`` (it carries prefecture names);
trajectories from ``metrics.parquet`` (county rows), read with a filter on the county's code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Final

import pandas as pd

__all__ = [
    "TRAJECTORY_METRICS",
    "county_list",
    "county_trajectories",
    "filter_counties",
    "trajectory_figure",
]

#: County metrics shown as trajectories (median and 5-95% band over the runs), then the yearly
#: probability of being a provincial innovative county (share of runs with ``designated``).
TRAJECTORY_METRICS: Final = ("index", "rd_100m_cny", "hnte_count", "funds_cny")
DESIGNATION: Final = "designated"


def county_list(run_dir: Path) -> pd.DataFrame:
    """``code, name, prefecture`` of the counties of a run (empty when the run has no
    workbook)."""
    book = run_dir / "results.xlsx"
    columns = ["code", "name", "prefecture"]
    if not book.is_file():
        return pd.DataFrame(columns=columns)
    table = pd.read_excel(book, sheet_name="counties", dtype={"code": str})
    for c in columns:
        if c not in table:
            table[c] = ""
    return table[columns].fillna("").astype(str).reset_index(drop=True)


def filter_counties(counties: pd.DataFrame, query: str) -> pd.DataFrame:
    """Counties whose name, code or prefecture contains ``query`` (case-insensitive)."""
    q = query.strip().lower()
    if not q:
        return counties
    hit = pd.Series(False, index=counties.index)
    for c in ("name", "code", "prefecture"):
        hit |= counties[c].str.lower().str.contains(q, regex=False)
    return counties[hit]


def county_trajectories(run_dir: Path, code: str) -> pd.DataFrame:
    """Yearly quantiles of one county over the runs.

    Returns
    -------
    DataFrame
        ``metric, year, median, p05, p95`` for :data:`TRAJECTORY_METRICS`, and for
        ``designated`` the share of runs (``median`` = probability, ``p05``/``p95`` NaN).
    """
    path = run_dir / "metrics.parquet"
    wanted = [*TRAJECTORY_METRICS, DESIGNATION]
    rows = pd.read_parquet(
        path,
        columns=["replication", "year", "code", "metric", "value"],
        filters=[("level", "==", "county"), ("code", "==", str(code))],
    )
    rows = rows[rows["metric"].astype(str).isin(wanted)]
    rows = rows.assign(metric=rows["metric"].astype(str))
    out = []
    for (metric, year), group in rows.groupby(["metric", "year"], observed=True):
        values = group["value"].astype(float)
        if metric == DESIGNATION:
            out.append(
                (str(metric), int(str(year)), float((values > 0.5).mean()), math.nan, math.nan)
            )
        else:
            q = values.quantile([0.5, 0.05, 0.95])
            out.append((str(metric), int(str(year)), float(q[0.5]), float(q[0.05]), float(q[0.95])))
    return pd.DataFrame(out, columns=["metric", "year", "median", "p05", "p95"])


def _label(metric: str, lang: str) -> str:
    from policysim import metrics

    en = metrics.label(metric, "county", "en")
    zh = metrics.label(metric, "county", "zh")
    if metric == DESIGNATION:
        en, zh = "P(provincial innovative county)", "成为省级创新型县的概率"
    if lang == "zh":
        return zh
    return en if lang == "en" else f"{zh}\n{en}"


def trajectory_figure(frame: pd.DataFrame, title: str, lang: str = "both") -> Any:
    """A figure of the trajectories: one panel per metric, median with the 5-95% band."""
    from policysim.plotting._common import new_figure
    from policysim.report.fonts import register_cjk_font

    font = register_cjk_font()
    family: list[str] | None = None
    if font is not None:
        from matplotlib.font_manager import FontProperties

        family = [FontProperties(fname=str(font)).get_name(), "DejaVu Sans"]
    metrics = [*TRAJECTORY_METRICS, DESIGNATION]
    fig = new_figure(12.0, 6.5)
    axes = fig.subplots(2, 3).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        rows = frame[frame["metric"] == metric].sort_values("year")
        ax.set_title(_label(metric, lang), fontsize=9, fontfamily=family)
        ax.set_xlabel("year / 年", fontsize=8, fontfamily=family)
        if not len(rows):
            ax.text(
                0.5, 0.5, "no data / 无数据", ha="center", transform=ax.transAxes, fontfamily=family
            )
            continue
        if metric != DESIGNATION:
            ax.fill_between(rows["year"], rows["p05"], rows["p95"], alpha=0.25)
        ax.plot(rows["year"], rows["median"], marker="o", ms=3)
        if metric == DESIGNATION:
            ax.set_ylim(-0.02, 1.02)
        ax.tick_params(labelsize=8)
    axes[-1].axis("off")
    axes[-1].text(
        0,
        0.5,
        "line: median over the runs; band: 5-95%\n线：各次运行的中位数；带：5%-95%\n\n"
        "county economics are synthetic\n县域经济数据为合成数据",
        fontsize=10,
        va="center",
        fontfamily=family,
    )
    fig.suptitle(title, fontsize=11, fontfamily=family)
    return fig
