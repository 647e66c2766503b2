"""Firm entry: new firms per township each year (Poisson counts), their sector from the
county's mix, size, R&D and tax type. A pure function of the entry rates, the places and the
year's rules, drawing from the run's entry stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from policysim.agents.calendar import YearRules
from policysim.agents.enterprises import Firms, criteria_factor
from policysim.agents.tax import b_index, claims_deduction, firm_tax
from policysim.data import SECTORS

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

ENTRANT_MEDIAN_SALES_CNY = 5e6  # assumption: median sales of an entrant (log-normal, sigma 1)
ENTRANT_MEDIAN_RD_SHARE = 0.03  # assumption: median R&D/sales of an entrant performing R&D
ENTRANT_CRITERIA_SHARE = 0.3  # assumption: share of entrants meeting the non-R&D HNTE criteria
SALES_PER_EMPLOYEE_CNY = 5e5  # assumption: 50万元 of sales per employee


def entrants(
    rng: np.random.Generator,
    lam: FloatArray,
    t_county: IntArray,
    sector_flat: NDArray[Any],
    n_sectors: int,
    rules: YearRules,
    params: Mapping[str, float],
    first_id: int,
) -> Firms:
    """New firms of the year.

    Parameters
    ----------
    rng : numpy.random.Generator
        The run's entry stream (its own stream: a change in the number of entrants shifts no
        other draws).
    lam : (n_townships,) float array
        Expected number of simulated entrants per township.
    t_county : (n_townships,) int array
        County of each township.
    sector_flat : (n_counties * n_sectors,) float array
        Each county's cumulative sector shares offset by the county index (one binary search
        over all counties draws the sectors).
    n_sectors : int
    rules : YearRules
        The tax rules of the entry year (the entrants' base-year user cost).
    params : mapping
        Behaviour parameters (``entrant_rd_share``, ``tech_sme_min_rd_share``,
        ``loss_making_share``).
    first_id : int
        Identity of the first entrant; the others follow.
    """
    p = params
    counts = rng.poisson(lam)
    n = int(counts.sum())
    township = np.repeat(np.arange(lam.size), counts)
    county = t_county[township]
    u = rng.random((5, n))
    # inverse CDF of the county's sector mix: the number of its cumulative shares below u
    sector = np.searchsorted(sector_flat, county + u[0]) - county * n_sectors
    sector = np.minimum(sector, n_sectors - 1).astype(np.int64)
    sales = np.exp(np.log(ENTRANT_MEDIAN_SALES_CNY) + 1.0 * rng.standard_normal(n))
    performer = u[1] < p["entrant_rd_share"]
    r0 = np.where(
        performer, np.exp(np.log(ENTRANT_MEDIAN_RD_SHARE) + 0.5 * rng.standard_normal(n)), 0.0
    )
    # every sector but "other" is manufacturing (agri_food: food processing)
    manufacturing = sector != SECTORS.index("other")
    hnte = np.zeros(n, bool)
    tech_sme = r0 >= p["tech_sme_min_rd_share"]
    claims = claims_deduction(u[3], rules, p["loss_making_share"])
    tau, sd = firm_tax(rules, hnte, tech_sme, manufacturing, claims)
    return Firms(
        firm_id=np.arange(first_id, first_id + n, dtype=np.int64),
        county=county,
        township=township.astype(np.int64),
        sector=sector,
        manufacturing=manufacturing,
        other_ok=u[2] < ENTRANT_CRITERIA_SHARE,
        sales=sales,
        employees=np.maximum(sales / SALES_PER_EMPLOYEE_CNY, 1.0),
        age=np.zeros(n),
        r0=r0,
        b0=b_index(tau, sd),
        own=r0.copy(),
        gap=np.zeros(n),
        rd_real=r0 * sales,
        rd_reported=r0 * sales,
        # a firm registered less than 3 years counts the years since registration
        hist1=r0.copy(),
        hist2=r0.copy(),
        hnte=hnte,
        hnte_expiry=np.full(n, -1, np.int64),
        tech_sme=tech_sme,
        success=np.zeros(n, bool),
        patents=np.zeros(n),
        claim_u=u[3],
        criteria_cost=criteria_factor(u[4]),
        cultivated=np.zeros(n, bool),
    )


__all__ = ["entrants"]
