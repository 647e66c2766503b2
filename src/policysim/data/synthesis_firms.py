"""The synthetic enterprise population: placement in townships, sectors, sizes, R&D and HNTE
certificates (see :mod:`policysim.data.synthesis`).

Everything here is a pure function of its inputs and of the ``numpy.random.Generator`` passed
in; the draws happen in a fixed order. All loops are over fixed small sets (sectors); none runs
over firms or townships.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from policysim.data.schema import BASE_YEAR, SECTORS
from policysim.data.synthesis_params import (
    BoolArray,
    FloatArray,
    IntArray,
    SynthesisParameters,
    SynthesisTargets,
)
from policysim.errors import DataError

__all__ = ["hnte_threshold"]

#: The synthesiser's one logger (its messages keep their name).
logger = logging.getLogger("policysim.data.synthesis")

_HIGH_TECH = np.array(
    [s in {"electronics", "new_materials", "pharma_bio", "equipment"} for s in SECTORS]
)
_KIND_CODE = {"town": 0, "township": 1, "subdistrict": 2, "other": 3}


def _place_firms(
    county_rows: IntArray,
    townships: pd.DataFrame,
    include_subdistricts: bool,
    p: SynthesisParameters,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    """Place firms in townships; returns (county_idx, township_idx), sorted by township."""
    n_counties = county_rows.size
    kind = townships["kind"].map(_KIND_CODE).to_numpy(dtype=np.int64)
    tcounty = townships["county_idx"].to_numpy(dtype=np.int64)
    base = np.array(
        [
            p.weight_town,
            p.weight_township,
            p.weight_subdistrict if include_subdistricts else 0.0,
            0.0,
        ]
    )[kind]
    # Fallbacks, documented: a county without towns/townships lets its subdistricts host firms,
    # and one with neither lets its other units host them.
    for fallback_kind in (2, 3):
        total = np.bincount(tcounty, weights=base, minlength=n_counties)
        empty = total[tcounty] <= 0
        base = np.where(empty & (kind == fallback_kind), 1.0, base)
    weight = base * np.exp(p.township_sigma * rng.standard_normal(len(townships)))
    total = np.bincount(tcounty, weights=weight, minlength=n_counties)
    homeless = np.flatnonzero((total <= 0) & (county_rows > 0))
    if homeless.size:
        raise DataError(
            "townships.csv",
            f"county index {int(homeless[0])} must host firms but has no township-level unit",
        )
    cum = np.cumsum(weight)
    ends = np.cumsum(np.bincount(tcounty, minlength=n_counties))  # townships ordered by county
    county_end = np.where(ends > 0, cum[np.maximum(ends - 1, 0)], 0.0)
    county_start = county_end - total
    firm_county = np.repeat(np.arange(n_counties, dtype=np.int64), county_rows)
    u = county_start[firm_county] + rng.random(firm_county.size) * total[firm_county]
    town = np.searchsorted(cum, u, side="right").astype(np.int64)
    # guard against round-off at the county's upper edge: clamp into its last hosting unit
    positive = weight > 0
    last_host = np.full(n_counties, -1, dtype=np.int64)
    np.maximum.at(last_host, tcounty[positive], np.flatnonzero(positive))
    first_host = np.full(n_counties, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_host, tcounty[positive], np.flatnonzero(positive))
    if firm_county.size:
        town = np.clip(town, first_host[firm_county], last_host[firm_county])
    order = np.argsort(town, kind="stable")
    return firm_county[order], town[order]


def _sectors(
    firm_county: IntArray, n_counties: int, p: SynthesisParameters, rng: np.random.Generator
) -> IntArray:
    shares = np.asarray(p.sector_shares, dtype=np.float64)
    n_sectors = shares.size
    leading = rng.choice(n_sectors - 1, size=n_counties, p=shares[:-1] / shares[:-1].sum())
    mix = np.tile(shares, (n_counties, 1))
    mix[np.arange(n_counties), leading] *= p.leading_sector_boost
    mix /= mix.sum(axis=1, keepdims=True)
    cum = np.cumsum(mix, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(firm_county.size)
    sector = np.zeros(firm_county.size, dtype=np.int64)
    for k in range(n_sectors - 1):  # loop over the 8 sectors, vectorised over firms
        sector += (u >= cum[firm_county, k]).astype(np.int64)
    return sector


def _sales(
    n: int, targets: SynthesisTargets, p: SynthesisParameters, rng: np.random.Generator
) -> FloatArray:
    """Stratified draw from a truncated Pareto (density exponent ``size_density_exponent``)."""
    a = p.size_density_exponent - 1.0
    x_min = p.above_scale_sales_cny * p.above_scale_share ** (1.0 / a)
    tail = (x_min / targets.max_sales_cny) ** a
    u = (rng.permutation(n) + rng.random(n)) / max(n, 1)
    sales: FloatArray = x_min * (1.0 - u * (1.0 - tail)) ** (-1.0 / a)
    return sales


def _select_per_group(group: IntArray, priority: FloatArray, quota: IntArray) -> BoolArray:
    """Select the ``quota[g]`` highest-priority members of each group ``g``."""
    order = np.lexsort((-priority, group))
    sorted_group = group[order]
    starts = np.searchsorted(sorted_group, np.arange(quota.size))
    rank = np.arange(group.size) - starts[sorted_group]
    chosen = np.zeros(group.size, dtype=bool)
    chosen[order] = rank < quota[sorted_group]
    return chosen


def hnte_threshold(sales_cny: FloatArray) -> FloatArray:
    """HNTE R&D/sales threshold by size band, 国科发火〔2016〕32号 (verified): 5% if sales ≤ 50 M
    CNY, 4% for 50–200 M, 3% above.

    Parameters
    ----------
    sales_cny : (n,) float array, CNY
        Latest-year sales of each firm.

    Returns
    -------
    (n,) float array
        Threshold as a fraction of sales.
    """
    out: FloatArray = np.select([sales_cny <= 5e7, sales_cny <= 2e8], [0.05, 0.04], 0.03)
    return out


@dataclass(frozen=True)
class _FirmDraws:
    """Attributes of the firm rows drawn before R&D is scaled and certificates are issued."""

    sector: IntArray
    sales: FloatArray
    above: BoolArray
    performer: BoolArray
    intensity: FloatArray
    other_ok: BoolArray
    z_3y: FloatArray
    z_prio: FloatArray
    z_cert: FloatArray
    age: IntArray
    employees_member: FloatArray
    manufacturing: BoolArray


def _draw_firms(
    firm_county: IntArray,
    n_c: int,
    propensity: FloatArray,
    targets: SynthesisTargets,
    p: SynthesisParameters,
    rng: np.random.Generator,
) -> _FirmDraws:
    """Draw the firm attributes (one representative firm per row; totals multiply by weight),
    in a fixed order of draws."""
    n_f = firm_county.size
    sector = _sectors(firm_county, n_c, p, rng)
    sales = _sales(n_f, targets, p, rng)
    above = sales >= p.above_scale_sales_cny
    sector_rd = np.asarray(p.sector_rd, dtype=np.float64)[sector]
    size_rel = (sales / p.above_scale_sales_cny) ** p.performer_size_elasticity
    prob = np.empty(n_f)
    if above.any():
        raw = sector_rd[above] * size_rel[above]
        prob[above] = p.performer_share_above * raw / raw.mean()
    if (~above).any():
        raw = sector_rd[~above]
        prob[~above] = p.performer_share_small * raw / raw.mean()
    prob = np.minimum(prob, p.performer_max_prob)
    performer = rng.random(n_f) < prob
    median_int = (
        p.intensity_median_at_20m * (sales / p.above_scale_sales_cny) ** p.intensity_size_elasticity
    )
    intensity = median_int * sector_rd * np.exp(p.intensity_sigma * rng.standard_normal(n_f))
    intensity = np.minimum(intensity * propensity[firm_county] ** 0.5, p.intensity_cap)
    other_ok_p = np.where(
        performer,
        np.where(_HIGH_TECH[sector], p.other_ok_hightech, p.other_ok_rest),
        p.other_ok_nonperformer,
    )
    other_ok = rng.random(n_f) < other_ok_p
    z_3y = rng.standard_normal(n_f)
    z_prio = rng.random(n_f)
    z_cert = rng.random(n_f)
    age = 1 + np.floor(rng.exponential(p.age_mean_years, n_f)).astype(np.int64)
    age = np.minimum(age, 60)
    employees_member = np.maximum(
        1.0, sales / (p.labour_productivity_cny * np.exp(0.4 * rng.standard_normal(n_f)))
    )
    manufacturing = (sector != SECTORS.index("other")) & ~(
        (sector == SECTORS.index("agri_food"))
        & (rng.random(n_f) >= p.agri_food_manufacturing_share)
    )
    return _FirmDraws(
        sector=sector,
        sales=sales,
        above=above,
        performer=performer,
        intensity=intensity,
        other_ok=other_ok,
        z_3y=z_3y,
        z_prio=z_prio,
        z_cert=z_cert,
        age=age,
        employees_member=employees_member,
        manufacturing=manufacturing,
    )


def _firm_rd(
    performer: BoolArray,
    draws: _FirmDraws,
    firm_county: IntArray,
    n_c: int,
    ent_target: FloatArray | None,
    targets: SynthesisTargets,
    weight_per_row: float,
    p: SynthesisParameters,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """R&D: intensity × sales for performers, scaled to the enterprise R&D target; returns
    (R&D per member firm, enterprise R&D by county, 3-year intensity)."""
    sales = draws.sales
    raw_rd = np.where(performer, draws.intensity * sales, 0.0)
    total_ent = targets.rd_cny * targets.enterprise_rd_share
    rd_member: FloatArray
    if ent_target is None:
        k = total_ent / (raw_rd.sum() * weight_per_row) if raw_rd.sum() > 0 else 0.0
        rd_member = raw_rd * k
        logger.info("firm R&D scale factor %.3f", k)
    else:
        county_raw = np.bincount(firm_county, weights=raw_rd, minlength=n_c) * weight_per_row
        k_c = np.divide(ent_target, county_raw, out=np.zeros(n_c), where=county_raw > 0)
        rd_member = raw_rd * k_c[firm_county]
    rd_ent = cast(
        FloatArray, np.bincount(firm_county, weights=rd_member, minlength=n_c) * weight_per_row
    )
    intensity_2017 = np.divide(rd_member, sales)
    intensity_3y: FloatArray = np.where(
        performer, intensity_2017 * np.exp(p.intensity_3y_sigma * draws.z_3y), 0.0
    )
    return rd_member, rd_ent, intensity_3y


@dataclass(frozen=True)
class _Certificates:
    """HNTE certificates and what issuing them fixed."""

    hnte: BoolArray
    intensity_3y: FloatArray
    other_ok: BoolArray
    cert_year: IntArray
    tech_sme: BoolArray


def _certify(
    performer: BoolArray,
    intensity_3y: FloatArray,
    draws: _FirmDraws,
    group: IntArray,
    hnte_quota: IntArray,
    p: SynthesisParameters,
) -> _Certificates:
    """Issue the HNTE certificates (``hnte_quota[g]`` in each group ``g``), their years, and
    the technology-SME flags."""
    sales, age, other_ok = draws.sales, draws.age, draws.other_ok
    threshold = hnte_threshold(sales)
    eligible = performer & other_ok & (intensity_3y >= threshold) & (age >= 1)
    ratio = np.minimum(intensity_3y / threshold, 0.999)
    priority = eligible * 2.0 + performer * 1.0 + np.where(eligible, draws.z_prio, ratio)
    hnte = _select_per_group(group, priority, hnte_quota)
    fixed = hnte & ~eligible
    if fixed.any():
        logger.warning(
            "%d HNTE firms had to be drawn from firms below the R&D threshold; their 3-year "
            "intensity was raised to the threshold",
            int(fixed.sum()),
        )
        intensity_3y = np.where(fixed, np.maximum(intensity_3y, threshold), intensity_3y)
        other_ok = other_ok | fixed
    probs = np.cumsum(np.asarray(p.cert_year_probs))
    drawn = BASE_YEAR - 2 + (draws.z_cert[:, None] >= probs[None, :-1] / probs[-1]).sum(axis=1)
    cert_year = np.where(hnte, np.maximum(drawn, BASE_YEAR + 1 - age), -1).astype(np.int64)
    sme = (draws.employees_member <= 500) & (sales <= 2e8)
    tech_sme = sme & (hnte | (performer & (intensity_3y >= 0.03)))
    return _Certificates(hnte, intensity_3y, other_ok, cert_year, tech_sme)


def _enterprise_frame(
    firm_county: IntArray,
    firm_town: IntArray,
    draws: _FirmDraws,
    rd_member: FloatArray,
    certs: _Certificates,
    weight_per_row: float,
) -> pd.DataFrame:
    """The enterprise table, one row per representative firm."""
    n_f = firm_county.size
    return pd.DataFrame(
        {
            "firm_id": np.arange(n_f, dtype=np.int64),
            "county_idx": firm_county,
            "township_idx": firm_town,
            "sector": draws.sector,
            "manufacturing": draws.manufacturing,
            "above_scale": draws.above,
            "sales_cny": draws.sales,
            "rd_cny": rd_member,
            "rd_intensity_3y": certs.intensity_3y,
            "age_years": draws.age,
            "employees": np.rint(draws.employees_member).astype(np.int64),
            "other_criteria_ok": certs.other_ok,
            "hnte": certs.hnte,
            "hnte_cert_year": certs.cert_year,
            "tech_sme": certs.tech_sme,
            "weight": np.full(n_f, weight_per_row),
        }
    )
