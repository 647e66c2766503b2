"""Prefecture GDP targets of the synthesiser, and the check of the synthesis against the few real
county figures.

``jiangxi/prefecture_indicators.csv`` gives, for 2017, the GDP of the 11 prefectures (设区市) in
the series revised after the 4th economic census: 7 rows verified, 4 rows (新余, 鹰潭, 景德镇, 萍乡)
marked ``derived`` (province total minus the 7, split by 2019 shares). The province total the
synthesiser keeps is the first-published 2017 GDP of the history file (20,818.5亿元); the revised
series sums to 20,210.78亿元 and first-published prefecture figures exist for only 4 prefectures
(some rounded). So the targets are the prefecture *shares* of the revised series (verified row
where there is one, the derived row only where there is none) times the province total: every
prefecture keeps its revised share, and prefecture sums add up to the province total exactly.
docs/DATA.md discusses the choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from policysim.data.readers import RawTable, embedded_file, read_table
from policysim.errors import DataError

__all__ = [
    "FOUND_COUNTIES_FILE",
    "PREFECTURE_FILE",
    "PrefectureGdp",
    "found_county_check",
    "parse_found_counties",
    "prefecture_gdp",
]

PREFECTURE_FILE = "jiangxi/prefecture_indicators.csv"
FOUND_COUNTIES_FILE = "jiangxi/county_indicators_found.csv"
#: Indicators of the prefecture file, in order of preference for the GDP share of a prefecture.
GDP_INDICATORS: tuple[str, str] = ("gdp_revised", "gdp_revised_derived")
_PREFECTURE_REQUIRED = ("code", "prefecture", "indicator", "value", "year", "confidence")
_FOUND_REQUIRED = ("code_2017", "name", "indicator", "value", "year", "confidence")
#: The code of the province row in the prefecture file.
PROVINCE_ROW_CODE = "360000"
#: How far the chosen prefecture values may be from the province row of the same series (the
#: derived rows are rounded to 0.1亿元; 0.1% leaves room for that and nothing more).
SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class PrefectureGdp:
    """The chosen GDP row of each prefecture and its share.

    Attributes
    ----------
    table : DataFrame
        ``prefecture_code, prefecture, indicator, value_100m_cny, confidence, share`` (one row per
        prefecture, in code order); ``indicator`` is ``gdp_revised`` (verified) or
        ``gdp_revised_derived`` (an estimate, used only where no verified row exists).
    province_100m_cny : float or None
        The province row of the same series, if the file has one.
    """

    table: pd.DataFrame

    province_100m_cny: float | None

    def targets_cny(self, province_gdp_cny: float) -> dict[str, float]:
        """Prefecture GDP targets in CNY: share × the province total the synthesiser keeps."""
        return {
            str(code): float(share) * province_gdp_cny
            for code, share in zip(self.table["prefecture_code"], self.table["share"], strict=True)
        }


def _number(table: RawTable, row: int, column: str) -> float:
    text = str(table.frame[column].iloc[row])
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise DataError(table.name, f"not a positive number: {text!r}", row=row + 2, column=column)
    return value


def prefecture_gdp(table: RawTable, counties: pd.DataFrame, year: int) -> PrefectureGdp:
    """Choose one GDP row per prefecture of ``counties`` for ``year`` (see the module text).

    Raises
    ------
    DataError
        A prefecture of the county file has no GDP row, has two rows of the same kind, a value
        is not a positive number, or the chosen rows disagree with the province row by more than
        :data:`SUM_TOLERANCE`.
    """
    for column in _PREFECTURE_REQUIRED:
        if column not in table.frame.columns:
            raise DataError(table.name, "missing required column", row=1, column=column)
    f = table.frame
    wanted = f["indicator"].isin(GDP_INDICATORS) & (f["year"] == str(year))
    codes = counties[["prefecture_code", "prefecture"]].drop_duplicates("prefecture_code")
    codes = codes.sort_values("prefecture_code", kind="stable")
    rows = []
    for code, name in codes.itertuples(index=False, name=None):
        chosen = None
        for indicator in GDP_INDICATORS:
            hit = np.flatnonzero(wanted & (f["code"] == code) & (f["indicator"] == indicator))
            if hit.size > 1:
                raise DataError(
                    table.name,
                    f"two {indicator} rows for {code} {name} in {year} (expected one)",
                    row=int(hit[1]) + 2,
                    column="indicator",
                )
            if hit.size:
                chosen = (indicator, int(hit[0]))
                break
        if chosen is None:
            raise DataError(
                table.name,
                f"no {' or '.join(GDP_INDICATORS)} row for prefecture {code} {name} in {year}",
            )
        indicator, i = chosen
        rows.append(
            {
                "prefecture_code": str(code),
                "prefecture": str(name),
                "indicator": indicator,
                "value_100m_cny": _number(table, i, "value"),
                "confidence": str(f["confidence"].iloc[i]),
            }
        )
    out = pd.DataFrame(rows)
    out["share"] = out["value_100m_cny"] / out["value_100m_cny"].sum()
    prov = np.flatnonzero(
        wanted & (f["code"] == PROVINCE_ROW_CODE) & (f["indicator"] == GDP_INDICATORS[0])
    )
    province = _number(table, int(prov[0]), "value") if prov.size else None
    if province is not None:
        total = float(out["value_100m_cny"].sum())
        if abs(total - province) > SUM_TOLERANCE * province:
            raise DataError(
                table.name,
                f"the {year} prefecture GDP rows sum to {total:.2f}亿元 but the province row says "
                f"{province:.2f}亿元 (expected agreement within {SUM_TOLERANCE:.1%})",
            )
    return PrefectureGdp(out, province)


def parse_found_counties(table: RawTable) -> pd.DataFrame:
    """The county GDP figures of ``county_indicators_found.csv``: ``code, name, year,
    gdp_100m_cny, confidence, source`` (other indicators are dropped)."""
    for column in _FOUND_REQUIRED:
        if column not in table.frame.columns:
            raise DataError(table.name, "missing required column", row=1, column=column)
    f = table.frame
    hit = np.flatnonzero(f["indicator"] == "gdp")
    return pd.DataFrame(
        {
            "code": f["code_2017"].iloc[hit].to_numpy(dtype=str),
            "name": f["name"].iloc[hit].to_numpy(dtype=str),
            "year": f["year"].iloc[hit].astype(int).to_numpy(),
            "gdp_100m_cny": [_number(table, int(i), "value") for i in hit],
            "confidence": f["confidence"].iloc[hit].to_numpy(dtype=str),
        }
    )


def found_county_check(
    counties: pd.DataFrame,
    found: pd.DataFrame,
    *,
    base_year: int,
    growth: Mapping[int, float] | None = None,
) -> pd.DataFrame:
    """How far the synthetic county GDPs are from the few real figures found.

    Figures of other years than ``base_year`` are brought to it with the province's nominal GDP
    growth (``growth``: year -> province GDP of that year divided by the base year's); without
    ``growth`` only base-year figures are compared. The figures are of mixed vintage and quality
    (first releases in government work reports, a third-party listicle): a check to report, not a
    target.

    Returns
    -------
    DataFrame
        ``code, name, year, real_100m_cny, real_at_base_100m_cny, synthetic_100m_cny, ratio,
        confidence`` (ratio = synthetic / real at the base year), one row per figure.
    """
    synth = dict(
        zip(counties["code"].astype(str), counties["gdp_cny"].to_numpy(float) / 1e8, strict=True)
    )
    rows = []
    codes = found["code"].to_numpy(dtype=str)
    years = found["year"].to_numpy(dtype=np.int64)
    values = found["gdp_100m_cny"].to_numpy(dtype=np.float64)
    for i in range(len(found)):
        code, year, value = str(codes[i]), int(years[i]), float(values[i])
        if code not in synth:
            continue
        factor = 1.0 if year == base_year else (growth or {}).get(year)
        if factor is None:
            continue
        at_base = value / factor
        rows.append(
            {
                "code": code,
                "name": str(found["name"].iloc[i]),
                "year": year,
                "real_100m_cny": value,
                "real_at_base_100m_cny": at_base,
                "synthetic_100m_cny": synth[code],
                "ratio": synth[code] / at_base,
                "confidence": str(found["confidence"].iloc[i]),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "code",
            "name",
            "year",
            "real_100m_cny",
            "real_at_base_100m_cny",
            "synthetic_100m_cny",
            "ratio",
            "confidence",
        ],
    )


def province_growth(table: RawTable, base_year: int) -> dict[int, float]:
    """Province GDP of each year over the base year's, from the province rows of the revised
    series of the prefecture file (one consistent vintage, 2013-2018)."""
    f = table.frame
    rows = np.flatnonzero((f["code"] == PROVINCE_ROW_CODE) & (f["indicator"] == GDP_INDICATORS[0]))
    values = {int(f["year"].iloc[i]): _number(table, int(i), "value") for i in rows}
    if base_year not in values:
        return {}
    return {y: v / values[base_year] for y, v in values.items()}


def jiangxi_found_check(counties: pd.DataFrame, base_year: int) -> pd.DataFrame:
    """:func:`found_county_check` of a Jiangxi county table against the embedded
    ``county_indicators_found.csv``, other years brought to ``base_year`` with the province's
    revised-series growth."""

    found = parse_found_counties(
        read_table(embedded_file(FOUND_COUNTIES_FILE), FOUND_COUNTIES_FILE)
    )
    growth = province_growth(read_table(embedded_file(PREFECTURE_FILE), PREFECTURE_FILE), base_year)
    return found_county_check(counties, found, base_year=base_year, growth=growth)
