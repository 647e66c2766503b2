"""Per-object reference implementation of the enterprise rule (plain ``mesa.Agent`` objects).

It exists for tests and benchmarks: it restates :func:`policysim.agents.enterprises.
enterprise_year` one firm at a time with Python scalars, so that a test can show the vectorised
rule computes the same thing, and a benchmark can measure what vectorising buys. It is not used by
the model's yearly step.

:func:`enterprise_year_allocating` is the vectorised rule as it was before it wrote into reused
work buffers (a fresh array for every intermediate): the reference that the buffered rule must
equal bit for bit, and the "allocation per call" column of ``benchmarks/bench_rule.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import mesa
import numpy as np
from numpy.typing import NDArray

from policysim.agents.calendar import YearRules
from policysim.agents.enterprises import (
    SIZE_REFERENCE_CNY,
    TECH_SME_MAX_EMPLOYEES,
    TECH_SME_MAX_SALES_CNY,
    THRESHOLD_RTOL,
    Draws,
    FirmParams,
    Firms,
    FloatArray,
    IntArray,
    Support,
    YearOutcome,
    laplace_from_uniform,
)
from policysim.agents.random import poisson_quantile
from policysim.agents.tax import b_table, band_threshold, claims_deduction, firm_type, tax_table


class FirmAgent(mesa.Agent):  # type: ignore[misc]
    """One enterprise with scalar attributes named like the fields of :class:`Firms`."""

    def __init__(self, model: mesa.Model, values: dict[str, object]) -> None:
        super().__init__(model)
        self.values = values

    def year(
        self,
        rules: YearRules,
        voucher: float,
        subsidy: float,
        credit_rd: float,
        boost: float,
        p: FirmParams,
        u: dict[str, float],
        admitted: bool = False,
    ) -> dict[str, object]:
        """Apply one year of the enterprise rule to this firm; returns its new values and the
        flags exits, bunched and certified."""
        v = self.values
        year = rules.year
        sales0 = float(v["sales"])  # type: ignore[arg-type]
        factor = _growth_factor(sales0, bool(v["success"]), p, u["growth"])
        sales = sales0 * factor
        employees = float(v["employees"]) * factor  # type: ignore[arg-type]
        age = float(v["age"]) + 1.0  # type: ignore[arg-type]
        expiry0 = int(v["hnte_expiry"])  # type: ignore[call-overload]
        valid = bool(v["hnte"]) and expiry0 >= year
        lasting = bool(v["hnte"]) and expiry0 > year
        claim_u = float(v["claim_u"])  # type: ignore[arg-type]
        profitable = claim_u >= p.loss_share
        claims = profitable and claim_u < p.loss_share + (1.0 - p.loss_share) * rules.takeup
        sd, b = _user_cost(v, rules, valid=valid, claims=claims)
        target = float(v["r0"]) * math.exp(p.elasticity * math.log(b / float(v["b0"])))  # type: ignore[arg-type]
        own = float(v["own"]) + p.adjustment * (target - float(v["own"]))  # type: ignore[arg-type]
        real = own * sales + p.voucher_add * voucher + p.subsidy_add * subsidy + credit_rd
        theta = _band_threshold(rules, sales)
        firm = _Firm(rules, p, sales, sd, b, real, profitable, expiry0, theta)
        cultivated = bool(v["cultivated"]) or admitted
        rho = p.pool_relabel if cultivated else p.relabel
        window = p.pool_window if cultivated else p.window
        other_ok = bool(v["other_ok"]) or _takes_up_criteria(
            firm, v, u["upgrade"], age=age, cultivated=cultivated, rho=rho, window=window
        )
        h1, h2 = float(v["hist1"]), float(v["hist2"])  # type: ignore[arg-type]
        hsum = h1 + h2
        if cultivated:  # special audit: past two years restated, at most to the threshold
            hsum = max(min(hsum / (1.0 - p.pool_relabel), 2.0 * theta), hsum)
        report = _Report(reported=real, real=real, gap=0.0, r_now=real / sales, bunched=False)
        if other_ok and age >= 1.0 and report.r_now >= window * theta:
            report = _bunch(firm, report, hsum=hsum, lasting=lasting, rho=rho)
        r_now, real = report.r_now, report.real
        applying = other_ok and not lasting and age >= 1.0
        certified = applying and _certified(firm, (hsum + r_now) / 3.0, u["approval"], valid=valid)
        hnte = lasting or certified
        expiry = year + rules.validity_years - 1 if certified else expiry0
        tech_sme = _tech_sme(sales, employees, r_now, p)
        prob = 1.0 - math.exp(-p.zeta * 100.0 * (real / sales) * boost)
        success = u["success"] < prob
        patents = _patents(u["success"], prob, p.patents_per_success) if success else 0.0
        new = dict(v)
        new.update(
            sales=sales,
            employees=employees,
            age=age,
            own=own,
            gap=report.gap,
            rd_real=real,
            rd_reported=report.reported,
            hist1=h2,
            hist2=r_now,
            other_ok=other_ok,
            cultivated=cultivated,
            hnte=hnte,
            hnte_expiry=expiry,
            tech_sme=tech_sme,
            success=success,
            patents=patents,
        )
        self.values = new
        return {
            **new,
            "_exits": u["exit"] < _exit_probability(sales, p, hnte=hnte),
            "_bunched": report.bunched,
            "_certified": certified,
        }


def _growth_factor(sales0: float, success: bool, p: FirmParams, u_growth: float) -> float:
    """The year's sales factor: a Laplace growth draw scaled by size, a gain after an
    innovation success, at least 0.3."""
    log_size = math.log(sales0 / SIZE_REFERENCE_CNY)
    size = min(max(math.exp(-0.15 * log_size), 0.5), 2.0)
    x = u_growth - 0.5
    lap = -math.copysign(1.0, x) * math.log1p(-2.0 * abs(x)) if x != 0 else 0.0
    g = p.growth_mean + p.sales_gain * float(success) + p.growth_scale * size * lap
    return max(1.0 + g, 0.3)


def _user_cost(
    v: dict[str, object], rules: YearRules, *, valid: bool, claims: bool
) -> tuple[float, float]:
    """The super-deduction rate the firm uses (0 if it does not claim) and its B-index."""
    tau = rules.hnte_tax if valid else rules.cit
    sd = rules.sd_all
    if bool(v["tech_sme"]):
        sd = max(sd, rules.sd_tech_sme)
    if bool(v["manufacturing"]):
        sd = max(sd, rules.sd_manufacturing)
    if not claims:
        sd = 0.0
    b = (1.0 - tau * (1.0 + sd)) / (1.0 - tau)
    return sd, b


def _band_threshold(rules: YearRules, sales: float) -> float:
    """The HNTE R&D intensity threshold of the firm's sales band."""
    for max_sales, min_rd in zip(rules.band_max_sales, rules.band_min_rd, strict=True):
        if sales <= max_sales:
            return float(min_rd)
    return float(rules.band_min_rd[-1])


@dataclass(frozen=True)
class _Firm:
    """What the HNTE decisions of the year read: the rules, the parameters, this year's sales,
    super-deduction, B-index and real R&D (before any bunching), and the band threshold."""

    rules: YearRules
    p: FirmParams
    sales: float
    sd: float
    b: float
    real: float
    profitable: bool
    expiry0: int
    theta: float

    def hnte_value(self) -> float:
        """A year of HNTE status: the tax saved on the taxable margin, and the one-off reward
        (spread over the certificate's years) for a first certificate."""
        rules = self.rules
        taxable = (
            max(self.p.margin * self.sales - self.sd * self.real, 0.0) if self.profitable else 0.0
        )
        reward = rules.hnte_reward / rules.validity_years if self.expiry0 < 0 else 0.0
        return (rules.cit - rules.hnte_tax) * taxable + reward


def _takes_up_criteria(
    firm: _Firm,
    v: dict[str, object],
    u_upgrade: float,
    *,
    age: float,
    cultivated: bool,
    rho: float,
    window: float,
) -> bool:
    """A firm short of the non-R&D criteria, within reach of the notch, that reconsiders meets
    them when the certificate's value over its validity exceeds the R&D and criteria cost."""
    p, rules = firm.p, firm.rules
    reconsider = p.upgrade + (1.0 - p.upgrade) * rules.cultivation
    reach = float(v["own"]) >= window * float(rules.band_min_rd.min())  # type: ignore[arg-type]
    if not (reach and age >= 1.0 and (cultivated or u_upgrade < reconsider)):
        return False
    rd_cost = firm.b * max((1.0 - rho) * firm.theta * firm.sales - firm.real, 0.0)
    cost = (
        p.criteria_cost
        * float(v["criteria_cost"])  # type: ignore[arg-type]
        * firm.sales
        * (1.0 - rules.cultivation)
    )
    return rules.validity_years * (firm.hnte_value() - rd_cost) > cost


@dataclass(frozen=True)
class _Report:
    """The firm's reported and real R&D of the year, the relabelled share of the reported, its
    reported intensity and whether it bunched at a threshold."""

    reported: float
    real: float
    gap: float
    r_now: float
    bunched: bool


def _bunch(firm: _Firm, report: _Report, *, hsum: float, lasting: bool, rho: float) -> _Report:
    """Bunching: a firm short of the threshold (this year, or of the 3-year mean when its
    certificate ends) reports it, relabelling at most ``rho`` of it, when that costs less than
    the status is worth; one whose certificate ends also catches up the 3-year mean when that
    costs less than two years of the status."""
    p, b, theta, sales, real = firm.p, firm.b, firm.theta, firm.sales, report.real
    r_now = report.r_now
    theta_low = theta * (1.0 - THRESHOLD_RTOL)
    short = r_now < theta_low or (not lasting and hsum + r_now < 3.0 * theta_low)
    if not short:
        return report
    gain = firm.hnte_value()
    x_th = max(theta, r_now)
    need_th = max((1.0 - rho) * x_th * sales, real)
    if not b * (need_th - real) < gain:
        return report
    x, need = x_th, need_th
    if not lasting:
        catch = min(max(3.0 * theta - hsum, theta), (1.0 + p.catchup) * theta)
        catch = max(catch, r_now)
        need_x = max((1.0 - rho) * catch * sales, real)
        if b * (need_x - need_th) < 2.0 * gain:
            x, need = catch, need_x
    if not x > r_now:
        return report
    reported = x * sales
    return _Report(reported=reported, real=need, gap=1.0 - need / reported, r_now=x, bunched=True)


def _certified(firm: _Firm, r3: float, u_approval: float, *, valid: bool) -> bool:
    """An applicant (meeting the other criteria, a year old, its certificate ending) whose
    3-year mean intensity reaches the threshold is certified with the approval (a renewal: the
    renewal) rate."""
    theta_low = firm.theta * (1.0 - THRESHOLD_RTOL)
    pass_rate = firm.p.renewal if valid else firm.p.approval
    return r3 >= theta_low and u_approval < pass_rate


def _tech_sme(sales: float, employees: float, r_now: float, p: FirmParams) -> bool:
    """Small (sales and employees within the caps) and R&D-intensive enough."""
    return (
        sales <= TECH_SME_MAX_SALES_CNY
        and employees <= TECH_SME_MAX_EMPLOYEES
        and r_now >= p.tech_sme_min_rd
    )


def _patents(u_success: float, prob: float, mean: float) -> float:
    """Patents of a success: a Poisson count (at most 30) from the success draw rescaled to a
    uniform on [0, 1)."""
    k, pmf = 0, math.exp(-mean)
    cdf = pmf
    u_count = u_success / prob  # uniform on [0, 1) given success
    while u_count >= cdf and k < 30:
        k += 1
        pmf *= mean / k
        cdf += pmf
    return float(k)


def _exit_probability(sales: float, p: FirmParams, *, hnte: bool) -> float:
    """The firm's exit probability: the exit rate scaled by size (0.5-2x), halved for an HNTE."""
    p_exit = p.exit_rate * min(max(math.exp(-0.2 * math.log(sales / SIZE_REFERENCE_CNY)), 0.5), 2.0)
    if hnte:
        p_exit *= 0.5
    return p_exit


class ReferenceModel(mesa.Model):  # type: ignore[misc]
    """A Mesa model holding one :class:`FirmAgent` per firm."""

    def __init__(self, firms: Firms, seed: int = 0) -> None:
        super().__init__(seed=seed)
        names = [f.name for f in fields(firms)]
        self.firm_agents = [
            FirmAgent(self, {n: getattr(firms, n)[i].item() for n in names}) for i in range(firms.n)
        ]


def reference_year(
    model: ReferenceModel, rules: YearRules, support: Support, p: FirmParams, u: Draws
) -> YearOutcome:
    """One year of the enterprise rule, firm by firm; returns the same structure as
    :func:`~policysim.agents.enterprises.enterprise_year`."""
    rows = []
    for i, agent in enumerate(model.firm_agents):
        draws = {
            "growth": float(u.growth[i]),
            "success": float(u.success[i]),
            "approval": float(u.approval[i]),
            "exit": float(u.exit[i]),
            "upgrade": float(u.upgrade[i]),
        }
        rows.append(
            agent.year(
                rules,
                float(support.voucher[i]),
                float(support.subsidy[i]),
                float(support.credit_rd[i]),
                float(support.boost[i]),
                p,
                draws,
                admitted=support.admitted is not None and bool(support.admitted[i]),
            )
        )
    names = [f.name for f in fields(Firms)]
    dtypes = {
        "firm_id": np.int64,
        "county": np.int64,
        "township": np.int64,
        "sector": np.int64,
        "hnte_expiry": np.int64,
        "manufacturing": bool,
        "other_ok": bool,
        "cultivated": bool,
        "hnte": bool,
        "tech_sme": bool,
        "success": bool,
    }
    arrays = {n: np.array([r[n] for r in rows], dtype=dtypes.get(n, np.float64)) for n in names}
    return YearOutcome(
        firms=Firms(**arrays),
        exits=np.array([r["_exits"] for r in rows], dtype=bool),
        bunched=np.array([r["_bunched"] for r in rows], dtype=bool),
        certified=np.array([r["_certified"] for r in rows], dtype=bool),
    )


def _hnte_value(
    f: Firms,
    rules: YearRules,
    p: FirmParams,
    idx: IntArray,
    sales: FloatArray,
    real: FloatArray,
    kind: NDArray[np.uint8],
) -> FloatArray:
    """Yearly value of HNTE status to the firms ``idx``: the tax saved on taxable profit after
    the super-deduction (nothing for a loss-making firm), plus the first-certification reward
    spread over the validity years for a firm never certified."""
    sd = tax_table(rules)[1][kind[idx]]  # 0 for a firm not claiming
    profitable = f.claim_u[idx] >= p.loss_share
    taxable = np.maximum(p.margin * sales[idx] - sd * real[idx], 0.0) * profitable
    value: FloatArray = (rules.cit - rules.hnte_tax) * taxable
    value += (f.hnte_expiry[idx] < 0) * (rules.hnte_reward / rules.validity_years)
    return value


def enterprise_year_allocating(
    f: Firms, rules: YearRules, support: Support, p: FirmParams, u: Draws
) -> YearOutcome:
    """The enterprise rule as it was before its work buffers (issue 20): every intermediate a
    fresh array. Kept as the reference of :func:`~policysim.agents.enterprises.enterprise_year`
    (the property tests show both give identical bits) and for ``benchmarks/bench_rule.py``."""
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
    # own R&D under this year's user cost (16 firm types: a table look-up)
    claims = claims_deduction(f.claim_u, rules, p.loss_share)
    kind = firm_type(valid, f.tech_sme, f.manufacturing, claims)
    b = b_table(rules)[kind]
    # the target intensity r0 * (B / B0) ** eps is 0 for a firm without R&D (r0 = 0, most
    # firms): the transcendental functions run on the R&D performers alone
    perf = np.flatnonzero(f.r0 > 0.0) if support.performers is None else support.performers
    t_p = np.log(b[perf] / f.b0[perf])
    t_p *= p.elasticity
    np.exp(t_p, out=t_p)
    t_p *= f.r0[perf]
    # own' = own + adjustment * (target - own); a firm without R&D keeps own = 0
    own = f.own.copy()
    own_p = own[perf]
    t_p -= own_p
    t_p *= p.adjustment
    own_p += t_p
    own[perf] = own_p
    real = own * sales
    if support.performers is None:
        real += p.voucher_add * support.voucher
        real += p.subsidy_add * support.subsidy
        real += support.credit_rd
        boost_of = support.boost
    else:  # support reaches performers alone: the others keep real = own * sales (= 0)
        real_p = real[perf]
        real_p += p.voucher_add * support.voucher
        real_p += p.subsidy_add * support.subsidy
        real_p += support.credit_rd
        real[perf] = real_p
        boost_of = np.ones(f.n)
        boost_of[perf] = support.boost
    reported = real.copy()
    gap = np.zeros(f.n)
    r_now = reported / sales
    other_ok = f.other_ok
    # HNTE cultivation pool (高企入库培育): admitted firms stay in it; intermediaries and the
    # programme help them with the criteria (they reconsider every year) and with the R&D
    # accounts (relabelling up to ``pool_relabel``; the notch is considered from
    # ``pool_window`` of the threshold)
    cultivated = f.cultivated if support.admitted is None else f.cultivated | support.admitted
    any_pool = bool(cultivated.any())
    # non-R&D criteria: a costly choice, made cheaper by cultivation programmes; performers
    # not meeting them reconsider on their own (rate ``upgrade``) or recruited by the
    # cultivation pool (a share ``cultivation`` of the rest). All HNTE decisions are made on
    # index subsets: thresholds are looked up only where needed
    reconsider = p.upgrade + (1.0 - p.upgrade) * rules.cultivation
    # (a firm below the notch window of the lowest threshold cannot gain: not considered)
    reach = min(p.window, p.pool_window) if any_pool else p.window
    # (one mask over every firm, one index: cheaper than gathers of the filtered subsets)
    registered = age >= 1.0
    considers = f.own >= reach * float(rules.band_min_rd.min())
    considers &= registered
    considers &= ~other_ok
    considers &= (u.upgrade < reconsider) | cultivated
    up = np.flatnonzero(considers)
    if up.size:
        pool_u = np.take(cultivated, up)
        value = _hnte_value(f, rules, p, up, sales, real, kind)
        s_u = sales[up]
        th_u = band_threshold(rules, s_u)
        rho_u = np.where(pool_u, p.pool_relabel, p.relabel)
        w_u = np.where(pool_u, p.pool_window, p.window)
        rd_cost = b[up] * np.maximum((1.0 - rho_u) * th_u * s_u - real[up], 0.0)
        cost = p.criteria_cost * f.criteria_cost[up] * s_u * (1.0 - rules.cultivation)
        meets = (rules.validity_years * (value - rd_cost) > cost) & (
            f.own[up] >= w_u * float(rules.band_min_rd.min())
        )
        other_ok = other_ok.copy()
        other_ok[up[meets]] = True
    # firms that may bunch or apply: meeting the other criteria, registered at least a year
    sel = np.flatnonzero(other_ok & registered)
    th_s = band_threshold(rules, sales[sel])
    th_low_s = th_s * (1.0 - THRESHOLD_RTOL)
    hist_s = f.hist1[sel] + f.hist2[sel]
    last_s = lasting[sel]
    r_s = r_now[sel]
    pool_s = np.take(cultivated, sel) if any_pool else np.zeros(sel.size, bool)
    lower_s = p.window * th_s  # lowest annual intensity from which a firm considers the notch
    if any_pool:
        # the intermediaries' special audit of a pool firm's past two years (研发费用专项审计)
        # restates their R&D up to the same relabelling share, at most to the threshold
        pi = np.flatnonzero(pool_s)
        h = hist_s[pi]
        hist_s[pi] = np.maximum(np.minimum(h * (1.0 / (1.0 - p.pool_relabel)), 2.0 * th_s[pi]), h)
        lower_s[pi] = p.pool_window * th_s[pi]
    # HNTE notch with 3-year planning. Candidates: below the threshold this year, or
    # applicants whose 3-year window is short
    short = (r_s < th_low_s) | (~last_s & (hist_s + r_s < 3.0 * th_low_s))
    cand = np.flatnonzero(short & (r_s >= lower_s))  # positions in sel
    bunched = np.zeros(f.n, dtype=bool)
    if cand.size:
        candidates = sel[cand]
        value = _hnte_value(f, rules, p, candidates, sales, real, kind)
        s_c = sales[candidates]
        th_c = th_s[cand]
        real_c = real[candidates]
        b_c = b[candidates]
        r_c = r_s[cand]
        keep = 1.0 - np.where(pool_s[cand], p.pool_relabel, p.relabel)  # real share of reports
        # reporting (at least) the threshold every year, the plan over the 3-year window, must
        # pay
        x_th = np.maximum(th_c, r_c)
        need_th = np.maximum(keep * x_th * s_c, real_c)
        takes = b_c * (need_th - real_c) < value
        # an applicant also catches up on its window when the extra cost is below the value of
        # the (up to) two years of status it gains by certifying now; certified firms keep
        # complying at the threshold
        catch = np.clip(3.0 * th_c - hist_s[cand], th_c, (1.0 + p.catchup) * th_c)
        np.maximum(catch, r_c, out=catch)
        need_x = np.maximum(keep * catch * s_c, real_c)
        up_now = ~last_s[cand] & (b_c * (need_x - need_th) < 2.0 * value)
        x = np.where(up_now, catch, x_th)
        need = np.where(up_now, need_x, need_th)
        moves = takes & (x > r_c)
        idx = candidates[moves]
        bunched[idx] = True
        reported[idx] = x[moves] * s_c[moves]
        real[idx] = need[moves]
        gap[idx] = 1.0 - real[idx] / reported[idx]
        r_now[idx] = x[moves]
        r_s[cand[moves]] = x[moves]
    # certification: bunchers sit exactly at the threshold; compare with a relative tolerance
    # so that rounding in sums (which depend on the order of firms) never decides it
    app = np.flatnonzero(~last_s & ((hist_s + r_s) / 3.0 >= th_low_s))
    applicants = sel[app]
    due = np.take(valid, applicants)  # valid and not lasting: up for renewal
    certified = np.zeros(f.n, dtype=bool)
    approved = np.take(u.approval, applicants) < np.where(due, p.renewal, p.approval)
    certified[applicants] = approved
    hnte = lasting | certified
    expiry = f.hnte_expiry.astype(np.int64)  # (a copy)
    expiry[applicants[approved]] = year + rules.validity_years - 1
    tech_sme = (
        (sales <= TECH_SME_MAX_SALES_CNY)
        & (employees <= TECH_SME_MAX_EMPLOYEES)
        & (r_now >= p.tech_sme_min_rd)
    )
    # innovation
    # P = 1 - exp(-zeta * 100 * real / sales * boost) is 0 without R&D: computed for the firms
    # with R&D alone
    active = np.flatnonzero(real > 0.0)
    prob_a = (-p.zeta * 100.0) * (real[active] / sales[active]) * boost_of[active]
    np.exp(prob_a, out=prob_a)
    np.subtract(1.0, prob_a, out=prob_a)
    u_a = u.success[active]
    won_a = u_a < prob_a
    success = np.zeros(f.n, dtype=bool)
    success[active] = won_a
    patents = np.zeros(f.n)
    won_i = np.flatnonzero(won_a)
    patents[active[won_i]] = poisson_quantile(
        p.patents_per_success, np.take(u_a, won_i) / np.take(prob_a, won_i)
    )
    # exit at the end of the year; the size factor is at most 2, so only firms drawing below
    # twice the rate can exit: the factor is computed for those alone
    near = np.flatnonzero(u.exit < 2.0 * p.exit_rate)
    p_exit = np.log(sales[near] * (1.0 / SIZE_REFERENCE_CNY))
    p_exit *= -0.2
    np.exp(p_exit, out=p_exit)
    np.clip(p_exit, 0.5, 2.0, out=p_exit)
    p_exit *= p.exit_rate
    np.multiply(p_exit, 0.5, out=p_exit, where=hnte[near])  # halved for HNTEs
    exits = np.zeros(f.n, dtype=bool)
    exits[near] = u.exit[near] < p_exit
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
        other_ok=other_ok,
        cultivated=cultivated,
        hnte=hnte,
        hnte_expiry=expiry,
        tech_sme=tech_sme,
        success=success,
        patents=patents,
    )
    return YearOutcome(firms=new, exits=exits, bunched=bunched, certified=certified)
