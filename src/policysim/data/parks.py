"""Science parks of the embedded Jiangxi data: national high-tech zones (国家高新区) and national
agricultural S&T parks (国家农业科技园区), each located in a county (and a township where a source
or the NBS division codes name one) with the first year it counts in the model.

``jiangxi/parks.csv`` holds only parks whose county a source gives (``status``: verified, a
secondary copy of a document, or derived from the division codes, with the reasoning in
``note``); ``jiangxi/park_facts.csv`` holds the province counts and programme facts found,
including what is left out and why. Both are UTF-8 and cite a URL per row (docs/DATA.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from policysim.data.cells import RawTable, _choice, _code_column, _nonblank, _reject, _unique
from policysim.data.readers import embedded_file, read_table

__all__ = [
    "PARKS_FILE",
    "PARK_FACTS_FILE",
    "PARK_KINDS",
    "STATUSES",
    "ParkArrays",
    "load_park_facts",
    "load_parks",
    "park_arrays",
]

PARKS_FILE: Final = "jiangxi/parks.csv"
PARK_FACTS_FILE: Final = "jiangxi/park_facts.csv"
#: Kinds of park, in the order of the model's arrays.
PARK_KINDS: Final[tuple[str, ...]] = ("national_high_tech_zone", "national_agri_science_park")
#: Status of a row: ``verified`` (the document itself), ``secondary`` (a repost or mirror of it,
#: or a news report), ``derived`` (inferred from sourced facts; the note says how).
STATUSES: Final[tuple[str, ...]] = ("verified", "secondary", "derived")
_REQUIRED: Final = (
    "park_id",
    "name",
    "kind",
    "county_code",
    "county",
    "township_code",
    "township",
    "active_from",
    "status",
    "source",
)
_FACTS_REQUIRED: Final = ("fact", "date", "value", "unit", "code", "area", "status", "source")
_YEAR_RE: Final = re.compile(r"^(19|20)\d\d$")
_URL_RE: Final = re.compile(r"https?://|NBS division codes")


def _sources(table: RawTable) -> None:
    values = _nonblank(table, "source")
    bad = np.array([not _URL_RE.search(v) for v in values], dtype=bool)
    _reject(
        table,
        "source",
        values,
        bad,
        "source without an address (expected a URL or the NBS division codes)",
    )


def parse_parks(table: RawTable) -> pd.DataFrame:
    """Check and convert the parks table (one row per park)."""
    ids = _nonblank(table, "park_id")
    _unique(table, "park_id", ids)
    _nonblank(table, "name")
    _choice(table, "kind", PARK_KINDS)
    _code_column(table, "county_code", 6)
    _nonblank(table, "county")
    t_codes = table.frame["township_code"].to_numpy(dtype=str)
    c_codes = table.frame["county_code"].to_numpy(dtype=str)
    bad_t = np.array(
        [
            bool(t) and not (re.fullmatch(r"\d{9}", t) and t.startswith(c))
            for t, c in zip(t_codes, c_codes, strict=True)
        ],
        dtype=bool,
    )
    _reject(
        table,
        "township_code",
        t_codes,
        bad_t,
        "bad township code (expected blank or 9 digits starting with the county code)",
    )
    years = table.frame["active_from"].to_numpy(dtype=str)
    bad_y = np.array([not _YEAR_RE.match(y) for y in years], dtype=bool)
    _reject(table, "active_from", years, bad_y, "not a year (expected a 4-digit year)")
    _choice(table, "status", STATUSES)
    _sources(table)
    out = table.frame.copy()
    out["active_from"] = out["active_from"].astype(np.int64)
    return out


@lru_cache(maxsize=1)
def load_parks() -> pd.DataFrame:
    """The embedded parks table (cached: do not mutate)."""
    table = read_table(embedded_file(PARKS_FILE), PARKS_FILE, _REQUIRED)
    return parse_parks(table)


@lru_cache(maxsize=1)
def load_park_facts() -> pd.DataFrame:
    """The embedded park and programme facts (cached: do not mutate)."""
    table = read_table(embedded_file(PARK_FACTS_FILE), PARK_FACTS_FILE, _FACTS_REQUIRED)
    _nonblank(table, "fact")
    _code_column(table, "code", 6)
    _choice(table, "status", STATUSES)
    _sources(table)
    return table.frame.copy()


@dataclass(frozen=True)
class ParkArrays:
    """The parks of a baseline as arrays (one element per park located in it).

    Attributes
    ----------
    kind : (n_parks,) int array
        Index into :data:`PARK_KINDS`.
    county : (n_parks,) int array
        County index in the baseline.
    township : (n_parks,) int array
        Township index: the park's township where it is known and hosts firms, else the
        county's main host township (``main_township``; -1 for a county hosting none).
    active_from : (n_parks,) int array
        First year the park counts.
    """

    kind: NDArray[np.int64]
    county: NDArray[np.int64]
    township: NDArray[np.int64]
    active_from: NDArray[np.int64]

    @property
    def n(self) -> int:
        return int(self.kind.size)


def park_arrays(
    parks: pd.DataFrame,
    county_codes: tuple[str, ...],
    township_codes: tuple[str, ...],
    hosts: NDArray[np.bool_],
    main_township: NDArray[np.int64],
) -> ParkArrays:
    """Locate the parks in a baseline: parks whose county is not in it are dropped (a user
    baseline of another province has none).

    Parameters
    ----------
    parks : DataFrame
        :func:`load_parks`.
    county_codes, township_codes : tuple of str
        The baseline's codes, in index order.
    hosts : (n_townships,) bool array
        Townships that host firms (乡镇).
    main_township : (n_counties,) int array
        Each county's host township with most firms (-1 if none).
    """
    c_index = {c: i for i, c in enumerate(county_codes)}
    t_index = {c: i for i, c in enumerate(township_codes)}
    keep = parks["county_code"].isin(list(c_index)).to_numpy()
    p = parks.loc[keep]
    county = np.array([c_index[c] for c in p["county_code"]], dtype=np.int64)
    t_named = np.array([t_index.get(c, -1) for c in p["township_code"]], dtype=np.int64)
    named_host = (t_named >= 0) & hosts[np.maximum(t_named, 0)]
    township = np.where(named_host, t_named, main_township[county]).astype(np.int64)
    kind = np.array([PARK_KINDS.index(k) for k in p["kind"]], dtype=np.int64)
    return ParkArrays(
        kind=kind,
        county=county,
        township=township,
        active_from=p["active_from"].to_numpy(dtype=np.int64),
    )
