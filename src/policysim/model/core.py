"""The agent-based model: a :class:`mesa.Model` that owns the state of the province, the run's
random generator and the yearly step order.

Populations are struct-of-arrays (firms in :class:`~policysim.agents.enterprises.Firms`; townships
and counties as arrays below); each year the rules in :mod:`policysim.agents` update them without a
Python loop over agents. The yearly allocation of provincial funds comes from an *allocator*
(a callable given the year and a :class:`CountySummary`), supplied by
:mod:`policysim.coupling`; the model never sees the optimiser.

Step order of a year t (docs/ODD.md, "Process overview and scheduling"):

1. allocation of the year's provincial funds to counties and instruments;
2. counties: own fiscal S&T spending (matching), management capacity;
3. townships: platforms (creation, closure), S&T commissioners, agricultural technology;
4. enterprises: support received, R&D choice, HNTE notch and certification, innovation, exit;
   entry of new firms per township;
5. county aggregates, GDP;
6. innovative townships (criteria, yearly cap);
7. county innovation-capacity index; designation (national batch, evaluation, provincial batch);
8. metrics of the year.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Final

import mesa
import numpy as np
from numpy.typing import NDArray

from policysim.agents import random as crn
from policysim.agents.calendar import YearRules, resolve_year
from policysim.agents.counties import (
    CountyCapacity,
    DesignationState,
    class_percentile,
    county_year,
    cultivation_draws,
    support_plan,
)
from policysim.agents.enterprises import (
    Draws,
    EnterpriseWorkspace,
    FirmParams,
    Firms,
    Support,
    enterprise_year,
    start_rd,
)
from policysim.agents.entry import base_year_firms, entrants
from policysim.agents.places import (
    ABOVE_SCALE_SALES_CNY,
    adoption_year,
    commissioners_year,
    instrument_funds,
    platforms_year,
)
from policysim.agents.support import firm_support, pool_admissions, share_by_group
from policysim.data import FUNCTIONAL_CLASSES, Baseline
from policysim.data.parks import ParkArrays
from policysim.model.aggregate import (
    aggregate_firms,
    keep_firm_rows,
    per_county,
    per_township,
    record,
)
from policysim.model.designation import (
    batch_size,
    county_index,
    county_indicators,
    designate_counties,
    designate_townships,
    pilot_platforms,
)
from policysim.model.parks import init_parks, park_entrants, park_platforms
from policysim.model.state import (
    I_COMMISSIONERS,
    I_PLATFORMS,
    I_POVERTY,
    N_INSTRUMENTS,
    Allocator,
    CountySummary,
    YearFunds,
    YearRecord,
    baseline_arrays,
    zero_allocator,
)
from policysim.scenario.parameters import BehaviourParams
from policysim.scenario.schema import Scenario
from policysim.vocabulary import INSTRUMENTS

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


#: The uniform streams of a firm-year, in the order the enterprise sub-model unpacks them.
_FIRM_STREAMS: Final = (
    crn.STREAM_GROWTH,
    crn.STREAM_SUCCESS,
    crn.STREAM_APPROVAL,
    crn.STREAM_EXIT,
    crn.STREAM_START,
    crn.STREAM_UPGRADE,
)


class PolicyModel(mesa.Model):  # type: ignore[misc]
    """The province under one scenario, one parameter draw and one random stream.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario (policy calendar, designation rules, horizon).
    baseline : Baseline
        Base-year tables; not modified.
    params : dict of str to float
        Behaviour parameter values (defaults overridden by the scenario and the run's draw).
    rng : numpy.random.Generator
        The run's generator (spawned from the root seed); the only source of randomness.
    allocator : Allocator
        Yearly plan of provincial funds.
    keep_enterprises : bool
        Keep firm-level rows of every year (memory grows with firms × years).
    """

    # firm aggregates of the last year, kept between steps
    count_t: FloatArray  # firms per township (kept up to date through exits and entry)
    sales_county: FloatArray  # sales per county, CNY (idem)
    hnte_t: FloatArray  # HNTEs per township
    status_t: FloatArray  # HNTEs or tech SMEs per township
    hnte_county: FloatArray  # HNTEs per county
    above_scale_county: FloatArray  # above-scale firms per county (the status-firm denominator)
    parks: ParkArrays  # science parks located in the baseline (model/parks.py)

    def __init__(
        self,
        scenario: Scenario,
        baseline: Baseline,
        params: dict[str, float],
        rng: np.random.Generator,
        allocator: Allocator = zero_allocator,
        *,
        keep_enterprises: bool = False,
    ) -> None:
        super().__init__(rng=rng)
        self.scenario = scenario
        self.baseline = baseline
        self.params = dict(params)
        self.allocator = allocator
        self.keep_enterprises = keep_enterprises
        self.bp = BehaviourParams.from_values(self.params)
        self.fp = FirmParams.from_values(self.params)
        self.key = int(self.rng.integers(0, 2**63 - 1))
        # one child stream per purpose, so that a change in one (e.g. the number of entrants)
        # does not shift the draws of another: common random numbers across strategies
        self.rng_places, self.rng_closure, self.rng_entry, self.rng_eval = self.rng.spawn(4)
        # children 4 and 5, spawned after the others so that no earlier stream moves: the
        # province-wide macro shock to GDP (_economy) and the national nomination noise
        self.rng_macro, self.rng_nominate = self.rng.spawn(2)
        self.macro_level = 0.0  # transitory deviation of log GDP from its trend (AR(1))
        self.year: int = scenario.horizon.base_year
        self.weight = 1.0 / float(baseline.enterprise_scale)
        self.records: list[YearRecord] = []
        self.firm_rows: list[dict[str, NDArray[np.generic]]] = []
        self._rules: dict[int, YearRules] = {}
        self._workspace = EnterpriseWorkspace()  # the enterprise rule's buffers, reused yearly
        self._firms: Firms
        self._entering: Firms | None = None  # entrants not yet placed in free slots
        self._init_places()
        self._init_firms()
        self._init_anchors()
        self._record(np.zeros(self.n_counties))

    # ------------------------------------------------------------------------------------------
    # initialisation

    def _init_places(self) -> None:
        a = baseline_arrays(self.baseline)
        self.n_counties = len(a["county_codes"])
        self.n_townships = len(a["township_codes"])
        self.county_codes: tuple[str, ...] = a["county_codes"]
        self.county_names: tuple[str, ...] = a["county_names"]
        self.township_codes: tuple[str, ...] = a["township_codes"]
        self.township_names: tuple[str, ...] = a["township_names"]
        self.poverty: BoolArray = a["poverty_county"]
        self.is_county: BoolArray = a["is_county"]  # 县域: counties and cities
        self.population: FloatArray = a["population"]
        self.gdp: FloatArray = a["gdp_cny"].copy()
        self.gdp_prev = self.gdp.copy()
        self.fiscal_exp: FloatArray = a["fiscal_expenditure_cny"].copy()
        self.st_spending: FloatArray = a["fiscal_st_spending_cny"].copy()
        self.management: FloatArray = a["management_capacity"].copy()
        self.research_capacity: FloatArray = a["research_capacity"].copy()
        self.rd_non_enterprise: FloatArray = a["rd_non_enterprise"].copy()
        self.t_county: IntArray = a["county_idx"]
        self.t_host: BoolArray = a["counts_as_xiangzhen"]
        self.t_agri_weight: FloatArray = a["agri_weight"]
        self.platforms: FloatArray = a["platforms"].copy()
        self.commissioners_base: FloatArray = a["commissioners"]
        self.commissioners = self.commissioners_base.copy()
        self.agri: FloatArray = a["agri_tech_adoption"].copy()
        self.n_xz = np.bincount(self.t_county, weights=self.t_host, minlength=self.n_counties)
        self.innovative = np.zeros(self.n_townships, dtype=bool)
        self.classes: IntArray = a["functional_class"]
        self.n_classes = len(FUNCTIONAL_CLASSES)
        self.designation = DesignationState.empty(self.n_counties)
        self.index = np.zeros(self.n_counties)
        self.package = np.zeros(self.n_counties)  # this year's pilot support, CNY
        self.percentile = np.full(self.n_counties, 0.5)  # standing within the class
        # the host township with most firms of each county: where an obliged platform opens
        firms0 = np.bincount(a["township_idx"], minlength=self.n_townships + 1)[: self.n_townships]
        order = np.lexsort((-(firms0 + 1.0) * self.t_host, self.t_county))
        first = np.ones(order.size, bool)
        first[1:] = self.t_county[order][1:] != self.t_county[order][:-1]
        self.main_township = np.full(self.n_counties, -1, np.int64)
        self.main_township[self.t_county[order][first]] = order[first]
        support = self.scenario.designation.county.support
        self.support_shares = np.zeros(N_INSTRUMENTS)
        for name, share in support.instrument_shares.items():
            self.support_shares[INSTRUMENTS.index(name)] = share
        self._init_parks()

    def _init_firms(self) -> None:
        rules = self.rules_of(self.year)
        self.firms = base_year_firms(
            baseline_arrays(self.baseline),
            rules,
            self.params,
            key=self.key,
            year=self.year,
            weight=self.weight,
            n_counties=self.n_counties,
        )
        # the cultivation pool at the base year: the admissions of the certificate's validity
        # years up to it (the calendar's value before its first year is its first value)
        pool = self.scenario.policy.hnte.cultivation_pool_firms
        if pool is not None:
            span = range(self.year - rules.validity_years + 1, self.year + 1)
            admitted = self._pool_admissions(rules, sum(pool.at(y) for y in span))
            if admitted is not None:
                self.firms = replace(self.firms, cultivated=admitted)
        self.next_firm_id = int(self.firms.firm_id.max()) + 1 if self.firms.n else 0
        self.n_sectors = int(self.firms.sector.max()) + 1 if self.firms.n else 1
        # sector mix of each county (cumulative), for entrants
        mix = (
            np.bincount(
                self.firms.county * self.n_sectors + self.firms.sector,
                minlength=self.n_counties * self.n_sectors,
            )
            .reshape(self.n_counties, self.n_sectors)
            .astype(float)
            + 0.1
        )
        sector_cum = np.cumsum(mix / mix.sum(1, keepdims=True), axis=1)
        # offset by the county index: one binary search over all counties draws the sectors
        self.sector_flat = (sector_cum + np.arange(self.n_counties)[:, None]).ravel()
        self.patents_county = np.zeros(self.n_counties)

    def _init_anchors(self) -> None:
        # base-year patents: 5.6 applications per HNTE (Jiangxi 2014, PARAMETERS.md, derived);
        # firms have no innovation draws before the first step
        self._aggregate_firms(self.firms)
        self.patents_county = 5.6 * self.hnte_county
        ind = self._indicators(growth=np.full(self.n_counties, self.bp.sales_growth_mean))
        self.index = self._index(ind)

    # ------------------------------------------------------------------------------------------
    # the yearly step

    def rules_of(self, year: int) -> YearRules:
        """The tax and HNTE rules of ``year`` (resolved once per run and year)."""
        rules = self._rules.get(year)
        if rules is None:
            rules = self._rules[year] = resolve_year(self.scenario.policy, year)
        return rules

    def set_params(self, values: Mapping[str, float]) -> None:
        """Replace behaviour parameter values in mid-run (the nowcast's rejuvenation): the
        dictionary and both typed views, so that no rule reads a stale value."""
        self.params.update(values)
        self.bp = BehaviourParams.from_values(self.params)
        self.fp = FirmParams.from_values(self.params)

    def release_buffers(self) -> None:
        """Give back the enterprise rule's work buffers (a finished run's model may live on
        until the cycle collector frees it; its buffers need not). A further step allocates
        them again."""
        self._workspace = EnterpriseWorkspace()

    def summary(self) -> CountySummary:
        """County facts available to the allocator at the start of the next year."""
        return CountySummary(
            year=self.year + 1,
            codes=self.county_codes,
            names=self.county_names,
            poverty=self.poverty,
            research_capacity=self.research_capacity.copy(),
            fiscal_st_spending_cny=self.st_spending.copy(),
            management_capacity=self.management.copy(),
            index=self.index.copy(),
            designated=self.designation.pilot | self.designation.designated,
            pilot_support_cny=self.pilot_support(self.year + 1),
        )

    @property
    def firms(self) -> Firms:
        """The firm population: every slot, with empty slots (township ``n_townships``) free
        for entrants; the year's entrants are placed when the population is first read."""
        if self._entering is not None:
            free = np.flatnonzero(self._firms.township == self.n_townships)
            self._firms = self._firms.place(free, self._entering)
            self._entering = None
        return self._firms

    @firms.setter
    def firms(self, value: Firms) -> None:
        self._firms = value

    def pilot_support(self, year: int) -> FloatArray:
        """Provincial funds of the support packages paid in ``year``, CNY per county: every
        pilot in its build cycle after its batch year. They never exceed the year's budget."""
        d = self.designation
        funded = d.pilot & (d.pilot_since >= 0) & (d.pilot_since < year)
        support: FloatArray = np.where(funded, self.bp.pilot_support_cny, 0.0)
        total = float(support.sum())
        budget = self.scenario.budget_cny(year)
        if total > budget:
            support *= budget / total
        return support

    def step(self) -> None:
        """Advance the province by one year: the process overview and schedule of docs/ODD.md,
        each sub-model one method below."""
        year = self.year + 1
        rules = self.rules_of(year)
        funds = self._allocate(year)  # 1. provincial funds: pilot packages, then the strategy
        self._counties(funds)  # 2. county S&T spending and matching, management capacity
        firms_t = self._townships(funds.plan)  # 3. platforms, commissioners, adoption
        growth = self._enterprises(year, rules, funds, firms_t)  # 4. firms; exit and entry
        self._economy(growth)  # 5. county GDP, fiscal spending, non-enterprise R&D
        self._designate_townships(year)  # 6. innovative townships
        self._evaluate(year)  # 7. county index, pilots, evaluations, national counties
        self._record(funds.received)  # 8. the year's metrics
        self.steps_done = year

    # ------------------------------------------------------------------------------------------
    # the schedule's sub-models

    def _allocate(self, year: int) -> YearFunds:
        """The year's provincial funds: the pilots' support packages are paid first, the
        allocator's plan shares the rest (poverty-programme money only to poverty counties)."""
        p = self.bp
        summary = self.summary()
        plan = np.asarray(self.allocator(year, summary), dtype=np.float64)
        if plan.shape != (self.n_counties, N_INSTRUMENTS) or (plan < -1e-6).any():
            raise ValueError(f"allocator returned an invalid plan of shape {plan.shape}")
        plan = np.maximum(plan, 0.0)
        plan[:, I_POVERTY] *= self.poverty
        allocated = plan.sum(axis=1)
        package = summary.pilot_support_cny
        assert package is not None
        package_plan, matching = support_plan(package, p.pilot_matching_ratio, self.support_shares)
        self.package = package
        return YearFunds(
            plan=plan + package_plan,
            allocated=allocated,
            received=allocated + package,
            matching=matching,
            # per county (and the empty slot n_counties): funded pilots cultivate HNTEs
            cultivation=np.append(package > 0, False).astype(np.float64),
        )

    def _counties(self, funds: YearFunds) -> None:
        """Own S&T spending (autonomous growth, standing within the class, matching of
        provincial funds, the pilots' matching obligation), management and research capacity."""
        p = self.bp
        c = county_year(
            CountyCapacity(self.st_spending, self.management, self.research_capacity),
            self.percentile,
            self.designation.pilot | self.designation.designated,
            allocated=funds.allocated,
            received=funds.received,
            matching=funds.matching,
            spending_growth=p.county_st_spending_growth,
            standing_response=p.standing_spending_response,
            matching_rate=p.county_matching_rate,
            learning=p.management_learning,
            half_funds_cny=p.management_half_funds_cny,
        )
        self.st_spending, self.management, self.research_capacity = (
            c.st_spending,
            c.management,
            c.research,
        )

    def _townships(self, plan: FloatArray) -> FloatArray:
        """Platforms (funded, closing, a pilot's obligation), commissioners (funded, paid by
        the county by its standing, a pilot's obligation) and agricultural adoption. Returns
        the firms per township at the start of the year (weighted)."""
        p = self.bp
        firms_t: FloatArray = self.count_t * float(self.weight)
        host_w = (firms_t + 1.0) * self.t_host
        platform_funds, comm_funds = instrument_funds(
            plan[:, I_PLATFORMS], plan[:, I_COMMISSIONERS], plan[:, I_POVERTY]
        )
        pf_t = share_by_group(platform_funds, self.t_county, host_w, self.n_counties)
        u_t = self.rng_places.random((3, self.n_townships))
        closures = self.rng_closure.binomial(
            self.platforms.astype(np.int64), p.platform_closure_rate
        ).astype(float)
        self.platforms = platforms_year(self.platforms, closures, pf_t, p.platform_cost_cny, u_t[0])
        pilot = self.designation.pilot
        self._pilot_platforms(pilot)
        cf_t = share_by_group(comm_funds, self.t_county, self.t_agri_weight, self.n_counties)
        obliged = np.asarray(
            self.scenario.designation.county.support.commissioners_per_xz
            * pilot[self.t_county]
            * self.t_host,
            dtype=np.float64,
        )
        # commissioners the county pays itself: demand rises with its standing in its class;
        # a pilot keeps at least its obligation per 乡镇
        self.commissioners = commissioners_year(
            self.commissioners_base,
            cf_t,
            p.commissioner_cost_cny,
            p.standing_commissioner_response * self.percentile[self.t_county] * self.t_host,
            u_t[1],
            u_t[2],
            obliged,
        )
        self.agri = adoption_year(self.agri, self.commissioners, p.agri_adoption_per_commissioner)
        return firms_t

    def _enterprises(
        self, year: int, rules: YearRules, funds: YearFunds, firms_t: FloatArray
    ) -> FloatArray:
        """Firms start R&D, receive support, choose R&D and HNTE status, innovate and exit;
        entrants arrive (all of a firm's draws of the year from one identity hash). Returns
        each county's growth of firm sales over the year (before exits and entry)."""
        ug, us, ua, ue, u_start, u_upgrade = crn.uniform_streams(
            self.key, self.firms.firm_id, year, _FIRM_STREAMS, self._workspace.uniforms
        )
        start_rate, uncounted = self._pilot_drives(funds.cultivation, u_upgrade, rules)
        self.firms = start_rd(self.firms, start_rate, u_start, uncounted, inplace=True)
        support = self._support(funds.plan, rules)
        draws = Draws(growth=ug, success=us, approval=ua, exit=ue, upgrade=u_upgrade)
        sales_before = self.sales_county
        outcome = enterprise_year(
            self.firms, rules, support, self.fp, draws, self._workspace, inplace=True
        )
        after = outcome.firms
        self.firms = after
        self.year = year
        self._aggregate_firms(after)
        if self.keep_enterprises:
            self._keep_firm_rows(after)
        growth: FloatArray = (
            np.divide(
                self.sales_county,
                sales_before,
                out=np.ones(self.n_counties),
                where=sales_before > 0,
            )
            - 1.0
        )
        self._exit_and_entry(after, outcome.exits, firms_t)
        return growth

    def _pilot_drives(
        self, cultivation: FloatArray, u_upgrade: FloatArray, rules: YearRules
    ) -> tuple[FloatArray | float, BoolArray | None]:
        """HNTE cultivation (高企培育) of funded pilots: more R&D performers reconsider meeting
        the non-R&D criteria (``u_upgrade`` remapped in place; the enterprise rule decides
        whether it pays); the pilots' R&D coverage drive: more firms start R&D. Returns the
        start rate per firm (or one for all) and the firms counted anew (:meth:`_start_rate`).
        Computed for the firms of funded pilots alone: elsewhere the extra rates are 0, the
        draws stay as they are and the start rate is min(rate, 1)."""
        p = self.bp
        county = self.firms.county
        # (a bool look-up and its indices, then the rates of those firms alone: cheaper than a
        # float look-up for every firm and the indices of its non-zeros)
        in_pilot = np.flatnonzero((cultivation != 0.0).take(county))
        extra = cultivation.take(county.take(in_pilot))
        u_upgrade[in_pilot] = cultivation_draws(
            u_upgrade.take(in_pilot), extra * p.pilot_hnte_cultivation_rate
        )
        start_rate, uncounted = self._start_rate(rules)
        rate_of_pilots = np.minimum(
            np.broadcast_to(start_rate, county.shape).take(in_pilot)
            + extra * p.pilot_rd_start_rate,
            1.0,
        )
        start_rate = np.minimum(start_rate, 1.0)  # (a fresh array if it is one)
        if in_pilot.size:
            if np.ndim(start_rate) == 0:
                start_rate = np.full(county.shape, start_rate)
            start_rate[in_pilot] = rate_of_pilots
        return start_rate, uncounted

    def _exit_and_entry(self, after: Firms, exits: BoolArray, firms_t: FloatArray) -> None:
        """Firms that exit free their slot (they belong to no township or county from now on);
        the year's entrants take free slots when the firms are next read (no copy of the
        population every year; after the last year nobody reads them, which saves that
        year's placing). Township counts and county sales of the firms alive at the start of
        next year are kept up to date without a pass over all firms."""
        gone = np.flatnonzero(exits & (after.township < self.n_townships))
        self.count_t = self.count_t - self._per_township(after.township[gone], None)
        self.sales_county = self.sales_county - self._per_county(
            after.county[gone], after.sales[gone]
        )
        after.township[gone] = self.n_townships
        after.county[gone] = self.n_counties
        entrants = self._entrants(firms_t)
        self.count_t = self.count_t + self._per_township(entrants.township, None)
        self.sales_county = self.sales_county + self._per_county(entrants.county, entrants.sales)
        self._entering = entrants

    def _economy(self, growth: FloatArray) -> None:
        """County GDP (the industry share grows with its firms' sales, the rest at the mean
        rate) times the province-wide macro shock, fiscal spending in proportion to GDP,
        non-enterprise R&D at its rate.

        The shock is a transitory deviation ``x`` of log GDP from that trend, AR(1):
        ``x_t = macro_shock_persistence * x_(t-1) + macro_shock_sd * e_t`` with ``e_t`` standard
        normal from the run's own stream (one draw a year, also when the sd is 0), so every
        county's GDP is multiplied by ``exp(x_t - x_(t-1))`` (exactly 1 when the sd is 0)."""
        p = self.bp
        phi = p.industry_share_of_gdp
        shock = float(self.rng_macro.standard_normal())
        level = p.macro_shock_persistence * self.macro_level + p.macro_shock_sd * shock
        factor = math.exp(level - self.macro_level)
        self.macro_level = level
        self.gdp_prev = self.gdp
        self.gdp = self.gdp * (1.0 + (1.0 - phi) * p.sales_growth_mean + phi * growth) * factor
        self.fiscal_exp = self.fiscal_exp * self.gdp / self.gdp_prev
        self.rd_non_enterprise = self.rd_non_enterprise * (1.0 + p.non_enterprise_rd_growth)

    def _evaluate(self, year: int) -> None:
        """The county index re-scored against the year's cross-section, observed with
        evaluation noise; pilots, evaluations and national counties; standing in the class."""
        ind = self._indicators(growth=self.gdp / self.gdp_prev - 1.0)
        self.index = self._index(ind)
        noise = self.rng_eval.normal(0.0, self.bp.index_noise_sd, self.n_counties)
        observed = self.index + noise
        self._designate_counties(year, observed)
        self.percentile = class_percentile(observed, self.classes, self.n_classes)

    # ------------------------------------------------------------------------------------------
    # sub-steps

    def _start_rate(self, rules: YearRules) -> tuple[FloatArray | float, BoolArray | None]:
        """Yearly probability that a firm without R&D starts it: the spontaneous rate, and for
        above-scale firms the rate at which the province's push closes the gap to the year's
        R&D coverage of above-scale firms (when the calendar has one). Also the firms whose
        starts are the statistics' coverage widening (R&D performed but not counted before),
        or None."""
        base = float(self.bp.rd_start_rate)
        if np.isnan(rules.coverage):
            return base, None
        f = self.firms
        above = (f.sales >= ABOVE_SCALE_SALES_CNY) & (f.township < self.n_townships)
        n_above = np.count_nonzero(above)  # (counts bits: a bool sum casts every element)
        if n_above == 0:
            return base, None
        share = float(np.count_nonzero(above & (f.r0 > 0.0))) / n_above
        push = max(rules.coverage - share, 0.0) / max(1.0 - share, 1e-9)
        if push <= base:
            return base, None
        return np.where(above, push, base), above

    def _support(self, plan: FloatArray, rules: YearRules) -> Support:
        """The year's support to firms (:func:`policysim.agents.support.firm_support`) and the
        year's admissions to the HNTE cultivation pool."""
        p = self.bp
        policy = self.scenario.policy
        return firm_support(
            self.firms,
            plan,
            self.weight,
            n_counties=self.n_counties,
            n_sectors=self.n_sectors,
            commissioners=self.commissioners,
            caps=(policy.voucher_max_share_of_rd, policy.subsidy_max_share_of_rd),
            credit=(p.credit_leverage, p.credit_rd_share),
            boosts=(p.commissioner_innovation_boost, p.cluster_spillover),
            admitted=self._pool_admissions(rules, rules.cultivation_pool),
        )

    def _pool_admissions(self, rules: YearRules, firms: float) -> BoolArray | None:
        """Admissions to the HNTE cultivation pool of ``firms`` firms province-wide (scaled by
        ``cultivation_pool_scale``; :func:`policysim.agents.support.pool_admissions`)."""
        k = round(firms * self.bp.cultivation_pool_scale / self.weight)
        return pool_admissions(self.firms, rules, k, self.fp.pool_window, self.n_townships)

    def _entrants(self, firms_t: FloatArray) -> Firms:
        """The year's new firms per township (:func:`policysim.agents.entry.entrants`)."""
        p = self.bp
        lam = (
            (
                p.firm_entry_rate * firms_t
                + p.entrants_per_platform * self.platforms
                + p.entrants_per_commissioner * self.commissioners
                + self._park_entrants(self.year)
            )
            * self.t_host
            / self.weight
        )
        new = entrants(
            self.rng_entry,
            lam,
            self.t_county,
            self.sector_flat,
            self.n_sectors,
            self.rules_of(self.year),
            self.params,
            self.next_firm_id,
        )
        self.next_firm_id += new.n
        return new

    # sub-models in sibling modules, bound as methods (model/designation.py,
    # model/aggregate.py)
    _pilot_platforms = pilot_platforms
    _init_parks = init_parks
    _park_entrants = park_entrants
    _park_platforms = park_platforms
    _batch_size = batch_size
    _designate_townships = designate_townships
    _designate_counties = designate_counties
    _indicators = county_indicators
    _index = county_index
    _aggregate_firms = aggregate_firms
    _per_township = per_township
    _per_county = per_county
    _keep_firm_rows = keep_firm_rows
    _record = record


__all__ = ["ABOVE_SCALE_SALES_CNY", "PolicyModel"]
