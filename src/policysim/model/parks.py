"""Science parks in the schedule (docs/ODD.md 7.3, 7.4): national high-tech zones and national
agricultural S&T parks of ``data/jiangxi/parks.csv``, located in counties and host townships,
each counting from its ``active_from`` year. A park brings entrants to its host township every
year (``entrants_per_high_tech_zone``, ``entrants_per_agri_park``) and counts as
``park_platform_weight`` platforms in the county evaluation's platform indicator. Functions of
the model, bound as its methods."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from policysim.agents.places import park_entry, parks_per_county
from policysim.data.parks import load_parks, park_arrays

if TYPE_CHECKING:
    from policysim.model.core import PolicyModel

FloatArray = NDArray[np.float64]


def init_parks(m: PolicyModel) -> None:
    """Locate the embedded parks in the model's baseline (none outside their counties)."""
    m.parks = park_arrays(load_parks(), m.county_codes, m.township_codes, m.t_host, m.main_township)


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
