"""Cells of a raw baseline file: reading a CSV as strings and converting its columns.

Every check raises :class:`policysim.errors.DataError` naming the file, the row (header = row 1),
the column, the bad value and the expectation. Files are read as UTF-8 text with every cell kept
as a string, then converted column by column, so that the first bad cell can be reported exactly.
"""

from __future__ import annotations

import hashlib
import io
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

from policysim.errors import DataError

__all__ = [
    "MAX_CNY",
    "MAX_COUNT",
    "MAX_FIRMS_PER_COUNTY",
    "RawTable",
    "embedded_file",
    "read_table",
]

#: Largest count in a baseline file (people, units, firms): beyond it int64 sums may overflow
#: and arrays would not fit in memory.
MAX_COUNT: Final = 10**10
#: Largest number of enterprises of one county (each is an agent of the model; Jiangxi's
#: largest counties have a few thousand R&D-relevant firms). Assumption, range 1e5-1e7.
MAX_FIRMS_PER_COUNTY: Final = 1_000_000
#: Largest amount in CNY (about 10x China's GDP): larger sums lose precision or overflow.
MAX_CNY: Final = 1e15
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


def _reject(
    table: RawTable,
    column: str,
    values: npt.NDArray[np.str_],
    bad: npt.NDArray[np.bool_],
    what: str,
) -> None:
    """Raise a one-line :class:`DataError` at the first row where ``bad`` holds, naming the
    column, the value and ``what`` (the problem and the expectation)."""
    first = _first_bad(bad)
    if first is not None:
        raise DataError(table.name, what, row=_row(first), column=column, value=str(values[first]))


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
