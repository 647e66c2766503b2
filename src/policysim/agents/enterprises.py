"""Enterprise agents: state arrays and the yearly R&D, HNTE and innovation rule.

The population is a struct of arrays (:class:`Firms`). The yearly rule
:func:`enterprise_year` is an element-wise function of the firm arrays, the year's tax rules,
the support each firm receives and pre-drawn uniforms; no Python loop over firms. The model runs
it in place, on its own population, with reused work buffers (:class:`EnterpriseWorkspace`):
no array of the population's size is allocated from one year to the next (issue 20). The
per-object reference in :mod:`policysim.agents.reference` implements the same equations firm by
firm; :func:`policysim.agents.reference.enterprise_year_allocating` is the vectorised rule as it
was before its buffers, which the buffered rule equals bit for bit.

Equations (see docs/ODD.md, submodel "Enterprise R&D"):

- growth: ``g = mu + gain * success_prev + scale * s(size) * Laplace(u_g)``,
  ``sales' = sales * max(1 + g, 0.3)``
- take-up: a firm is loss-making (no taxable profit) if ``claim_u < loss``; a profitable firm
  claims the super-deduction if ``claim_u < loss + (1 - loss) * takeup(t)`` (fixed rank per firm)
- user cost (B-index): ``B = (1 - tau * (1 + sd)) / (1 - tau)``, tau = 15% for an HNTE else the CIT
  rate, sd = the largest super-deduction rate applicable to the firm's type and year if it claims,
  else 0
- own intensity (partial adjustment): ``r' = r + lambda * (r0 * (B / B0) ** eps - r)``
- real R&D: ``own + a_v * voucher + a_s * subsidy + credit_rd``; reported = real unless bunching
- HNTE value per year: ``V = (cit - t_hnte) * max(margin * sales - sd * real, 0)`` for a profitable
  firm (0 if loss-making), plus ``reward / validity`` for a firm never certified
- non-R&D criteria: a performer not meeting them (own intensity at least ``window`` times the
  lowest threshold) reconsiders with probability
  ``upgrade + (1 - upgrade) * cultivation(t)`` (on its own or recruited by the cultivation pool); it
  meets them when ``validity * (V - C_R&D) > cost * criteria_cost * sales * (1 - cultivation(t))``
  with ``C_R&D = B * max((1 - rho) * theta * sales - real, 0)`` (rho = relabelling share)
- HNTE notch (3-year planning): a firm meeting the other criteria whose annual reported intensity
  ``r`` is at least ``window * theta`` and below ``theta`` (or, for an applicant, whose 3-year
  ratio is short) reports ``x_theta = max(theta, r)`` when that pays:
  ``B * (real_theta - real) < V``, with ``real_x = max(real, (1 - rho) x sales)`` (of the
  reported R&D at most ``rho`` is relabelled, the rest is real). A certified firm keeps complying
  at ``theta``; an applicant catches up on its 3-year window, ``x = clip(3 theta - h1 - h2,
  theta, (1 + catchup) theta)``, when ``B * (real_x - real_theta) < 2 V`` (two years of status
  gained), else it reports ``theta`` and applies when the window is met
- certification if the 3-year intensity meets the threshold, with probability ``renewal`` for a
  certificate expiring this year and ``approval`` otherwise; valid ``validity`` years
- innovation: ``P = 1 - exp(-zeta * 100 * real / sales * boost)``; success adds patents
- exit: ``P = rate * clip((sales / 5e7) ** -0.2, 0.5, 2) * (0.5 if HNTE)``
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from policysim.agents.calendar import YearRules
from policysim.agents.firms import (
    SIZE_REFERENCE_CNY,
    TECH_SME_MAX_EMPLOYEES,
    TECH_SME_MAX_SALES_CNY,
    THRESHOLD_RTOL,
    Draws,
    EnterpriseWorkspace,
    FirmParams,
    Firms,
    Support,
    YearOutcome,
    _take,
)
from policysim.agents.random import poisson_quantile
from policysim.agents.tax import (
    b_index,
    b_table,
    band_threshold,
    claims_deduction,
    firm_tax,
    firm_type,
    tax_table,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

_ArrayT = TypeVar("_ArrayT", bound=NDArray[Any])


def laplace_from_uniform(
    u: FloatArray, *, out: FloatArray | None = None, work: FloatArray | None = None
) -> FloatArray:
    """Standard Laplace (scale 1) by inversion (into ``out`` with scratch ``work``, both shaped
    like ``u``, when given)."""
    if out is None or work is None:
        v = u - 0.5
        out = np.abs(v)
    else:
        v = np.subtract(u, 0.5, out=work)
        np.abs(v, out=out)
    out *= -2.0
    np.log1p(out, out=out)  # log(1 - 2|v|) <= 0
    np.copysign(out, v, out=out)  # = -sign(v) * log(1 - 2|v|)
    return out


CRITERIA_COST_SIGMA = 1.0  # assumption: log-normal dispersion of the cost of the HNTE criteria


def criteria_factor(u: FloatArray) -> FloatArray:
    """Relative cost of meeting the non-R&D HNTE criteria (log-normal, median 1) from a
    uniform."""
    out: FloatArray = np.exp(CRITERIA_COST_SIGMA * ndtri(np.clip(u, 1e-12, 1.0 - 1e-12)))
    return out


START_INTENSITY_MEDIAN = 0.02  # assumption: median R&D/sales of a firm starting R&D
START_INTENSITY_SIGMA = 0.5  # assumption: log-normal dispersion of that intensity


def start_rd(
    f: Firms,
    start_rate: FloatArray | float,
    u_start: FloatArray,
    uncounted: BoolArray | None = None,
    *,
    inplace: bool = False,
) -> Firms:
    """Firms without R&D that start it (a new own intensity ``r0``, log-normal, at which their
    own intensity starts; pure, element-wise). ``start_rate`` is a rate per firm or one for all.

    A starter in ``uncounted`` is a firm whose R&D the statistics begin to count (the coverage
    of above-scale firms widens): it performed R&D before, so its past two years' intensity is
    its intensity (``hist1 = hist2 = r0``); other starters have no R&D history.

    The intensity of a starter is drawn from ``u_start / start_rate``, uniform on [0, 1) given
    that the firm starts. With ``inplace`` the arrays of ``f`` are updated (the model's own
    population, which no one else holds) instead of copied."""
    rate = np.broadcast_to(np.asarray(start_rate, dtype=np.float64), f.r0.shape)
    starting = np.flatnonzero((f.r0 <= 0.0) & (u_start < rate))
    if not starting.size:
        return f
    r0 = f.r0 if inplace else f.r0.copy()
    own = f.own if inplace else f.own.copy()
    u_level = u_start[starting] / rate[starting]
    r0[starting] = np.exp(
        np.log(START_INTENSITY_MEDIAN)
        + START_INTENSITY_SIGMA * ndtri(np.clip(u_level, 1e-12, 1.0 - 1e-12))
    )
    own[starting] = r0[starting]  # a new R&D activity starts at its chosen intensity
    if uncounted is None:
        return replace(f, r0=r0, own=own)
    counted_now = starting[uncounted[starting]]
    hist1, hist2 = (f.hist1, f.hist2) if inplace else (f.hist1.copy(), f.hist2.copy())
    hist1[counted_now] = r0[counted_now]
    hist2[counted_now] = r0[counted_now]
    return replace(f, r0=r0, own=own, hist1=hist1, hist2=hist2)


def _hnte_value(
    f: Firms,
    rules: YearRules,
    p: FirmParams,
    idx: IntArray,
    sales: FloatArray,
    real: FloatArray,
    kind: NDArray[np.uint8],
    scratch: tuple[FloatArray, FloatArray, BoolArray, NDArray[np.uint8]],
) -> FloatArray:
    """Yearly value of HNTE status to the firms ``idx``: the tax saved on taxable profit after
    the super-deduction (nothing for a loss-making firm), plus the first-certification reward
    spread over the validity years for a firm never certified. Written into the first of the
    ``scratch`` arrays (float, float, bool, uint8; each of ``idx``'s size)."""
    value, work, mask, kinds = scratch
    sd = _take(tax_table(rules)[1], _take(kind, idx, out=kinds), out=work)  # 0: not claiming
    sd *= _take(real, idx, out=value)
    taxable = _take(sales, idx, out=value)
    taxable *= p.margin
    taxable -= sd
    np.maximum(taxable, 0.0, out=taxable)
    taxable *= np.greater_equal(_take(f.claim_u, idx, out=work), p.loss_share, out=mask)
    taxable *= rules.cit - rules.hnte_tax  # (the value)
    never = np.less(_take(f.hnte_expiry, idx, out=work.view(np.int64)), 0, out=mask)
    taxable += np.multiply(never, rules.hnte_reward / rules.validity_years, out=work)
    return taxable


#: Firm arrays whose values the rule reads and updates (copied unless it works in place).
_UPDATED = (
    "sales",
    "employees",
    "age",
    "own",
    "hist1",
    "other_ok",
    "cultivated",
    "hnte",
    "tech_sme",
    "success",
)
#: Firm arrays the rule writes without reading them (fresh unless it works in place).
_OVERWRITTEN = ("gap", "rd_real", "rd_reported", "patents")


_WRITTEN = (*_UPDATED, *_OVERWRITTEN, "hist2", "hnte_expiry")


def _distinct(f: Firms) -> bool:
    """Whether every array the rule writes is a distinct array (two fields sharing one would
    see each other's values if the rule worked in place)."""
    return len({id(getattr(f, k)) for k in _WRITTEN}) == len(_WRITTEN)


def _private_state(f: Firms, *, copy: bool) -> Firms:
    """``f`` with arrays the rule may update in place: copies of the arrays it updates (if
    ``copy``), and the certificate expiry years as int64 (always)."""
    changes: dict[str, NDArray[Any]] = {"hnte_expiry": f.hnte_expiry.astype(np.int64)}
    if copy:
        changes.update({name: getattr(f, name).copy() for name in _UPDATED})
        changes.update({name: np.empty(f.n) for name in _OVERWRITTEN})
    return replace(f, **changes)


def enterprise_year(
    f: Firms,
    rules: YearRules,
    support: Support,
    p: FirmParams,
    u: Draws,
    workspace: EnterpriseWorkspace | None = None,
    *,
    inplace: bool = False,
) -> YearOutcome:
    """Advance every firm by one year (element-wise).

    The new firm arrays are ``f``'s own arrays updated in place when ``inplace`` (the model's
    population, which nobody else holds: ``f`` itself must not be used afterwards, its arrays
    are the outcome's), else copies (``f`` is left as it was). Intermediates are slices of the
    ``workspace``'s buffers (a fresh one if None); so are the outcome's flags ``exits``,
    ``bunched`` and ``certified``, which the next call with the same workspace overwrites.

    The steps, in order (each a function below; the order matters, since later steps reuse
    the arrays and buffers of earlier ones): growth; certificates and tax types; the
    cultivation pool and the firms reconsidering the non-R&D criteria (decided on last year's
    own intensity); own R&D under this year's user cost and support; the criteria; the notch
    window and bunching; certification; tech SME status; innovation; exit."""
    ws = EnterpriseWorkspace() if workspace is None else workspace
    n = f.n
    ws.reserve(n)
    if not inplace or not _distinct(f):
        f = _private_state(f, copy=True)
    elif f.hnte_expiry.dtype != np.int64:
        f = _private_state(f, copy=False)
    y = _Year(f, rules, p, u, ws, n, ws.mask[:n], ws.mask2[:n], ws.kind[:n], b_table(rules))
    _grow(y)
    valid, lasting = _certificates(y)
    _firm_types(y, valid)
    cultivated, any_pool = _cultivation_pool(y, support)
    registered, up, own_up = _reconsidering(y, cultivated, any_pool)
    boost_of = _own_rd(y, support)
    _criteria(y, up, own_up, cultivated)
    w = _notch_window(y, registered, lasting, cultivated, any_pool)
    bunched = _bunch(y, w)
    certified, hnte = _certify(y, w, valid, lasting)
    _tech_sme(y, w.r_now)
    _innovate(y, boost_of)
    exits = _exits(y, hnte)
    # last year's intensity is now that of two years ago; this year's (r_now, in the array of
    # the old hist1) is last year's
    new = replace(f, hist1=f.hist2, hist2=w.r_now)
    return YearOutcome(firms=new, exits=exits, bunched=bunched, certified=certified)


@dataclass(eq=False)
class _Year:
    """One call of :func:`enterprise_year`: the firms (their arrays updated in place), the
    year's rules, parameters and draws, the workspace, two scratch masks over every firm, the
    firms' tax types (filled by :func:`_firm_types`) and the B-index of each type.

    The rule never reads the old values of gap, rd_real, rd_reported and patents: their arrays
    serve as scratch until the rule writes them."""

    f: Firms
    rules: YearRules
    p: FirmParams
    u: Draws
    ws: EnterpriseWorkspace
    n: int
    mask: BoolArray
    mask2: BoolArray
    kind: NDArray[np.uint8]
    b_of: FloatArray

    def b_at(self, index: IntArray, out: FloatArray) -> FloatArray:
        """This year's B-index of the firms ``index`` (a look-up of their type), into ``out``."""
        kinds = _take(self.kind, index, out=self.ws.sub_kind[: index.size])
        return _take(self.b_of, kinds, out=out)


def _grow(y: _Year) -> None:
    """Sales and employees grow by ``max(1 + g, 0.3)``; age by a year."""
    f, p, u = y.f, y.p, y.u
    sales = f.sales
    size = np.multiply(sales, 1.0 / SIZE_REFERENCE_CNY, out=f.gap)
    np.log(size, out=size)
    size *= -0.15
    np.exp(size, out=size)  # (sales / reference) ** -0.15 (exp and log beat power)
    np.clip(size, 0.5, 2.0, out=size)
    factor = laplace_from_uniform(u.growth, out=f.patents, work=f.rd_reported)
    factor *= size
    factor *= p.growth_scale
    factor += 1.0 + p.growth_mean
    factor[np.flatnonzero(f.success)] += p.sales_gain  # (the few innovators: no pass over all)
    np.maximum(factor, 0.3, out=factor)
    sales *= factor
    employees, age = f.employees, f.age  # (updated in place)
    employees *= factor
    age += 1.0


def _certificates(y: _Year) -> tuple[BoolArray, BoolArray]:
    """Certificates expiring before this year are gone; those expiring this year are valid for
    the tax of this year but due for renewal. Returns (valid, lasting: not up for renewal)."""
    f, n, year = y.f, y.n, y.rules.year
    valid = np.greater_equal(f.hnte_expiry, year, out=y.ws.valid[:n])
    valid &= f.hnte
    lasting = np.greater(f.hnte_expiry, year, out=y.ws.lasting[:n])
    lasting &= f.hnte
    return valid, lasting


def _firm_types(y: _Year, valid: BoolArray) -> None:
    """Each firm's tax type this year (16 types: the user cost of R&D is a table look-up, for
    the firms that need it alone), into ``y.kind``."""
    f = y.f
    claims = claims_deduction(f.claim_u, y.rules, y.p.loss_share, out=y.mask, work=y.mask2)
    firm_type(valid, f.tech_sme, f.manufacturing, claims, out=y.kind)


def _cultivation_pool(y: _Year, support: Support) -> tuple[BoolArray, bool]:
    """HNTE cultivation pool (高企入库培育): admitted firms stay in it; intermediaries and the
    programme help them with the criteria (they reconsider every year) and with the R&D
    accounts (relabelling up to ``pool_relabel``; the notch is considered from
    ``pool_window`` of the threshold). Returns the pool and whether anyone is in it."""
    cultivated = y.f.cultivated
    if support.admitted is not None:
        cultivated |= support.admitted
    return cultivated, bool(cultivated.any())


def _reconsidering(
    y: _Year, cultivated: BoolArray, any_pool: bool
) -> tuple[BoolArray, IntArray, FloatArray]:
    """Non-R&D criteria: a costly choice, made cheaper by cultivation programmes; performers
    not meeting them reconsider on their own (rate ``upgrade``) or recruited by the cultivation
    pool (a share ``cultivation`` of the rest). Who considers it depends on last year's own
    intensity: decided before it is updated. Returns (registered at least a year, the firms
    reconsidering, their own intensity of last year)."""
    f, p, rules, ws, n = y.f, y.p, y.rules, y.ws, y.n
    reconsider = p.upgrade + (1.0 - p.upgrade) * rules.cultivation
    # (a firm below the notch window of the lowest threshold cannot gain: not considered)
    reach = min(p.window, p.pool_window) if any_pool else p.window
    registered = np.greater_equal(f.age, 1.0, out=ws.registered[:n])
    considers = np.greater_equal(f.own, reach * float(rules.band_min_rd.min()), out=y.mask)
    considers &= registered
    considers &= np.logical_not(f.other_ok, out=y.mask2)
    np.less(y.u.upgrade, reconsider, out=y.mask2)
    y.mask2 |= cultivated
    considers &= y.mask2
    up = np.flatnonzero(considers)
    own_up = _take(f.own, up, out=ws.sub[6][: up.size])
    return registered, up, own_up


def _own_rd(y: _Year, support: Support) -> FloatArray:
    """Own intensity adjusts towards the target ``r0 * (B / B0) ** eps``; real R&D is own R&D
    plus what the support adds; reported R&D is real R&D (before bunching). Returns each
    firm's innovation boost (in the patents array: scratch until the innovation draws)."""
    f, p = y.f, y.p
    own, sales, real, reported, gap = f.own, f.sales, f.rd_real, f.rd_reported, f.gap
    # the target is 0 for a firm without R&D (r0 = 0, most firms): the transcendental
    # functions run on the R&D performers alone
    if support.performers is None:
        perf = np.flatnonzero(np.greater(f.r0, 0.0, out=y.mask))
    else:
        perf = support.performers
    k = perf.size
    t_p, x_p = gap[:k], reported[:k]  # (scratch until the rule writes them)
    y.b_at(perf, t_p)
    t_p /= _take(f.b0, perf, out=x_p)
    np.log(t_p, out=t_p)
    t_p *= p.elasticity
    np.exp(t_p, out=t_p)
    t_p *= _take(f.r0, perf, out=x_p)
    # own' = own + adjustment * (target - own); a firm without R&D keeps own = 0
    own_p = _take(own, perf, out=x_p)
    t_p -= own_p
    t_p *= p.adjustment
    own_p += t_p
    own[perf] = own_p
    np.multiply(own, sales, out=real)
    boost_of = f.patents
    if support.performers is None:
        real += np.multiply(support.voucher, p.voucher_add, out=gap)
        real += np.multiply(support.subsidy, p.subsidy_add, out=gap)
        real += support.credit_rd
        np.copyto(boost_of, support.boost)
    else:  # support reaches performers alone: the others keep real = own * sales (= 0)
        real_p = _take(real, perf, out=t_p)
        real_p += np.multiply(support.voucher, p.voucher_add, out=x_p)
        real_p += np.multiply(support.subsidy, p.subsidy_add, out=x_p)
        real_p += support.credit_rd
        real[perf] = real_p
        boost_of.fill(1.0)
        boost_of[perf] = support.boost
    np.copyto(reported, real)
    gap.fill(0.0)
    return boost_of


def _criteria(y: _Year, up: IntArray, own_up: FloatArray, cultivated: BoolArray) -> None:
    """The firms reconsidering meet the non-R&D criteria when the value of HNTE status over
    its validity, net of the R&D it takes to reach the threshold, exceeds the cost of the
    criteria (cheaper under cultivation), and their own intensity is within the notch window.
    All HNTE decisions are made on index subsets: thresholds are looked up only where needed.
    """
    if not up.size:
        return
    f, p, rules, ws = y.f, y.p, y.rules, y.ws
    sales, real = f.sales, f.rd_real
    k = up.size
    value, work, s_u, th_u, rd_cost, cost = (b[:k] for b in ws.sub[:6])
    pool_u, m1, m2 = (b[:k] for b in ws.sub_mask[:3])
    _take(cultivated, up, out=pool_u)
    _hnte_value(f, rules, p, up, sales, real, y.kind, (value, work, m1, ws.sub_kind[:k]))
    _take(sales, up, out=s_u)
    band_threshold(rules, s_u, out=th_u, band=ws.sub_kind[:k], work=m1)
    rd_cost.fill(p.relabel)  # the relabelling share, rho
    rd_cost[pool_u] = p.pool_relabel
    np.subtract(1.0, rd_cost, out=rd_cost)
    rd_cost *= th_u
    rd_cost *= s_u
    rd_cost -= _take(real, up, out=work)
    np.maximum(rd_cost, 0.0, out=rd_cost)
    rd_cost *= y.b_at(up, work)
    _take(f.criteria_cost, up, out=cost)
    cost *= p.criteria_cost
    cost *= s_u
    cost *= 1.0 - rules.cultivation
    value -= rd_cost
    value *= rules.validity_years
    meets = np.greater(value, cost, out=m1)
    window_u = th_u  # (the notch window of each firm, times the lowest threshold)
    window_u.fill(p.window)
    window_u[pool_u] = p.pool_window
    window_u *= float(rules.band_min_rd.min())
    meets &= np.greater_equal(own_up, window_u, out=m2)
    f.other_ok[up[meets]] = True


@dataclass(eq=False)
class _Window:
    """The firms that may bunch or apply (``sel``: meeting the other criteria, registered at
    least a year) and their arrays (slices of the workspace; see :func:`_notch_window`)."""

    sel: IntArray
    th: FloatArray  # band threshold
    th_low: FloatArray  # the threshold less the comparison tolerance
    hist: FloatArray  # reported intensity of the past two years, summed
    r: FloatArray  # this year's reported intensity
    total: FloatArray  # scratch: the 3-year sum
    short: BoolArray  # scratch
    work: BoolArray  # scratch
    lasting: BoolArray  # certificate not up for renewal
    pool: BoolArray  # in the cultivation pool
    cand: IntArray  # notch candidates (positions in sel)
    r_now: FloatArray  # this year's reported intensity of every firm


def _notch_window(
    y: _Year, registered: BoolArray, lasting: BoolArray, cultivated: BoolArray, any_pool: bool
) -> _Window:
    """The firms that may bunch or apply and the notch candidates among them: below the
    threshold this year, or applicants whose 3-year window is short, from the notch window
    of their threshold (HNTE notch with 3-year planning)."""
    f, p, rules, ws = y.f, y.p, y.rules, y.ws
    sel = np.flatnonzero(np.logical_and(f.other_ok, registered, out=y.mask))
    m = sel.size
    th_s, th_low_s, hist_s, r_s, sum_s, lower_s = (b[:m] for b in ws.sub[:6])
    short, work_s, last_s, pool_s = (b[:m] for b in ws.sub_mask[:4])
    band_threshold(
        rules, _take(f.sales, sel, out=sum_s), out=th_s, band=ws.sub_kind[:m], work=short
    )
    np.multiply(th_s, 1.0 - THRESHOLD_RTOL, out=th_low_s)
    _take(f.hist1, sel, out=hist_s)
    hist_s += _take(f.hist2, sel, out=r_s)
    # this year's reported intensity, in the array of the intensity two years ago (no longer
    # needed): next year's hist2
    r_now = np.divide(f.rd_reported, f.sales, out=f.hist1)
    _take(lasting, sel, out=last_s)
    _take(r_now, sel, out=r_s)
    pi = np.empty(0, np.int64)
    if any_pool:
        _take(cultivated, sel, out=pool_s)
        # the intermediaries' special audit of a pool firm's past two years (研发费用专项审计)
        # restates their R&D up to the same relabelling share, at most to the threshold
        pi = np.flatnonzero(pool_s)
        h = hist_s[pi]
        hist_s[pi] = np.maximum(np.minimum(h * (1.0 / (1.0 - p.pool_relabel)), 2.0 * th_s[pi]), h)
    else:
        pool_s.fill(False)
    np.add(hist_s, r_s, out=sum_s)
    np.less(sum_s, np.multiply(th_low_s, 3.0, out=lower_s), out=short)
    short &= np.logical_not(last_s, out=work_s)
    short |= np.less(r_s, th_low_s, out=work_s)
    # the lowest annual intensity from which a firm considers the notch
    np.multiply(th_s, p.window, out=lower_s)
    if any_pool:
        lower_s[pi] = p.pool_window * th_s[pi]
    short &= np.greater_equal(r_s, lower_s, out=work_s)
    cand = np.flatnonzero(short)  # positions in sel
    return _Window(
        sel, th_s, th_low_s, hist_s, r_s, sum_s, short, work_s, last_s, pool_s, cand, r_now
    )


def _bunch(y: _Year, w: _Window) -> BoolArray:
    """Candidates move to the threshold (reporting at least it every year, relabelling up to
    their share) when the R&D it takes costs less than the value of the status; an applicant
    also catches up on its window when the extra cost is below the value of the (up to) two
    years of status it gains by certifying now. Returns the firms that bunched."""
    f, p, rules, ws = y.f, y.p, y.rules, y.ws
    bunched = ws.bunched[: y.n]
    bunched.fill(False)
    cand = w.cand
    if not cand.size:
        return bunched
    sales, real, reported, gap = f.sales, f.rd_real, f.rd_reported, f.gap
    k = cand.size
    value, work, s_c, th_c, real_c, b_c, r_c, keep, x, need, catch, need_x = (
        b[:k] for b in ws.sub[6:18]
    )
    # (the first two reuse the window's scratch masks, no longer needed)
    takes, up_now, m1, m2 = (b[:k] for b in (*ws.sub_mask[:2], *ws.sub_mask[4:6]))
    candidates = _take(w.sel, cand, out=ws.sub_index[:k])
    _hnte_value(f, rules, p, candidates, sales, real, y.kind, (value, work, m1, ws.sub_kind[:k]))
    _take(sales, candidates, out=s_c)
    _take(w.th, cand, out=th_c)
    _take(real, candidates, out=real_c)
    y.b_at(candidates, b_c)
    _take(w.r, cand, out=r_c)
    keep.fill(p.relabel)
    keep[_take(w.pool, cand, out=m1)] = p.pool_relabel
    np.subtract(1.0, keep, out=keep)  # the real share of reports
    # reporting (at least) the threshold every year, the plan over the 3-year window, must pay
    x_th = np.maximum(th_c, r_c, out=x)
    need_th = np.multiply(keep, x_th, out=need)
    need_th *= s_c
    np.maximum(need_th, real_c, out=need_th)
    np.less(np.multiply(np.subtract(need_th, real_c, out=work), b_c, out=work), value, out=takes)
    # catching up on the window; certified firms keep complying at the threshold
    np.multiply(th_c, 3.0, out=catch)
    catch -= _take(w.hist, cand, out=work)
    np.clip(catch, th_c, np.multiply(th_c, 1.0 + p.catchup, out=work), out=catch)
    np.maximum(catch, r_c, out=catch)
    np.multiply(keep, catch, out=need_x)
    need_x *= s_c
    np.maximum(need_x, real_c, out=need_x)
    np.multiply(np.subtract(need_x, need_th, out=work), b_c, out=work)
    value *= 2.0
    np.less(work, value, out=up_now)
    up_now &= np.logical_not(_take(w.lasting, cand, out=m1), out=m1)
    np.copyto(x, catch, where=up_now)  # x_th becomes x
    np.copyto(need, need_x, where=up_now)  # need_th becomes need
    moves = np.greater(x, r_c, out=m2)
    moves &= takes
    idx = candidates[moves]
    bunched[idx] = True
    reported[idx] = x[moves] * s_c[moves]
    real[idx] = need[moves]
    gap[idx] = 1.0 - real[idx] / reported[idx]
    w.r_now[idx] = x[moves]
    w.r[cand[moves]] = x[moves]
    return bunched


def _certify(
    y: _Year, w: _Window, valid: BoolArray, lasting: BoolArray
) -> tuple[BoolArray, BoolArray]:
    """Applicants (3-year mean at the threshold, certificate not lasting) are certified with
    the approval (first applications) or renewal probability. Bunchers sit exactly at the
    threshold: compared with a relative tolerance so that rounding in sums (which depend on
    the order of firms) never decides it. Returns (certified this year, HNTE status)."""
    f, p, ws, u = y.f, y.p, y.ws, y.u
    np.add(w.hist, w.r, out=w.total)
    w.total /= 3.0
    applies = np.greater_equal(w.total, w.th_low, out=w.short)
    applies &= np.logical_not(w.lasting, out=w.work)
    applicants = w.sel[np.flatnonzero(applies)]
    due = valid.take(applicants)  # valid and not lasting: up for renewal
    certified = ws.certified[: y.n]
    certified.fill(False)
    approved = u.approval.take(applicants) < np.where(due, p.renewal, p.approval)
    certified[applicants] = approved
    hnte = np.logical_or(lasting, certified, out=f.hnte)
    f.hnte_expiry[applicants[approved]] = y.rules.year + y.rules.validity_years - 1
    return certified, hnte


def _tech_sme(y: _Year, r_now: FloatArray) -> None:
    """Tech SME status (科技型中小企业): small enough and this year's reported intensity."""
    f = y.f
    tech_sme = np.less_equal(f.sales, TECH_SME_MAX_SALES_CNY, out=f.tech_sme)
    tech_sme &= np.less_equal(f.employees, TECH_SME_MAX_EMPLOYEES, out=y.mask)
    tech_sme &= np.greater_equal(r_now, y.p.tech_sme_min_rd, out=y.mask)


def _innovate(y: _Year, boost_of: FloatArray) -> None:
    """Innovation: P = 1 - exp(-zeta * 100 * real / sales * boost), 0 without R&D (computed
    for the firms with R&D alone); a success brings Poisson patents."""
    f, p, ws = y.f, y.p, y.ws
    real, sales = f.rd_real, f.sales
    active = np.flatnonzero(np.greater(real, 0.0, out=y.mask))
    k = active.size
    prob_a, x_a = ws.sub[0][:k], ws.sub[1][:k]
    _take(real, active, out=prob_a)
    prob_a /= _take(sales, active, out=x_a)
    prob_a *= -p.zeta * 100.0
    prob_a *= _take(boost_of, active, out=x_a)
    np.exp(prob_a, out=prob_a)
    np.subtract(1.0, prob_a, out=prob_a)
    u_a = _take(y.u.success, active, out=x_a)
    won_a = np.less(u_a, prob_a, out=ws.sub_mask[0][:k])
    success = f.success
    success.fill(False)
    success[active] = won_a
    patents = f.patents
    patents.fill(0.0)  # (the boost is no longer needed)
    won_i = np.flatnonzero(won_a)
    patents[active[won_i]] = poisson_quantile(
        p.patents_per_success, u_a.take(won_i) / prob_a.take(won_i)
    )


def _exits(y: _Year, hnte: BoolArray) -> BoolArray:
    """Exit at the end of the year, at a rate falling with size and halved for HNTEs; the size
    factor is at most 2, so only firms drawing below twice the rate can exit: the factor is
    computed for those alone."""
    p, u = y.p, y.u
    near = np.flatnonzero(np.less(u.exit, 2.0 * p.exit_rate, out=y.mask))
    p_exit = np.log(y.f.sales[near] * (1.0 / SIZE_REFERENCE_CNY))
    p_exit *= -0.2
    np.exp(p_exit, out=p_exit)
    np.clip(p_exit, 0.5, 2.0, out=p_exit)
    p_exit *= p.exit_rate
    p_exit *= np.where(hnte[near], 0.5, 1.0)  # halved for HNTEs (x 1: exact; where= is slow)
    exits = y.ws.exits[: y.n]
    exits.fill(False)
    exits[near] = u.exit[near] < p_exit
    return exits


__all__ = [
    "SIZE_REFERENCE_CNY",
    "TECH_SME_MAX_EMPLOYEES",
    "TECH_SME_MAX_SALES_CNY",
    "THRESHOLD_RTOL",
    "Draws",
    "EnterpriseWorkspace",
    "FirmParams",
    "Firms",
    "Support",
    "YearOutcome",
    "b_index",
    "b_table",
    "band_threshold",
    "claims_deduction",
    "criteria_factor",
    "enterprise_year",
    "firm_tax",
    "firm_type",
    "laplace_from_uniform",
    "start_rd",
    "tax_table",
]
