"""Enterprise agents: state arrays and the yearly R&D, HNTE and innovation rule.

The population is a struct of arrays (:class:`Firms`). The yearly rule
:func:`enterprise_year` is a pure, element-wise function of the firm arrays, the year's tax rules,
the support each firm receives and pre-drawn uniforms; no Python loop over firms. The per-object
reference in :mod:`policysim.agents.reference` implements the same equations firm by firm.

Equations (see docs/ODD.md, submodel "Enterprise R&D"):

- growth: ``g = mu + gain * success_prev + scale * s(size) * Laplace(u_g)``,
  ``sales' = sales * max(1 + g, 0.3)``
- user cost (B-index): ``B = (1 - tau * (1 + sd)) / (1 - tau)``, tau = 15% for an HNTE else the CIT
  rate, sd = the largest super-deduction rate applicable to the firm's type and year
- own intensity (partial adjustment): ``r' = r + lambda * (r0 * (B / B0) ** eps - r)``
- real R&D: ``own + a_v * voucher + a_s * subsidy + credit_rd``; reported = real / (1 - gap)
- HNTE notch: an eligible firm whose 3-year reported intensity is within ``window`` of its band
  threshold raises reported R&D to the threshold when the tax gain exceeds the after-tax cost of
  the real part ``(1 - rho)`` (rho = relabelled share)
- certification with probability ``approval`` if the 3-year intensity meets the threshold; valid
  ``validity`` years
- innovation: ``P = 1 - exp(-zeta * 100 * real / sales * boost)``; success adds patents
- exit: ``P = rate * clip((sales / 5e7) ** -0.2, 0.5, 2) * (0.5 if HNTE)``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from policysim.agents.calendar import YearRules
from policysim.agents.random import poisson_quantile

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

TECH_SME_MAX_SALES_CNY = 2.0e8  # 科技型中小企业评价办法 (国科发政〔2017〕115号): revenue <= 2亿元
TECH_SME_MAX_EMPLOYEES = 500.0  # same source: staff <= 500
THRESHOLD_RTOL = 1e-9  # relative tolerance of comparisons with the HNTE threshold
SIZE_REFERENCE_CNY = (
    5.0e7  # assumption: sales at which growth dispersion and exit take their base value
)


@dataclass(frozen=True)
class Firms:
    """Struct of arrays, one element per living firm (shape ``(n,)`` unless stated).

    Money in CNY per year; intensities are shares of sales.
    """

    firm_id: IntArray
    county: IntArray
    township: IntArray
    sector: IntArray
    manufacturing: BoolArray
    other_ok: BoolArray  # meets the non-R&D HNTE criteria
    sales: FloatArray
    employees: FloatArray
    age: FloatArray
    r0: FloatArray  # own real intensity chosen at the base-year user cost b0
    b0: FloatArray  # base-year B-index of the firm
    own: FloatArray  # own-financed real R&D intensity (last chosen)
    gap: FloatArray  # relabelled share of reported R&D (0 <= gap < 1)
    rd_real: FloatArray
    rd_reported: FloatArray
    hist1: FloatArray  # reported intensity two years ago
    hist2: FloatArray  # reported intensity last year
    hnte: BoolArray
    hnte_expiry: IntArray  # last year of validity (-1 if never certified)
    tech_sme: BoolArray
    success: BoolArray  # innovated last year
    patents: FloatArray  # patents this year

    @property
    def n(self) -> int:
        return int(self.firm_id.shape[0])

    def take(self, index: NDArray[Any]) -> Firms:
        """Subset or reorder by an integer or boolean index."""
        return Firms(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def place(self, slots: IntArray, new: Firms, empty: Mapping[str, float]) -> Firms:
        """Write ``new`` firms into empty ``slots`` (in order); firms beyond the free slots are
        appended, with spare empty slots (values ``empty``, else 0) so that appends are rare.
        Arrays are updated in place when no append is needed."""
        k = min(slots.size, new.n)
        extra = new.n - k
        if extra == 0:
            for f in fields(self):
                getattr(self, f.name)[slots[:k]] = getattr(new, f.name)
            return self
        # room for a few more years of net entry: appends (a copy of every array) stay rare
        spare = max(extra, 2 * new.n, self.n // 16)
        out: dict[str, NDArray[Any]] = {}
        for f in fields(self):
            old = getattr(self, f.name)
            add = getattr(new, f.name)
            arr = np.empty(self.n + spare, dtype=old.dtype)
            arr[: self.n] = old
            arr[slots[:k]] = add[:k]
            arr[self.n : self.n + extra] = add[k:]
            arr[self.n + extra :] = empty.get(f.name, 0)
            out[f.name] = arr
        return Firms(**out)


@dataclass(frozen=True)
class FirmParams:
    """Behaviour parameters used by the enterprise rule (see scenario.parameters for sources)."""

    elasticity: float
    adjustment: float
    window: float
    relabel: float
    margin: float
    approval: float
    voucher_add: float
    subsidy_add: float
    zeta: float
    sales_gain: float
    patents_per_success: float
    growth_mean: float
    growth_scale: float
    exit_rate: float
    tech_sme_min_rd: float

    @staticmethod
    def from_values(v: dict[str, float]) -> FirmParams:
        return FirmParams(
            elasticity=v["rd_user_cost_elasticity"],
            adjustment=v["rd_adjustment_speed"],
            window=v["hnte_notch_window"],
            relabel=v["hnte_relabel_share"],
            margin=v["profit_margin"],
            approval=v["hnte_approval_rate"],
            voucher_add=v["voucher_additionality"],
            subsidy_add=v["subsidy_additionality"],
            zeta=v["innovation_zeta"],
            sales_gain=v["innovation_sales_gain"],
            patents_per_success=v["patents_per_success"],
            growth_mean=v["sales_growth_mean"],
            growth_scale=v["sales_growth_scale"],
            exit_rate=v["firm_exit_rate"],
            tech_sme_min_rd=v["tech_sme_min_rd_share"],
        )


@dataclass(frozen=True)
class Support:
    """Support reaching each firm in one year (CNY) and the local innovation boost (factor >= 1)."""

    voucher: FloatArray
    subsidy: FloatArray
    credit_rd: FloatArray
    boost: FloatArray


@dataclass(frozen=True)
class Draws:
    """Uniform draws in [0, 1), one per firm and purpose.

    The number of patents of a successful firm is drawn from ``success / P`` (uniform on [0, 1)
    given success), so it needs no stream of its own."""

    growth: FloatArray
    success: FloatArray
    approval: FloatArray
    exit: FloatArray


def b_index(tau: FloatArray | float, sd: FloatArray | float) -> FloatArray:
    """After-tax cost of one yuan of R&D relative to one yuan of ordinary spending (B-index).

    ``B = (1 - tau * (1 + sd)) / (1 - tau)`` for CIT rate ``tau`` and extra deduction ``sd``.
    """
    t = np.asarray(tau, dtype=np.float64)
    return (1.0 - t * (1.0 + np.asarray(sd, dtype=np.float64))) / (1.0 - t)


def tax_table(rules: YearRules) -> tuple[FloatArray, FloatArray]:
    """CIT rate and super-deduction rate of the 8 firm types, indexed by
    ``4 * hnte + 2 * tech_sme + manufacturing`` (see :func:`firm_type`)."""
    kind = np.arange(8)
    hnte, tech_sme, manufacturing = kind >= 4, (kind // 2) % 2 == 1, kind % 2 == 1
    tau = np.where(hnte, rules.hnte_tax, rules.cit)
    sd = np.full(8, rules.sd_all)
    sd = np.where(tech_sme, np.maximum(sd, rules.sd_tech_sme), sd)
    sd = np.where(manufacturing, np.maximum(sd, rules.sd_manufacturing), sd)
    return tau, sd


def firm_type(hnte: BoolArray, tech_sme: BoolArray, manufacturing: BoolArray) -> NDArray[np.uint8]:
    """Index of each firm's type in :func:`tax_table`."""
    out: NDArray[np.uint8] = hnte.view(np.uint8) * np.uint8(4)
    out += tech_sme.view(np.uint8) * np.uint8(2)
    out += manufacturing.view(np.uint8)
    return out


def firm_tax(
    rules: YearRules, hnte: BoolArray, tech_sme: BoolArray, manufacturing: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """CIT rate and super-deduction rate applicable to each firm (the largest super-deduction
    rate among those of the firm's types applies)."""
    tau, sd = tax_table(rules)
    kind = firm_type(hnte, tech_sme, manufacturing)
    return tau[kind], sd[kind]


def band_threshold(rules: YearRules, sales: FloatArray) -> FloatArray:
    """HNTE minimum 3-year R&D / sales for each firm's sales band (a firm is in the first band
    whose upper bound its sales do not exceed)."""
    # a few bands: counting the bounds exceeded beats a binary search per firm
    band = np.zeros(sales.shape, np.uint8)
    for upper in rules.band_max_sales[:-1]:
        band += (sales > upper).view(np.uint8)
    out: FloatArray = rules.band_min_rd[band]
    return out


def laplace_from_uniform(u: FloatArray) -> FloatArray:
    """Standard Laplace (scale 1) by inversion."""
    v = u - 0.5
    out: FloatArray = np.abs(v)
    out *= -2.0
    np.log1p(out, out=out)  # log(1 - 2|v|) <= 0
    np.copysign(out, v, out=out)  # = -sign(v) * log(1 - 2|v|)
    return out


START_INTENSITY_MEDIAN = 0.02  # assumption: median R&D/sales of a firm starting R&D
START_INTENSITY_SIGMA = 0.5  # assumption: log-normal dispersion of that intensity


def start_rd(
    f: Firms,
    start_rate: float,
    upgrade_rate: float,
    u_start: FloatArray,
    u_upgrade: FloatArray,
) -> Firms:
    """Firms without R&D that start it (a new own intensity ``r0``, log-normal), and R&D
    performers that come to meet the non-R&D HNTE criteria (pure, element-wise).

    The intensity of a starter is drawn from ``u_start / start_rate``, uniform on [0, 1) given
    that the firm starts."""
    starting = np.flatnonzero((f.r0 <= 0.0) & (u_start < start_rate))
    r0 = f.r0.copy()
    if starting.size:
        u_level = u_start[starting] / start_rate
        r0[starting] = np.exp(
            np.log(START_INTENSITY_MEDIAN)
            + START_INTENSITY_SIGMA * ndtri(np.clip(u_level, 1e-12, 1.0 - 1e-12))
        )
    upgraded = ~f.other_ok & (r0 > 0.0) & (u_upgrade < upgrade_rate)
    return replace(f, r0=r0, other_ok=f.other_ok | upgraded)


@dataclass(frozen=True)
class YearOutcome:
    firms: Firms  # after the year's choices, before exit
    exits: BoolArray  # firms leaving at the end of the year
    bunched: BoolArray
    certified: BoolArray


def enterprise_year(
    f: Firms, rules: YearRules, support: Support, p: FirmParams, u: Draws
) -> YearOutcome:
    """Advance every firm by one year (pure, element-wise)."""
    year = rules.year
    # growth (in place on one temporary: the rule runs on every firm every year)
    size = np.log(f.sales * (1.0 / SIZE_REFERENCE_CNY))
    size *= -0.15
    np.exp(size, out=size)  # (sales / reference) ** -0.15 (exp and log beat power)
    np.clip(size, 0.5, 2.0, out=size)
    factor = laplace_from_uniform(u.growth)
    factor *= size
    factor *= p.growth_scale
    factor += 1.0 + p.growth_mean
    factor += p.sales_gain * f.success
    np.maximum(factor, 0.3, out=factor)  # factor = max(1 + g, 0.3)
    sales = f.sales * factor
    employees = f.employees * factor
    age = f.age + 1.0
    # certificates expiring before this year are gone; those expiring this year are valid for
    # the tax of this year but due for renewal
    valid = f.hnte & (f.hnte_expiry >= year)
    lasting = f.hnte & (f.hnte_expiry > year)  # valid beyond this year: not up for renewal
    # own R&D under this year's user cost (8 firm types: a table look-up)
    b = b_index(*tax_table(rules))[firm_type(valid, f.tech_sme, f.manufacturing)]
    target = np.log(b / f.b0)
    target *= p.elasticity
    np.exp(target, out=target)
    target *= f.r0
    own = f.own + p.adjustment * (target - f.own)
    real = (
        own * sales
        + p.voucher_add * support.voucher
        + p.subsidy_add * support.subsidy
        + support.credit_rd
    )
    reported = real / (1.0 - f.gap)
    gap = f.gap
    # HNTE notch: bunching at the band threshold (decided on the few candidates only)
    theta = band_threshold(rules, sales)
    theta_low = theta * (1.0 - THRESHOLD_RTOL)
    eligible = f.other_ok & ~lasting & (age >= 1.0)
    r_now = reported / sales
    hist_sum = f.hist1 + f.hist2
    r3 = (hist_sum + r_now) / 3.0
    candidates = np.flatnonzero(eligible & (r3 < theta_low) & (r3 >= p.window * theta))
    bunched = np.zeros(f.n, dtype=bool)
    if candidates.size:
        s_c = sales[candidates]
        extra = 3.0 * (theta[candidates] - r3[candidates]) * s_c
        tax_gain = (rules.cit - rules.hnte_tax) * np.maximum(
            p.margin * s_c - rules.sd_all * real[candidates], 0.0
        ) * rules.validity_years + rules.hnte_reward
        takes = tax_gain > (1.0 - p.relabel) * extra * b[candidates]
        idx = candidates[takes]
        extra = extra[takes]
        bunched[idx] = True
        real[idx] += (1.0 - p.relabel) * extra
        reported[idx] += extra
        gap = gap.copy()
        gap[idx] = 1.0 - real[idx] / reported[idx]
        r_now[idx] = reported[idx] / sales[idx]
        r3[idx] = (hist_sum[idx] + r_now[idx]) / 3.0
    # bunchers sit exactly at the threshold: compare with a relative tolerance so that rounding
    # in sums (which depend on the order of firms) never decides a certification
    certified = eligible & (r3 >= theta_low) & (u.approval < p.approval)
    hnte = lasting | certified
    expiry = np.where(certified, year + rules.validity_years - 1, f.hnte_expiry)
    tech_sme = (
        (sales <= TECH_SME_MAX_SALES_CNY)
        & (employees <= TECH_SME_MAX_EMPLOYEES)
        & (r_now >= p.tech_sme_min_rd)
    )
    # innovation
    prob = 1.0 - np.exp(-p.zeta * 100.0 * (real / sales) * support.boost)
    success = u.success < prob
    patents = np.zeros(f.n)
    won = np.flatnonzero(success)
    patents[won] = poisson_quantile(
        p.patents_per_success, np.take(u.success, won) / np.take(prob, won)
    )
    # exit at the end of the year
    p_exit = np.log(sales * (1.0 / SIZE_REFERENCE_CNY))
    p_exit *= -0.2
    np.exp(p_exit, out=p_exit)
    np.clip(p_exit, 0.5, 2.0, out=p_exit)
    p_exit *= p.exit_rate
    np.multiply(p_exit, 0.5, out=p_exit, where=hnte)  # halved for HNTEs
    exits = u.exit < p_exit
    new = replace(
        f,
        sales=sales,
        employees=employees,
        age=age,
        own=own,
        gap=gap,
        rd_real=real,
        rd_reported=reported,
        hist1=f.hist2,
        hist2=r_now,
        hnte=hnte,
        hnte_expiry=expiry.astype(np.int64, copy=False),
        tech_sme=tech_sme,
        success=success,
        patents=patents,
    )
    return YearOutcome(firms=new, exits=exits, bunched=bunched, certified=certified)


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
    out: FloatArray = weights * np.take(group_rate(total, group, weights, n_groups), group)
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
