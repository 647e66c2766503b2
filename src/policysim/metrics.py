"""The metric registry: every quantity the model reports, in one table.

Each :class:`Metric` says at which level it is collected, its unit and kind (how it is formatted
and differenced), what it means, whether a scenario target may name it, whether an observed file
may name it (hindcast, calibration), and its label in English and Chinese. The vocabularies used
elsewhere (the metrics a run emits per level, the target metrics of the scenario schema, the
hindcast indicators, plot labels, ``docs/METRICS.md``) are derived from :data:`METRICS`; a test
checks that a run emits exactly the registry.

Adding a metric: one :class:`Metric` line here, plus the code that computes it in
:func:`policysim.simulation.metric_columns`.

This module imports nothing from the package (every layer may use it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "KINDS",
    "LEVELS",
    "METRICS",
    "Kind",
    "Level",
    "Metric",
    "by_level",
    "get",
    "hindcast_indicators",
    "label",
    "markdown_table",
    "target_metrics",
]

Level = Literal["province", "county", "township"]
LEVELS: Final[tuple[Level, ...]] = ("province", "county", "township")

Kind = Literal["count", "share_pct", "money_100m_cny", "money_cny", "index", "flag", "capacity"]
#: How each kind is shown and differenced: a share's difference is in percentage points, a count's
#: in counts, a flag's mean is a probability.
KINDS: Final[dict[Kind, str]] = {
    "count": "number of units; differences in counts",
    "share_pct": "percent; differences in percentage points (pp)",
    "money_100m_cny": "亿元 (1e8 CNY); differences in 亿元",
    "money_cny": "CNY; differences in CNY",
    "index": "index points (0-100); differences in points",
    "flag": "0 or 1 per unit and year; a mean over runs is a probability",
    "capacity": "score in [0, 1]; differences in score",
}


@dataclass(frozen=True)
class Metric:
    """One reported quantity.

    Attributes
    ----------
    name : str
        Column value of ``metric`` in the long tables.
    level : {"province", "county", "township"}
    unit : str
        Unit as written in tables (``count``, ``%``, ``100m_cny``, ``cny``, ``points``, ``0/1``,
        ``share``).
    kind : Kind
        Formatting and differencing rule (:data:`KINDS`).
    description : str
        What it measures, in English.
    label_en, label_zh : str
        Axis and table labels, with the unit.
    target : bool
        A scenario target may name it (province level only).
    hindcast : bool
        An observed file may name it (hindcast, calibration, nowcast).
    """

    name: str
    level: Level
    unit: str
    kind: Kind
    description: str
    label_en: str
    label_zh: str
    target: bool = False
    hindcast: bool = False


def _p(
    name: str,
    unit: str,
    kind: Kind,
    description: str,
    label_en: str,
    label_zh: str,
    *,
    target: bool = True,
    hindcast: bool = False,
) -> Metric:
    return Metric(name, "province", unit, kind, description, label_en, label_zh, target, hindcast)


def _c(name: str, unit: str, kind: Kind, description: str, label_en: str, label_zh: str) -> Metric:
    return Metric(name, "county", unit, kind, description, label_en, label_zh)


def _t(name: str, unit: str, kind: Kind, description: str, label_en: str, label_zh: str) -> Metric:
    return Metric(name, "township", unit, kind, description, label_en, label_zh)


#: Every metric, in the order a run emits them within a level.
METRICS: Final[tuple[Metric, ...]] = (
    # --- province -------------------------------------------------------------------------
    _p(
        "rd_expenditure_100m_cny",
        "100m_cny",
        "money_100m_cny",
        "reported R&D expenditure of the province (enterprises and others)",
        "R&D expenditure (100 million CNY)",
        "R&D经费支出（亿元）",
        hindcast=True,
    ),
    _p(
        "rd_real_100m_cny",
        "100m_cny",
        "money_100m_cny",
        "real R&D expenditure (reported less relabelled costs)",
        "real R&D expenditure (100 million CNY)",
        "实际R&D经费（亿元）",
    ),
    _p(
        "enterprise_rd_100m_cny",
        "100m_cny",
        "money_100m_cny",
        "reported R&D of enterprises",
        "enterprise R&D (100 million CNY)",
        "企业R&D经费（亿元）",
    ),
    _p(
        "rd_intensity_pct",
        "%",
        "share_pct",
        "reported R&D expenditure over GDP",
        "R&D intensity (% of GDP)",
        "R&D经费投入强度（%）",
        hindcast=True,
    ),
    _p(
        "gdp_100m_cny",
        "100m_cny",
        "money_100m_cny",
        "gross domestic product, nominal",
        "GDP (100 million CNY)",
        "地区生产总值（亿元）",
        hindcast=True,
    ),
    _p(
        "hnte_count",
        "count",
        "count",
        "valid high and new technology enterprise certificates",
        "high and new technology enterprises (count)",
        "高新技术企业（家）",
        hindcast=True,
    ),
    _p(
        "tech_sme_count",
        "count",
        "count",
        "technology-based SMEs (科技型中小企业)",
        "technology-based SMEs (count)",
        "科技型中小企业（家）",
    ),
    _p(
        "enterprises",
        "count",
        "count",
        "enterprises in the model (weighted)",
        "enterprises (count)",
        "企业（家）",
    ),
    _p(
        "patents",
        "count",
        "count",
        "patent applications of the year",
        "patent applications (count)",
        "专利申请（件）",
    ),
    _p(
        "platforms",
        "count",
        "count",
        "maker spaces, 星创天地 and other platforms",
        "innovation platforms (count)",
        "创新平台（个）",
    ),
    _p(
        "commissioners",
        "count",
        "count",
        "S&T commissioners (科技特派员) at work",
        "S&T commissioners (count)",
        "科技特派员（人）",
    ),
    _p(
        "funds_100m_cny",
        "100m_cny",
        "money_100m_cny",
        "provincial funds allocated to counties in the year",
        "provincial funds to counties (100 million CNY)",
        "省级资金（亿元）",
    ),
    _p(
        "provincial_innovative_counties",
        "count",
        "count",
        "provincial innovative counties as the scenario counts them (count_pilots)",
        "provincial innovative counties (count)",
        "省级创新型县（市、区）（个）",
        hindcast=True,
    ),
    _p(
        "provincial_designated_counties",
        "count",
        "count",
        "provincial innovative counties that passed their evaluation",
        "counties designated after evaluation (count)",
        "通过验收的创新型县（个）",
    ),
    _p(
        "provincial_pilot_or_designated_counties",
        "count",
        "count",
        "provincial pilot counties in their build cycle plus designated counties (the count of "
        "provincial_innovative_counties when count_pilots is true)",
        "pilot or designated counties (count)",
        "创新型县试点及通过验收县（个）",
    ),
    _p(
        "pilot_support_100m_cny",
        "100m_cny",
        "money_100m_cny",
        "provincial funds of pilot support packages in the year (part of funds_100m_cny)",
        "pilot support packages (100 million CNY)",
        "试点县支持资金（亿元）",
    ),
    _p(
        "national_innovative_counties",
        "count",
        "count",
        "national innovative counties in the province",
        "national innovative counties (count)",
        "国家级创新型县（市）（个）",
        hindcast=True,
    ),
    _p(
        "innovative_townships",
        "count",
        "count",
        "innovative townships among 乡镇",
        "innovative townships (count)",
        "创新型乡镇（个）",
        hindcast=True,
    ),
    _p(
        "innovative_township_share_pct",
        "%",
        "share_pct",
        "innovative townships as a share of 乡镇",
        "innovative townships (% of townships)",
        "创新型乡镇占比（%）",
    ),
    _p(
        "county_rd_100m_cny",
        "100m_cny",
        "money_100m_cny",
        "reported R&D of the county economy (县域: counties and county-level cities)",
        "county-level R&D (100 million CNY)",
        "县域R&D经费（亿元）",
    ),
    _p(
        "mean_county_index",
        "points",
        "index",
        "mean county innovation-capacity index (re-scored every year: 50 by construction)",
        "mean county innovation index (points)",
        "县域创新能力指数均值（分）",
    ),
    # science parks and the 科技扶贫 "个十百千" counts (issue 13 item 8): the parks are the
    # located rows of data/jiangxi/parks.csv; poverty counties are the 25 of the 2017 list
    _p(
        "national_high_tech_zones",
        "count",
        "count",
        "national high-tech zones located in the model (data/jiangxi/parks.csv: 7 of Jiangxi's 9)",
        "national high-tech zones (count)",
        "国家高新区（个）",
    ),
    _p(
        "national_agri_science_parks",
        "count",
        "count",
        "national agricultural S&T parks located in the model (data/jiangxi/parks.csv: 3 of 9)",
        "national agricultural S&T parks (count)",
        "国家农业科技园区（个）",
    ),
    _p(
        "poverty_county_parks",
        "count",
        "count",
        "located science parks (both kinds) in the 25 poverty counties of 2017",
        "parks in poverty counties (count)",
        "贫困县科技园区（个）",
    ),
    _p(
        "poverty_county_platforms",
        "count",
        "count",
        "innovation platforms (星创天地 and other platforms) in the 25 poverty counties of 2017",
        "platforms in poverty counties (count)",
        "贫困县创新平台（个）",
    ),
    _p(
        "poverty_county_commissioners",
        "count",
        "count",
        "S&T commissioners stationed in the 25 poverty counties of 2017 (the programme's pairings)",
        "S&T commissioners in poverty counties (count)",
        "贫困县科技特派员（人）",
    ),
    # --- county ---------------------------------------------------------------------------
    _c(
        "index",
        "points",
        "index",
        "county innovation-capacity index",
        "innovation index (points)",
        "创新能力指数（分）",
    ),
    _c(
        "designated",
        "0/1",
        "flag",
        "provincial innovative county as the scenario counts it (pilot or designated)",
        "provincial innovative county",
        "省级创新型县",
    ),
    _c(
        "provincial_designated",
        "0/1",
        "flag",
        "provincial innovative county that passed its evaluation",
        "designated after evaluation",
        "通过验收",
    ),
    _c(
        "national",
        "0/1",
        "flag",
        "national innovative county",
        "national innovative county",
        "国家级创新型县",
    ),
    _c(
        "rd_100m_cny",
        "100m_cny",
        "money_100m_cny",
        "reported R&D expenditure of the county",
        "R&D expenditure (100 million CNY)",
        "R&D经费（亿元）",
    ),
    _c(
        "rd_intensity_pct",
        "%",
        "share_pct",
        "reported R&D over county GDP",
        "R&D intensity (% of GDP)",
        "R&D经费投入强度（%）",
    ),
    _c(
        "gdp_100m_cny",
        "100m_cny",
        "money_100m_cny",
        "county GDP (synthetic unless real county data are supplied)",
        "GDP (100 million CNY)",
        "地区生产总值（亿元）",
    ),
    _c(
        "hnte_count",
        "count",
        "count",
        "high and new technology enterprises in the county",
        "HNTEs (count)",
        "高新技术企业（家）",
    ),
    _c(
        "tech_sme_count",
        "count",
        "count",
        "technology-based SMEs in the county",
        "technology-based SMEs (count)",
        "科技型中小企业（家）",
    ),
    _c(
        "funds_cny",
        "cny",
        "money_cny",
        "provincial funds received in the year",
        "provincial funds (CNY)",
        "省级资金（元）",
    ),
    _c(
        "own_st_spending_cny",
        "cny",
        "money_cny",
        "the county's own fiscal S&T spending",
        "own fiscal S&T spending (CNY)",
        "本级财政科技支出（元）",
    ),
    _c(
        "management_capacity",
        "share",
        "capacity",
        "S&T management capacity score",
        "S&T management capacity (0-1)",
        "科技管理能力（0-1）",
    ),
    _c(
        "innovative_townships",
        "count",
        "count",
        "innovative townships in the county",
        "innovative townships (count)",
        "创新型乡镇（个）",
    ),
    # --- township -------------------------------------------------------------------------
    _t(
        "innovative",
        "0/1",
        "flag",
        "innovative township",
        "innovative township",
        "创新型乡镇",
    ),
    _t(
        "platforms",
        "count",
        "count",
        "platforms in the township",
        "platforms (count)",
        "创新平台（个）",
    ),
    _t(
        "hnte_count",
        "count",
        "count",
        "HNTEs in the township",
        "HNTEs (count)",
        "高新技术企业（家）",
    ),
)

_BY_KEY: Final[dict[tuple[str, str], Metric]] = {(m.level, m.name): m for m in METRICS}


def get(name: str, level: Level = "province") -> Metric:
    """The metric ``name`` of ``level``.

    Raises
    ------
    KeyError
        If the registry has no such metric (the message lists the level's names).
    """
    try:
        return _BY_KEY[(level, name)]
    except KeyError:
        known = ", ".join(by_level(level))
        raise KeyError(f"unknown {level} metric {name!r} (expected one of {known})") from None


def by_level(level: Level) -> tuple[str, ...]:
    """Names of the metrics of ``level``, in emission order."""
    return tuple(m.name for m in METRICS if m.level == level)


def target_metrics() -> tuple[str, ...]:
    """Province metrics a scenario target may name."""
    return tuple(m.name for m in METRICS if m.level == "province" and m.target)


def hindcast_indicators() -> tuple[str, ...]:
    """Province metrics an observed file may name."""
    return tuple(m.name for m in METRICS if m.level == "province" and m.hindcast)


def label(name: str, level: Level = "province", lang: Literal["en", "zh"] = "en") -> str:
    """The label of a metric, with its unit; the name itself for a metric not in the registry."""
    m = _BY_KEY.get((level, name))
    if m is None:
        return name
    return m.label_zh if lang == "zh" else m.label_en


def markdown_table() -> str:
    """The registry as the Markdown table of ``docs/METRICS.md``."""
    lines = [
        "| level | metric | unit | kind | target | hindcast | label | 标签 | description |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in METRICS:
        lines.append(
            f"| {m.level} | `{m.name}` | {m.unit} | {m.kind} | {'yes' if m.target else ''} "
            f"| {'yes' if m.hindcast else ''} | {m.label_en} | {m.label_zh} | {m.description} |"
        )
    return "\n".join(lines) + "\n"
