"""Rule strategies: the policy's factor formula, equal shares, needs-weighted shares, a fixed plan.

Each rule strategy first gives every county a target share of the year's budget, then a
water-filling step finds county totals as close to ``share × budget`` as the floors, ceilings,
absorptive caps, the max-change rule and the poverty set-aside allow, spending the total exactly.
The county totals are then split among instruments; the poverty programme goes only to poverty
counties, in proportion to their totals, and the instrument totals match the (rule-clipped)
instrument shares exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from policysim import vocabulary
from policysim.allocation.feasibility import check_feasibility, plan_violations
from policysim.allocation.types import (
    INSTRUMENTS,
    POVERTY_INSTRUMENT,
    AllocationResult,
    AllocationRules,
    CountyFacts,
    FloatArray,
    SolveStatus,
    check_years,
    fmt_yi,
)
from policysim.errors import AllocationError, DataError, InfeasibleAllocationError

__all__ = [
    "DEFAULT_FACTOR_WEIGHTS",
    "FACTORS",
    "NEEDS_POVERTY_BONUS",
    "RULE_STRATEGIES",
    "county_weights",
    "plan_rule",
    "read_fixed_plan",
    "water_fill",
]

logger = logging.getLogger(__name__)

RULE_STRATEGIES = vocabulary.RULE_STRATEGIES

FACTORS = ("research_capacity", "fiscal_st_spending", "management_capacity")
"""Factors of the provincial allocation formula (科研创新能力, 本级财政科技支出, 科技管理能力)."""

DEFAULT_FACTOR_WEIGHTS: Mapping[str, float] = dict.fromkeys(FACTORS, 1.0 / 3.0)
"""Assumption: equal weights on the three factors (the policy names the factors, not their weights;
plausible range 0.2–0.5 each). Scenarios should set their own."""

NEEDS_POVERTY_BONUS = 0.5
"""Assumption: extra weight of a poverty county in the needs-weighted rule (range 0–1)."""


def water_fill(weights: FloatArray, lo: FloatArray, hi: FloatArray, total: float) -> FloatArray:
    """Split ``total`` in proportion to ``weights`` within bounds, spending it exactly.

    Finds ``x = clip(lam * weights, lo, hi)`` with ``sum(x) == total``; if even unlimited ``lam``
    cannot place the total (weights of zero), the rest goes to the remaining headroom in proportion
    to it. Rounding residue is spread over the entries strictly inside their bounds.

    Parameters
    ----------
    weights : (n,) float array, >= 0
    lo, hi : (n,) float array
        Bounds, ``lo <= hi``; ``hi`` may be ``inf``.
    total : float
        Amount to place, ``sum(lo) <= total <= sum(hi)``.

    Returns
    -------
    (n,) float array
    """
    w = np.asarray(weights, dtype=np.float64)
    if total < lo.sum() - 1e-9 * max(abs(total), 1.0) or total > hi.sum() + 1e-9 * max(
        abs(total), 1.0
    ):
        raise InfeasibleAllocationError(
            f"cannot place {fmt_yi(total)} between the minimum {fmt_yi(float(lo.sum()))} and "
            f"the maximum {fmt_yi(float(hi.sum()))}"
        )
    pos = w > 0
    wsum = float(w.sum())
    proportional = w * (total / wsum) if wsum > 0 else None
    if proportional is not None and bool(((proportional >= lo) & (proportional <= hi)).all()):
        x = proportional  # no bound binds: plain proportional shares
    elif pos.any():
        finite_hi = np.where(np.isfinite(hi), hi, total + lo.sum() + 1.0)
        lam_max = float(np.max(finite_hi[pos] / w[pos]))
        if np.clip(lam_max * w, lo, hi).sum() <= total:
            x = np.clip(lam_max * w, lo, hi)
        else:
            rest = total - float(np.clip(0.0, lo[~pos], hi[~pos]).sum())
            x = np.clip(_crossing(w[pos], lo[pos], finite_hi[pos], rest) * w, lo, hi)
    else:
        x = lo.copy()
    for _ in range(3):
        resid = total - float(x.sum())
        if resid == 0.0:
            break
        room = np.where(np.isfinite(hi), hi, total + 1.0) - x if resid > 0 else x - lo
        room = np.maximum(room, 0.0)
        if room.sum() <= 0:
            break
        share = room / room.sum()
        x = np.clip(x + resid * share, lo, hi)
    out: FloatArray = x
    return out


def _crossing(w: FloatArray, lo: FloatArray, hi: FloatArray, total: float) -> float:
    """The smallest ``lam >= 0`` with ``sum(clip(lam * w, lo, hi)) == total`` (``w > 0``, finite
    bounds, ``sum(lo) <= total < sum(hi)``), found exactly: the sum is piecewise linear in
    ``lam`` with kinks at ``lo / w`` (slope gains ``w``) and ``hi / w`` (slope loses ``w``)."""
    t = np.concatenate((np.maximum(lo, 0.0) / w, np.maximum(hi, 0.0) / w))
    dslope = np.concatenate((w, -w))
    order = np.argsort(t, kind="stable")
    t, dslope = t[order], dslope[order]
    s0 = float(np.clip(0.0, lo, hi).sum())
    slope = np.cumsum(dslope)  # slope just after each kink
    # sum at each kink: s0 + integral of the slope up to it
    seg = np.diff(t, prepend=0.0) * np.concatenate(([0.0], slope[:-1]))
    s = s0 + np.cumsum(seg)
    k = int(np.searchsorted(s, total, side="left"))
    if k >= t.size:
        return float(t[-1])
    if k == 0 or s[k] <= s[k - 1]:
        return float(t[k])
    return float(t[k - 1] + (total - s[k - 1]) / (s[k] - s[k - 1]) * (t[k] - t[k - 1]))


def county_weights(
    strategy: str,
    facts: CountyFacts,
    factor_weights: Mapping[str, float] | None = None,
    poverty_bonus: float = NEEDS_POVERTY_BONUS,
) -> FloatArray:
    """Target county shares of a rule strategy, shape (n_counties,), summing to 1.

    ``factor_formula``: ``sum_f w_f * f_c / sum_c' f_c'`` over the factors research capacity,
    own fiscal S&T spending and management capacity; ``equal``: ``1/n``; ``needs_weighted``:
    proportional to ``(100 - index) * (1 + poverty_bonus * poverty)``.
    """
    n = facts.n
    if strategy == "equal":
        return np.full(n, 1.0 / n)
    if strategy == "needs_weighted":
        raw = (100.0 - np.clip(facts.index, 0.0, 100.0)) * (1.0 + poverty_bonus * facts.poverty)
    elif strategy == "factor_formula":
        fw = dict(DEFAULT_FACTOR_WEIGHTS if factor_weights is None else factor_weights)
        for key, val in fw.items():
            if key not in FACTORS:
                raise AllocationError(
                    f"factor_weights: unknown factor {key!r}: expected one of {', '.join(FACTORS)}"
                )
            if not (np.isfinite(val) and val >= 0):
                raise AllocationError(f"factor_weights[{key!r}] = {val!r}: expected a weight >= 0")
        values = {
            "research_capacity": facts.research_capacity,
            "fiscal_st_spending": facts.fiscal_st_spending_cny,
            "management_capacity": facts.management_capacity,
        }
        raw = np.zeros(n)
        for key, val in fw.items():
            f = values[key]
            if val > 0 and f.sum() > 0:
                raw += val * f / f.sum()
    else:
        raise AllocationError(
            f"strategy = {strategy!r}: expected one of {', '.join(RULE_STRATEGIES)}"
        )
    if raw.sum() <= 0:
        logger.warning("%s: all county weights are zero; falling back to equal shares", strategy)
        return np.full(n, 1.0 / n)
    out: FloatArray = raw / raw.sum()
    return out


def _instrument_targets(shares: Mapping[str, float]) -> FloatArray:
    for key, val in shares.items():
        if key not in INSTRUMENTS:
            raise AllocationError(
                f"instrument_shares: unknown instrument {key!r}: expected one of "
                f"{', '.join(INSTRUMENTS)}"
            )
        if not (np.isfinite(val) and val >= 0):
            raise AllocationError(f"instrument_shares[{key!r}] = {val!r}: expected a share >= 0")
    s = np.array([float(shares.get(k, 0.0)) for k in INSTRUMENTS])
    if s.sum() <= 0:
        raise AllocationError("instrument_shares: all zero: expected shares summing to 1")
    if abs(s.sum() - 1.0) > 1e-6:
        raise AllocationError(f"instrument_shares: sum {s.sum():.6g}: expected shares summing to 1")
    out: FloatArray = s / s.sum()
    return out


def _year_totals(
    year: int,
    weights: FloatArray,
    budget: float,
    facts: CountyFacts,
    rules: AllocationRules,
    caps: FloatArray,
    prev: FloatArray | None,
) -> FloatArray:
    """County totals of one year (CNY, (n_counties,)) by water-filling within every rule."""
    lo = np.full(facts.n, rules.floor_cny)
    hi = caps.copy()
    if prev is not None and rules.max_change_pct is not None:
        p = rules.max_change_pct / 100.0
        lo = np.maximum(lo, (1 - p) * prev - rules.floor_cny)
        hi = np.minimum(hi, (1 + p) * prev + rules.floor_cny)
        lo = np.minimum(lo, hi)
    amount = budget if rules.spend_all else min(budget, float(hi.sum()))
    if lo.sum() > amount * (1 + 1e-9) or (rules.spend_all and hi.sum() < amount * (1 - 1e-9)):
        raise InfeasibleAllocationError(
            f"{year}: under the max change {rules.max_change_pct:g}% from last year's plan, "
            f"county totals must lie between {fmt_yi(float(lo.sum()))} and "
            f"{fmt_yi(float(hi.sum()))}, which excludes the budget {fmt_yi(amount)}"
        )
    pov = facts.poverty
    need = max(rules.poverty_share_min, rules.share_min(POVERTY_INSTRUMENT)) * budget
    x = water_fill(weights, lo, hi, amount)
    if x[pov].sum() < need * (1 - 1e-12):
        # Poverty set-aside binds: poverty counties get exactly what is needed (or more, if the
        # other counties cannot absorb the rest); each group is water-filled on its own.
        a_pov = max(need, amount - float(hi[~pov].sum()), float(lo[pov].sum()))
        a_pov = min(a_pov, float(hi[pov].sum()), amount - float(lo[~pov].sum()))
        if a_pov < need * (1 - 1e-9):
            raise InfeasibleAllocationError(
                f"{year}: the poverty set-aside {fmt_yi(need)} cannot be met: poverty counties may "
                f"receive at most {fmt_yi(a_pov)} this year under {_limits(rules)}"
            )
        x = np.empty(facts.n)
        x[pov] = water_fill(weights[pov], lo[pov], hi[pov], a_pov)
        x[~pov] = water_fill(weights[~pov], lo[~pov], hi[~pov], amount - a_pov)
    return x


def _limits(rules: AllocationRules) -> str:
    if rules.max_change_pct is None:
        return "the county caps"
    return f"the county caps and the max change {rules.max_change_pct:g}% from last year's plan"


def _split_instruments(
    year: int,
    totals: FloatArray,
    budget: float,
    facts: CountyFacts,
    rules: AllocationRules,
    targets: FloatArray,
) -> FloatArray:
    """Split county totals among instruments, shape (n_counties, n_instruments), CNY."""
    amount = float(totals.sum())
    k_pp = INSTRUMENTS.index(POVERTY_INSTRUMENT)
    pov_total = float(totals[facts.poverty].sum())
    lo = np.array([rules.share_min(k) * budget for k in INSTRUMENTS])
    hi = np.array([rules.share_max(k) * budget for k in INSTRUMENTS])
    hi[k_pp] = min(hi[k_pp], pov_total)
    if lo.sum() > amount * (1 + 1e-9):
        raise InfeasibleAllocationError(
            f"{year}: instrument minimum shares need {fmt_yi(float(lo.sum()))} but only "
            f"{fmt_yi(amount)} can be placed in counties under {_limits(rules)}"
        )
    lo = np.minimum(lo, hi)
    inst = water_fill(targets, lo, np.maximum(hi, lo), amount)
    pp = inst[k_pp]
    out = np.zeros((facts.n, len(INSTRUMENTS)))
    if pp > 0:
        # pp may exceed the poverty counties' total by rounding (water-filling up to that
        # total): a county never gets more poverty programme than its own total, and the rest
        # of a county is never negative
        out[facts.poverty, k_pp] = np.minimum(
            pp * totals[facts.poverty] / pov_total, totals[facts.poverty]
        )
    rest = np.maximum(totals - out[:, k_pp], 0.0)
    others = [k for k in range(len(INSTRUMENTS)) if k != k_pp]
    other_total = float(inst[others].sum())
    if other_total > 0:
        out[:, others] = rest[:, None] * (inst[others] / other_total)[None, :]
    elif rest.sum() > 1e-9 * max(amount, 1.0):
        raise InfeasibleAllocationError(
            f"{year}: non-poverty counties get {fmt_yi(float(rest.sum()))} but the instrument "
            "shares leave nothing for instruments open to them"
        )
    return out


def _plan_from_frame(
    fixed_plan: pd.DataFrame, years: tuple[int, ...], facts: CountyFacts
) -> FloatArray:
    for col in ("year", "county_code", "instrument", "cny"):
        if col not in fixed_plan.columns:
            raise AllocationError(
                f"fixed_plan: missing column {col!r}: expected year, county_code, instrument, cny"
            )
    plan = np.zeros((len(years), facts.n, len(INSTRUMENTS)))
    y_idx = {y: i for i, y in enumerate(years)}
    c_idx = {c: i for i, c in enumerate(facts.codes)}
    k_idx = {k: i for i, k in enumerate(INSTRUMENTS)}
    columns = zip(
        fixed_plan["year"].tolist(),
        fixed_plan["county_code"].astype(str).tolist(),
        fixed_plan["instrument"].astype(str).tolist(),
        fixed_plan["cny"].astype(np.float64).tolist(),
        strict=True,
    )
    for year, c, k, cny in columns:
        y = int(year)
        if y not in y_idx or c not in c_idx or k not in k_idx:
            raise AllocationError(
                f"fixed_plan: row ({y}, {c}, {k}): expected a planning year, a known county code "
                "and an instrument (read it with read_fixed_plan)"
            )
        plan[y_idx[y], c_idx[c], k_idx[k]] += float(cny)
    return plan


def plan_rule(
    strategy: str,
    years: Sequence[int],
    budget_cny: FloatArray,
    facts: CountyFacts,
    rules: AllocationRules,
    *,
    instrument_shares: Mapping[str, float],
    factor_weights: Mapping[str, float] | None = None,
    fixed_plan: pd.DataFrame | None = None,
    poverty_bonus: float = NEEDS_POVERTY_BONUS,
) -> AllocationResult:
    """Allocate by a rule strategy, within every allocation rule.

    Parameters
    ----------
    strategy : {"factor_formula", "equal", "needs_weighted", "fixed"}
    years : sequence of int, length n_years
    budget_cny : (n_years,) float array, CNY
    facts : CountyFacts
    rules : AllocationRules
    instrument_shares : mapping instrument -> share, summing to 1
        Target split among instruments (clipped into the rules' instrument shares).
    factor_weights : mapping factor -> weight, optional
        Weights of ``research_capacity``, ``fiscal_st_spending`` and ``management_capacity`` for
        ``factor_formula``; default :data:`DEFAULT_FACTOR_WEIGHTS` (an assumption).
    fixed_plan : DataFrame, optional
        For ``fixed``: rows ``year, county_code, instrument, cny`` (see :func:`read_fixed_plan`).
    poverty_bonus : float
        Extra weight of poverty counties in ``needs_weighted`` (assumption, range 0–1).

    Returns
    -------
    AllocationResult
        Status ``NOT_SOLVED``; the plan spends each year's budget exactly when
        ``rules.spend_all``.

    Raises
    ------
    InfeasibleAllocationError
        When the rules contradict each other (see :func:`check_feasibility`) or a fixed plan
        breaks them.
    """
    start = time.perf_counter()
    yrs, budget = check_years(years, budget_cny)
    check_feasibility(yrs, budget, facts, rules)
    if strategy == "fixed":
        if fixed_plan is None:
            raise AllocationError("strategy 'fixed': no fixed_plan given: expected a DataFrame")
        plan = _plan_from_frame(fixed_plan, yrs, facts)
        broken = plan_violations(plan, yrs, budget, facts, rules)
        if broken:
            more = f" (and {len(broken) - 3} more)" if len(broken) > 3 else ""
            raise InfeasibleAllocationError(
                "the fixed plan breaks the allocation rules: " + "; ".join(broken[:3]) + more
            )
    else:
        weights = county_weights(strategy, facts, factor_weights, poverty_bonus)
        targets = _instrument_targets(instrument_shares)
        caps = rules.county_caps_cny(facts)
        plan = np.zeros((len(yrs), facts.n, len(INSTRUMENTS)))
        prev: FloatArray | None = None
        for i, year in enumerate(yrs):
            totals = _year_totals(year, weights, float(budget[i]), facts, rules, caps, prev)
            plan[i] = _split_instruments(year, totals, float(budget[i]), facts, rules, targets)
            prev = totals
    seconds = time.perf_counter() - start
    logger.info("%s plan for %d years in %.3f s", strategy, len(yrs), seconds)
    return AllocationResult(
        strategy=strategy,
        status=SolveStatus.NOT_SOLVED,
        plan_cny=plan,
        years=yrs,
        objective=None,
        mip_gap=None,
        seconds=seconds,
        duals=None,
        message=f"rule strategy {strategy}",
    )


_PLAN_COLUMNS = ("year", "county_code", "instrument", "cny")
"""Columns of a fixed plan file, in the order :func:`read_fixed_plan` reads them."""


def _read_plan_csv(path: Path) -> pd.DataFrame:
    """The plan file as text cells, with every column of :data:`_PLAN_COLUMNS` present."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable CSV: {str(exc).splitlines()[0]}") from None
    for col in _PLAN_COLUMNS:
        if col not in raw.columns:
            raise DataError(
                path, f"missing column {col!r}: expected columns {', '.join(_PLAN_COLUMNS)}", row=1
            )
    return raw


def _plan_row(
    path: Path,
    row: int,
    cells: Sequence[object],
    yrs: set[int],
    codes: Mapping[str, int],
    facts: CountyFacts,
) -> tuple[int, str, str, float]:
    """One row of a plan file (``row`` counts the header as 1) as ``(year, county_code,
    instrument, cny)``, checked for a planning year, a known county and instrument, a finite
    amount >= 0 and poverty-programme money only to poverty counties."""
    y_text, code, inst, cny_text = (str(v).strip() for v in cells)
    year = _plan_year(path, row, y_text, yrs)
    if code not in codes:
        raise DataError(
            path,
            "unknown county code: expected one of the scenario's counties",
            row=row,
            column="county_code",
            value=code,
        )
    if inst not in INSTRUMENTS:
        raise DataError(
            path,
            f"expected one of {', '.join(INSTRUMENTS)}",
            row=row,
            column="instrument",
            value=inst,
        )
    cny = _plan_amount(path, row, cny_text)
    if inst == POVERTY_INSTRUMENT and not facts.poverty[codes[code]]:
        raise DataError(
            path,
            "poverty_programme funds go only to poverty counties",
            row=row,
            column="county_code",
            value=code,
        )
    return year, code, inst, cny


def _plan_year(path: Path, row: int, text: str, yrs: set[int]) -> int:
    """The ``year`` cell of a plan row: an integer among the planning years ``yrs``."""
    try:
        year = int(text)
    except ValueError:
        raise DataError(
            path, "expected an integer year", row=row, column="year", value=text
        ) from None
    if year not in yrs:
        raise DataError(
            path,
            f"expected a planning year {min(yrs)}–{max(yrs)}",
            row=row,
            column="year",
            value=year,
        )
    return year


def _plan_amount(path: Path, row: int, text: str) -> float:
    """The ``cny`` cell of a plan row: a finite amount >= 0 CNY."""
    try:
        cny = float(text)
    except ValueError:
        raise DataError(
            path, "expected an amount in CNY", row=row, column="cny", value=text
        ) from None
    if not (np.isfinite(cny) and cny >= 0):
        raise DataError(path, "expected a finite amount >= 0 CNY", row=row, column="cny", value=cny)
    return cny


def read_fixed_plan(path: Path, facts: CountyFacts, years: Sequence[int]) -> pd.DataFrame:
    """Read a fixed allocation plan from CSV.

    The file has the columns ``year, county_code, instrument, cny`` (CNY); cells not listed are
    zero. Rows are checked for known years, county codes and instruments, finite non-negative
    amounts, duplicates, and poverty-programme money to non-poverty counties.

    Parameters
    ----------
    path : Path
    facts : CountyFacts
    years : sequence of int

    Returns
    -------
    DataFrame
        Columns ``year`` (int), ``county_code`` (str), ``instrument`` (str), ``cny`` (float),
        sorted by year, county and instrument.

    Raises
    ------
    DataError
        Naming the file, the row (header = row 1), the column and the bad value.
    """
    path = Path(path)
    raw = _read_plan_csv(path)
    yrs = {int(y) for y in years}
    codes = {c: i for i, c in enumerate(facts.codes)}
    seen: dict[tuple[int, str, str], int] = {}
    rows: list[tuple[int, str, str, float]] = []
    for i, rec in enumerate(raw[list(_PLAN_COLUMNS)].itertuples(index=False)):
        row = i + 2
        year, code, inst, cny = _plan_row(path, row, rec, yrs, codes, facts)
        key = (year, code, inst)
        if key in seen:
            raise DataError(
                path,
                f"duplicate of row {seen[key]} (same year, county, instrument)",
                row=row,
                value=f"{year},{code},{inst}",
            )
        seen[key] = row
        rows.append((year, code, inst, cny))
    frame = pd.DataFrame(rows, columns=list(_PLAN_COLUMNS))
    frame["year"] = frame["year"].astype(np.int64)
    frame["cny"] = frame["cny"].astype(np.float64)
    return frame.sort_values(["year", "county_code", "instrument"]).reset_index(drop=True)
