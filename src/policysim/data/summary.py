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
    c = baseline.counties
    t = baseline.townships
    e = baseline.enterprises
    w = e["weight"].to_numpy(dtype=np.float64)
    gdp = float(c["gdp_cny"].sum())
    rd = float(c["rd_cny"].sum())
    rd_ent = float(c["rd_enterprise_cny"].sum())
    kinds = t["kind"].value_counts()
    synth_c = set(baseline.synthetic_columns.get("counties", ()))
    synth_t = set(baseline.synthetic_columns.get("townships", ()))

    def origin(columns: set[str], column: str) -> str:
        return "synthetic" if column in columns else "data"

    rows: list[tuple[str, str, float, str | None, str]] = [
        ("county-level units", "units", float(len(c)), "county_level_units", "data"),
        ("towns (镇)", "units", float(kinds.get("town", 0)), "towns", origin(synth_t, "kind")),
        (
            "townships (乡)",
            "units",
            float(kinds.get("township", 0)),
            "townships",
            origin(synth_t, "kind"),
        ),
        (
            "subdistricts (街道)",
            "units",
            float(kinds.get("subdistrict", 0)),
            "subdistricts",
            origin(synth_t, "kind"),
        ),
        (
            "other township-level units",
            "units",
            float(kinds.get("other", 0)),
            "other_units",
            origin(synth_t, "kind"),
        ),
        (
            "乡镇 counted by the scenario",
            "units",
            float(t["counts_as_xiangzhen"].sum()),
            None,
            "data",
        ),
        ("poverty counties", "units", float(c["poverty_county"].sum()), "poverty_counties", "data"),
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
            origin(synth_c, "hnte_count"),
        ),
        ("GDP", "亿元", gdp / 1e8, "gdp_100m_cny", origin(synth_c, "gdp_cny")),
        ("R&D expenditure", "亿元", rd / 1e8, "rd_expenditure_100m_cny", origin(synth_c, "rd_cny")),
        (
            "R&D intensity",
            "%",
            100.0 * rd / gdp if gdp > 0 else float("nan"),
            "rd_intensity_pct",
            origin(synth_c, "rd_cny"),
        ),
        (
            "enterprise share of R&D",
            "%",
            100.0 * rd_ent / rd if rd > 0 else float("nan"),
            "enterprise_rd_share_pct",
            origin(synth_c, "rd_enterprise_cny"),
        ),
        ("synthesis seed", "-", float(baseline.synthesis_seed), None, "setting"),
        ("synthesis version", "-", float(baseline.synthesis_version), None, "setting"),
    ]
    records = []
    for quantity, unit, value, indicator, default_status in rows:
        hist, status = _history(baseline, indicator) if indicator else (float("nan"), "")
        diff = 100.0 * (value - hist) / hist if np.isfinite(hist) and hist != 0 else float("nan")
        records.append(
            {
                "quantity": quantity,
                "unit": unit,
                "baseline_value": value,
                "history_value": hist,
                "status": status or default_status,
                "diff_pct": diff,
            }
        )
    out = pd.DataFrame.from_records(records)
    out.attrs["synthesis_seed"] = baseline.synthesis_seed
    out.attrs["synthesis_version"] = baseline.synthesis_version
    return out
