"""Default behaviour parameters of the agent-based model, each with unit and source.

A parameter whose source starts with ``"assumption"`` is not backed by a published figure; it
carries a plausible range (``low``, ``high``) and the shipped scenarios give it an uncertainty
distribution. Scenario files may override ``value`` (and ``source``) of any parameter listed here;
names not listed are errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final, NamedTuple


class ParameterDefault(NamedTuple):
    value: float
    unit: str
    source: str
    low: float | None = None
    high: float | None = None


PROBABILITY_UNITS: Final = frozenset({"probability", "share", "share_of_rd", "rate_per_year"})

BEHAVIOUR_DEFAULTS: Final[dict[str, ParameterDefault]] = {
    # --- enterprises: R&D choice -------------------------------------------------------------
    "rd_user_cost_elasticity": ParameterDefault(
        -1.8,
        "elasticity",
        "Qian, Zhan & Pan (2022): 1.58-2.05 (absolute) for the Chinese super-deduction "
        "(PARAMETERS.md); Bloom, Griffith & Van Reenen (2002) about -1.0 in the long run as the "
        "upper end",
        -2.05,
        -1.0,
    ),
    "rd_adjustment_speed": ParameterDefault(
        0.3,
        "share",
        "assumption: partial adjustment so the short-run elasticity is 0.3 x long run = -0.3, "
        "between -0.1 (Bloom et al. 2002) and -0.40 (Jia & Ma 2017)",
        0.1,
        0.6,
    ),
    "hnte_notch_window": ParameterDefault(
        0.5,
        "share",
        "assumption: firms whose annual R&D/sales is at least this share of their band threshold "
        "consider bunching at the HNTE notch (Chen, Liu, Suarez Serrato & Xu 2021 bunching); "
        "whether bunching pays is decided by cost and tax gain",
        0.3,
        0.8,
    ),
    "hnte_relabel_share": ParameterDefault(
        0.24,
        "share_of_rd",
        "Chen, Liu, Suarez Serrato & Xu (AER 2021): relabelling is about 24% of the reported R&D "
        "of bunching firms (PARAMETERS.md); here the most a bunching firm relabels, as a share of "
        "its reported R&D",
        0.10,
        0.35,
    ),
    "hnte_catchup": ParameterDefault(
        0.3,
        "share",
        "assumption: a first applicant plans its R&D over the 3-year window and raises one year's "
        "reported R&D/sales at most this share above its threshold to bring the 3-year ratio to "
        "the threshold (else it reports the threshold and applies later)",
        0.0,
        0.6,
    ),
    "hnte_pool_relabel_share": ParameterDefault(
        0.4,
        "share_of_rd",
        "assumption: the most a firm in the HNTE cultivation pool (高企入库培育) relabels, as a "
        "share of its reported R&D: intermediaries collect its R&D accounts (研发费用归集) for "
        "the application; at least the 24% of Chen, Liu, Suarez Serrato & Xu (AER 2021) for "
        "bunching firms in general (PARAMETERS.md)",
        0.24,
        0.5,
    ),
    "cultivation_pool_scale": ParameterDefault(
        1.0,
        "ratio",
        "assumption: level of the HNTE cultivation pool admissions relative to the calendar's "
        "policy.hnte.cultivation_pool_firms (whose yearly values are assumptions, +-50%)",
        0.5,
        1.5,
    ),
    "hnte_pool_window": ParameterDefault(
        0.3,
        "share",
        "assumption: a firm in the HNTE cultivation pool considers reaching the notch from this "
        "share of its band threshold (guided by the programme; hnte_notch_window for others)",
        0.2,
        0.5,
    ),
    "hnte_renewal_rate": ParameterDefault(
        0.9,
        "probability",
        "assumption: share of renewal applications (重新认定) of complying HNTEs that pass; "
        "certified firms keep complying (annual reports and checks, 国科发火〔2016〕32号 arts. "
        "15-19) so most pass",
        0.8,
        0.98,
    ),
    "hnte_criteria_cost_share": ParameterDefault(
        0.02,
        "share",
        "assumption: median one-off cost of meeting the non-R&D HNTE criteria (acquiring IP, "
        "high-tech revenue share, S&T staff, intermediary fees) as a share of sales; log-normal "
        "across firms (sigma 1)",
        0.005,
        0.05,
    ),
    "loss_making_share": ParameterDefault(
        0.15,
        "share",
        "assumption: share of firms without taxable profit, which gain nothing from the "
        "super-deduction or the HNTE rate (about 15% of above-scale industrial firms made losses "
        "2018-2020 nationally, NBS, recalled)",
        0.08,
        0.20,
    ),
    "profit_margin": ParameterDefault(
        0.06, "share", "assumption: taxable profit / sales of Chinese industrial firms", 0.03, 0.10
    ),
    "hnte_approval_rate": ParameterDefault(
        0.8,
        "probability",
        "assumption: share of eligible applications certified (most pass; 492 applications in "
        "2015, PARAMETERS.md)",
        0.6,
        0.95,
    ),
    "voucher_additionality": ParameterDefault(
        0.8,
        "share",
        "Cornet, Vroomen & van der Steeg (2006): of 10 vouchers 8 additional",
        0.4,
        0.9,
    ),
    "subsidy_additionality": ParameterDefault(
        0.3,
        "share",
        "Dimos & Pugh (2016) no crowding-out but no large additionality; Boeing (2016) -0.5; "
        "Hu & Deng (2019) positive: assumption within 0..1",
        0.0,
        1.0,
    ),
    "credit_leverage": ParameterDefault(
        8.0,
        "ratio",
        "财园信贷通: banks lend at least 8x the fiscal deposit (PARAMETERS.md, verified)",
        5.0,
        10.0,
    ),
    "credit_rd_share": ParameterDefault(
        0.10, "share", "assumption: share of programme loans that finances R&D", 0.02, 0.20
    ),
    # --- enterprises: innovation and dynamics --------------------------------------------------
    "innovation_zeta": ParameterDefault(
        0.3,
        "per_pct_point",
        "Dosi, Fagiolo & Roventini (2010) P = 1 - exp(-zeta RD), zeta about 0.3; here RD is real "
        "R&D/sales in percentage points (assumption on the scaling)",
        0.1,
        0.5,
    ),
    "innovation_sales_gain": ParameterDefault(
        0.05,
        "share",
        "assumption: extra sales growth in a year of successful innovation",
        0.02,
        0.10,
    ),
    "patents_per_success": ParameterDefault(
        3.0,
        "count",
        "derived: about 5.6 applications per HNTE per year in Jiangxi 2014 (PARAMETERS.md), "
        "spread over successes",
        1.0,
        6.0,
    ),
    "sales_growth_mean": ParameterDefault(
        0.085,
        "rate_per_year",
        "assumption: nominal growth; Jiangxi nominal GDP grew 11.6%/yr 2015-2017 (derived from "
        "province_history.csv) and slowed after",
        0.05,
        0.11,
    ),
    "sales_growth_scale": ParameterDefault(
        0.12,
        "share",
        "assumption: Laplace scale of firm growth rates, falling with size (Heinrich & Dai 2016 "
        "shape)",
        0.06,
        0.20,
    ),
    "firm_entry_rate": ParameterDefault(
        0.06,
        "rate_per_year",
        "assumption: new innovation-relevant firms per incumbent per year",
        0.03,
        0.10,
    ),
    "firm_exit_rate": ParameterDefault(
        0.05,
        "rate_per_year",
        "assumption: exit probability per year of a median firm (higher for small, young firms)",
        0.02,
        0.08,
    ),
    "entrants_per_platform": ParameterDefault(
        1.5,
        "count",
        "assumption: new tech firms per platform (maker space, 星创天地, park) per year",
        0.5,
        4.0,
    ),
    "entrants_per_commissioner": ParameterDefault(
        0.15, "count", "assumption: new firms per S&T commissioner-year", 0.0, 0.5
    ),
    "commissioner_innovation_boost": ParameterDefault(
        0.02,
        "share",
        "assumption: relative rise of innovation success probability per commissioner in the "
        "township (capped at +50%)",
        0.0,
        0.05,
    ),
    "cluster_spillover": ParameterDefault(
        0.2,
        "share",
        "assumption: relative rise of success probability at full same-sector HNTE density in the "
        "county (industrial clusters)",
        0.0,
        0.5,
    ),
    "tech_sme_min_rd_share": ParameterDefault(
        0.03,
        "share",
        "assumption: R&D/sales for tech-SME status (科技型中小企业评价办法 2017 scores R&D among "
        "other items; sales <= 2亿元)",
        0.02,
        0.05,
    ),
    "rd_start_rate": ParameterDefault(
        0.06,
        "rate_per_year",
        "assumption: share of firms without R&D that start performing R&D each year (19.2% of "
        "above-scale firms had S&T activity in 2015, PARAMETERS.md; provinces pushed R&D "
        "coverage of above-scale firms after 2017)",
        0.0,
        0.12,
    ),
    "hnte_criteria_upgrade_rate": ParameterDefault(
        0.10,
        "rate_per_year",
        "assumption: yearly probability that an R&D performer not meeting the non-R&D HNTE "
        "criteria reconsiders meeting them (it does when the HNTE value over a certificate "
        "exceeds its cost net of cultivation support)",
        0.0,
        0.5,
    ),
    "entrant_rd_share": ParameterDefault(
        0.25,
        "share",
        "assumption: share of new firms that perform R&D from entry (19.2% of above-scale firms "
        "had S&T activity in 2015, PARAMETERS.md; entrants via platforms are more technical)",
        0.10,
        0.40,
    ),
    "management_half_funds_cny": ParameterDefault(
        1.0e7,
        "cny",
        "assumption: yearly provincial funds at which a county's management capacity learns at "
        "half its full rate",
        3.0e6,
        3.0e7,
    ),
    # --- townships ------------------------------------------------------------------------------
    "platform_cost_cny": ParameterDefault(
        3.0e6,
        "cny",
        "assumption: provincial grant that creates one platform (众创空间/星创天地)",
        1.0e6,
        6.0e6,
    ),
    "platform_closure_rate": ParameterDefault(0.05, "rate_per_year", "assumption", 0.0, 0.15),
    "commissioner_cost_cny": ParameterDefault(
        1.0e5,
        "cny",
        "assumption: cost of one S&T commissioner-year (科技特派员 stipend and projects)",
        5.0e4,
        2.0e5,
    ),
    "agri_adoption_per_commissioner": ParameterDefault(
        0.01,
        "share",
        "assumption: rise of agricultural technology adoption (share of the non-adopting rest) "
        "per commissioner-year",
        0.003,
        0.03,
    ),
    # --- counties -----------------------------------------------------------------------------
    "county_matching_rate": ParameterDefault(
        0.5, "ratio", "assumption: own S&T spending added per yuan of provincial funds", 0.0, 1.0
    ),
    "county_st_spending_growth": ParameterDefault(
        0.08,
        "rate_per_year",
        "assumption: autonomous growth of own-level fiscal S&T spending",
        0.03,
        0.12,
    ),
    "management_learning": ParameterDefault(
        0.04,
        "share",
        "assumption: yearly rise of management capacity (0..1) at full funding, less for less",
        0.01,
        0.08,
    ),
    "industry_share_of_gdp": ParameterDefault(
        0.45,
        "share",
        "assumption: weight of firm sales growth in county GDP growth (Jiangxi secondary sector "
        "about 47% of GDP in 2017)",
        0.35,
        0.55,
    ),
    "non_enterprise_rd_growth": ParameterDefault(
        0.08,
        "rate_per_year",
        "assumption: growth of R&D by universities and institutes (16% of R&D, PARAMETERS.md)",
        0.03,
        0.12,
    ),
    # --- initialisation and evaluation ----------------------------------------------------------
    "hnte_stock_2017": ParameterDefault(
        2000.0,
        "count",
        "assumption: valid HNTEs at end 2017; 1,095 in November 2015 (verified), 2017 unknown",
        1500.0,
        2600.0,
    ),
    "index_noise_sd": ParameterDefault(
        1.5,
        "index_points",
        "assumption: noise of the annual evaluation score (the index is re-scored each year: "
        "mean 50, sd 10 over counties), added before ranking",
        0.0,
        4.0,
    ),
    # --- designation: provincial decisions and county behaviour (issue 13) ----------------------
    "county_batch_size": ParameterDefault(
        6.0,
        "count",
        "assumption: pilot counties per projected provincial batch; documented batches: 5 "
        "counties (2018), 6 (2019)",
        3.0,
        10.0,
    ),
    "pilot_support_cny": ParameterDefault(
        1.0e7,
        "cny",
        "assumption: provincial funds per pilot county and year of its build cycle (support "
        "package); not published",
        5.0e6,
        3.0e7,
    ),
    "pilot_matching_ratio": ParameterDefault(
        1.0,
        "ratio",
        "assumption: own S&T spending a pilot county commits per yuan of its support package "
        "(matching obligation), spent through the same instruments",
        0.5,
        1.5,
    ),
    "pilot_hnte_cultivation_rate": ParameterDefault(
        0.2,
        "rate_per_year",
        "assumption: extra yearly share of a funded pilot's R&D performers that come to meet the "
        "non-R&D HNTE criteria through the county's HNTE cultivation (高企培育) programme",
        0.05,
        0.4,
    ),
    "pilot_rd_start_rate": ParameterDefault(
        0.1,
        "rate_per_year",
        "assumption: extra yearly share of a funded pilot's firms without R&D that start R&D "
        "(the pilot's drive for R&D activity in above-scale firms)",
        0.0,
        0.2,
    ),
    "standing_spending_response": ParameterDefault(
        0.03,
        "rate_per_year",
        "assumption: extra yearly growth of own S&T spending of the county at the top of its "
        "class (0 at the bottom; cadre evaluation, 赣府厅发〔2018〕4号 五(三))",
        0.0,
        0.06,
    ),
    "standing_commissioner_response": ParameterDefault(
        0.5,
        "count",
        "assumption: county-funded S&T commissioners per 乡镇 of the county at the top of its "
        "class (0 at the bottom; cadre evaluation channel)",
        0.0,
        1.0,
    ),
    "township_min_status_firms": ParameterDefault(
        2.0,
        "count",
        "assumption: HNTEs or tech SMEs an innovative township needs (criteria not published)",
        1.0,
        4.0,
    ),
    "township_min_platforms_or_commissioners": ParameterDefault(
        3.0,
        "count",
        "assumption: platforms plus S&T commissioners an innovative township needs",
        2.0,
        5.0,
    ),
    "township_min_rd_intensity_pct": ParameterDefault(
        1.8,
        "pct",
        "assumption: R&D / sales of the township's firms, percent, for an innovative township",
        1.0,
        2.5,
    ),
    "township_min_agri_adoption": ParameterDefault(
        0.35,
        "share",
        "assumption: agricultural technology adoption an innovative township needs",
        0.25,
        0.5,
    ),
    "national_jiangxi_share": ParameterDefault(
        0.035,
        "share",
        "derived: Jiangxi has 100 of about 2,850 county-level units (3.5%); used only for "
        "batches without a documented Jiangxi number (the documented ones: 1 of 52 in 2018, "
        "5 of 92 in 2023, i.e. 1.9% and 5.4%); range 2-6%",
        0.02,
        0.06,
    ),
    # --- science parks (issue 13 item 8; data/jiangxi/parks.csv) --------------------------------
    "entrants_per_high_tech_zone": ParameterDefault(
        10.0,
        "count",
        "assumption: new innovation-relevant firms a year that a national high-tech zone brings "
        "to its host township beyond the township's own entry; the 新余 zone had over 500 firms "
        "after about 17 years (founded 2001; https://cdn.drbdp.com/4-7739477.html, undated), "
        "about 30 a year, of which only part are firms of the model",
        2.0,
        30.0,
    ),
    "entrants_per_agri_park": ParameterDefault(
        2.5,
        "count",
        "derived: the 新余 national agricultural S&T park had 10 firms after 4 years "
        "(http://www.07905.com/news/qiye/2015/1206/2011.html), 2.5 a year; range an assumption",
        0.5,
        5.0,
    ),
    "park_platform_weight": ParameterDefault(
        1.0,
        "count",
        "assumption: platforms a park counts as in the county evaluation's platform indicator "
        "(the published evaluation's 20 indicators are not public; 0 = parks do not count)",
        0.0,
        3.0,
    ),
    "national_nomination_noise": ParameterDefault(
        5.0,
        "index_points",
        "assumption: scale of the Gumbel noise with which the province's national nominations "
        "(县 and 县级市 ranked by the observed index) depart from the index: applications, the "
        "national programme's themes (industry, livelihood, ecology; 国科发农〔2023〕76号 "
        "names 永新县 for livelihood) and choices the index does not see; 0 = nominate by rank, "
        "20 = two cross-county standard deviations of the index (mean 50, sd 10)",
        0.0,
        20.0,
    ),
    # --- province-wide macro shock to GDP (issue 19) ---------------------------------------------
    "macro_shock_sd": ParameterDefault(
        0.02,
        "share",
        "derived: sd of the yearly innovation of a province-wide transitory deviation of log GDP "
        "from trend; Jiangxi nominal GDP 2013-2022 (revised 2013-2018, prefecture_indicators.csv; "
        "first published 2019-2022): log growth sd 2.9 points, lag-1 autocorrelation -0.46, "
        "method of moments for an AR(1) level 2.0% (1.4% without 2020-2021); range 1-4%",
        0.01,
        0.04,
    ),
    "macro_shock_persistence": ParameterDefault(
        0.1,
        "share",
        "derived: AR(1) coefficient of the transitory deviation of log GDP (the same series: "
        "method of moments 0.09, conditional ML 0.0; growth 3.7% in 2020 and 14.2% in 2021 "
        "around a 9% trend: the dip recovered within a year); range 0-0.6 (9 growth rates)",
        0.0,
        0.6,
    ),
}


@dataclass(frozen=True, slots=True)
class BehaviourParams:
    """The behaviour parameters of one run as a typed, frozen object: one field per name of
    :data:`BEHAVIOUR_DEFAULTS` (a test keeps them the same), so that a misspelt name in a rule is
    a type error rather than a ``KeyError`` at run time. Built from the run's values (defaults,
    the scenario's overrides and the run's draw)."""

    rd_user_cost_elasticity: float
    rd_adjustment_speed: float
    hnte_notch_window: float
    hnte_relabel_share: float
    hnte_catchup: float
    hnte_pool_relabel_share: float
    cultivation_pool_scale: float
    hnte_pool_window: float
    hnte_renewal_rate: float
    hnte_criteria_cost_share: float
    loss_making_share: float
    profit_margin: float
    hnte_approval_rate: float
    voucher_additionality: float
    subsidy_additionality: float
    credit_leverage: float
    credit_rd_share: float
    innovation_zeta: float
    innovation_sales_gain: float
    patents_per_success: float
    sales_growth_mean: float
    sales_growth_scale: float
    firm_entry_rate: float
    firm_exit_rate: float
    entrants_per_platform: float
    entrants_per_commissioner: float
    commissioner_innovation_boost: float
    cluster_spillover: float
    tech_sme_min_rd_share: float
    rd_start_rate: float
    hnte_criteria_upgrade_rate: float
    entrant_rd_share: float
    management_half_funds_cny: float
    platform_cost_cny: float
    platform_closure_rate: float
    commissioner_cost_cny: float
    agri_adoption_per_commissioner: float
    county_matching_rate: float
    county_st_spending_growth: float
    management_learning: float
    industry_share_of_gdp: float
    non_enterprise_rd_growth: float
    hnte_stock_2017: float
    index_noise_sd: float
    county_batch_size: float
    pilot_support_cny: float
    pilot_matching_ratio: float
    pilot_hnte_cultivation_rate: float
    pilot_rd_start_rate: float
    standing_spending_response: float
    standing_commissioner_response: float
    township_min_status_firms: float
    township_min_platforms_or_commissioners: float
    township_min_rd_intensity_pct: float
    township_min_agri_adoption: float
    national_jiangxi_share: float
    entrants_per_high_tech_zone: float
    entrants_per_agri_park: float
    park_platform_weight: float
    national_nomination_noise: float
    macro_shock_sd: float
    macro_shock_persistence: float

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> BehaviourParams:
        """The run's values by name (extra names are ignored; a missing one is a ``KeyError``)."""
        return cls(**{f.name: values[f.name] for f in fields(cls)})


def parameters_markdown() -> str:
    """The behaviour defaults as the Markdown table of ``docs/PARAMETERS.md`` (name, default,
    unit, range, status, source); status is ``assumption`` when the source says so."""
    lines = [
        "| parameter | default | unit | range | status | source |",
        "|---|---|---|---|---|---|",
    ]
    for name, p in BEHAVIOUR_DEFAULTS.items():
        span = "" if p.low is None or p.high is None else f"{p.low:g} to {p.high:g}"
        status = "assumption" if p.source.startswith("assumption") else "sourced"
        source = p.source.replace("|", "/")
        lines.append(f"| `{name}` | {p.value:g} | {p.unit} | {span} | {status} | {source} |")
    return "\n".join(lines) + "\n"
