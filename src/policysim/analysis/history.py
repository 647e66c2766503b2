"""Observed province history for figures: which values are sourced, and one series per metric.

Two kinds of files hold observed values: the baseline's ``province_history.csv`` (the embedded
Jiangxi history up to 2017) and the observed files of the hindcast and nowcast
(``scenarios/observed/*.csv``). Both have the columns ``indicator, year, value, status, source``
(observed files may add ``code`` and ``name`` for county events, which are not province
history). A row is *sourced* when its status says the value was checked against a source
(``verified ...`` or ``documented``); ``recalled`` and ``derived`` values are not, and figures
draw them differently.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from policysim.errors import DataError

__all__ = ["HISTORY_COLUMNS", "SOURCED_STATUSES", "is_sourced", "observed_series", "read_history"]

logger = logging.getLogger(__name__)

#: Columns of an observed-history table (``sourced``: :func:`is_sourced` of ``status``).
HISTORY_COLUMNS = ("indicator", "year", "value", "status", "source", "sourced")
#: First words of a status that mean the value was checked against a source.
SOURCED_STATUSES = ("verified", "documented")


def is_sourced(status: object) -> bool:
    """True when ``status`` (e.g. ``"verified (secondary)"``) says the value was checked against a
    source; False for ``recalled``, ``derived``, empty or missing."""
    if status is None or (isinstance(status, float) and math.isnan(status)):
        return False
    return str(status).strip().lower().startswith(SOURCED_STATUSES)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "indicator": pd.Series(dtype=object),
            "year": pd.Series(dtype=np.int64),
            "value": pd.Series(dtype=np.float64),
            "status": pd.Series(dtype=object),
            "source": pd.Series(dtype=object),
            "sourced": pd.Series(dtype=bool),
        }
    )


def read_history(path: Path, metrics: Collection[str]) -> pd.DataFrame:
    """Province rows of ``metrics`` from an observed file or a ``province_history.csv``.

    Parameters
    ----------
    path : pathlib.Path
        UTF-8 CSV (a byte-order mark is accepted, as in :func:`policysim.analysis.hindcast.
        read_observed`) with at least ``indicator, year, value``; ``status`` and ``source`` are
        kept when present. Rows with a ``code`` (county events) and indicators not in
        ``metrics`` are skipped: the files also hold other series.
    metrics : collection of str
        Province metric names wanted.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`HISTORY_COLUMNS`, in file order.

    Raises
    ------
    DataError
        For an unreadable file, a missing column, or a wanted row whose year is not an integer
        or whose value is not a finite number (the message names the row; header = row 1).
    """
    try:
        raw = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(path, f"not a valid CSV file ({exc})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    for column in ("indicator", "year", "value"):
        if column not in raw.columns:
            raise DataError(path, "missing column; expected indicator, year, value", row=1)
    wanted = set(metrics)
    keep = raw["indicator"].str.strip().isin(wanted)
    if "code" in raw.columns:
        keep &= raw["code"].str.strip() == ""
    rows = []
    for index in np.flatnonzero(keep.to_numpy()):
        record = raw.iloc[int(index)]
        row = int(index) + 2
        try:
            year = int(record["year"].strip())
        except ValueError:
            raise DataError(
                path, "year is not an integer", row=row, column="year", value=record["year"]
            ) from None
        try:
            value = float(record["value"].strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(
                path, "value is not a finite number", row=row, column="value", value=record["value"]
            )
        status = str(record.get("status", "")).strip()
        rows.append(
            (
                str(record["indicator"]).strip(),
                year,
                value,
                status,
                str(record.get("source", "")).strip(),
                is_sourced(status),
            )
        )
    if not rows:
        return _empty()
    out = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return out.astype({"year": np.int64, "value": np.float64, "sourced": bool})


def observed_series(tables: Sequence[pd.DataFrame], metric: str) -> pd.DataFrame:
    """One observed value per year of ``metric``, the first table that has the year winning.

    Parameters
    ----------
    tables : sequence of pandas.DataFrame
        Observed-history tables (:func:`read_history`, or a baseline's ``history`` with columns
        ``indicator, year, value, status``), most authoritative first.
    metric : str
        Metric (indicator) name.

    Returns
    -------
    pandas.DataFrame
        Columns ``year, value, status, sourced``, sorted by year; no rows when no table has the
        metric.
    """
    parts = []
    for table in tables:
        if "indicator" not in table.columns or table.empty:
            continue
        rows = table.loc[table["indicator"].astype(str) == metric]
        if rows.empty:
            continue
        status = rows["status"] if "status" in rows.columns else pd.Series("", index=rows.index)
        parts.append(
            pd.DataFrame(
                {
                    "year": rows["year"].astype(np.int64).to_numpy(),
                    "value": pd.to_numeric(rows["value"], errors="coerce").to_numpy(dtype=float),
                    "status": status.fillna("").astype(str).to_numpy(),
                }
            )
        )
    if not parts:
        frame = pd.DataFrame(
            {
                "year": pd.Series(dtype=np.int64),
                "value": pd.Series(dtype=np.float64),
                "status": pd.Series(dtype=object),
            }
        )
    else:
        frame = pd.concat(parts, ignore_index=True).drop_duplicates(subset="year", keep="first")
        frame = frame.loc[np.isfinite(frame["value"].to_numpy(dtype=float))]
    frame = frame.sort_values("year", kind="stable").reset_index(drop=True)
    return frame.assign(sourced=[is_sourced(s) for s in frame["status"]])
