"""Display labels and units of every metric and table column: ONE mapping used by the report
tables, the figures and the briefing.

Each metric has a *unit kind* that decides how a value and a difference of values are written:

=================  ==========================  =============================
kind               value                       difference
=================  ==========================  =============================
``probability``    fraction, shown ``81.0%``   ``+3.2 pp`` (x 100)
``share_pct``      already percent, ``12.3%``  ``+1.16 pp`` (not x 100)
``count``          ``20.4 counties``           ``-0.29 counties``
``money_100m_cny`` ``3.52 亿元``               ``+0.52 亿元``
``money_cny``      ``1,234,567 CNY``           ``+12,345 CNY``
``index``          ``61.2 points``             ``+1.2 points``
``ratio``          ``0.84``                    ``+0.02``
=================  ==========================  =============================

Percentage points (pp) are only ever used for probabilities and shares. The metric registry of
the project can later replace :data:`METRICS` (same fields: level, unit kind, labels en/zh).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from policysim.vocabulary import SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH

__all__ = [
    "METRICS",
    "SYNTHETIC_CAVEAT_EN",
    "SYNTHETIC_CAVEAT_ZH",
    "MetricLabel",
    "UnitKind",
    "format_difference",
    "format_value",
    "metric_label",
    "unit_kind",
]

UnitKind = Literal[
    "count", "share_pct", "probability", "money_100m_cny", "money_cny", "index", "ratio"
]
UNIT_KINDS: Final[tuple[str, ...]] = (
    "count",
    "share_pct",
    "probability",
    "money_100m_cny",
    "money_cny",
    "index",
    "ratio",
)


@dataclass(frozen=True)
class MetricLabel:
    """How one metric is shown: unit kind, English and Chinese label, unit word per language."""

    kind: UnitKind
    label_en: str
    label_zh: str
    unit_en: str = ""
    unit_zh: str = ""


def _count(en: str, zh: str, unit_en: str, unit_zh: str) -> MetricLabel:
    return MetricLabel("count", en, zh, unit_en, unit_zh)


def _money(en: str, zh: str) -> MetricLabel:
    return MetricLabel("money_100m_cny", en, zh, "100 million CNY", "亿元")


#: Every metric the model writes (province, county and township levels share names where the
#: meaning is the same).
METRICS: Final[dict[str, MetricLabel]] = {
    # province
    "provincial_innovative_counties": _count(
        "provincial innovative counties", "省级创新型县（市、区）", "counties", "个"
    ),
    "provincial_designated_counties": _count(
        "provincial designated counties (without pilots)", "省级认定创新型县", "counties", "个"
    ),
    "national_innovative_counties": _count(
        "national innovative counties", "国家创新型县（市）", "counties", "个"
    ),
    "innovative_townships": _count("innovative townships", "创新型乡镇", "townships", "个"),
    "innovative_township_share_pct": MetricLabel(
        "share_pct", "innovative townships (% of townships)", "创新型乡镇占比", "%", "%"
    ),
    "rd_intensity_pct": MetricLabel(
        "share_pct", "R&D intensity (% of GDP)", "研发投入强度（占GDP）", "%", "%"
    ),
    "rd_expenditure_100m_cny": _money("R&D expenditure", "研发经费支出"),
    "gdp_100m_cny": _money("GDP", "地区生产总值"),
    "county_rd_100m_cny": _money("county-level R&D expenditure", "县域研发经费"),
    "rd_real_100m_cny": _money("real R&D expenditure", "实际研发支出"),
    "enterprise_rd_100m_cny": _money("enterprise R&D expenditure", "企业研发经费"),
    "funds_100m_cny": _money("provincial S&T funds to counties", "省级科技专项资金"),
    "hnte_count": _count("high and new technology enterprises", "高新技术企业", "firms", "家"),
    "tech_sme_count": _count("technology-based SMEs", "科技型中小企业", "firms", "家"),
    "enterprises": _count("enterprises", "企业", "firms", "家"),
    "patents": _count("patents", "专利", "patents", "件"),
    "platforms": _count("innovation platforms", "创新平台", "platforms", "个"),
    "commissioners": _count("S&T commissioners", "科技特派员", "people", "人"),
    "mean_county_index": MetricLabel(
        "index", "mean county evaluation index", "县域创新评价指数均值", "points", "分"
    ),
    "national_high_tech_zones": _count("national high-tech zones", "国家高新区", "zones", "个"),
    "national_agri_science_parks": _count(
        "national agricultural S&T parks", "国家农业科技园区", "parks", "个"
    ),
    "poverty_county_parks": _count("parks in poverty counties", "贫困县科技园区", "parks", "个"),
    "poverty_county_platforms": _count(
        "platforms in poverty counties", "贫困县创新平台", "platforms", "个"
    ),
    "poverty_county_commissioners": _count(
        "S&T commissioners in poverty counties", "贫困县科技特派员", "people", "人"
    ),
    # county / township
    "index": MetricLabel("index", "county evaluation index", "县域创新评价指数", "points", "分"),
    "designated": MetricLabel(
        "probability", "provincial innovative county", "省级创新型县", "", ""
    ),
    "provincial_designated": MetricLabel(
        "probability", "provincially designated", "省级认定", "", ""
    ),
    "national": MetricLabel("probability", "national innovative county", "国家创新型县", "", ""),
    "innovative": MetricLabel("probability", "innovative township", "创新型乡镇", "", ""),
    "rd_100m_cny": _money("R&D expenditure", "研发经费"),
    "funds_cny": MetricLabel("money_cny", "provincial funds received", "获得省级资金", "CNY", "元"),
    "own_st_spending_cny": MetricLabel(
        "money_cny", "own S&T spending", "本级科技支出", "CNY", "元"
    ),
    "management_capacity": MetricLabel("ratio", "management capacity", "管理能力", "", ""),
}

_SUFFIX_KINDS: Final[tuple[tuple[str, UnitKind], ...]] = (
    ("_pct", "share_pct"),
    ("_100m_cny", "money_100m_cny"),
    ("_cny", "money_cny"),
    ("_count", "count"),
)


def metric_label(metric: str, lang: str = "en") -> str:
    """Display label of a metric (``lang`` ``"en"`` or ``"zh"``); unknown metrics show their id
    with underscores as spaces."""
    entry = METRICS.get(metric)
    if entry is None:
        return metric.replace("_", " ")
    return entry.label_zh if lang == "zh" else entry.label_en


def unit_kind(metric: str) -> UnitKind:
    """Unit kind of a metric: from :data:`METRICS`, else from its name's suffix, else ratio."""
    entry = METRICS.get(metric)
    if entry is not None:
        return entry.kind
    for suffix, kind in _SUFFIX_KINDS:
        if metric.endswith(suffix):
            return kind
    return "ratio"


def _unit_word(metric: str | None, lang: str) -> str:
    if metric is None or metric not in METRICS:
        return ""
    entry = METRICS[metric]
    return entry.unit_zh if lang == "zh" else entry.unit_en


def _plain(number: float, *, signed: bool) -> str:
    magnitude = abs(number)
    sign = "+" if signed else ""
    if number.is_integer() and magnitude < 1e15:
        return f"{int(number):{sign},}"
    if magnitude >= 1000:
        text = f"{number:{sign},.0f}"
    elif magnitude >= 10:
        text = f"{number:{sign},.1f}"
    else:
        text = f"{number:{sign}.2f}"
    return text


def _fmt(
    number: float, kind: str, metric: str | None, lang: str, *, diff: bool, words: bool = True
) -> str:
    if math.isnan(number):
        return "—"
    if math.isinf(number):
        return ("+∞" if diff else "∞") if number > 0 else "−∞"
    if kind == "probability":
        if diff:
            return f"{100.0 * number:+.1f} pp"
        return f"{100.0 * number:.1f}%"
    if kind == "share_pct":
        if diff:
            return f"{_plain(number, signed=True)} pp"
        return f"{_plain(number, signed=False)}%"
    text = _plain(number, signed=diff)
    if kind == "money_100m_cny":
        return f"{text} 亿元"
    if kind == "money_cny":
        return f"{text} {'元' if lang == 'zh' else 'CNY'}"
    word = _unit_word(metric, lang) if words else ""
    if kind == "index" and not word and words:
        word = "分" if lang == "zh" else "points"
    if not word:
        return text
    return f"{text}{word}" if lang == "zh" else f"{text} {word}"


def format_value(
    value: float, kind: str, metric: str | None = None, lang: str = "en", *, words: bool = True
) -> str:
    """A level in its unit: probabilities and shares as percent, counts with their unit word
    (``words=False``: without, as in a table column), money in 亿元 or CNY.

    >>> format_value(0.81, "probability")
    '81.0%'
    >>> format_value(12.3, "share_pct")
    '12.3%'
    >>> format_value(21.5, "count", "provincial_innovative_counties")
    '21.5 counties'
    """
    return _fmt(float(value), kind, metric, lang, diff=False, words=words)


def format_difference(value: float, kind: str, metric: str | None = None, lang: str = "en") -> str:
    """A signed difference in its unit: percentage points only for probabilities (x 100) and
    percent shares (as they are), counts in counts.

    >>> format_difference(-0.29, "count", "provincial_innovative_counties")
    '-0.29 counties'
    >>> format_difference(0.0123, "probability")
    '+1.2 pp'
    """
    return _fmt(float(value), kind, metric, lang, diff=True)
