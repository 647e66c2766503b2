"""Programmes reaching firms: a county's money shared among its firms in proportion to a
weight (vouchers, R&D subsidies, programme loans), with caps proportional to the same weight;
the local boost of innovation success (commissioners, sector clusters); admissions to the HNTE
cultivation pool (高企入库培育). Pure functions of the firm arrays and the year's plan."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from policysim.agents.calendar import YearRules
from policysim.agents.enterprises import TECH_SME_MAX_SALES_CNY, Firms, Support
from policysim.agents.tax import band_threshold
from policysim.vocabulary import I_CREDIT, I_SUBSIDIES, I_VOUCHERS

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def firm_support(
    f: Firms,
    plan: FloatArray,
    weight: float,
    *,
    n_counties: int,
    n_sectors: int,
    commissioners: FloatArray,
    caps: tuple[float, float],
    credit: tuple[float, float],
    boosts: tuple[float, float],
    admitted: BoolArray | None,
) -> Support:
    """The year's support to firms, for the R&D performers alone (``r0 > 0``: only they apply
    for vouchers and subsidies, put loans into R&D or can innovate; see :class:`Support`).

    Parameters
    ----------
    f : Firms
        Every firm slot (empty slots have county ``n_counties``: they get nothing).
    plan : (n_counties, n_instruments) float array
        The year's plan, CNY.
    weight : float
        Real firms a simulated firm stands for.
    commissioners : (n_townships,) float array
    caps : (voucher share, subsidy share)
        The largest share of the R&D it funds that a voucher or a subsidy may pay.
    credit : (leverage, R&D share)
        Loans per yuan of credit funds, and the share of a performer's loans that funds R&D.
    boosts : (per commissioner, cluster spillover)
        Innovation boost per commissioner in the township (at most +0.5) and per unit of HNTE
        density of the county's sector.
    admitted : bool array or None
        Firms admitted to the HNTE cultivation pool this year.
    """
    nc = n_counties
    perf = np.flatnonzero(f.r0 > 0.0)
    county = f.county.take(perf)
    sales = f.sales.take(perf)
    sme = sales <= TECH_SME_MAX_SALES_CNY
    own_rd = f.own.take(perf) * sales

    # each instrument is shared within the county in proportion to a weight; its caps are
    # proportional to the same weight, hence caps on the county's rate per unit of weight.
    # Firms without R&D have weight 0 for vouchers and subsidies: the sums over performers
    # are the sums over all firms.
    # vouchers: SMEs that apply, i.e. perform or start R&D, in proportion to their planned
    # own R&D; a voucher pays at most the share c_v of the R&D it funds:
    # v <= c_v / (1 - c_v) * w
    def capped_rate(instrument: int, weights: FloatArray, max_share: float) -> FloatArray:
        rate = group_rate(plan[:, instrument] / weight, county, weights, nc)
        if max_share < 1:
            np.minimum(rate, max_share / (1.0 - max_share), out=rate)
        return rate

    w_v = np.maximum(own_rd, f.r0.take(perf) * sales) * sme
    rate_v = capped_rate(I_VOUCHERS, w_v, caps[0])
    # R&D subsidies (后补助): R&D performers in proportion to their own R&D, capped
    rate_s = capped_rate(I_SUBSIDIES, own_rd, caps[1])
    # credit programmes: loans = leverage × fiscal deposit, to SMEs (all of them) by sales;
    # a share of the loans funds R&D (only R&D performers put loans into R&D)
    w_l = f.sales * (f.sales <= TECH_SME_MAX_SALES_CNY)
    rate_l = group_rate(credit[0] * plan[:, I_CREDIT] / weight, f.county, w_l, nc)
    # county rates looked up per firm (np.take: faster than fancy indexing)
    voucher = w_v * rate_v.take(county)
    subsidy = own_rd * rate_s.take(county)
    credit_rd = (sales * sme) * np.take(credit[1] * rate_l, county)
    # local boost of innovation success: commissioners in the township (factors computed per
    # township, then looked up), sector clusters (HNTE density of the county and sector)
    boost_t = np.ones(commissioners.size + 1)
    boost_t[:-1] += np.minimum(boosts[0] * commissioners, 0.5)
    cs = f.county * n_sectors + f.sector
    size = (nc + 1) * n_sectors
    # firms and HNTEs of each county and sector: one count of (sector cell, HNTE)
    by_hnte = np.bincount(2 * cs + f.hnte, minlength=2 * size).reshape(size, 2)
    count = by_hnte[:, 0] + by_hnte[:, 1]  # (a written-out sum: cheaper than along axis 1)
    density = np.divide(by_hnte[:, 1], count, out=np.zeros(size), where=count > 0)
    boost = boost_t.take(f.township.take(perf))
    boost *= np.take(1.0 + boosts[1] * density, cs.take(perf))
    return Support(
        voucher=voucher,
        subsidy=subsidy,
        credit_rd=credit_rd,
        boost=boost,
        admitted=admitted,
        performers=perf,
    )


def pool_admissions(
    f: Firms, rules: YearRules, k: int, pool_window: float, n_townships: int
) -> BoolArray | None:
    """Firms admitted to the HNTE cultivation pool: ``k`` simulated firms among the R&D
    performers within ``pool_window`` of the lowest band threshold, not certified in
    ``rules.year``, not yet in the pool and registered at least a year, those with the highest
    own intensity relative to their band threshold first (the programmes list the most
    promising candidates). None if there are no admissions."""
    if k <= 0:
        return None
    floor = pool_window * float(rules.band_min_rd.min())
    # (one mask over every firm: comparisons over whole arrays cost less than gathers of
    # the performers within reach, about 40% of the firms)
    keep = f.own >= floor
    keep &= ~f.cultivated
    keep &= f.age >= 1.0
    keep &= f.township < n_townships
    keep &= ~(f.hnte & (f.hnte_expiry >= rules.year))
    cand = np.flatnonzero(keep)
    admitted = np.zeros(f.n, bool)
    if cand.size <= k:
        admitted[cand] = True
        return admitted
    score = f.own[cand] / band_threshold(rules, f.sales[cand])
    admitted[cand[np.argpartition(-score, k - 1)[:k]]] = True
    return admitted


def share_by_group(
    total: FloatArray, group: IntArray, weights: FloatArray, n_groups: int
) -> FloatArray:
    """Split each group's ``total`` among its members in proportion to ``weights``.

    Parameters
    ----------
    total : (n_groups,) float array
        Amount per group (e.g. a county's voucher funds, CNY).
    group : (n,) int array
        Group index of each member; ``n_groups`` marks members of no group (empty slots), which
        get nothing.
    weights : (n,) float array, >= 0
        Members with weight 0 get nothing; a group whose weights sum to 0 spends nothing.

    Returns
    -------
    (n,) float array: each member's amount.
    """
    out: FloatArray = weights * group_rate(total, group, weights, n_groups).take(group)
    return out


def group_rate(
    total: FloatArray, group: IntArray, weights: FloatArray, n_groups: int
) -> FloatArray:
    """Amount per unit of weight in each group, shape ``(n_groups + 1,)`` (the last entry, for
    members of no group, is 0): :func:`share_by_group` is ``weights * rate[group]``. A cap
    proportional to the weights is a cap on the rate."""
    wsum = np.bincount(group, weights=weights, minlength=n_groups + 1)[: n_groups + 1]
    rate = np.zeros(n_groups + 1)
    np.divide(total, wsum[:n_groups], out=rate[:n_groups], where=wsum[:n_groups] > 0)
    return rate


__all__ = ["firm_support", "group_rate", "pool_admissions", "share_by_group"]
