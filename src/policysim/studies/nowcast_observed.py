"""The observed file of a nowcast: province series (the hindcast indicators) and events (a
named county became a pilot or national innovative county, a batch had a given size), checked
against the scenario (:func:`read_nowcast_observed`, :func:`check_through`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from policysim.analysis.hindcast import read_observed_rows
from policysim.errors import DataError, ScenarioError
from policysim.metrics import hindcast_indicators
from policysim.scenario.schema import Scenario
from policysim.simulation import baseline_for

__all__ = [
    "COUNT_INDICATORS",
    "EVENT_INDICATORS",
    "EVENT_ORDER",
    "SERIES_INDICATORS",
    "EventMode",
    "NowcastObservations",
    "check_through",
    "read_nowcast_observed",
]


EventMode = Literal["force", "filter"]


#: Province series an observed file may name (the hindcast indicators).
SERIES_INDICATORS: Final = hindcast_indicators()


#: Events an observed file may name: ``pilot_county`` / ``national_county`` (column ``code``: the
#: county became a provincial pilot / a national innovative county in ``year``; value 1) and
#: ``county_batch_size`` / ``national_batch_size`` (the number of counties of the year's provincial
#: batch / of Jiangxi's counties in the year's national batch).
EVENT_INDICATORS: Final = (
    "pilot_county",
    "national_county",
    "county_batch_size",
    "national_batch_size",
)


#: Order in which a year's events are applied: batch sizes (checked on the runs' own outcomes)
#: before named counties (which may be forced).
EVENT_ORDER: Final = ("county_batch_size", "national_batch_size", "pilot_county", "national_county")


#: Indicators that count units (integers): their observation error has a floor of half a unit.
COUNT_INDICATORS: Final = frozenset(
    {
        "hnte_count",
        "provincial_innovative_counties",
        "national_innovative_counties",
        "innovative_townships",
    }
)


@dataclass(frozen=True)
class NowcastObservations:
    """An observed file for a nowcast.

    Attributes
    ----------
    series : DataFrame
        ``indicator, year, value, row`` (province series, the indicator's unit).
    events : DataFrame
        ``indicator, year, code, name, value, row`` (``code``/``name`` empty for batch sizes).
    path : Path
    """

    series: pd.DataFrame
    events: pd.DataFrame
    path: Path

    def years(self) -> list[int]:
        """Years with at least one observation or event, sorted."""
        return sorted({*map(int, self.series["year"]), *map(int, self.events["year"])})

    def last_year(self) -> int:
        return max(self.years())


def read_nowcast_observed(path: Path, scenario: Scenario) -> NowcastObservations:
    """Read and check an observed file for ``scenario``.

    Parameters
    ----------
    path : Path
        UTF-8 CSV with columns ``indicator, year, value`` and, for county events, ``code`` (other
        columns such as ``status`` and ``source`` are kept in the file, ignored here).
    scenario : Scenario
        Fixes the horizon and the counties (its baseline).

    Returns
    -------
    NowcastObservations

    Raises
    ------
    DataError
        Unreadable file, missing column, unknown indicator, year outside the horizon (events:
        after the base year), bad value, unknown county or a repeated observation; the message
        names the file and row (header = row 1).
    """
    path = Path(path)
    header, rows = _csv_rows(path)
    col = {c: header.index(c) for c in header}
    baseline = baseline_for(scenario)
    names = dict(
        zip(
            baseline.counties["code"].astype(str),
            baseline.counties["name"].astype(str),
            strict=True,
        )
    )
    series: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    seen: dict[tuple[str, int, str], int] = {}
    for offset, record in enumerate(rows[1:]):
        row = offset + 2
        if not record or all(not c.strip() for c in record):
            continue
        if len(record) < len(header):
            raise DataError(
                path, f"has {len(record)} fields; expected {len(header)} as in the header", row=row
            )
        indicator, year, value, code = _parse_row(path, row, record, col, names, scenario)
        key = (indicator, year, code)
        if key in seen:
            raise DataError(
                path,
                f"repeats row {seen[key]} ({indicator}, {year}{', ' + code if code else ''})",
                row=row,
            )
        seen[key] = row
        if indicator in EVENT_INDICATORS:
            events.append(
                {
                    "indicator": indicator,
                    "year": year,
                    "code": code,
                    "name": names.get(code, ""),
                    "value": value,
                    "row": row,
                }
            )
        else:
            series.append({"indicator": indicator, "year": year, "value": value, "row": row})
    if not series and not events:
        raise DataError(path, "no observations; expected at least one indicator,year,value row")
    s = pd.DataFrame(series, columns=["indicator", "year", "value", "row"])
    e = pd.DataFrame(events, columns=["indicator", "year", "code", "name", "value", "row"])
    return NowcastObservations(
        series=s.astype({"year": np.int64, "value": np.float64, "row": np.int64}),
        events=e.astype({"year": np.int64, "value": np.float64, "row": np.int64}),
        path=path,
    )


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header (stripped) and every row of a UTF-8 CSV file with the observed columns."""
    return read_observed_rows(path, optional=",code", note="and code for county events")


def _parse_row(
    path: Path,
    row: int,
    record: list[str],
    col: dict[str, int],
    names: dict[str, str],
    scenario: Scenario,
) -> tuple[str, int, float, str]:
    """``indicator, year, value, code`` of one row, checked (the message names the row)."""
    base, end = scenario.horizon.base_year, scenario.horizon.end_year
    allowed = (*SERIES_INDICATORS, *EVENT_INDICATORS)
    indicator = record[col["indicator"]].strip()
    if indicator not in allowed:
        raise DataError(
            path,
            "unknown indicator; expected one of " + ", ".join(allowed),
            row=row,
            column="indicator",
            value=indicator,
        )
    event = indicator in EVENT_INDICATORS
    text = record[col["year"]].strip()
    try:
        year = int(text)
    except ValueError:
        raise DataError(path, "not an integer year", row=row, column="year", value=text) from None
    first = base + 1 if event else base
    if not first <= year <= end:
        raise DataError(
            path,
            f"year outside the horizon; expected {first}-{end}"
            + (" (an event happens after the base year)" if event else ""),
            row=row,
            column="year",
            value=year,
        )
    text = record[col["value"]].strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(path, "not a finite number", row=row, column="value", value=text)
    code = record[col["code"]].strip() if "code" in col else ""
    _check_value(path, row, indicator, value, text, code, names, scenario)
    return indicator, year, value, code


def _check_value(
    path: Path,
    row: int,
    indicator: str,
    value: float,
    text: str,
    code: str,
    names: dict[str, str],
    scenario: Scenario,
) -> None:
    """A county event is 1 and names a county of the baseline; a batch size is a whole number
    >= 0; a series value is >= 0 and names no county."""
    county_event = indicator in ("pilot_county", "national_county")
    if county_event:
        if value != 1.0:
            raise DataError(
                path,
                "a county event has value 1 (the county became one that year)",
                row=row,
                column="value",
                value=text,
            )
        if code not in names:
            raise DataError(
                path,
                f"unknown county code; expected one of the {len(names)} codes of the "
                f"scenario's baseline ({scenario.baseline.source})",
                row=row,
                column="code",
                value=code,
            )
    elif indicator in EVENT_INDICATORS:
        if value < 0 or value != round(value):
            raise DataError(
                path, "a batch size is a whole number >= 0", row=row, column="value", value=text
            )
    elif value < 0:
        raise DataError(path, "expected a value >= 0", row=row, column="value", value=text)
    if code and not county_event:
        raise DataError(
            path,
            "only pilot_county and national_county rows name a county; expected an empty code",
            row=row,
            column="code",
            value=code,
        )


def check_through(through: int | None, observed: NowcastObservations, scenario: Scenario) -> int:
    """The last year of information: ``through`` (checked) or the file's last year.

    Raises
    ------
    ScenarioError
        ``through`` outside the horizon (base year .. end year - 1: something must be left to
        project).
    """
    base, end = scenario.horizon.base_year, scenario.horizon.end_year
    if through is None:
        return min(observed.last_year(), end)
    if not base <= through < end:
        raise ScenarioError(
            None,
            "outside the horizon",
            key_path="--through",
            value=through,
            expected=f"a year from {base} to {end - 1} (the scenario's base year to one year "
            "before its end year)",
        )
    return int(through)
