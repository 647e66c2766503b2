"""Reading and checking raw baseline files (embedded or user-supplied CSVs).

Every check raises :class:`policysim.errors.DataError` naming the file, the row (header = row 1),
the column, the bad value and the expectation. Files are read as UTF-8 text with every cell kept
as a string, then converted column by column, so that the first bad cell can be reported exactly.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.data.schema import (
    COUNTY_SYNTHETIC_COLUMNS,
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

COUNTY_ECONOMY_MONEY_COLUMNS: tuple[str, ...] = (
    "gdp_cny",
    "fiscal_expenditure_cny",
    "fiscal_st_spending_cny",
    "rd_cny",
    "rd_enterprise_cny",
)
COUNTY_ECONOMY_COUNT_COLUMNS: tuple[str, ...] = ("n_enterprises", "hnte_count")
COUNTY_ECONOMY_SHARE_COLUMNS: tuple[str, ...] = ("research_capacity", "management_capacity")

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
#: Largest count in a baseline file (people, units, firms): beyond it int64 sums may overflow
#: and arrays would not fit in memory.
MAX_COUNT: Final = 10**10
#: Largest number of enterprises of one county (each is an agent of the model; Jiangxi's
#: largest counties have a few thousand R&D-relevant firms). Assumption, range 1e5-1e7.
MAX_FIRMS_PER_COUNTY: Final = 1_000_000
#: Largest amount in CNY (about 10x China's GDP): larger sums lose precision or overflow.
MAX_CNY: Final = 1e15
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
_INT_RE = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class RawTable:
    """A CSV file read as strings.

    Attributes
    ----------
    name : str
        File name used in error messages and as the checksum key.
    frame : pandas.DataFrame
        Every cell as a stripped string (empty string for a blank cell).
    sha256 : str
        Hex digest of the file's bytes.
    """

    name: str
    frame: pd.DataFrame
    sha256: str


def embedded_file(relative: str) -> Traversable:
    """Return the packaged resource ``policysim/data/<relative>``."""
    return files("policysim.data").joinpath(relative)


def read_table(
    source: Path | Traversable, display_name: str, required: Sequence[str] = ()
) -> RawTable:
    """Read a UTF-8 CSV file with every cell as a string and check its header.

    Parameters
    ----------
    source : pathlib.Path or importlib.resources.abc.Traversable
        The file.
    display_name : str
        Name used in error messages (the path the user gave, or the package-relative name).
    required : sequence of str
        Columns that must be present.

    Raises
    ------
    DataError
        Missing file, undecodable bytes, empty file, or a missing required column.
    """
    if not source.is_file():
        raise DataError(display_name, "file not found")
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(display_name, f"not UTF-8 text (byte offset {exc.start})") from None
    if not text.strip():
        raise DataError(display_name, "file is empty (expected a header row and data rows)")
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(display_name, f"not a readable CSV file: {first}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(display_name, "file has a header but no data rows")
    for column in required:
        if column not in frame.columns:
            raise DataError(
                display_name,
                f"missing required column (header has {', '.join(frame.columns)})",
                row=1,
                column=column,
            )
    frame = frame.apply(lambda col: col.str.strip())
    return RawTable(display_name, frame, digest)


def _first_bad(mask: npt.NDArray[np.bool_]) -> int | None:
    """Return the first True position of ``mask`` or None."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _row(position: int) -> int:
    """File row number of data row ``position`` (header = row 1)."""
    return position + 2


def _int_column(
    table: RawTable, column: str, *, allow_blank: bool = False
) -> npt.NDArray[np.int64]:
    """Parse a non-negative integer column; blanks become -1 when ``allow_blank``."""
    values = table.frame[column].to_numpy(dtype=str)
    blank = values == ""
    ok = np.array([bool(_INT_RE.match(v)) for v in values]) | (blank & allow_blank)
    bad = _first_bad(~ok)
    if bad is not None:
        what = "a blank" if blank[bad] else "not an integer"
        raise DataError(
            table.name,
            f"{what} (expected a non-negative integer count)",
            row=_row(bad),
            column=column,
            value=str(values[bad]),
        )
    huge = _first_bad(~blank & (np.char.str_len(np.char.lstrip(values, "+-0")) > 10))
    if huge is None:
        out = np.full(values.shape, -1, dtype=np.int64)
        out[~blank] = values[~blank].astype(np.int64)
        huge = _first_bad(out > MAX_COUNT)
    if huge is not None:
        raise DataError(
            table.name,
            f"too large (expected a count of at most {MAX_COUNT:.0e})",
            row=_row(huge),
            column=column,
            value=str(values[huge]),
        )
    negative = _first_bad((out < 0) & ~blank)
    if negative is not None:
        raise DataError(
            table.name,
            "negative count (expected a non-negative integer)",
            row=_row(negative),
            column=column,
            value=str(values[negative]),
        )
    return out


def _float_column(
    table: RawTable, column: str, *, lower: float = 0.0, upper: float = np.inf, what: str
) -> npt.NDArray[np.float64]:
    """Parse a numeric column within ``[lower, upper]``; ``what`` describes the expectation."""
    values = table.frame[column].to_numpy(dtype=str)
    parsed = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    bad = _first_bad(~np.isfinite(parsed))
    if bad is not None:
        raise DataError(
            table.name,
            f"not a number (expected {what})",
            row=_row(bad),
            column=column,
            value=str(values[bad]),
        )
    out_of_range = _first_bad((parsed < lower) | (parsed > upper))
    if out_of_range is not None:
        below = bool(parsed[out_of_range] < lower)
        sign = "negative value" if below and lower == 0.0 else "out of range"
        raise DataError(
            table.name,
            f"{sign} (expected {what})",
            row=_row(out_of_range),
            column=column,
            value=str(values[out_of_range]),
        )
    return parsed


def _code_column(table: RawTable, column: str, digits: int) -> npt.NDArray[np.str_]:
    """Check a column of numeric codes of exactly ``digits`` digits."""
    values = table.frame[column].to_numpy(dtype=str)
    pattern = re.compile(rf"^\d{{{digits}}}$")
    bad = _first_bad(np.array([not pattern.match(v) for v in values]))
    if bad is not None:
        raise DataError(
            table.name,
            f"bad code format (expected {digits} digits)",
            row=_row(bad),
            column=column,
            value=str(values[bad]),
        )
    return values


def _unique(table: RawTable, column: str, values: npt.NDArray[np.str_]) -> None:
    dup = _first_bad(pd.Series(values).duplicated().to_numpy())
    if dup is not None:
        first = int(np.flatnonzero(values == values[dup])[0])
        raise DataError(
            table.name,
            f"duplicate code (first seen in row {_row(first)}; expected each code once)",
            row=_row(dup),
            column=column,
            value=str(values[dup]),
        )


def _choice(
    table: RawTable, column: str, allowed: Sequence[str], *, allow_blank: bool = False
) -> npt.NDArray[np.str_]:
    values = table.frame[column].to_numpy(dtype=str)
    ok = np.isin(values, list(allowed)) | ((values == "") & allow_blank)
    bad = _first_bad(~ok)
    if bad is not None:
        raise DataError(
            table.name,
            f"unknown value (expected one of {', '.join(allowed)})",
            row=_row(bad),
            column=column,
            value=str(values[bad]),
        )
    return values


def _nonblank(table: RawTable, column: str) -> npt.NDArray[np.str_]:
    values = table.frame[column].to_numpy(dtype=str)
    bad = _first_bad(values == "")
    if bad is not None:
        raise DataError(table.name, "blank cell (expected text)", row=_row(bad), column=column)
    return values


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
    pop2010 = _int_column(table, "population_2010_census", allow_blank=True)
    if "population_2020_census" in frame.columns:
        pop2020 = _int_column(table, "population_2020_census", allow_blank=True)
    else:
        pop2020 = np.full(len(out), -1, dtype=np.int64)
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


def parse_county_economy(table: RawTable, counties: pd.DataFrame) -> pd.DataFrame:
    """Check a user ``county_economy.csv`` of real county statistics.

    The file has a ``code`` column listing every county once and any subset of
    :data:`policysim.data.schema.COUNTY_SYNTHETIC_COLUMNS`; money in CNY, counts as integers,
    capacities in [0, 1].

    Returns
    -------
    pandas.DataFrame
        Indexed by county position (0..n-1, the order of ``counties``), with the columns given.
    """
    if "code" not in table.frame.columns:
        raise DataError(table.name, "missing required column", row=1, column="code")
    unknown_cols = [c for c in table.frame.columns if c != "code"]
    for column in unknown_cols:
        if column not in COUNTY_SYNTHETIC_COLUMNS:
            raise DataError(
                table.name,
                f"unknown column (expected code and any of {', '.join(COUNTY_SYNTHETIC_COLUMNS)})",
                row=1,
                column=column,
            )
    codes = _code_column(table, "code", 6)
    _unique(table, "code", codes)
    position = pd.Index(counties["code"]).get_indexer(codes)
    unknown = _first_bad(position < 0)
    if unknown is not None:
        raise DataError(
            table.name,
            "county code not found in counties.csv",
            row=_row(unknown),
            column="code",
            value=str(codes[unknown]),
        )
    if len(codes) != len(counties):
        listed = set(codes)
        missing = next(c for c in counties["code"] if c not in listed)
        raise DataError(
            table.name,
            f"county {missing} of counties.csv is missing (expected every county once)",
            column="code",
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(counties)))
    for column in unknown_cols:
        if column in COUNTY_ECONOMY_MONEY_COLUMNS:
            values: npt.NDArray[np.float64] | npt.NDArray[np.int64] = _float_column(
                table, column, what="a non-negative amount in CNY"
            )
            huge = _first_bad(values > MAX_CNY)
            if huge is not None:
                raise DataError(
                    table.name,
                    f"too large (expected an amount in CNY of at most {MAX_CNY:g})",
                    row=_row(huge),
                    column=column,
                    value=str(table.frame[column].iloc[huge]),
                )
            if column in ("gdp_cny", "fiscal_expenditure_cny"):  # shares are taken of them
                zero = _first_bad(values <= 0)
                if zero is not None:
                    raise DataError(
                        table.name,
                        "zero (expected a positive amount in CNY)",
                        row=_row(zero),
                        column=column,
                        value=str(table.frame[column].iloc[zero]),
                    )
        elif column in COUNTY_ECONOMY_COUNT_COLUMNS:
            values = _int_column(table, column)
            many = _first_bad(values > MAX_FIRMS_PER_COUNTY)
            if many is not None:
                raise DataError(
                    table.name,
                    f"too many (expected at most {MAX_FIRMS_PER_COUNTY:,} per county)",
                    row=_row(many),
                    column=column,
                    value=str(table.frame[column].iloc[many]),
                )
        else:
            values = _float_column(table, column, upper=1.0, what="a share between 0 and 1")
        series = np.empty(len(counties), dtype=values.dtype)
        series[position] = values
        out[column] = series
    if {"rd_cny", "rd_enterprise_cny"} <= set(out.columns):
        over = _first_bad(out["rd_enterprise_cny"].to_numpy() > out["rd_cny"].to_numpy())
        if over is not None:
            row = int(np.flatnonzero(position == over)[0])
            raise DataError(
                table.name,
                "rd_enterprise_cny exceeds rd_cny (expected enterprise R&D ≤ all R&D)",
                row=_row(row),
                column="rd_enterprise_cny",
                value=table.frame["rd_enterprise_cny"].iloc[row],
            )
    for money in ("rd_enterprise_cny", "rd_cny"):
        if {money, "n_enterprises"} <= set(out.columns):
            firmless = _first_bad(
                (out[money].to_numpy() > 0) & (out["n_enterprises"].to_numpy() == 0)
            )
            if firmless is not None:
                row = int(np.flatnonzero(position == firmless)[0])
                raise DataError(
                    table.name,
                    f"n_enterprises is 0 but {money} is positive (expected firms to carry "
                    "enterprise R&D)",
                    row=_row(row),
                    column="n_enterprises",
                    value=table.frame["n_enterprises"].iloc[row],
                )
    if {"hnte_count", "n_enterprises"} <= set(out.columns):
        over = _first_bad(out["hnte_count"].to_numpy() > out["n_enterprises"].to_numpy())
        if over is not None:
            row = int(np.flatnonzero(position == over)[0])
            raise DataError(
                table.name,
                "hnte_count exceeds n_enterprises (expected HNTEs ≤ enterprises)",
                row=_row(row),
                column="hnte_count",
                value=table.frame["hnte_count"].iloc[row],
            )
    return out


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
