"""Tables for spreadsheets: CSVs that Excel opens right, and ``results.xlsx``.

* CSVs are UTF-8 **with a byte-order mark** (``utf-8-sig``): Excel on Chinese Windows otherwise
  reads them as GBK and garbles the Chinese names. pandas, Python's csv module (``utf-8-sig``)
  and R's readr read them unchanged.
* Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return; OWASP "CSV injection") are prefixed with an apostrophe, in the CSVs
  and in the workbook. Numbers are never touched.
* ``results.xlsx`` is written with openpyxl (the maintained pure-Python xlsx writer): a README
  sheet describing every other sheet and its units first, then one sheet per table, header row
  frozen, columns sized to their content.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from policysim.report._atomic import atomic_output

__all__ = [
    "FORMULA_PREFIXES",
    "csv_bytes",
    "neutralise",
    "unit_table",
    "write_csv",
    "write_workbook",
]

FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")
#: Excel's limit on a sheet name.
_SHEET_NAME_MAX: Final = 31


def _safe_text(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas (and whose
    column names neither)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            out[column] = series.map(_safe_text)
        elif isinstance(series.dtype, pd.CategoricalDtype):
            out[column] = series.astype(object).map(_safe_text)
    out.columns = [str(_safe_text(str(c))) for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV text of ``frame`` (no index), neutralised, as UTF-8 with a byte-order mark."""
    return neutralise(frame).to_csv(index=False).encode("utf-8-sig")


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write :func:`csv_bytes` atomically; returns ``path``."""
    with atomic_output(Path(path)) as stream:
        stream.write(csv_bytes(frame))
    return Path(path)


def unit_table(probabilities: pd.DataFrame, units: pd.DataFrame, level: str) -> pd.DataFrame:
    """County (or township) probabilities with the unit's prefecture (and county) beside its
    code and Chinese name.

    Parameters
    ----------
    probabilities : DataFrame
        ``code, name, p_<year>...`` (:meth:`EnsembleResult.unit_probabilities`).
    units : DataFrame
        The baseline's counties (``code, prefecture_code, prefecture``) or townships
        (``code, county_code``); for townships ``counties`` must then be merged by the caller.
    level : {"county", "township"}
    """
    extra = [c for c in ("prefecture_code", "prefecture", "county_code", "county") if c in units]
    if not extra:
        return probabilities
    keyed = units[["code", *extra]].astype({"code": str}).drop_duplicates("code")
    merged = probabilities.astype({"code": str}).merge(keyed, on="code", how="left")
    front = ["code", "name", *extra]
    return merged[front + [c for c in merged.columns if c not in front]]


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return None if np.isnan(number) else number
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return _safe_text(value) if isinstance(value, str) else value


def write_workbook(
    path: Path,
    sheets: Sequence[tuple[str, pd.DataFrame, str]],
    *,
    title: str,
    notes: Sequence[str] = (),
) -> Path:
    """Write ``results.xlsx`` atomically: a README sheet, then one sheet per table.

    Parameters
    ----------
    path : pathlib.Path
        Destination (``.xlsx``).
    sheets : sequence of (str, DataFrame, str)
        Sheet name (at most 31 characters), table, and a one-line description for the README.
    title : str
        First line of the README sheet.
    notes : sequence of str
        Further README lines (units, caveats).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    readme = wb.active
    readme.title = "README"
    readme.append([title])
    readme["A1"].font = Font(bold=True, size=13)
    readme.append([])
    readme.append(["sheet", "contents"])
    for cell in readme[3]:
        cell.font = Font(bold=True)
    for name, _, description in sheets:
        readme.append([name, _safe_text(description)])
    readme.append([])
    for note in notes:
        readme.append([_safe_text(note)])
    readme.column_dimensions["A"].width = 22
    readme.column_dimensions["B"].width = 110
    for name, frame, _ in sheets:
        if len(name) > _SHEET_NAME_MAX:
            raise ValueError(f"sheet name {name!r}: expected at most {_SHEET_NAME_MAX} characters")
        ws = wb.create_sheet(name)
        shown = frame.reset_index(drop=True)
        ws.append([str(_safe_text(str(c))) for c in shown.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in shown.itertuples(index=False, name=None):
            ws.append([_cell(v) for v in row])
        ws.freeze_panes = "A2"
        for j, column in enumerate(shown.columns, start=1):
            sample = [str(column), *(str(v) for v in shown[column].head(200))]
            width = max(len(s) + sum(1 for ch in s if ord(ch) > 0x2E80) for s in sample)
            ws.column_dimensions[get_column_letter(j)].width = min(max(8, width + 2), 60)
    sink = io.BytesIO()
    wb.save(sink)
    with atomic_output(Path(path)) as stream:
        stream.write(sink.getvalue())
    return Path(path)
