"""Detect contradictory allocation requirements before any solve, in policy terms.

:func:`check_feasibility` runs the checks a policy analyst would do by hand (floors against the
budget, the poverty set-aside against what poverty counties may absorb, instrument shares summing
above 100 %, ...) and raises :class:`~policysim.errors.InfeasibleAllocationError` with the numbers.
:func:`plan_violations` checks a finished plan against every rule; it backs the ``fixed`` strategy
and the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from policysim.allocation.types import (
    INSTRUMENTS,
    POVERTY_INSTRUMENT,
    AllocationRules,
    CountyFacts,
    FloatArray,
    check_years,
    fmt_yi,
)
from policysim.errors import InfeasibleAllocationError

__all__ = ["check_feasibility", "plan_violations"]

logger = logging.getLogger(__name__)


def _pct(share: float) -> str:
    return f"{100 * share:.4g}%"


def _static_problems(facts: CountyFacts, rules: AllocationRules) -> list[str]:
    """Contradictions that do not depend on the budget."""
    problems: list[str] = []
    floor = rules.floor_cny
    if rules.ceiling_cny is not None and rules.ceiling_cny < floor:
        problems.append(
            f"the county ceiling {fmt_yi(rules.ceiling_cny)} is below the county floor "
            f"{fmt_yi(floor)}"
        )
    if rules.absorptive_multiple is not None:
        cap = rules.absorptive_multiple * facts.fiscal_st_spending_cny
        low = np.flatnonzero(cap < floor * (1 - 1e-12))
        if low.size:
            i = int(low[0])
            problems.append(
                f"{low.size} counties have an absorptive cap below the floor {fmt_yi(floor)}, e.g. "
                f"{facts.names[i]} ({facts.codes[i]}): {rules.absorptive_multiple:g} × "
                f"{fmt_yi(float(facts.fiscal_st_spending_cny[i]))} = {fmt_yi(float(cap[i]))}"
            )
    total_min = sum(rules.share_min(k) for k in INSTRUMENTS)
    if total_min > 1 + 1e-12:
        parts = ", ".join(
            f"{k} {_pct(rules.share_min(k))}" for k in INSTRUMENTS if rules.share_min(k) > 0
        )
        problems.append(
            f"instrument minimum shares sum to {_pct(total_min)} ({parts}), above 100% of the budget"
        )
    for k in INSTRUMENTS:
        if rules.share_min(k) > rules.share_max(k) + 1e-12:
            problems.append(
                f"instrument {k}: minimum share {_pct(rules.share_min(k))} exceeds its maximum "
                f"share {_pct(rules.share_max(k))}"
            )
    total_max = sum(rules.share_max(k) for k in INSTRUMENTS)
    if rules.spend_all and total_max < 1 - 1e-12:
        problems.append(
            f"instrument maximum shares sum to {_pct(total_max)}, below the 100% of the budget "
            "that must be spent"
        )
    n_pov = int(facts.poverty.sum())
    if n_pov == 0 and rules.poverty_share_min > 0:
        problems.append(
            f"a poverty set-aside of {_pct(rules.poverty_share_min)} is required but no county "
            "is a poverty county"
        )
    if n_pov == 0 and rules.share_min(POVERTY_INSTRUMENT) > 0:
        problems.append(
            f"the poverty programme must get {_pct(rules.share_min(POVERTY_INSTRUMENT))} of the "
            "budget but no county is a poverty county"
        )
    return problems


def _year_problems(
    year: int, budget: float, facts: CountyFacts, rules: AllocationRules, caps: FloatArray
) -> list[str]:
    """Contradictions between one year's budget and the rules."""
    problems: list[str] = []
    n = facts.n
    floor = rules.floor_cny
    tol = 1e-9 * max(budget, 1.0)
    if n * floor > budget + tol:
        problems.append(
            f"{year}: county floors {n} × {fmt_yi(floor)} = {fmt_yi(n * floor)} exceed the budget "
            f"{fmt_yi(budget)}"
        )
    capacity = float(caps.sum())
    if rules.spend_all and capacity < budget - tol:
        problems.append(
            f"{year}: the budget {fmt_yi(budget)} must be spent but counties may absorb only "
            f"{fmt_yi(capacity)} under {_cap_words(rules)}"
        )
    need_inst = sum(rules.share_min(k) for k in INSTRUMENTS) * budget
    if need_inst > capacity + tol:
        problems.append(
            f"{year}: instrument minimum shares need {fmt_yi(need_inst)} of the budget "
            f"{fmt_yi(budget)} but counties may absorb only {fmt_yi(capacity)} under "
            f"{_cap_words(rules)}"
        )
    pov = facts.poverty
    n_pov = int(pov.sum())
    need_pov = max(rules.poverty_share_min, rules.share_min(POVERTY_INSTRUMENT)) * budget
    if n_pov and need_pov > float(caps[pov].sum()) + tol:
        what = (
            f"poverty set-aside {_pct(rules.poverty_share_min)}"
            if rules.poverty_share_min >= rules.share_min(POVERTY_INSTRUMENT)
            else f"poverty programme minimum share {_pct(rules.share_min(POVERTY_INSTRUMENT))}"
        )
        problems.append(
            f"{year}: {what} of {fmt_yi(budget)} = {fmt_yi(need_pov)} exceeds what {n_pov} poverty "
            f"counties may absorb under {_cap_words(rules)} ({_cap_sum_words(caps[pov])})"
        )
    n_rest = n - n_pov
    if n_pov and n_rest and need_pov + n_rest * floor > budget + tol:
        problems.append(
            f"{year}: poverty set-aside {fmt_yi(need_pov)} plus the floors of the {n_rest} other "
            f"counties {n_rest} × {fmt_yi(floor)} = {fmt_yi(n_rest * floor)} exceed the budget "
            f"{fmt_yi(budget)}"
        )
    pp_cap = rules.share_max(POVERTY_INSTRUMENT) * budget if n_pov else 0.0
    others_max = sum(rules.share_max(k) for k in INSTRUMENTS if k != POVERTY_INSTRUMENT) * budget
    if rules.spend_all and n_rest * floor > others_max + tol:
        problems.append(
            f"{year}: floors of the {n_rest} non-poverty counties {fmt_yi(n_rest * floor)} exceed "
            f"what the instruments open to them may carry ({fmt_yi(others_max)})"
        )
    if rules.spend_all and n_pov:
        pp_max = min(pp_cap, float(caps[pov].sum()))
        if pp_max + others_max < budget - tol:
            problems.append(
                f"{year}: the budget {fmt_yi(budget)} must be spent but instrument maximum shares "
                f"and the poverty counties' capacity for the poverty programme allow only "
                f"{fmt_yi(pp_max + others_max)}"
            )
    return problems


def _cap_words(rules: AllocationRules) -> str:
    parts = []
    if rules.ceiling_cny is not None:
        parts.append(f"the ceiling {fmt_yi(rules.ceiling_cny)}")
    if rules.absorptive_multiple is not None:
        parts.append(f"the absorptive cap {rules.absorptive_multiple:g} × own S&T spending")
    if rules.designated_floor_only:
        parts.append("floor-only funding of designated counties")
    return " and ".join(parts) if parts else "no cap"


def _cap_sum_words(caps: FloatArray) -> str:
    if caps.size and np.allclose(caps, caps[0]):
        return f"{caps.size} × {fmt_yi(float(caps[0]))} = {fmt_yi(float(caps.sum()))}"
    return f"{fmt_yi(float(caps.sum()))} in total"


def _change_problems(
    years: tuple[int, ...], budget: FloatArray, facts: CountyFacts, rules: AllocationRules
) -> list[str]:
    """Necessary conditions of the max-change rule between consecutive years."""
    if rules.max_change_pct is None:
        return []
    p = rules.max_change_pct / 100.0
    n, floor = facts.n, rules.floor_cny
    problems: list[str] = []
    for i in range(1, len(years)):
        prev, cur = budget[i - 1], budget[i]
        tol = 1e-9 * max(cur, prev, 1.0)
        # Totals can rise by at most p·x + floor each; with last year's budget spent, this year
        # may carry at most (1 + p)·B[t-1] + n·floor.
        if rules.spend_all and cur > (1 + p) * prev + n * floor + tol:
            problems.append(
                f"{years[i]}: the budget rises from {fmt_yi(prev)} to {fmt_yi(cur)}, more than "
                f"the max change {rules.max_change_pct:g}% per county plus the floors allow "
                f"({fmt_yi((1 + p) * prev + n * floor)})"
            )
        low = (1 - p) * prev - n * floor
        if rules.spend_all and cur < low - tol:
            problems.append(
                f"{years[i]}: the budget falls from {fmt_yi(prev)} to {fmt_yi(cur)}, more than "
                f"the max change {rules.max_change_pct:g}% per county allows (at least "
                f"{fmt_yi(low)} must go out)"
            )
    return problems


def check_feasibility(
    years: Sequence[int], budget_cny: FloatArray, facts: CountyFacts, rules: AllocationRules
) -> None:
    """Raise if the allocation rules contradict each other or the budget.

    Parameters
    ----------
    years : sequence of int, length n_years
        Consecutive planning years.
    budget_cny : (n_years,) float array, CNY
        Provincial budget of each year.
    facts : CountyFacts
    rules : AllocationRules

    Raises
    ------
    InfeasibleAllocationError
        Naming every contradiction found, in policy terms and with the amounts, e.g.
        ``2019: county floors 100 × 0.12亿元 = 12亿元 exceed the budget 9.5亿元``.
    AllocationError
        If ``years`` or ``budget_cny`` are malformed.
    """
    yrs, budget = check_years(years, budget_cny)
    caps = rules.county_caps_cny(facts)
    problems = _static_problems(facts, rules)
    for year, b in zip(yrs, budget, strict=True):
        problems.extend(_year_problems(year, float(b), facts, rules, caps))
    problems.extend(_change_problems(yrs, budget, facts, rules))
    if problems:
        shown = problems[:4]
        more = f" (and {len(problems) - 4} more)" if len(problems) > 4 else ""
        raise InfeasibleAllocationError("; ".join(shown) + more)
    logger.debug("allocation rules consistent for %d years and %d counties", len(yrs), facts.n)


def plan_violations(
    plan_cny: FloatArray,
    years: Sequence[int],
    budget_cny: FloatArray,
    facts: CountyFacts,
    rules: AllocationRules,
    *,
    rtol: float = 1e-7,
) -> list[str]:
    """List every rule a plan breaks (empty when the plan is admissible).

    Parameters
    ----------
    plan_cny : (n_years, n_counties, n_instruments) float array, CNY
    years, budget_cny, facts, rules
        As for :func:`check_feasibility`.
    rtol : float
        Relative tolerance, applied to the year's budget.

    Returns
    -------
    list of str
        One line per broken rule (year, county or instrument, the amount and the bound).
    """
    yrs, budget = check_years(years, budget_cny)
    plan = np.asarray(plan_cny, dtype=np.float64)
    shape = (len(yrs), facts.n, len(INSTRUMENTS))
    if plan.shape != shape:
        return [f"plan shape {plan.shape}: expected {shape}"]
    out: list[str] = []
    caps = rules.county_caps_cny(facts)
    totals = plan.sum(axis=2)
    pp = INSTRUMENTS.index(POVERTY_INSTRUMENT)
    for i, year in enumerate(yrs):
        b = float(budget[i])
        tol = rtol * max(b, 1.0)
        if np.any(plan[i] < -tol):
            out.append(f"{year}: negative amounts")
        spent = float(plan[i].sum())
        if (rules.spend_all and abs(spent - b) > tol) or spent > b + tol:
            out.append(f"{year}: spends {fmt_yi(spent)} of the budget {fmt_yi(b)}")
        for c in np.flatnonzero(totals[i] < rules.floor_cny - tol):
            out.append(f"{year}: {facts.codes[c]} gets {fmt_yi(totals[i, c])} below the floor")
        for c in np.flatnonzero(totals[i] > caps + tol):
            out.append(f"{year}: {facts.codes[c]} gets {fmt_yi(totals[i, c])} above its cap")
        pov_total = float(totals[i, facts.poverty].sum())
        if pov_total < rules.poverty_share_min * b - tol:
            out.append(f"{year}: poverty counties get {fmt_yi(pov_total)}, below the set-aside")
        for k, name in enumerate(INSTRUMENTS):
            inst = float(plan[i, :, k].sum())
            if inst < rules.share_min(name) * b - tol or inst > rules.share_max(name) * b + tol:
                out.append(f"{year}: instrument {name} gets {fmt_yi(inst)}, outside its shares")
        if np.any(plan[i, ~facts.poverty, pp] > tol):
            out.append(f"{year}: the poverty programme funds a non-poverty county")
        if rules.max_change_pct is not None and i > 0:
            p = rules.max_change_pct / 100.0
            diff = np.abs(totals[i] - totals[i - 1])
            for c in np.flatnonzero(diff > p * totals[i - 1] + rules.floor_cny + tol):
                out.append(
                    f"{year}: {facts.codes[c]} changes by {fmt_yi(diff[c])}, above max change"
                )
    return out
