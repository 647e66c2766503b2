"""Tax rules of a firm in one year: the CIT rate (15% for a certified HNTE), the R&D
super-deduction rate of its type (the largest applicable rate; 0 if it does not claim), the
B-index (after-tax cost of a yuan of R&D) and the HNTE thresholds by sales band. Pure functions
of the year's rules (:class:`policysim.agents.calendar.YearRules`) and firm arrays; the tables
of the 16 firm types are built once per set of rates."""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

from policysim.agents.calendar import YearRules

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def b_index(tau: FloatArray | float, sd: FloatArray | float) -> FloatArray:
    """After-tax cost of one yuan of R&D relative to one yuan of ordinary spending (B-index).

    ``B = (1 - tau * (1 + sd)) / (1 - tau)`` for CIT rate ``tau`` and extra deduction ``sd``.
    """
    t = np.asarray(tau, dtype=np.float64)
    return (1.0 - t * (1.0 + np.asarray(sd, dtype=np.float64))) / (1.0 - t)


def tax_table(rules: YearRules) -> tuple[FloatArray, FloatArray]:
    """CIT rate and super-deduction rate of the 16 firm types, indexed by
    ``8 * claims + 4 * hnte + 2 * tech_sme + manufacturing`` (see :func:`firm_type`); a firm that
    does not claim the super-deduction (loss-making, or not yet taking it up) has rate 0.
    (Read-only arrays, built once per set of rates.)"""
    tau, sd, _ = _tax_tables(
        rules.hnte_tax, rules.cit, rules.sd_all, rules.sd_tech_sme, rules.sd_manufacturing
    )
    return tau, sd


def b_table(rules: YearRules) -> FloatArray:
    """B-index (:func:`b_index`) of the 16 firm types of :func:`tax_table` (read-only)."""
    return _tax_tables(
        rules.hnte_tax, rules.cit, rules.sd_all, rules.sd_tech_sme, rules.sd_manufacturing
    )[2]


@functools.lru_cache(maxsize=64)
def _tax_tables(
    hnte_tax: float, cit: float, sd_all: float, sd_tech_sme: float, sd_manufacturing: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    kind = np.arange(16)
    claims = kind >= 8
    hnte, tech_sme, manufacturing = (kind // 4) % 2 == 1, (kind // 2) % 2 == 1, kind % 2 == 1
    tau = np.where(hnte, hnte_tax, cit)
    sd = np.full(16, sd_all)
    sd = np.where(tech_sme, np.maximum(sd, sd_tech_sme), sd)
    sd = np.where(manufacturing, np.maximum(sd, sd_manufacturing), sd)
    sd = np.where(claims, sd, 0.0)
    b = b_index(tau, sd)
    for table in (tau, sd, b):
        table.flags.writeable = False
    return tau, sd, b


def firm_type(
    hnte: BoolArray,
    tech_sme: BoolArray,
    manufacturing: BoolArray,
    claims: BoolArray | None = None,
    *,
    out: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """Index of each firm's type in :func:`tax_table` (``claims`` None: every firm claims).

    With ``out`` (a uint8 array shaped like the others) the index is written into it, bit by
    bit, with no temporary array."""
    if out is not None:  # ((claims * 2 + hnte) * 2 + tech_sme) * 2 + manufacturing
        if claims is None:
            out.fill(1)
        else:
            np.copyto(out, claims.view(np.uint8))
        for bit in (hnte, tech_sme, manufacturing):
            out += out  # (doubling: numpy's uint8 shift is not vectorised)
            out += bit.view(np.uint8)
        return out
    out = hnte.view(np.uint8) * np.uint8(4)
    out += tech_sme.view(np.uint8) * np.uint8(2)
    out += manufacturing.view(np.uint8)
    if claims is None:
        out += np.uint8(8)
    else:
        out += claims.view(np.uint8) * np.uint8(8)
    return out


def claims_deduction(
    claim_u: FloatArray,
    rules: YearRules,
    loss_share: float,
    *,
    out: BoolArray | None = None,
    work: BoolArray | None = None,
) -> BoolArray:
    """Firms claiming the super-deduction in the year: profitable (``claim_u >= loss_share``) and
    among the first ``takeup`` of the profitable ones in their fixed take-up order.

    With ``out`` and ``work`` (bool arrays shaped like ``claim_u``) the result is written into
    ``out`` (``work`` is scratch) and nothing is allocated."""
    top = loss_share + (1.0 - loss_share) * rules.takeup
    if out is None or work is None:
        fresh: BoolArray = (claim_u >= loss_share) & (claim_u < top)
        return fresh
    np.greater_equal(claim_u, loss_share, out=out)
    np.less(claim_u, top, out=work)
    out &= work
    return out


def firm_tax(
    rules: YearRules,
    hnte: BoolArray,
    tech_sme: BoolArray,
    manufacturing: BoolArray,
    claims: BoolArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """CIT rate and super-deduction rate applicable to each firm (the largest super-deduction
    rate among those of the firm's types applies; 0 if it does not claim)."""
    tau, sd = tax_table(rules)
    kind = firm_type(hnte, tech_sme, manufacturing, claims)
    return tau[kind], sd[kind]


def band_threshold(
    rules: YearRules,
    sales: FloatArray,
    *,
    out: FloatArray | None = None,
    band: NDArray[np.uint8] | None = None,
    work: BoolArray | None = None,
) -> FloatArray:
    """HNTE minimum 3-year R&D / sales for each firm's sales band (a firm is in the first band
    whose upper bound its sales do not exceed).

    With ``out`` (float), ``band`` (uint8) and ``work`` (bool), all shaped like ``sales``, the
    thresholds are written into ``out`` and nothing is allocated."""
    # a few bands: counting the bounds exceeded beats a binary search per firm
    if out is None or band is None or work is None:
        band = np.zeros(sales.shape, np.uint8)
        for upper in rules.band_max_sales[:-1]:
            band += (sales > upper).view(np.uint8)
        fresh: FloatArray = rules.band_min_rd[band]
        return fresh
    band.fill(0)
    for upper in rules.band_max_sales[:-1]:
        np.greater(sales, upper, out=work)
        band += work.view(np.uint8)
    rules.band_min_rd.take(band, out=out, mode="clip")  # ("raise" would copy out first)
    return out


__all__ = [
    "b_index",
    "b_table",
    "band_threshold",
    "claims_deduction",
    "firm_tax",
    "firm_type",
    "tax_table",
]
