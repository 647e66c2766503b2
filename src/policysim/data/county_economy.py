"""A user's ``county_economy.csv`` of real county statistics, checked against the counties
(see :mod:`policysim.data.readers`).

Every check raises :class:`policysim.errors.DataError` naming the file, the row (header = row 1),
the column, the bad value and the expectation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.data.cells import (
    MAX_CNY,
    MAX_FIRMS_PER_COUNTY,
    RawTable,
    _code_column,
    _first_bad,
    _float_column,
    _int_column,
    _row,
    _unique,
)
from policysim.data.schema import COUNTY_SYNTHETIC_COLUMNS
from policysim.errors import DataError

__all__ = [
    "COUNTY_ECONOMY_COUNT_COLUMNS",
    "COUNTY_ECONOMY_MONEY_COLUMNS",
    "COUNTY_ECONOMY_SHARE_COLUMNS",
    "parse_county_economy",
]

COUNTY_ECONOMY_MONEY_COLUMNS: tuple[str, ...] = (
    "gdp_cny",
    "fiscal_expenditure_cny",
    "fiscal_st_spending_cny",
    "rd_cny",
    "rd_enterprise_cny",
)
COUNTY_ECONOMY_COUNT_COLUMNS: tuple[str, ...] = ("n_enterprises", "hnte_count")
COUNTY_ECONOMY_SHARE_COLUMNS: tuple[str, ...] = ("research_capacity", "management_capacity")


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
    position = _economy_positions(table, counties)
    out = pd.DataFrame(index=pd.RangeIndex(len(counties)))
    for column in table.frame.columns:
        if column == "code":
            continue
        values = _economy_values(table, column)
        series = np.empty(len(counties), dtype=values.dtype)
        series[position] = values
        out[column] = series
    _check_economy_consistency(table, out, position)
    return out


def _economy_positions(table: RawTable, counties: pd.DataFrame) -> npt.NDArray[np.intp]:
    """Check the header and the county codes; return each row's county position."""
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
    position: npt.NDArray[np.intp] = pd.Index(counties["code"]).get_indexer(codes)
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
    return position


def _economy_values(
    table: RawTable, column: str
) -> npt.NDArray[np.float64] | npt.NDArray[np.int64]:
    """One checked column of the file: money, a count or a share."""
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
    return values


def _check_economy_consistency(
    table: RawTable, out: pd.DataFrame, position: npt.NDArray[np.intp]
) -> None:
    """Enterprise R&D within all R&D, firms where there is enterprise R&D, HNTEs within firms."""
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
