"""Firm sums per township and county, the firm rows kept on request, and the year's record of
the metrics. Functions of the model, bound as its methods."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from policysim.agents.enterprises import Firms
from policysim.agents.places import ABOVE_SCALE_SALES_CNY
from policysim.model.state import YearRecord

if TYPE_CHECKING:
    from policysim.model.core import PolicyModel

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def aggregate_firms(m: PolicyModel, f: Firms) -> None:
    """Township sums over firms (one pass per quantity), then county sums over townships."""
    w = m.weight
    nc, nt = m.n_counties, m.n_townships
    t = f.township

    def by_township(values: NDArray[np.generic] | None) -> FloatArray:
        return m._per_township(t, values)

    def to_county(values: FloatArray) -> FloatArray:
        out: FloatArray = np.bincount(m.t_county, weights=values, minlength=nc).astype(np.float64)
        return out

    rd_t = by_township(f.rd_reported)
    sales_t = by_township(f.sales)
    # firms by township, size and status (neither, HNTE only, tech SME only, both; below and
    # above scale): one count
    flags = np.left_shift((f.sales >= ABOVE_SCALE_SALES_CNY).view(np.uint8), 2)
    flags |= np.left_shift(f.tech_sme.view(np.uint8), 1)
    flags |= f.hnte.view(np.uint8)
    kind = t * 8
    kind += flags
    by_size = np.bincount(kind, minlength=8 * (nt + 1))[: 8 * nt].reshape(nt, 2, 4)
    # (sums of counts, exact in any order: written out, they cost less than reductions along
    # a short axis)
    below, above = by_size[:, 0, :], by_size[:, 1, :]
    by_kind = np.add(below, above).astype(np.float64)
    m.count_t = by_kind[:, 0] + by_kind[:, 1] + by_kind[:, 2] + by_kind[:, 3]
    above_t: FloatArray = (above[:, 0] + above[:, 1] + above[:, 2] + above[:, 3]).astype(
        np.float64
    ) * w
    m.hnte_t = (by_kind[:, 1] + by_kind[:, 3]) * w
    tsme_t: FloatArray = (by_kind[:, 2] + by_kind[:, 3]) * w
    m.status_t = (m.count_t - by_kind[:, 0]) * w
    m.rd_rep_county = to_county(rd_t) * w
    m.rd_real_county = m._per_county(f.county, f.rd_real) * w
    m.sales_county = to_county(sales_t)
    m.hnte_county = to_county(m.hnte_t)
    m.tsme_county = to_county(tsme_t)
    m.firms_county = to_county(m.count_t) * float(w)
    m.above_scale_county = to_county(above_t)
    won = np.flatnonzero(f.success)  # only innovating firms have patents
    m.patents_county = m._per_county(f.county[won], f.patents[won]) * w
    m.rd_int_t = np.divide(100.0 * rd_t, sales_t, out=np.zeros(nt), where=sales_t > 0)


def per_township(
    m: PolicyModel, township: IntArray, values: NDArray[np.generic] | None
) -> FloatArray:
    """Sum over the firms of each township (empty slots, township index n, left out)."""
    nt = m.n_townships
    out: FloatArray = np.bincount(township, weights=values, minlength=nt + 1)[:nt].astype(
        np.float64
    )
    return out


def per_county(m: PolicyModel, county: IntArray, values: FloatArray) -> FloatArray:
    """Sum over the firms of each county (empty slots left out)."""
    nc = m.n_counties
    out: FloatArray = np.bincount(county, weights=values, minlength=nc + 1)[:nc].astype(np.float64)
    return out


def keep_firm_rows(m: PolicyModel, f: Firms) -> None:
    live = np.flatnonzero(f.township < m.n_townships)
    m.firm_rows.append(
        {
            "year": np.full(live.size, m.year, np.int64),
            "firm_id": f.firm_id[live],
            "township_idx": f.township[live],
            "county_idx": f.county[live],
            "sector": f.sector[live],
            "sales_cny": f.sales[live],
            "rd_reported_cny": f.rd_reported[live],
            "rd_real_cny": f.rd_real[live],
            "hnte": f.hnte[live],
        }
    )


def record(m: PolicyModel, funds: FloatArray) -> None:
    if not hasattr(m, "rd_rep_county"):
        m._aggregate_firms(m.firms)
    d = m.designation
    rd_total = m.rd_rep_county + m.rd_non_enterprise
    m.records.append(
        YearRecord(
            year=m.year,
            rd_reported=rd_total.copy(),
            rd_real=(m.rd_real_county + m.rd_non_enterprise).copy(),
            rd_enterprise=m.rd_rep_county.copy(),
            gdp=m.gdp.copy(),
            hnte=m.hnte_county.copy(),
            tech_sme=m.tsme_county.copy(),
            firms=m.firms_county.copy(),
            patents=m.patents_county.copy(),
            funds=funds.copy(),
            pilot_support=m.package.copy(),
            st_spending=m.st_spending.copy(),
            management=m.management.copy(),
            index=m.index.copy(),
            provincial=(d.pilot | d.designated).copy(),
            designated=d.designated.copy(),
            national=d.national.copy(),
            platforms=m.platforms.copy(),
            commissioners=m.commissioners.copy(),
            innovative=m.innovative.copy(),
            hnte_t=m.hnte_t.copy(),
        )
    )
