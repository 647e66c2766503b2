"""Per-object reference implementation of the enterprise rule (plain ``mesa.Agent`` objects).

It exists for tests and benchmarks: it restates :func:`policysim.agents.enterprises.
enterprise_year` one firm at a time with Python scalars, so that a test can show the vectorised
rule computes the same thing, and a benchmark can measure what vectorising buys. It is not used by
the model's yearly step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import mesa
import numpy as np

from policysim.agents.calendar import YearRules
from policysim.agents.enterprises import (
    SIZE_REFERENCE_CNY,
    TECH_SME_MAX_EMPLOYEES,
    TECH_SME_MAX_SALES_CNY,
    THRESHOLD_RTOL,
    Draws,
    FirmParams,
    Firms,
    Support,
    YearOutcome,
)


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
