"""The firms of the base year (from the baseline's enterprise columns) and firm entry: new
firms per township each year (Poisson counts), their sector from the county's mix, size, R&D
and tax type. Pure functions of the baseline, the entry rates, the places and the year's rules,
drawing from the run's key and entry stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from policysim.agents import random as crn
from policysim.agents.calendar import YearRules
from policysim.agents.enterprises import TECH_SME_MAX_SALES_CNY, Firms, criteria_factor
from policysim.agents.places import top_k
from policysim.agents.tax import b_index, band_threshold, claims_deduction, firm_tax
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


def base_year_firms(
    e: Mapping[str, Any],
    rules: YearRules,
    params: Mapping[str, float],
    *,
    key: int,
    year: int,
    weight: float,
    n_counties: int,
) -> Firms:
    """The firms of the base year from the baseline's enterprise columns (``e``:
    :func:`policysim.model.baseline_arrays`): the HNTE stock drawn among the firms within reach
    of the notch, bunchers at their threshold (at most ``hnte_relabel_share`` of it relabelled),
    each county's reported R&D kept, tax types and the fixed per-firm ranks drawn from the
    run's key."""
    p = params
    n = len(e["firm_id"])
    sales = e["sales_cny"].copy()
    theta = band_threshold(rules, sales)
    ids = e["firm_id"]
    hnte, expiry = _base_hnte_stock(e, theta, rules, p, key=key, year=year, weight=weight)
    real, reported, r3 = _bunch_at_thresholds(
        e, sales, theta, hnte, p["hnte_relabel_share"], n_counties
    )
    gap = 1.0 - np.divide(real, reported, out=np.ones(n), where=reported > 0.0)
    tech_sme = (
        (sales <= TECH_SME_MAX_SALES_CNY)
        & (e["employees"] <= 500.0)
        & (reported >= p["tech_sme_min_rd_share"] * sales)
    )
    manufacturing = e["manufacturing"]
    claim_u = crn.uniforms(key, ids, year, crn.STREAM_CLAIM)
    u_cost = crn.uniforms(key, ids, year, crn.STREAM_CRITERIA)
    claims = claims_deduction(claim_u, rules, p["loss_making_share"])
    tau, sd = firm_tax(rules, hnte, tech_sme, manufacturing, claims)
    own = real / sales
    return Firms(
        firm_id=ids.copy(),
        county=e["firm_county_idx"].copy(),
        township=e["township_idx"].copy(),
        sector=e["sector"].copy(),
        manufacturing=manufacturing.copy(),
        other_ok=e["other_criteria_ok"].copy(),
        sales=sales,
        employees=e["employees"].copy(),
        age=e["age_years"].copy(),
        r0=own.copy(),
        b0=b_index(tau, sd),
        own=own,
        gap=gap,
        rd_real=real,
        rd_reported=reported,
        hist1=r3.copy(),
        hist2=r3.copy(),
        hnte=hnte,
        hnte_expiry=expiry,
        tech_sme=tech_sme,
        success=np.zeros(n, bool),
        patents=np.zeros(n),
        claim_u=claim_u,
        criteria_cost=criteria_factor(u_cost),
        cultivated=np.zeros(n, bool),
    )


def _base_hnte_stock(
    e: Mapping[str, Any],
    theta: FloatArray,
    rules: YearRules,
    p: Mapping[str, float],
    *,
    key: int,
    year: int,
    weight: float,
) -> tuple[NDArray[np.bool_], IntArray]:
    """The HNTEs of the base year and the last year of each one's certificate (-1: none)."""
    n = len(e["firm_id"])
    ids = e["firm_id"]
    r3 = e["rd_intensity_3y"]
    other_ok = e["other_criteria_ok"]
    # HNTE stock of the base year (an uncertain parameter), drawn at random among the firms
    # meeting the other criteria for which the notch is within reach (annual intensity at
    # least the notch window); firms below their threshold hold it by bunching at it, so the
    # stock clusters just above the thresholds (Chen, Liu, Suarez Serrato & Xu 2021)
    k = round(p["hnte_stock_2017"] / weight)
    pool = other_ok & (r3 >= p["hnte_notch_window"] * theta) & (e["age_years"] >= 1.0)
    u_sel = crn.uniforms(key, ids, year, crn.STREAM_SELECT)
    if k <= int(pool.sum()):  # the usual case: a random draw from the pool
        hnte = top_k(pool, u_sel, k)
    else:
        hnte = top_k(np.ones(n, bool), other_ok * 4.0 + pool * 2.0 + u_sel, k)
    # certificate years spread over the validity window, drawn per firm identity
    u_cert = crn.uniforms(key, ids, year, crn.STREAM_CERT)
    cert_year = year - np.floor(u_cert * rules.validity_years).astype(np.int64)
    expiry = np.where(hnte, cert_year + rules.validity_years - 1, -1).astype(np.int64)
    return hnte, expiry


def _bunch_at_thresholds(
    e: Mapping[str, Any],
    sales: FloatArray,
    theta: FloatArray,
    hnte: NDArray[np.bool_],
    rho: float,
    nc: int,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Real and reported R&D and the 3-year intensity after the HNTEs below their threshold
    bunch at it.

    Bunchers report their threshold; at most the share ``rho`` of it is relabelled, the rest
    real; other performers' reported R&D is scaled so that each county's base-year total is
    kept (in a county whose other performers could not give up half their R&D, the HNTEs keep
    their reported R&D)."""
    reported = e["rd_cny"].copy()
    r3 = e["rd_intensity_3y"]
    county = e["firm_county_idx"]
    below = hnte & (np.maximum(reported / sales, r3) < theta)
    rest = ~hnte & (reported > 0.0)
    rest_c = np.bincount(county, weights=reported * rest, minlength=nc)
    added_c = np.bincount(
        county, weights=np.where(below, theta * sales - reported, 0.0), minlength=nc
    )
    ok_c = added_c <= 0.5 * rest_c
    below &= ok_c[county]
    added_c = np.where(ok_c, added_c, 0.0)
    scale_c = 1.0 - np.divide(added_c, rest_c, out=np.zeros(nc), where=rest_c > 0.0)
    reported = reported.copy()
    r3 = r3.copy()
    raised = np.where(below, theta * sales, reported)
    reported[rest] *= scale_c[county[rest]]
    r3[rest] *= scale_c[county[rest]]
    real = reported.copy()
    real[below] = np.maximum((1.0 - rho) * raised[below], reported[below])
    reported[below] = raised[below]
    r3[below] = theta[below]
    return real, reported, r3


__all__ = ["base_year_firms", "entrants"]
