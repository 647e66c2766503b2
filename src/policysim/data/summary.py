"""``province_summary``: the baseline's province totals next to the history file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from policysim.data.schema import Baseline

__all__ = ["province_summary"]


def _history(baseline: Baseline, indicator: str) -> tuple[float, str]:
    hist = baseline.history
    hit = hist[(hist["indicator"] == indicator) & (hist["year"] == baseline.base_year)]
    if len(hit) == 0:
        return float("nan"), ""
    return float(hit["value"].iloc[0]), str(hit["status"].iloc[0])


def province_summary(baseline: Baseline) -> pd.DataFrame:
    """Province totals of a baseline compared with its history file at the base year.

    Parameters
    ----------
    baseline : Baseline
        A loaded baseline.

    Returns
    -------
    pandas.DataFrame
        One row per quantity (counties, township-level units by kind, 乡镇 counted, poverty
        counties, enterprises, above-scale enterprises, HNTEs, GDP 亿元, R&D 亿元, R&D
        intensity %, enterprise share of R&D %, then the synthesis seed and version) with
        columns ``quantity, unit, baseline_value, history_value, status, diff_pct``.
        ``history_value`` is NaN where the history file has no value for the base year;
        ``status`` is the history row's status, else ``data`` (read from the unit files) or
        ``synthetic``; ``diff_pct`` = 100 × (baseline − history) / history.
        Firm counts are real-firm counts (sums of ``weight``).
    """
    rows = [*_unit_rows(baseline), *_firm_rows(baseline), *_economy_rows(baseline)]
    rows += [
        ("synthesis seed", "-", float(baseline.synthesis_seed), None, "setting"),
        ("synthesis version", "-", float(baseline.synthesis_version), None, "setting"),
    ]
    out = pd.DataFrame.from_records([_against_history(baseline, row) for row in rows])
    out.attrs["synthesis_seed"] = baseline.synthesis_seed
    out.attrs["synthesis_version"] = baseline.synthesis_version
    return out


#: A row of the summary: quantity, unit, baseline value, history indicator (None: not in the
#: history file), status when the history file has no value.
_Row = tuple[str, str, float, str | None, str]


def _origin(baseline: Baseline, table: str, column: str) -> str:
    """``synthetic`` if the baseline synthesised ``column`` of ``table``, else ``data``."""
    return "synthetic" if column in baseline.synthetic_columns.get(table, ()) else "data"


def _unit_rows(baseline: Baseline) -> list[_Row]:
    """Counts of county-level and township-level units."""
    c = baseline.counties
    t = baseline.townships
    kinds = t["kind"].value_counts()
    kind_origin = _origin(baseline, "townships", "kind")
    return [
        ("county-level units", "units", float(len(c)), "county_level_units", "data"),
        ("towns (镇)", "units", float(kinds.get("town", 0)), "towns", kind_origin),
        ("townships (乡)", "units", float(kinds.get("township", 0)), "townships", kind_origin),
        (
            "subdistricts (街道)",
            "units",
            float(kinds.get("subdistrict", 0)),
            "subdistricts",
            kind_origin,
        ),
        (
            "other township-level units",
            "units",
            float(kinds.get("other", 0)),
            "other_units",
            kind_origin,
        ),
        (
            "乡镇 counted by the scenario",
            "units",
            float(t["counts_as_xiangzhen"].sum()),
            None,
            "data",
        ),
        ("poverty counties", "units", float(c["poverty_county"].sum()), "poverty_counties", "data"),
    ]


def _firm_rows(baseline: Baseline) -> list[_Row]:
    """Real-firm counts (sums of ``weight``): all, above scale, HNTEs."""
    e = baseline.enterprises
    w = e["weight"].to_numpy(dtype=np.float64)
    return [
        ("enterprises", "firms", float(w.sum()), None, "synthetic"),
        (
            "above-scale enterprises",
            "firms",
            float((w * e["above_scale"].to_numpy()).sum()),
            "above_scale_industrial_enterprises",
            "synthetic",
        ),
        (
            "HNTEs",
            "firms",
            float((w * e["hnte"].to_numpy()).sum()),
            "hnte_count",
            _origin(baseline, "counties", "hnte_count"),
        ),
    ]


def _economy_rows(baseline: Baseline) -> list[_Row]:
    """GDP, R&D, R&D intensity and the enterprise share of R&D."""
    c = baseline.counties
    gdp = float(c["gdp_cny"].sum())
    rd = float(c["rd_cny"].sum())
    rd_ent = float(c["rd_enterprise_cny"].sum())
    rd_origin = _origin(baseline, "counties", "rd_cny")
    return [
        ("GDP", "亿元", gdp / 1e8, "gdp_100m_cny", _origin(baseline, "counties", "gdp_cny")),
        ("R&D expenditure", "亿元", rd / 1e8, "rd_expenditure_100m_cny", rd_origin),
        (
            "R&D intensity",
            "%",
            100.0 * rd / gdp if gdp > 0 else float("nan"),
            "rd_intensity_pct",
            rd_origin,
        ),
        (
            "enterprise share of R&D",
            "%",
            100.0 * rd_ent / rd if rd > 0 else float("nan"),
            "enterprise_rd_share_pct",
            _origin(baseline, "counties", "rd_enterprise_cny"),
        ),
    ]


def _against_history(baseline: Baseline, row: _Row) -> dict[str, object]:
    """A row with the history file's value at the base year, its status and the difference."""
    quantity, unit, value, indicator, default_status = row
    hist, status = _history(baseline, indicator) if indicator else (float("nan"), "")
    diff = 100.0 * (value - hist) / hist if np.isfinite(hist) and hist != 0 else float("nan")
    return {
        "quantity": quantity,
        "unit": unit,
        "baseline_value": value,
        "history_value": hist,
        "status": status or default_status,
        "diff_pct": diff,
    }
