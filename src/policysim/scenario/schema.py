"""The typed, closed-world schema of scenario files.

A scenario is parsed from YAML (see :mod:`policysim.scenario.loader`), merged over the scenario it
``extends`` and validated into the frozen :class:`Scenario`. Every model here forbids unknown keys.
Money in scenario files is in 亿元 (``100m_cny``, 1e8 CNY) as in the policy documents; the model
works in CNY.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from policysim import vocabulary
from policysim.scenario.fields import INSTRUMENT_NAMES as INSTRUMENT_NAMES
from policysim.scenario.fields import PROVINCE_METRICS as PROVINCE_METRICS
from policysim.scenario.fields import Comparator as Comparator
from policysim.scenario.fields import DatedSeries as DatedSeries
from policysim.scenario.fields import Instrument as Instrument
from policysim.scenario.fields import NonNeg as NonNeg
from policysim.scenario.fields import Share as Share
from policysim.scenario.fields import Year as Year
from policysim.scenario.fields import _Strict, at_path
from policysim.scenario.parameters import BEHAVIOUR_DEFAULTS, PROBABILITY_UNITS
from policysim.scenario.policy import Batch as Batch
from policysim.scenario.policy import CountyDesignation as CountyDesignation
from policysim.scenario.policy import DesignationRules as DesignationRules
from policysim.scenario.policy import HnteBand as HnteBand
from policysim.scenario.policy import HnteRegime as HnteRegime
from policysim.scenario.policy import HnteRules as HnteRules
from policysim.scenario.policy import IndexWeights as IndexWeights
from policysim.scenario.policy import NationalBatch as NationalBatch
from policysim.scenario.policy import NationalDesignation as NationalDesignation
from policysim.scenario.policy import PilotSupport as PilotSupport
from policysim.scenario.policy import PolicyCalendar as PolicyCalendar
from policysim.scenario.policy import ProjectedBatches as ProjectedBatches
from policysim.scenario.policy import SuperDeductionRule as SuperDeductionRule
from policysim.scenario.policy import TownshipDesignation as TownshipDesignation
from policysim.scenario.uncertainty import Distribution as Distribution
from policysim.scenario.uncertainty import Parameter as Parameter
from policysim.scenario.uncertainty import Target as Target


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
    #: the target guard: a step is refused if, on any target, its paired difference against the
    #: policy's factor formula or the best rule (the smoothed score or the share of runs meeting
    #: it) is below this many standard errors under zero (0: any fall refuses it)
    target_guard_t: NonNeg = 1.0
    #: screening (racing): a round's candidates are first run on this many of the verification
    #: runs; the screen_keep best there (by the smoothed gain, the target guard kept) are run on
    #: all of them and judged there (0, or at least replications: no screening)
    screen: Annotated[int, Field(ge=0, le=1000)] = 12
    screen_keep: Annotated[int, Field(ge=1, le=100)] = 3


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
