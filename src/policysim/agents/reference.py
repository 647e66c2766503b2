"""Per-object reference implementation of the enterprise rule (plain ``mesa.Agent`` objects).

It exists for tests and benchmarks: it restates :func:`policysim.agents.enterprises.
enterprise_year` one firm at a time with Python scalars, so that a test can show the vectorised
rule computes the same thing, and a benchmark can measure what vectorising buys. It is not used by
the model's yearly step.
"""

from __future__ import annotations

import math
from dataclasses import fields

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
        log_size = math.log(sales0 / SIZE_REFERENCE_CNY)
        size = min(max(math.exp(-0.15 * log_size), 0.5), 2.0)
        x = u["growth"] - 0.5
        lap = -math.copysign(1.0, x) * math.log1p(-2.0 * abs(x)) if x != 0 else 0.0
        g = p.growth_mean + p.sales_gain * float(bool(v["success"])) + p.growth_scale * size * lap
        factor = max(1.0 + g, 0.3)
        sales = sales0 * factor
        employees = float(v["employees"]) * factor  # type: ignore[arg-type]
        age = float(v["age"]) + 1.0  # type: ignore[arg-type]
        expiry0 = int(v["hnte_expiry"])  # type: ignore[call-overload]
        valid = bool(v["hnte"]) and expiry0 >= year
        lasting = bool(v["hnte"]) and expiry0 > year
        claim_u = float(v["claim_u"])  # type: ignore[arg-type]
        profitable = claim_u >= p.loss_share
        claims = profitable and claim_u < p.loss_share + (1.0 - p.loss_share) * rules.takeup
        tau = rules.hnte_tax if valid else rules.cit
        sd = rules.sd_all
        if bool(v["tech_sme"]):
            sd = max(sd, rules.sd_tech_sme)
        if bool(v["manufacturing"]):
            sd = max(sd, rules.sd_manufacturing)
        if not claims:
            sd = 0.0
        b = (1.0 - tau * (1.0 + sd)) / (1.0 - tau)
        target = float(v["r0"]) * math.exp(p.elasticity * math.log(b / float(v["b0"])))  # type: ignore[arg-type]
        own = float(v["own"]) + p.adjustment * (target - float(v["own"]))  # type: ignore[arg-type]
        real = own * sales + p.voucher_add * voucher + p.subsidy_add * subsidy + credit_rd
        gap = 0.0
        reported = real
        theta = float(rules.band_min_rd[-1])
        for max_sales, min_rd in zip(rules.band_max_sales, rules.band_min_rd, strict=True):
            if sales <= max_sales:
                theta = float(min_rd)
                break
        theta_low = theta * (1.0 - THRESHOLD_RTOL)

        def value() -> float:
            taxable = max(p.margin * sales - sd * real, 0.0) if profitable else 0.0
            reward = rules.hnte_reward / rules.validity_years if expiry0 < 0 else 0.0
            return (rules.cit - rules.hnte_tax) * taxable + reward

        other_ok = bool(v["other_ok"])
        cultivated = bool(v["cultivated"]) or admitted
        rho = p.pool_relabel if cultivated else p.relabel
        window = p.pool_window if cultivated else p.window
        reconsider = p.upgrade + (1.0 - p.upgrade) * rules.cultivation
        reach = float(v["own"]) >= window * float(rules.band_min_rd.min())  # type: ignore[arg-type]
        if not other_ok and reach and age >= 1.0 and (cultivated or u["upgrade"] < reconsider):
            rd_cost = b * max((1.0 - rho) * theta * sales - real, 0.0)
            cost = (
                p.criteria_cost
                * float(v["criteria_cost"])  # type: ignore[arg-type]
                * sales
                * (1.0 - rules.cultivation)
            )
            other_ok = rules.validity_years * (value() - rd_cost) > cost
        h1, h2 = float(v["hist1"]), float(v["hist2"])  # type: ignore[arg-type]
        hsum = h1 + h2
        if cultivated:  # special audit: past two years restated, at most to the threshold
            hsum = max(min(hsum / (1.0 - p.pool_relabel), 2.0 * theta), hsum)
        r_now = reported / sales
        bunched = False
        short = r_now < theta_low or (not lasting and hsum + r_now < 3.0 * theta_low)
        if other_ok and age >= 1.0 and r_now >= window * theta and short:
            gain = value()
            x_th = max(theta, r_now)
            need_th = max((1.0 - rho) * x_th * sales, real)
            if b * (need_th - real) < gain:
                x, need = x_th, need_th
                if not lasting:
                    catch = min(max(3.0 * theta - hsum, theta), (1.0 + p.catchup) * theta)
                    catch = max(catch, r_now)
                    need_x = max((1.0 - rho) * catch * sales, real)
                    if b * (need_x - need_th) < 2.0 * gain:
                        x, need = catch, need_x
                if x > r_now:
                    bunched = True
                    reported = x * sales
                    real = need
                    gap = 1.0 - real / reported
                    r_now = x
        r3 = (hsum + r_now) / 3.0
        applying = other_ok and not lasting and age >= 1.0 and r3 >= theta_low
        pass_rate = p.renewal if valid and not lasting else p.approval
        certified = applying and u["approval"] < pass_rate
        hnte = lasting or certified
        expiry = year + rules.validity_years - 1 if certified else expiry0
        tech_sme = (
            sales <= TECH_SME_MAX_SALES_CNY
            and employees <= TECH_SME_MAX_EMPLOYEES
            and r_now >= p.tech_sme_min_rd
        )
        prob = 1.0 - math.exp(-p.zeta * 100.0 * (real / sales) * boost)
        success = u["success"] < prob
        patents = 0.0
        if success:
            k, pmf = 0, math.exp(-p.patents_per_success)
            cdf = pmf
            u_count = u["success"] / prob  # uniform on [0, 1) given success
            while u_count >= cdf and k < 30:
                k += 1
                pmf *= p.patents_per_success / k
                cdf += pmf
            patents = float(k)
        p_exit = p.exit_rate * min(
            max(math.exp(-0.2 * math.log(sales / SIZE_REFERENCE_CNY)), 0.5), 2.0
        )
        if hnte:
            p_exit *= 0.5
        new = dict(v)
        new.update(
            sales=sales,
            employees=employees,
            age=age,
            own=own,
            gap=gap,
            rd_real=real,
            rd_reported=reported,
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
            "_exits": u["exit"] < p_exit,
            "_bunched": bunched,
            "_certified": certified,
        }


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
