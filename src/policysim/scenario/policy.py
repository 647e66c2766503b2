"""The policy part of the scenario schema: HNTE rules, the policy calendar, pilot support and
designation rules (see :mod:`policysim.scenario.schema`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from policysim.scenario.fields import (
    DatedSeries,
    NonNeg,
    Share,
    Year,
    _Strict,
    at_path,
)


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
    all of China. Jiangxi's number is ``jiangxi_size`` where the batch's list is documented,
    else ``national_jiangxi_share`` (uncertain) of the national size, rounded."""

    year: Year
    national_size: Annotated[int, Field(ge=0, le=3000)]
    jiangxi_size: Annotated[int, Field(ge=0, le=3000)] | None = None
    source: str = ""

    @model_validator(mode="after")
    def _within(self) -> NationalBatch:
        if self.jiangxi_size is not None and self.jiangxi_size > self.national_size:
            raise ValueError(
                f"jiangxi_size = {self.jiangxi_size} is larger than the batch's national_size "
                f"= {self.national_size} (expected at most the nationwide number)"
            )
        return self


class NationalDesignation(_Strict):
    batches: tuple[NationalBatch, ...] = ()
    build_cycle_years: Annotated[int, Field(ge=1, le=10)] = 3


class DesignationRules(_Strict):
    index_weights: IndexWeights = IndexWeights()
    county: CountyDesignation = CountyDesignation()
    township: TownshipDesignation = TownshipDesignation()
    national: NationalDesignation = NationalDesignation()
