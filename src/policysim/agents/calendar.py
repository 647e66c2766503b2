"""The policy calendar of a scenario, resolved year by year into plain numbers.

Resolving once per run keeps the yearly step free of schema look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from policysim.scenario.schema import PolicyCalendar

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class YearRules:
    """Tax and HNTE rules in force in one year.

    Attributes
    ----------
    cit : float
        Standard corporate income tax rate (share).
    hnte_tax : float
        Corporate income tax rate of a certified HNTE (share).
    sd_all, sd_tech_sme, sd_manufacturing : float
        Extra super-deduction rate for all eligible firms, tech SMEs and manufacturers (the
        largest applicable rate applies to a firm).
    band_max_sales : (n_bands,) float array, CNY
        Upper sales bound of each HNTE band (the last is +inf).
    band_min_rd : (n_bands,) float array, share
        Minimum 3-year R&D / sales of each band.
    validity_years : int
        Validity of an HNTE certificate.
    hnte_reward : float, CNY
        One-off reward paid to a newly certified HNTE.
    cultivation : float, share
        Share of the cost of meeting the non-R&D HNTE criteria borne by cultivation programmes.
    cultivation_pool : float, count
        Firms admitted to the HNTE cultivation pool in the year (province-wide).
    takeup : float, share
        Share of eligible profitable firms claiming the super-deduction.
    coverage : float, share or NaN
        Share of above-scale firms performing R&D that the province's push reaches (NaN: none).
    """

    year: int
    cit: float
    hnte_tax: float
    sd_all: float
    sd_tech_sme: float
    sd_manufacturing: float
    band_max_sales: FloatArray
    band_min_rd: FloatArray
    validity_years: int
    hnte_reward: float = 0.0
    cultivation: float = 0.0
    cultivation_pool: float = 0.0
    takeup: float = 1.0
    coverage: float = float("nan")


def _super_deduction(policy: PolicyCalendar, year: int, firms: str) -> float:
    rate = 0.0
    for rule in policy.super_deduction:
        if rule.firms != firms:
            continue
        if rule.from_year <= year and (rule.to_year is None or year <= rule.to_year):
            rate = max(rate, rule.rate)
    return rate


def resolve_year(policy: PolicyCalendar, year: int) -> YearRules:
    """Resolve the calendar for ``year``: latest dated values, applicable super-deductions."""
    regime = policy.hnte.regime(year)
    max_sales = np.array(
        [b.max_sales_cny if b.max_sales_cny is not None else np.inf for b in regime.bands]
    )
    min_rd = np.array([b.min_rd_share for b in regime.bands])
    sd_all = _super_deduction(policy, year, "all")
    return YearRules(
        year=year,
        cit=policy.cit_rate.at(year),
        hnte_tax=policy.hnte.tax_rate.at(year),
        sd_all=sd_all,
        sd_tech_sme=max(sd_all, _super_deduction(policy, year, "tech_sme")),
        sd_manufacturing=max(sd_all, _super_deduction(policy, year, "manufacturing")),
        band_max_sales=max_sales,
        band_min_rd=min_rd,
        validity_years=policy.hnte.validity_years,
        hnte_reward=(
            0.0
            if policy.hnte.certification_reward_cny is None
            else policy.hnte.certification_reward_cny.at(year)
        ),
        cultivation=(
            0.0
            if policy.hnte.cultivation_cost_share is None
            else policy.hnte.cultivation_cost_share.at(year)
        ),
        cultivation_pool=(
            0.0
            if policy.hnte.cultivation_pool_firms is None
            else policy.hnte.cultivation_pool_firms.at(year)
        ),
        takeup=(
            1.0 if policy.super_deduction_takeup is None else policy.super_deduction_takeup.at(year)
        ),
        coverage=(
            float("nan")
            if policy.rd_coverage_above_scale is None
            else policy.rd_coverage_above_scale.at(year)
        ),
    )
