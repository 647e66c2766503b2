"""Hindcast scoring: how well does the ensemble reproduce observed history?

Observed values come from a user CSV (``indicator,year,value``); each is compared with the
ensemble's distribution of the same metric in the same year (province level). Scores:

- central-interval coverage (50% and 90%, from the 25-75 and 5-95 percentiles),
- the probability integral transform (PIT), which is uniform when observations behave like draws
  from the ensemble,
- the continuous ranked probability score (CRPS) of the empirical ensemble distribution, in the
  metric's unit (lower is better), and
- the absolute percentage error of the ensemble median.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Collection
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.errors import DataError

__all__ = ["crps_ensemble", "pit_values", "read_observed", "score_hindcast"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
REQUIRED_COLUMNS = ("indicator", "year", "value")
TABLE_COLUMNS = [
    "indicator",
    "year",
    "observed",
    "median",
    "p05",
    "p25",
    "p75",
    "p95",
    "in50",
    "in90",
    "pit",
    "crps",
    "abs_pct_error",
]


def read_observed(path: Path, allowed_indicators: Collection[str], years: range) -> pd.DataFrame:
    """Read observed values for a hindcast.

    Parameters
    ----------
    path : Path
        UTF-8 CSV (a byte-order mark is accepted) with a header containing ``indicator``,
        ``year`` and ``value``; other columns (e.g. ``source``, ``unit``) are ignored.
    allowed_indicators : collection of str
        Indicator (metric) names the model produces.
    years : range
        The simulated horizon; every year must lie in it.

    Returns
    -------
    DataFrame
        Columns ``indicator`` (str), ``year`` (int), ``value`` (float, the indicator's unit), in
        file order.

    Raises
    ------
    DataError
        For an unreadable file, a missing column, an unknown indicator, a year that is not an
        integer or lies outside ``years``, a value that is not a finite number, or a repeated
        (indicator, year); the message names the row (header = row 1).
    """
    width, where, records = _read_csv(path)
    allowed = set(allowed_indicators)
    seen: dict[tuple[str, int], int] = {}
    out_ind: list[str] = []
    out_year: list[int] = []
    out_value: list[float] = []
    for offset, record in enumerate(records):
        row = offset + 2
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) < width:
            raise DataError(
                path,
                f"has {len(record)} fields; expected {width} as in the header",
                row=row,
            )
        indicator = _indicator(path, row, record[where["indicator"]], allowed)
        year = _year(path, row, record[where["year"]], years)
        value = _value(path, row, record[where["value"]])
        key = (indicator, year)
        if key in seen:
            raise DataError(
                path,
                f"duplicate of row {seen[key]} ({indicator}, {year}); expected one value per "
                "indicator and year",
                row=row,
            )
        seen[key] = row
        out_ind.append(indicator)
        out_year.append(year)
        out_value.append(value)
    logger.info("read %d observed values from %s", len(out_value), path)
    return pd.DataFrame(
        {
            "indicator": pd.Series(out_ind, dtype=object),
            "year": pd.Series(out_year, dtype=np.int64),
            "value": pd.Series(out_value, dtype=np.float64),
        }
    )


def _read_csv(path: Path) -> tuple[int, dict[str, int], list[list[str]]]:
    """The header's width, the position of each required column, and the rows after it."""
    header, rows = read_observed_rows(path)
    where = {c: header.index(c) for c in REQUIRED_COLUMNS}
    return len(header), where, rows[1:]


def read_observed_rows(
    path: Path, *, optional: str = "", note: str = ""
) -> tuple[list[str], list[list[str]]]:
    """The stripped header and every row (header first) of a UTF-8 CSV file of observations
    with the columns ``indicator, year, value`` (``optional`` names more, e.g. ``",code"``;
    ``note`` explains them), or a one-line :class:`DataError` naming the file and row."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(path, f"not a valid CSV file ({exc})") from None
    if not rows:
        expected = f"indicator,year,value[{optional}]" if optional else "indicator,year,value"
        raise DataError(path, f"the file is empty; expected a header {expected}")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DataError(
            path,
            f"missing column(s) {', '.join(missing)}; expected columns indicator, year, value"
            + (f" ({note})" if note else ""),
            row=1,
        )
    return header, rows


def _indicator(path: Path, row: int, cell: str, allowed: set[str]) -> str:
    indicator = cell.strip()
    if indicator not in allowed:
        raise DataError(
            path,
            "unknown indicator; expected one of " + ", ".join(sorted(allowed)),
            row=row,
            column="indicator",
            value=indicator,
        )
    return indicator


def _year(path: Path, row: int, cell: str, years: range) -> int:
    raw_year = cell.strip()
    try:
        year = int(raw_year)
    except ValueError:
        raise DataError(
            path, "year is not an integer", row=row, column="year", value=raw_year
        ) from None
    if year not in years:
        raise DataError(
            path,
            f"year outside the simulated horizon; expected {years.start}..{years.stop - 1}",
            row=row,
            column="year",
            value=year,
        )
    return year


def _value(path: Path, row: int, cell: str) -> float:
    raw_value = cell.strip()
    try:
        value = float(raw_value)
    except ValueError:
        raise DataError(
            path, "value is not a number", row=row, column="value", value=raw_value
        ) from None
    if not math.isfinite(value):
        raise DataError(
            path, "value is not a finite number", row=row, column="value", value=raw_value
        )
    return value


def crps_ensemble(members: npt.ArrayLike, observations: npt.ArrayLike) -> FloatArray:
    """Exact CRPS of the empirical distribution of an ensemble.

    ``CRPS(F_n, y) = E|X - y| - 0.5 E|X - X'|`` with ``X, X'`` independent draws from the
    ensemble's empirical distribution (Gneiting & Raftery 2007, eq. 21). This equals the integral
    of ``(F_n(z) - 1{z >= y})^2`` over z. ``E|X - X'|`` is computed from the sorted members as
    ``2 / n^2 * sum_i (2i - n - 1) x_(i)``, so the cost is O(n log n) per observation.

    Parameters
    ----------
    members : (n,) or (m, n) float array
        Ensemble members (last axis), in the observation's unit.
    observations : float or (m,) float array
        Observed values.

    Returns
    -------
    (m,) float array or 0-d array
        CRPS, same unit as the inputs, >= 0.

    Raises
    ------
    ValueError
        If the ensemble is empty, shapes do not match, or inputs are not finite.
    """
    x = np.asarray(members, dtype=np.float64)
    y = np.asarray(observations, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError("crps_ensemble: expected at least one ensemble member")
    if x.shape[:-1] != y.shape:
        raise ValueError(
            f"crps_ensemble: members of shape {x.shape} do not match observations of shape {y.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("crps_ensemble: members and observations must be finite")
    n = x.shape[-1]
    xs = np.sort(x, axis=-1)
    term1 = np.mean(np.abs(xs - y[..., None]), axis=-1)
    weights = 2.0 * np.arange(1, n + 1, dtype=np.float64) - n - 1.0
    spread = 2.0 / (n * n) * np.sum(weights * xs, axis=-1)
    return np.asarray(np.maximum(term1 - 0.5 * spread, 0.0), dtype=np.float64)


def pit_values(
    members: npt.ArrayLike,
    observations: npt.ArrayLike,
    rng: np.random.Generator | None = None,
) -> FloatArray:
    """Probability integral transform of observations under an ensemble.

    ``PIT = (#{x < y} + V * #{x == y}) / n``. With ``rng`` given, ``V`` is uniform on [0, 1]
    (randomised PIT, which is exactly uniform for a calibrated ensemble even with ties); without,
    ``V = 0.5`` (mid-rank, deterministic). An observation below all members gives 0, above all 1.

    Parameters
    ----------
    members : (n,) or (m, n) float array
        Ensemble members (last axis).
    observations : float or (m,) float array
        Observed values.
    rng : numpy.random.Generator, optional
        Source of the tie-breaking uniforms.

    Returns
    -------
    (m,) float array or 0-d array
        PIT values in [0, 1].
    """
    x = np.asarray(members, dtype=np.float64)
    y = np.asarray(observations, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] == 0 or x.shape[:-1] != y.shape:
        raise ValueError(
            f"pit_values: members of shape {x.shape} do not match observations of shape {y.shape}"
        )
    n = x.shape[-1]
    below = np.sum(x < y[..., None], axis=-1)
    ties = np.sum(x == y[..., None], axis=-1)
    v = rng.uniform(size=y.shape) if rng is not None else np.full(y.shape, 0.5)
    return np.asarray((below + v * ties) / n, dtype=np.float64)


def score_hindcast(
    ensemble: pd.DataFrame,
    observed: pd.DataFrame,
    *,
    level: str = "province",
    rng: np.random.Generator | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """Score an ensemble against observed values.

    Parameters
    ----------
    ensemble : DataFrame
        Long-format ensemble metrics (``replication, year, level, code, name, metric, value``);
        an observation's indicator is a metric name at ``level`` (one unit, e.g. the province).
    observed : DataFrame
        Output of :func:`read_observed`.
    level : str
        Level at which indicators are looked up.
    rng : numpy.random.Generator, optional
        For randomised PIT (see :func:`pit_values`); mid-rank PIT without it.

    Returns
    -------
    table : DataFrame
        One row per observation: ``indicator, year, observed, median, p05, p25, p75, p95,
        in50, in90, pit, crps, abs_pct_error``. Quantiles and CRPS are in the indicator's unit;
        ``in50``/``in90`` say whether the observation lies in the closed 25-75 / 5-95 percentile
        interval; ``abs_pct_error = 100 |median - observed| / |observed|`` (NaN if observed is 0).
    summary : dict
        Per indicator: ``coverage50`` and ``coverage90`` (shares), ``mape_median`` (%, mean of
        abs_pct_error ignoring NaN), ``mean_crps`` (unit of the indicator) and ``n`` (count).

    Raises
    ------
    DataError
        If an observed indicator/year has no ensemble values, or an indicator has several units.
    """
    sub = ensemble[ensemble["level"] == level]
    rows: list[dict[str, object]] = []
    for indicator, year, obs in zip(
        observed["indicator"], observed["year"], observed["value"], strict=True
    ):
        x = _cell_values(sub, indicator, year, level)
        rows.append(_score_row(indicator, year, x, obs, rng))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    return table, _summary(table)


def _cell_values(sub: pd.DataFrame, indicator: object, year: object, level: str) -> FloatArray:
    """The finite ensemble values of ``indicator`` in ``year`` (``sub``: the metrics at
    ``level``), one unit's; a :class:`DataError` if there are none or several units."""
    cell = sub[(sub["metric"] == indicator) & (sub["year"] == year)]
    if cell.empty:
        raise DataError(
            "ensemble metrics",
            f"no {level}-level values for indicator {indicator!r} in {year}; "
            "expected the ensemble to cover every observed indicator and year",
        )
    if len(cell["code"].unique()) > 1:
        raise DataError(
            "ensemble metrics",
            f"indicator {indicator!r} has several {level}-level units; expected one",
        )
    x = cell["value"].to_numpy(dtype=np.float64)
    finite: FloatArray = x[np.isfinite(x)]
    if finite.size == 0:
        raise DataError(
            "ensemble metrics", f"indicator {indicator!r} in {year} has no finite value"
        )
    return finite


def _score_row(
    indicator: object, year: int, x: FloatArray, obs: float, rng: np.random.Generator | None
) -> dict[str, object]:
    """One observation ``obs`` scored against the ensemble values ``x`` (a row of the table of
    :func:`score_hindcast`)."""
    y = float(obs)
    q05, q25, q50, q75, q95 = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "indicator": str(indicator),
        "year": int(year),
        "observed": y,
        "median": float(q50),
        "p05": float(q05),
        "p25": float(q25),
        "p75": float(q75),
        "p95": float(q95),
        "in50": bool(q25 <= y <= q75),
        "in90": bool(q05 <= y <= q95),
        "pit": float(pit_values(x, np.float64(y), rng)),
        "crps": float(crps_ensemble(x, np.float64(y))),
        "abs_pct_error": abs(float(q50) - y) / abs(y) * 100.0 if y != 0.0 else math.nan,
    }


def _summary(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per indicator of a scored table: coverages, MAPE of the median, mean CRPS, count."""
    summary: dict[str, dict[str, float]] = {}
    for indicator, group in table.groupby("indicator", sort=True):
        ape = group["abs_pct_error"].to_numpy(dtype=np.float64)
        ape = ape[np.isfinite(ape)]
        summary[str(indicator)] = {
            "coverage50": float(group["in50"].mean()),
            "coverage90": float(group["in90"].mean()),
            "mape_median": float(ape.mean()) if ape.size else math.nan,
            "mean_crps": float(group["crps"].mean()),
            "n": len(group),
        }
    return summary
