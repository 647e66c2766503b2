"""Science parks in the schedule (docs/ODD.md 7.3, 7.4): national high-tech zones and national
agricultural S&T parks of ``data/jiangxi/parks.csv``, located in counties and host townships,
each counting from its ``active_from`` year. A park brings entrants to its host township every
year (``entrants_per_high_tech_zone``, ``entrants_per_agri_park``) and counts as
``park_platform_weight`` platforms in the county evaluation's platform indicator. Functions of
the model, bound as its methods."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from policysim.agents.places import park_entry, parks_per_county
from policysim.data.parks import ParkArrays, load_parks, park_arrays

if TYPE_CHECKING:
    from policysim.model.core import PolicyModel

FloatArray = NDArray[np.float64]


def init_parks(m: PolicyModel) -> None:
    """Locate the embedded parks in the model's baseline (none outside their counties); the
    same places for every run of a baseline (located once: about 1.5 ms a run otherwise)."""
    m.parks = _located(
        tuple(m.county_codes),
        tuple(m.township_codes),
        m.t_host.astype(bool).tobytes(),
        m.main_township.astype(np.int64).tobytes(),
    )


@functools.lru_cache(maxsize=16)
def _located(
    county_codes: tuple[str, ...], township_codes: tuple[str, ...], hosts: bytes, main: bytes
) -> ParkArrays:
    """:func:`park_arrays` of a baseline, cached (read-only arrays, shared by the runs)."""
    parks = park_arrays(
        load_parks(),
        county_codes,
        township_codes,
        np.frombuffer(hosts, dtype=bool),
        np.frombuffer(main, dtype=np.int64),
    )
    for a in (parks.kind, parks.county, parks.township, parks.active_from):
        a.flags.writeable = False
    return parks


def park_entrants(m: PolicyModel, year: int) -> FloatArray:
    """Expected new firms a year per township brought by the parks active in ``year``."""
    p = m.bp
    per_kind = np.array([p.entrants_per_high_tech_zone, p.entrants_per_agri_park])
    return park_entry(
        m.parks.township,
        m.parks.kind,
        m.parks.active_from <= year,
        per_kind,
        m.n_townships,
    )


def park_platforms(m: PolicyModel, year: int) -> FloatArray:
    """Platform equivalents of the parks active in ``year``, per county (the evaluation's
    platform indicator)."""
    active = m.parks.active_from <= year
    return m.bp.park_platform_weight * parks_per_county(m.parks.county, active, m.n_counties)
