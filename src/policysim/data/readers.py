"""Reading and checking raw baseline files (embedded or user-supplied CSVs).

Every check raises :class:`policysim.errors.DataError` naming the file, the row (header = row 1),
the column, the bad value and the expectation. Files are read as UTF-8 text with every cell kept
as a string, then converted column by column, so that the first bad cell can be reported exactly.
"""

from __future__ import annotations

import difflib
import logging

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.data.cells import MAX_CNY as MAX_CNY
from policysim.data.cells import MAX_COUNT as MAX_COUNT
from policysim.data.cells import MAX_FIRMS_PER_COUNTY as MAX_FIRMS_PER_COUNTY
from policysim.data.cells import (
    RawTable,
    _choice,
    _code_column,
    _first_bad,
    _float_column,
    _int_column,
    _nonblank,
    _row,
    _unique,
    embedded_file,
    read_table,
)
from policysim.data.county_economy import (
    COUNTY_ECONOMY_COUNT_COLUMNS,
    COUNTY_ECONOMY_MONEY_COLUMNS,
    COUNTY_ECONOMY_SHARE_COLUMNS,
    parse_county_economy,
)
from policysim.data.schema import (
    FUNCTIONAL_CLASSES,
    TOWNSHIP_KINDS,
)
from policysim.errors import DataError

__all__ = [
    "COUNTY_ECONOMY_COUNT_COLUMNS",
    "COUNTY_ECONOMY_MONEY_COLUMNS",
    "COUNTY_ECONOMY_SHARE_COLUMNS",
    "KNOWN_INDICATORS",
    "RawTable",
    "embedded_file",
    "parse_china_counties",
    "parse_counties",
    "parse_county_economy",
    "parse_history",
    "parse_townships",
    "read_table",
]

logger = logging.getLogger(__name__)

#: Province-history indicators understood by the loader; the suffix names the unit.
KNOWN_INDICATORS: tuple[str, ...] = (
    "rd_expenditure_100m_cny",
    "rd_intensity_pct",
    "gdp_100m_cny",
    "hnte_count",
    "hnte_applications",
    "above_scale_industrial_enterprises",
    "county_level_units",
    "towns",
    "townships",
    "subdistricts",
    "other_units",
    "poverty_counties",
    "enterprise_rd_share_pct",
)

_RAW_COUNTY_TYPES = {
    "district": "district",
    "county_city": "city",
    "city": "city",
    "county": "county",
}
_COUNTY_REQUIRED = (
    "code",
    "name",
    "prefecture_code",
    "prefecture",
    "type",
    "towns",
    "townships",
    "subdistricts",
    "other_units",
    "poverty_county",
    "population_2010_census",
)
_COUNTY_OPTIONAL = (
    "poverty_exit_year",
    "poverty_status_source",
    "population_2020_census",
    "functional_class",
)
_TOWNSHIP_REQUIRED = ("code", "name", "county_code", "kind")
_HISTORY_REQUIRED = ("indicator", "year", "value", "status", "source")
_CHINA_REQUIRED = (
    "code",
    "name",
    "province_code",
    "province",
    "prefecture_code",
    "towns",
    "townships",
    "subdistricts",
    "other_units",
    "population_2020_census",
)


def _check_county_header(table: RawTable) -> None:
    """Every required column present, no unknown (perhaps misspelt optional) column."""
    for column in _COUNTY_REQUIRED:
        if column not in table.frame.columns:
            raise DataError(table.name, "missing required column", row=1, column=column)
    for column in table.frame.columns:
        if column not in (*_COUNTY_REQUIRED, *_COUNTY_OPTIONAL):
            # a misspelt optional column would be silently ignored
            close = difflib.get_close_matches(column, _COUNTY_OPTIONAL, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise DataError(
                table.name,
                f"unknown column ({hint}expected the required columns and any of "
                f"{', '.join(_COUNTY_OPTIONAL)})",
                row=1,
                column=column,
            )


def _county_population(
    table: RawTable, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """2010 census population of each unit, imputed from the 2020 census where blank; returns
    (population, imputed)."""
    frame = table.frame
    pop2010 = _int_column(table, "population_2010_census", allow_blank=True)
    if "population_2020_census" in frame.columns:
        pop2020 = _int_column(table, "population_2020_census", allow_blank=True)
    else:
        pop2020 = np.full(n, -1, dtype=np.int64)
    missing = pop2010 < 0
    both = (pop2010 > 0) & (pop2020 > 0)
    unusable = _first_bad(missing & (pop2020 < 0))
    if unusable is not None:
        raise DataError(
            table.name,
            "blank population (expected population_2010_census, or population_2020_census "
            "to impute it from)",
            row=_row(unusable),
            column="population_2010_census",
        )
    if missing.any():
        ratio = pop2010[both].sum() / pop2020[both].sum() if both.any() else 1.0
        pop2010 = np.where(missing, np.rint(pop2020 * ratio).astype(np.int64), pop2010)
        logger.info(
            "%s: 2010 population imputed for %d units from the 2020 census (ratio %.4f)",
            table.name,
            int(missing.sum()),
            ratio,
        )
    return pop2010, missing


def parse_counties(table: RawTable) -> pd.DataFrame:
    """Check and type a raw ``counties.csv`` (the format of ``data/jiangxi/counties.csv``).

    Returns
    -------
    pandas.DataFrame
        Columns ``code, name, prefecture_code, prefecture, type, towns, townships,
        subdistricts, other_units, poverty_county, poverty_exit_year, population,
        population_imputed, functional_class, functional_class_synthetic`` (the functional
        class is blank where the file gives none; the synthesiser fills it). ``population`` is
        the 2010 census count; where the file leaves it blank (boundary changed since 2010) it
        is imputed from the 2020 census times the province's 2010/2020 ratio.
    """
    _check_county_header(table)
    frame = table.frame
    codes = _code_column(table, "code", 6)
    _unique(table, "code", codes)
    _code_column(table, "prefecture_code", 6)
    names = _nonblank(table, "name")
    raw_types = _choice(table, "type", tuple(_RAW_COUNTY_TYPES))
    poverty_raw = _choice(table, "poverty_county", ("0", "1", "true", "false", "True", "False"))
    out = pd.DataFrame(
        {
            "code": codes,
            "name": names,
            "prefecture_code": frame["prefecture_code"].to_numpy(dtype=str),
            "prefecture": frame["prefecture"].to_numpy(dtype=str),
            "type": [_RAW_COUNTY_TYPES[t] for t in raw_types],
        }
    )
    for column in ("towns", "townships", "subdistricts", "other_units"):
        out[column] = _int_column(table, column)
    out["poverty_county"] = np.isin(poverty_raw, ("1", "true", "True"))
    if "poverty_exit_year" in frame.columns:
        out["poverty_exit_year"] = _int_column(table, "poverty_exit_year", allow_blank=True)
    else:
        out["poverty_exit_year"] = np.full(len(out), -1, dtype=np.int64)
    pop2010, missing = _county_population(table, len(out))
    out["population"] = pop2010
    out["population_imputed"] = missing
    if "functional_class" in frame.columns:
        classes = _choice(table, "functional_class", FUNCTIONAL_CLASSES, allow_blank=True)
    else:
        classes = np.full(len(out), "", dtype=object)
    out["functional_class"] = classes
    out["functional_class_synthetic"] = classes == ""
    return out


def parse_townships(table: RawTable, counties: pd.DataFrame, counties_file: str) -> pd.DataFrame:
    """Check and type a raw ``townships.csv`` against the parsed counties.

    Returns
    -------
    pandas.DataFrame
        Columns ``code, name, county_code, kind, county_idx``, ordered by county index, then
        code, with a fresh RangeIndex.

    Raises
    ------
    DataError
        Bad or duplicate code, unknown kind, unknown county code, a code that does not start
        with its county code, or unit counts that disagree with ``counties.csv``.
    """
    for column in _TOWNSHIP_REQUIRED:
        if column not in table.frame.columns:
            raise DataError(table.name, "missing required column", row=1, column=column)
    codes = _code_column(table, "code", 9)
    _unique(table, "code", codes)
    names = _nonblank(table, "name")
    county_codes = _code_column(table, "county_code", 6)
    kinds = _choice(table, "kind", TOWNSHIP_KINDS)
    position = pd.Index(counties["code"]).get_indexer(county_codes)
    unknown = _first_bad(position < 0)
    if unknown is not None:
        raise DataError(
            table.name,
            f"county_code not found in {counties_file}",
            row=_row(unknown),
            column="county_code",
            value=str(county_codes[unknown]),
        )
    prefix = _first_bad(np.array([c[:6] for c in codes]) != county_codes)
    if prefix is not None:
        raise DataError(
            table.name,
            f"bad code format (expected the county code {county_codes[prefix]} as prefix)",
            row=_row(prefix),
            column="code",
            value=str(codes[prefix]),
        )
    frame = pd.DataFrame({"code": codes, "name": names, "county_code": county_codes, "kind": kinds})
    frame["county_idx"] = position.astype(np.int64)
    count_columns = {
        "town": "towns",
        "township": "townships",
        "subdistrict": "subdistricts",
        "other": "other_units",
    }
    n = len(counties)
    for kind, column in count_columns.items():
        listed = np.bincount(position[kinds == kind], minlength=n)
        declared = counties[column].to_numpy()
        mismatch = _first_bad(listed != declared)
        if mismatch is not None:
            raise DataError(
                counties_file,
                f"declares {declared[mismatch]} units of kind {kind!r} but {table.name} "
                f"lists {listed[mismatch]} for county {counties['code'].iloc[mismatch]}",
                row=_row(mismatch),
                column=column,
                value=int(declared[mismatch]),
            )
    frame = frame.sort_values(["county_idx", "code"], kind="stable").reset_index(drop=True)
    return frame


def parse_history(table: RawTable) -> pd.DataFrame:
    """Check and type a ``province_history.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``indicator`` (one of :data:`KNOWN_INDICATORS`), ``year`` (int), ``value``
        (float, unit given by the indicator's suffix), ``status``, ``source``.
    """
    for column in _HISTORY_REQUIRED:
        if column not in table.frame.columns:
            raise DataError(table.name, "missing required column", row=1, column=column)
    indicators = _choice(table, "indicator", KNOWN_INDICATORS)
    years = _int_column(table, "year")
    values = _float_column(table, "value", lower=0.0, what="a non-negative number")
    key = pd.Series([f"{i}/{y}" for i, y in zip(indicators, years, strict=True)])
    dup = _first_bad(key.duplicated().to_numpy())
    if dup is not None:
        raise DataError(
            table.name,
            "duplicate indicator and year (expected each pair once)",
            row=_row(dup),
            column="indicator",
            value=key.iloc[dup],
        )
    return pd.DataFrame(
        {
            "indicator": indicators,
            "year": years,
            "value": values,
            "status": table.frame["status"].to_numpy(dtype=str),
            "source": table.frame["source"].to_numpy(dtype=str),
        }
    )


def _china_type(name: str) -> str:
    """County type from the name's suffix: 区 → district, 市 → city, others (县, 旗, 林区...)
    → county."""
    if name.endswith("林区"):
        return "county"
    if name.endswith("区"):
        return "district"
    if name.endswith("市"):
        return "city"
    return "county"


def parse_china_counties(table: RawTable) -> pd.DataFrame:
    """Check and type ``data/china/counties.csv`` into the county format of
    :func:`parse_counties`.

    No poverty flag, functional class or 2010 census is available nationally: poverty is False
    everywhere, the functional class is left to the rule, and ``population`` is the 2020 census
    count, imputed (flag ``population_imputed``) where the code did not match, from the median
    population per township-level unit in the same province times the unit's unit count.
    """
    for column in _CHINA_REQUIRED:
        if column not in table.frame.columns:
            raise DataError(table.name, "missing required column", row=1, column=column)
    codes = _code_column(table, "code", 6)
    _unique(table, "code", codes)
    names = _nonblank(table, "name")
    province = table.frame["province"].to_numpy(dtype=str)
    prefecture_code = _code_column(table, "prefecture_code", 6)
    out = pd.DataFrame(
        {
            "code": codes,
            "name": names,
            "prefecture_code": prefecture_code,
            "prefecture": np.char.add(np.char.add(province, "/"), prefecture_code),
            "type": [_china_type(n) for n in names],
            "province_code": _code_column(table, "province_code", 6),
            "province": province,
        }
    )
    for column in ("towns", "townships", "subdistricts", "other_units"):
        out[column] = _int_column(table, column)
    out["poverty_county"] = np.zeros(len(out), dtype=bool)
    out["poverty_exit_year"] = np.full(len(out), -1, dtype=np.int64)
    pop = _int_column(table, "population_2020_census", allow_blank=True)
    units = out[["towns", "townships", "subdistricts", "other_units"]].sum(axis=1).to_numpy()
    known = pop > 0
    per_unit = pd.Series(pop[known] / np.maximum(units[known], 1)).groupby(province[known]).median()
    fallback = float(np.median(pop[known] / np.maximum(units[known], 1)))
    unit_pop = pd.Series(province).map(per_unit).fillna(fallback).to_numpy(dtype=np.float64)
    imputed = np.rint(unit_pop * np.maximum(units, 1)).astype(np.int64)
    out["population"] = np.where(known, pop, imputed)
    out["population_imputed"] = ~known
    out["functional_class"] = np.full(len(out), "", dtype=object)
    out["functional_class_synthetic"] = np.ones(len(out), dtype=bool)
    return out
