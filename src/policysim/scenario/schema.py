"""The typed, closed-world schema of scenario files.

A scenario is parsed from YAML (see :mod:`policysim.scenario.loader`), merged over the scenario it
``extends`` and validated into the frozen :class:`Scenario`. Every model here forbids unknown keys.
Money in scenario files is in 亿元 (``100m_cny``, 1e8 CNY) as in the policy documents; the model
works in CNY.
"""

from __future__ import annotations

import itertools
import json
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policysim import vocabulary
from policysim.metrics import target_metrics
from policysim.scenario.parameters import BEHAVIOUR_DEFAULTS, PROBABILITY_UNITS
from policysim.vocabulary import INSTRUMENTS

#: The instruments (one vocabulary, :mod:`policysim.vocabulary`); ``Instrument`` spells them for
#: the type checker and for key-path errors on unknown keys (a test ties the two).
INSTRUMENT_NAMES = INSTRUMENTS
Instrument = Literal[
    "vouchers", "rd_subsidies", "platforms", "commissioners", "credit", "poverty_programme"
]
Comparator = Literal[">=", ">", "<=", "<", "rising"]

#: Province-level metrics that targets may name (from the metric registry).
PROVINCE_METRICS = target_metrics()

NonNeg = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Year = Annotated[int, Field(ge=1990, le=2100)]


def at_path(path: tuple[str | int, ...], message: str) -> ValueError:
    """A validation error located at ``path`` (the loader reports that key path and its line)."""
    return ValueError("@" + json.dumps(list(path)) + "@" + message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Metadata(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$", min_length=1, max_length=80)]
    description: str = ""
    references: tuple[str, ...] = ()


class Horizon(_Strict):
    base_year: Literal[2017] = 2017
    end_year: Annotated[int, Field(le=2060)] = 2030

    @model_validator(mode="after")
    def _order(self) -> Horizon:
        if self.end_year <= self.base_year:
            raise ValueError(
                f"end_year {self.end_year} is not after base_year {self.base_year} "
                "(expected an end year after the base year)"
            )
        return self

    @property
    def years(self) -> range:
        """Simulated years after the base year, inclusive of the end year."""
        return range(self.base_year + 1, self.end_year + 1)


#: Most synthesis seeds an ensemble may sample: each is a baseline cached in every worker
#: process (about 5 MB and 0.05 s each for Jiangxi), so the number is kept small.
MAX_SYNTHESIS_SEEDS = 16


class SynthesisSeeds(_Strict):
    """The synthesis seeds an ensemble samples: ``first, first + 1, ..., first + count - 1``.

    Every run draws one of them (each equally often in every block of ``count`` runs; see
    :func:`policysim.experiments.design.synthesis_seed_of`), so the ensemble's intervals include
    the uncertainty of the synthetic county economy.
    """

    first: Annotated[int, Field(ge=0)]
    count: Annotated[int, Field(ge=1, le=MAX_SYNTHESIS_SEEDS)]

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.first, self.first + self.count))


class BaselineSpec(_Strict):
    source: Annotated[str, Field(min_length=1)] = "embedded"
    #: seed of a single run (``simulate``) and of the tables shown by ``policysim data``
    synthesis_seed: Annotated[int, Field(ge=0)] = 2017
    #: seeds sampled by an ensemble (None: every run uses ``synthesis_seed``)
    synthesis_seeds: SynthesisSeeds | None = None
    include_subdistricts: bool = False
    enterprise_scale: Annotated[float, Field(gt=0, le=50)] = 1.0

    def ensemble_seeds(self) -> tuple[int, ...]:
        """The synthesis seeds an ensemble's runs use."""
        if self.synthesis_seeds is None:
            return (self.synthesis_seed,)
        return self.synthesis_seeds.seeds


class DatedSeries(_Strict):
    """Values by year; the value in force in year t is the one of the latest year <= t."""

    values: dict[Year, float]
    unit: str = ""
    source: str = ""

    @field_validator("values")
    @classmethod
    def _non_empty(cls, v: dict[int, float]) -> dict[int, float]:
        if not v:
            raise ValueError("needs at least one year: value entry")
        return v

    def at(self, year: int) -> float:
        """The value in force in ``year`` (the first value applies before its year)."""
        years = sorted(self.values)
        chosen = years[0]
        for y in years:
            if y <= year:
                chosen = y
        return self.values[chosen]


class Budget(_Strict):
    """Provincial S&T special funds (省级科技专项资金) for the county levers, 亿元 per year."""

    unit: Literal["100m_cny"] = "100m_cny"
    values: dict[Year, NonNeg]
    growth_after_last_pct: Annotated[float, Field(ge=-50, le=50)] = 0.0
    source: str = ""

    @field_validator("values")
    @classmethod
    def _non_empty(cls, v: dict[int, float]) -> dict[int, float]:
        if not v:
            raise ValueError("needs at least one year: value entry")
        return v

    def at(self, year: int) -> float:
        """Budget of ``year`` in 亿元: the given value, the value of the last year before it grown
        by ``growth_after_last_pct`` per year after the last given year, or the first value before
        the first given year."""
        years = sorted(self.values)
        if year in self.values:
            return self.values[year]
        if year < years[0]:
            return self.values[years[0]]
        last = max(y for y in years if y < year)
        if last == years[-1]:
            return self.values[last] * (1 + self.growth_after_last_pct / 100) ** (year - last)
        return self.values[last]


class FactorWeights(_Strict):
    """Weights of the policy's factor formula (按因素法分配)."""

    research_capacity: Share = 0.4
    fiscal_st_spending: Share = 0.3
    management_capacity: Share = 0.3

    @model_validator(mode="after")
    def _sum(self) -> FactorWeights:
        total = self.research_capacity + self.fiscal_st_spending + self.management_capacity
        if abs(total - 1) > 1e-6:
            raise ValueError(f"factor weights sum to {total:g} (expected weights summing to 1)")
        return self


class ObjectiveSpec(_Strict):
    deadline_weights: dict[Year, NonNeg] = Field(default_factory=lambda: {2020: 1.0, 2030: 1.0})
    rd_weight: NonNeg = 0.0
    index_weight: NonNeg = 0.01
    #: what the optimiser's plans are verified against in the agent-based model: "targets" (the
    #: weighted probability of meeting the scenario's targets at their deadlines, with the
    #: targets' own definitions) or "designations" (expected provincial innovative counties at
    #: the deadlines, weighted by deadline_weights)
    kind: Literal["designations", "targets"] = "designations"
    #: weight of each target (by name) in the "targets" objective; a target not named weighs 1
    target_weights: dict[str, NonNeg] = Field(default_factory=dict)


class VerificationSpec(_Strict):
    """How an optimised plan is checked in the agent-based model (common random numbers)."""

    #: paired model runs per candidate plan (seeds and draws apart from any ensemble's)
    replications: Annotated[int, Field(ge=2, le=1000)] = 24
    #: improvement rounds of the trust-region search (0: only the surrogate and the rules)
    max_iterations: Annotated[int, Field(ge=0, le=50)] = 3
    #: first trust-region radius: the share of the plan moved toward a direction in one step
    radius: Annotated[float, Field(gt=0, le=1)] = 0.5
    #: the search stops when a failed round halves the radius below this
    min_radius: Annotated[float, Field(gt=0, le=1)] = 0.125
    #: a step is accepted only if its paired gain on the smoothed objective exceeds this many
    #: standard errors (and the exact objective does not fall)
    min_t: NonNeg = 1.0


class SolverSpec(_Strict):
    time_limit_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    mip_gap: Share = 0.01
    #: closed-loop re-planning: "lp" relaxes the designation binaries to [0, 1] (read as
    #: designation probabilities; about 0.1 s a re-solve), "mip" keeps them binary (exact, slower)
    closed_loop_mode: Literal["lp", "mip"] = "lp"
    #: the open-loop surrogate plan (strategy "optimal"): "mip" (exact, default) or "lp"; the
    #: closed loop's own open-loop stage uses closed_loop_mode, so that re-planning is compared
    #: with the open loop in the same solver mode
    open_loop_mode: Literal["lp", "mip"] = "mip"


class ResponseSpec(_Strict):
    """How the optimiser's response curves are estimated from the agent-based model."""

    replications: Annotated[int, Field(ge=1, le=100)] = 3
    breakpoints_100m_cny: tuple[NonNeg, ...] = (0.0, 0.05, 0.15, 0.40)

    @field_validator("breakpoints_100m_cny")
    @classmethod
    def _increasing(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) < 2 or v[0] != 0 or any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("expected a strictly increasing list starting at 0, at least 2 values")
        return v


def _default_instrument_shares() -> dict[Instrument, float]:
    return {
        "vouchers": 0.20,
        "rd_subsidies": 0.25,
        "platforms": 0.20,
        "commissioners": 0.10,
        "credit": 0.15,
        "poverty_programme": 0.10,
    }


class AllocationSpec(_Strict):
    strategy: str = "factor_formula"
    factor_weights: FactorWeights = FactorWeights()
    instrument_shares: dict[Instrument, Share] = Field(default_factory=_default_instrument_shares)
    floor_100m_cny: NonNeg = 0.0
    ceiling_100m_cny: NonNeg | None = None
    poverty_share_min: Share = 0.0
    instrument_share_min: dict[Instrument, Share] = Field(default_factory=dict)
    instrument_share_max: dict[Instrument, Share] = Field(default_factory=dict)
    absorptive_multiple: Annotated[float, Field(gt=0)] | None = None
    max_change_pct: NonNeg | None = None
    designated_floor_only: bool = False
    needs_poverty_bonus: NonNeg = 0.5
    fixed_plan: str | None = None
    objective: ObjectiveSpec = ObjectiveSpec()
    solver: SolverSpec = SolverSpec()
    response: ResponseSpec = ResponseSpec()
    verification: VerificationSpec = VerificationSpec()

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        try:
            vocabulary.strategy(v)
        except KeyError:
            names = ", ".join(repr(s.name) for s in vocabulary.STRATEGIES)
            raise ValueError(f"unknown strategy: expected one of {names}") from None
        return v

    @model_validator(mode="after")
    def _check(self) -> AllocationSpec:
        total = sum(self.instrument_shares.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"instrument_shares sum to {total:g} (expected shares summing to 1)")
        if self.strategy == "fixed" and not self.fixed_plan:
            raise ValueError("strategy 'fixed' needs fixed_plan: a CSV file of the plan")
        if self.ceiling_100m_cny is not None and self.ceiling_100m_cny < self.floor_100m_cny:
            raise ValueError(
                f"ceiling_100m_cny {self.ceiling_100m_cny:g} is below floor_100m_cny "
                f"{self.floor_100m_cny:g} (expected ceiling >= floor)"
            )
        return self


class HnteBand(_Strict):
    max_sales_cny: NonNeg | None  # None = no upper bound
    min_rd_share: Share


class HnteRegime(_Strict):
    from_year: Year
    bands: tuple[HnteBand, ...]
    document: str

    @field_validator("bands")
    @classmethod
    def _bands(cls, v: tuple[HnteBand, ...]) -> tuple[HnteBand, ...]:
        if not v or v[-1].max_sales_cny is not None:
            raise ValueError("expected bands ordered by sales, the last with max_sales_cny: null")
        return v


class HnteRules(_Strict):
    tax_rate: DatedSeries
    regimes: Annotated[tuple[HnteRegime, ...], Field(min_length=1)]
    validity_years: Annotated[int, Field(ge=1, le=10)] = 3
    #: one-off reward to a newly certified HNTE (provincial and local 高企 awards), CNY
    certification_reward_cny: DatedSeries | None = None
    #: share of a firm's cost of meeting the non-R&D criteria (IP, high-tech revenue, staff)
    #: borne by cultivation programmes (高企入库培育: pool, intermediaries, pre-certification
    #: grants), 0..1
    cultivation_cost_share: DatedSeries | None = None
    #: firms admitted each year to the HNTE cultivation pool (高企入库培育: provincial,
    #: prefecture and county reserve lists of candidate firms), count; admitted firms are the
    #: R&D performers closest to their R&D threshold that are not yet certified
    cultivation_pool_firms: DatedSeries | None = None

    def regime(self, year: int) -> HnteRegime:
        chosen = self.regimes[0]
        for r in sorted(self.regimes, key=lambda r: r.from_year):
            if r.from_year <= year:
                chosen = r
        return chosen


class SuperDeductionRule(_Strict):
    from_year: Year
    to_year: Year | None = None
    firms: Literal["all", "tech_sme", "manufacturing"]
    rate: Annotated[float, Field(ge=0, le=3)]
    document: str

    @model_validator(mode="after")
    def _order(self) -> SuperDeductionRule:
        if self.to_year is not None and self.to_year < self.from_year:
            raise ValueError(f"to_year {self.to_year} is before from_year {self.from_year}")
        return self


class PolicyCalendar(_Strict):
    cit_rate: DatedSeries
    hnte: HnteRules
    super_deduction: tuple[SuperDeductionRule, ...]
    #: share of eligible profitable R&D performers that claim the super-deduction, 0..1
    #: (absent: all claim)
    super_deduction_takeup: DatedSeries | None = None
    #: share of above-scale firms performing R&D the province's push reaches (R&D coverage of
    #: above-scale firms), 0..1 (absent: no push beyond the spontaneous start rate)
    rd_coverage_above_scale: DatedSeries | None = None

    @model_validator(mode="after")
    def _shares(self) -> PolicyCalendar:
        series = {
            ("super_deduction_takeup",): self.super_deduction_takeup,
            ("rd_coverage_above_scale",): self.rd_coverage_above_scale,
            ("hnte", "cultivation_cost_share"): self.hnte.cultivation_cost_share,
        }
        pool = self.hnte.cultivation_pool_firms
        if pool is not None:
            for year, value in pool.values.items():
                if not 0.0 <= value <= 1e7:
                    raise at_path(
                        ("policy", "hnte", "cultivation_pool_firms", "values", year),
                        f"value {value:g} in {year} is not a count of firms (expected 0..1e7)",
                    )
        for path, dated in series.items():
            if dated is None:
                continue
            for year, value in dated.values.items():
                if not 0.0 <= value <= 1.0:
                    raise at_path(
                        ("policy", *path, "values", year),
                        f"value {value:g} in {year} is not a share (expected 0..1)",
                    )
        return self

    voucher_max_share_of_rd: Share = 0.5
    voucher_document: str = ""
    subsidy_max_share_of_rd: Share = 0.3
    subsidy_document: str = ""


class IndexWeights(_Strict):
    """Weights of the 4 dimensions of the provincial county evaluation (not public: assumption)."""

    environment: Share = 0.25
    inputs: Share = 0.25
    outcomes: Share = 0.30
    development: Share = 0.20

    @model_validator(mode="after")
    def _sum(self) -> IndexWeights:
        total = self.environment + self.inputs + self.outcomes + self.development
        if abs(total - 1) > 1e-6:
            raise ValueError(f"index weights sum to {total:g} (expected weights summing to 1)")
        return self


class Batch(_Strict):
    """A provincial batch decided in ``year``: at most ``size`` new pilot counties (or innovative
    townships), where the candidates qualify and the pilots can be funded."""

    year: Year
    size: Annotated[int, Field(ge=0, le=10000)]
    source: str = ""


class ProjectedBatches(_Strict):
    """Years with a batch after the documented ones: every ``every_years`` years from
    ``from_year`` to the horizon end. County batches in these years have the uncertain size
    ``county_batch_size`` (a behaviour parameter); township batches designate every qualifying
    township (no cap)."""

    from_year: Year
    every_years: Annotated[int, Field(ge=1, le=10)] = 1

    def years(self, end_year: int) -> range:
        return range(self.from_year, end_year + 1, self.every_years)


_SUPPORT_SHARES = ("vouchers", "rd_subsidies", "platforms", "commissioners")


class PilotSupport(_Strict):
    """The support package of a provincial pilot county and its obligations.

    The provincial funds per pilot and year (``pilot_support_cny``) and the county's matching
    ratio (``pilot_matching_ratio``) are uncertain behaviour parameters; this section holds the
    province's decisions.
    """

    max_budget_share: Share = 0.4
    instrument_shares: dict[str, Share] = Field(
        default_factory=lambda: {
            "vouchers": 0.2,
            "rd_subsidies": 0.4,
            "platforms": 0.25,
            "commissioners": 0.15,
        }
    )
    commissioners_per_xz: NonNeg = 1.0
    min_platforms: NonNeg = 2.0
    max_matching_share_of_fiscal: Share = 0.05
    source: str = ""

    @field_validator("instrument_shares")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        for name in v:
            if name not in _SUPPORT_SHARES:
                raise at_path(
                    ("designation", "county", "support", "instrument_shares", name),
                    f"unknown support instrument {name!r} (expected one of "
                    f"{', '.join(_SUPPORT_SHARES)})",
                )
        total = sum(v.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(
                f"support instrument shares sum to {total:g} (expected shares summing to 1)"
            )
        return v


class CountyDesignation(_Strict):
    batches: tuple[Batch, ...] = ()
    projected_batches: ProjectedBatches | None = None
    build_cycle_years: Annotated[int, Field(ge=1, le=10)] = 3
    count_pilots: bool = True
    pass_min_gain: Annotated[float, Field(ge=-50, le=50)] = 0.0
    pass_min_percentile: Share = 0.3
    support: PilotSupport = PilotSupport()

    def batch_years(self, end_year: int) -> tuple[int, ...]:
        years = {b.year for b in self.batches}
        if self.projected_batches is not None:
            years |= set(self.projected_batches.years(end_year))
        return tuple(sorted(years))


class TownshipDesignation(_Strict):
    first_year: Year = 2018
    min_criteria_met: Annotated[int, Field(ge=1, le=4)] = 3
    batches: tuple[Batch, ...] = ()
    projected_batches: ProjectedBatches | None = None


class NationalBatch(_Strict):
    """A nationwide MOST batch of national innovative counties: ``national_size`` counties in
    all of China; Jiangxi's number is ``national_jiangxi_share`` (uncertain) of it, rounded."""

    year: Year
    national_size: Annotated[int, Field(ge=0, le=3000)]
    source: str = ""


class NationalDesignation(_Strict):
    batches: tuple[NationalBatch, ...] = ()
    build_cycle_years: Annotated[int, Field(ge=1, le=10)] = 3


class DesignationRules(_Strict):
    index_weights: IndexWeights = IndexWeights()
    county: CountyDesignation = CountyDesignation()
    township: TownshipDesignation = TownshipDesignation()
    national: NationalDesignation = NationalDesignation()


class Parameter(_Strict):
    value: float
    unit: str
    source: str


#: The keys of a distribution other than its name.
_DISTRIBUTION_KEYS: Final = ("low", "high", "mode", "mean", "sd", "mean_log", "sd_log", "a", "b")
#: Largest magnitude of a distribution's bounds and centre (beyond it draws overflow to inf).
_MAX_BOUND: Final = 1e15


class Distribution(_Strict):
    distribution: Literal["uniform", "triangular", "normal", "lognormal", "beta"]
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: Annotated[float, Field(gt=0)] | None = None
    mean_log: float | None = None
    sd_log: Annotated[float, Field(gt=0)] | None = None
    a: Annotated[float, Field(gt=0)] | None = None
    b: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _params(self) -> Distribution:
        need = {
            "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high"),
            "normal": ("mean", "sd"),
            "lognormal": ("mean_log", "sd_log"),
            "beta": ("a", "b", "low", "high"),
        }[self.distribution]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(
                f"{self.distribution} distribution needs {', '.join(need)}; missing "
                f"{', '.join(missing)}"
            )
        # a normal may be truncated to [low, high]; any other key is a mistake, not ignored
        allowed = {*need, *(("low", "high") if self.distribution == "normal" else ())}
        stray = [n for n in _DISTRIBUTION_KEYS if n not in allowed and getattr(self, n) is not None]
        if stray:
            raise ValueError(
                f"{self.distribution} distribution takes {', '.join(sorted(allowed))}; "
                f"unexpected {', '.join(stray)}"
            )
        for n in _DISTRIBUTION_KEYS:
            v = getattr(self, n)
            if v is not None and abs(v) > _MAX_BOUND:
                raise ValueError(f"{n} {v:g} is beyond +-{_MAX_BOUND:g}")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low {self.low:g} is not below high {self.high:g}")
        if (
            self.mode is not None
            and self.low is not None
            and self.high is not None
            and not self.low <= self.mode <= self.high
        ):
            raise ValueError(f"mode {self.mode:g} is outside [low, high]")
        return self

    def support(self) -> tuple[float, float]:
        """Smallest interval holding all the mass (infinite ends where unbounded)."""
        if self.distribution in ("uniform", "triangular", "beta"):
            assert self.low is not None and self.high is not None
            return (self.low, self.high)
        if self.distribution == "lognormal":
            return (0.0, float("inf"))
        lo = self.low if self.low is not None else float("-inf")
        hi = self.high if self.high is not None else float("inf")
        return (lo, hi)


class Target(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    metric: str
    comparator: Comparator
    threshold: float | None = None
    year: Year
    level: Literal["province"] = "province"
    description: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> Target:
        if self.metric not in PROVINCE_METRICS:
            raise ValueError(
                f"unknown metric {self.metric!r} (expected one of {', '.join(PROVINCE_METRICS)})"
            )
        if self.comparator == "rising":
            if self.threshold is not None:
                raise ValueError("comparator 'rising' takes no threshold")
        elif self.threshold is None:
            raise ValueError(f"comparator {self.comparator!r} needs a threshold")
        return self


class EnsembleSpec(_Strict):
    replications: Annotated[int, Field(ge=1, le=1_000_000)] = 200
    root_seed: Annotated[int, Field(ge=0)] = 20180101
    sampling: Literal["lhs", "monte_carlo"] = "lhs"
    #: at most 100,000 draws per batch (a batch is drawn whole: 100,000 x the parameters)
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 100
    max_replications: Annotated[int, Field(ge=1, le=1_000_000)] = 5000


class OutputSpec(_Strict):
    dir: str = "results"
    figures: bool = True
    report: bool = True
    unit_tables: bool = True  # county and township probability tables


class Scenario(_Strict):
    """A validated scenario. Frozen: derive variants with :func:`policysim.scenario.with_overrides`."""

    metadata: Metadata
    extends: str | None = None
    horizon: Horizon = Horizon()
    baseline: BaselineSpec = BaselineSpec()
    budget: Budget
    allocation: AllocationSpec = AllocationSpec()
    policy: PolicyCalendar
    designation: DesignationRules = DesignationRules()
    behaviour: dict[str, Parameter] = Field(default_factory=dict)
    uncertainties: dict[str, Distribution] = Field(default_factory=dict)
    targets: tuple[Target, ...] = ()
    ensemble: EnsembleSpec = EnsembleSpec()
    outputs: OutputSpec = OutputSpec()

    @field_validator("behaviour")
    @classmethod
    def _behaviour(cls, v: dict[str, Parameter]) -> dict[str, Parameter]:
        for name, p in v.items():
            if name not in BEHAVIOUR_DEFAULTS:
                raise at_path(
                    ("behaviour", name),
                    f"unknown behaviour parameter {name!r} (expected one of "
                    f"{', '.join(sorted(BEHAVIOUR_DEFAULTS))})",
                )
            default = BEHAVIOUR_DEFAULTS[name]
            if p.unit != default.unit:
                raise at_path(
                    ("behaviour", name, "unit"), f"unit {p.unit!r} (expected {default.unit!r})"
                )
            if p.unit in PROBABILITY_UNITS and not 0 <= p.value <= 1:
                raise at_path(
                    ("behaviour", name, "value"),
                    f"value {p.value:g} is a {p.unit} outside [0, 1] (expected 0 <= value <= 1)",
                )
            if p.unit in ("cny", "count", "ratio") and p.value < 0:
                raise at_path(
                    ("behaviour", name, "value"), f"value {p.value:g} is negative (expected >= 0)"
                )
        return v

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        years = range(self.horizon.base_year, self.horizon.end_year + 1)
        seen: set[str] = set()
        for i, t in enumerate(self.targets):
            if t.name in seen:
                raise at_path(
                    ("targets", i, "name"),
                    f"duplicate target name {t.name!r} (expected unique names)",
                )
            seen.add(t.name)
            if t.year not in years:
                raise at_path(
                    ("targets", i, "year"),
                    f"target year {t.year} is outside the horizon {years.start}-{years.stop - 1}",
                )
        d = self.designation
        base = self.horizon.base_year
        for section, batch_years in (
            ("county", [b.year for b in d.county.batches]),
            ("township", [b.year for b in d.township.batches]),
            ("national", [b.year for b in d.national.batches]),
        ):
            for i, y in enumerate(batch_years):
                if y <= base:
                    raise at_path(
                        ("designation", section, "batches", i, "year"),
                        f"batch year {y} is not after the base year {base} "
                        "(expected a simulated year; later years are ignored)",
                    )
        for section, proj in (
            ("county", d.county.projected_batches),
            ("township", d.township.projected_batches),
        ):
            if proj is not None and proj.from_year <= base:
                raise at_path(
                    ("designation", section, "projected_batches", "from_year"),
                    f"from_year {proj.from_year} is not after the base year {base} "
                    "(expected a simulated year)",
                )
        for name, dist in self.uncertainties.items():
            if name not in BEHAVIOUR_DEFAULTS:
                raise at_path(
                    ("uncertainties", name),
                    f"uncertainty over unknown behaviour parameter {name!r} (expected one of "
                    f"{', '.join(sorted(BEHAVIOUR_DEFAULTS))})",
                )
            unit = BEHAVIOUR_DEFAULTS[name].unit
            lo, hi = dist.support()
            if unit in PROBABILITY_UNITS and (lo < 0 or hi > 1):
                raise at_path(
                    ("uncertainties", name),
                    f"uncertainty {name!r} ranges over [{lo:g}, {hi:g}] but is a {unit} "
                    "(expected a range within [0, 1])",
                )
            if unit in ("cny", "count", "ratio") and lo < 0:
                raise at_path(
                    ("uncertainties", name),
                    f"uncertainty {name!r} allows negative values (expected >= 0)",
                )
        return self

    # -- convenience --------------------------------------------------------------------------
    def parameter(self, name: str) -> float:
        """Value of a behaviour parameter: the scenario's, else the default."""
        if name in self.behaviour:
            return self.behaviour[name].value
        return BEHAVIOUR_DEFAULTS[name].value

    def parameters(self) -> dict[str, float]:
        """All behaviour parameter values (defaults overridden by the scenario)."""
        return {name: self.parameter(name) for name in BEHAVIOUR_DEFAULTS}

    def budget_cny(self, year: int) -> float:
        return self.budget.at(year) * 1e8
