"""The county and township sub-models of the schedule (docs/ODD.md 7.3-7.5): pilots' obliged
platforms, innovative townships, the county indicators and index, provincial and national
designation. Functions of the model, bound as its methods."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from policysim.agents.counties import (
    DesignationState,
    can_match,
    designation_year,
    fundable_pilots,
    relative_index,
)
from policysim.agents.places import (
    CountyIndicators,
    stochastic_round,
    top_k,
    township_criteria,
)

if TYPE_CHECKING:
    from policysim.model.core import PolicyModel

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def pilot_platforms(m: PolicyModel, pilot: BoolArray) -> None:
    """A pilot keeps at least the obliged number of platforms (opened by the county in its
    main township when short)."""
    need = m.scenario.designation.county.support.min_platforms
    if need <= 0 or not pilot.any():
        return
    have = np.bincount(m.t_county, weights=m.platforms, minlength=m.n_counties)
    short = np.where(pilot & (m.main_township >= 0), np.ceil(need - have), 0.0)
    short = np.maximum(short, 0.0)
    if short.any():
        where = np.flatnonzero(short > 0)
        m.platforms = m.platforms.copy()
        np.add.at(m.platforms, m.main_township[where], short[where])


def batch_size(m: PolicyModel, year: int) -> int:
    """Seats of the provincial county batch of ``year`` (0 in a year without a batch):
    documented sizes, else the uncertain projected size."""
    county = m.scenario.designation.county
    sizes = [b.size for b in county.batches if b.year == year]
    if sizes:
        return int(sum(sizes))
    proj = county.projected_batches
    if proj is not None and year in proj.years(m.scenario.horizon.end_year):
        return round(m.bp.county_batch_size)
    return 0


def designate_townships(m: PolicyModel, year: int) -> None:
    """Innovative townships: in each provincial batch, the 乡镇 meeting the criteria
    (thresholds: uncertain behaviour parameters) are designated; a documented batch size
    caps its year, projected batches designate every qualifying township."""
    rules = m.scenario.designation.township
    if year < rules.first_year:
        return
    sizes = [b.size for b in rules.batches if b.year == year]
    proj = rules.projected_batches
    if sizes:
        cap: int | None = int(sum(sizes))
    elif proj is not None and year in proj.years(m.scenario.horizon.end_year):
        cap = None
    else:
        return
    p = m.bp
    met = township_criteria(
        m.status_t,
        m.platforms + m.commissioners,
        m.rd_int_t,
        m.agri,
        min_status_firms=p.township_min_status_firms,
        min_platforms_or_commissioners=p.township_min_platforms_or_commissioners,
        min_rd_intensity_pct=p.township_min_rd_intensity_pct,
        min_agri=p.township_min_agri_adoption,
    )
    candidates = m.t_host & ~m.innovative & (met >= rules.min_criteria_met)
    if cap is None:
        m.innovative = m.innovative | candidates
        return
    score = met + np.minimum(m.rd_int_t, 10.0) / 10.0
    m.innovative = m.innovative | top_k(candidates, score, cap)


def designate_counties(m: PolicyModel, year: int, observed: FloatArray) -> None:
    rules = m.scenario.designation
    county = rules.county
    p = m.bp
    d = m.designation
    package = p.pilot_support_cny
    continuing = int((d.pilot & (d.pilot_since + county.build_cycle_years > year)).sum())
    fundable = fundable_pilots(
        m.scenario.budget_cny(year + 1),
        county.support.max_budget_share,
        package,
        continuing,
    )
    can_apply = can_match(
        m.fiscal_exp,
        package * p.pilot_matching_ratio,
        county.support.max_matching_share_of_fiscal,
    )
    batches = [b for b in rules.national.batches if b.year == year]
    documented = sum(b.jiangxi_size for b in batches if b.jiangxi_size is not None)
    national = sum(b.national_size for b in batches if b.jiangxi_size is None)
    expected = p.national_jiangxi_share * national
    # (the draw is taken every year, so documenting a batch moves no other stream)
    jiangxi = documented + int(stochastic_round(np.array([expected]), m.rng_eval.random(1))[0])
    designation = designation_year(
        d,
        year,
        observed,
        m.classes,
        m.n_classes,
        build_cycle=county.build_cycle_years,
        batch_size=m._batch_size(year),
        fundable=fundable,
        can_apply=can_apply,
        min_gain=county.pass_min_gain,
        min_percentile=county.pass_min_percentile,
        national_size=0,  # nominated below
        reference=m.index,
    )
    m.designation = nominate_national(m, designation, year, observed, jiangxi)


@dataclass(frozen=True)
class Nomination:
    """The national nomination of a year, as the nowcast's filter needs it to weigh named
    counties: the candidates, their observed index, the noise scale and the seats."""

    year: int
    candidates: BoolArray
    score: FloatArray
    noise: float
    size: int


def nominate_national(
    m: PolicyModel, d: DesignationState, year: int, observed: FloatArray, size: int
) -> DesignationState:
    """Jiangxi's ``size`` nominees of the year's national batch (创新型县(市)): the 县 and
    县级市 (``is_county``; not districts) that are not national yet, ranked by the observed index
    plus Gumbel noise of scale ``national_nomination_noise`` (a Plackett-Luce draw: each seat
    goes to a remaining candidate with probability proportional to ``exp(index / scale)``).
    The noise is drawn every year from the run's nomination stream, so no other draw moves."""
    noise = m.bp.national_nomination_noise
    gumbel = m.rng_nominate.gumbel(0.0, 1.0, m.n_counties)
    candidates = m.is_county & ~d.national
    m.nomination = Nomination(year, candidates, observed.copy(), noise, size)
    if size <= 0:
        return d
    new = top_k(candidates, observed + noise * gumbel, size)
    return replace(d, national=d.national | new)


def county_indicators(m: PolicyModel, growth: FloatArray) -> CountyIndicators:
    if not hasattr(m, "rd_rep_county"):
        m._aggregate_firms(m.firms)
    xz = np.maximum(m.n_xz, 1.0)
    innov_c = np.bincount(m.t_county, weights=m.innovative & m.t_host, minlength=m.n_counties)
    rd_total = m.rd_rep_county + m.rd_non_enterprise
    return CountyIndicators(
        # parks count as platforms in the evaluation (park_platform_weight; model/parks.py)
        platforms_per_xz=(
            np.bincount(m.t_county, weights=m.platforms, minlength=m.n_counties)
            + m._park_platforms(m.year)
        )
        / xz,
        commissioners_per_xz=np.bincount(
            m.t_county, weights=m.commissioners, minlength=m.n_counties
        )
        / xz,
        management=m.management,
        rd_intensity=rd_total / m.gdp,
        st_share=m.st_spending / m.fiscal_exp,
        status_firms_per_100=100.0
        * (m.hnte_county + m.tsme_county)
        / np.maximum(m.above_scale_county, 1.0),
        patents_per_10k=m.patents_county / np.maximum(m.population, 1.0) * 1e4,
        township_share=innov_c / xz,
        gdp_per_capita=m.gdp / np.maximum(m.population, 1.0),
        gdp_growth=growth,
    )


def county_index(m: PolicyModel, ind: CountyIndicators) -> FloatArray:
    w = m.scenario.designation.index_weights
    index, _ = relative_index(ind, (w.environment, w.inputs, w.outcomes, w.development))
    return index


# ------------------------------------------------------------------------------------------
# metrics
