"""The briefing: the answer in words for a policy office, in Chinese and English.

One :class:`Briefing` holds what a reader needs: per target the verdict in words with the rule
behind it, the target's description and source (from the scenario), the probability with its 95%
interval, when the target is first reached over the runs (``first_year.csv``), the best strategy
with its paired gain (comparisons), what drives the result (a sensitivity study, when one is in
the run directory), the model's hindcast record against observed history, and the synthetic-data
caveat. The same sentences are written to ``briefing.html`` (self-contained, printable, with the
glyphs of its Chinese text embedded) and printed on the terminal.

Verdict rule (:func:`verdict`): a target is **likely met** only when the lower end of the 95%
interval of its probability clears the bar (P >= 0.8 by default, the reporting convention of
:data:`policysim.analysis.targets.DEFAULT_MET_AT`), **likely not met** when the upper end is
below the bar, and **uncertain** otherwise (more runs narrow the interval).

The HTML is made with Jinja2 templates (autoescaping on): the briefing is prose with loops and
conditions in two languages, which a template states far more readably than string building.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd

from policysim.analysis.targets import DEFAULT_MET_AT
from policysim.report._atomic import atomic_output
from policysim.report.fonts import EMBEDDED_FAMILY, font_face_css
from policysim.report.labels import (
    SYNTHETIC_CAVEAT_EN,
    SYNTHETIC_CAVEAT_ZH,
    format_value,
    metric_label,
    unit_kind,
)

__all__ = [
    "LANGS",
    "VERDICTS",
    "Briefing",
    "Driver",
    "HindcastLine",
    "StrategyGain",
    "TargetBrief",
    "best_strategies",
    "briefing_lines",
    "briefing_text",
    "drivers_from_indices",
    "hindcast_lines",
    "render_briefing",
    "target_briefs",
    "verdict",
]

logger = logging.getLogger(__name__)

Verdict = Literal["likely met", "uncertain", "likely not met"]
Lang = Literal["zh", "en", "both"]
LANGS: Final = ("zh", "en", "both")
VERDICTS: Final[dict[str, str]] = {
    "likely met": "很可能实现",
    "uncertain": "尚不确定",
    "likely not met": "很可能无法实现",
}
_COMPARATORS_ZH: Final = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
#: Years after the target year for which the first-year sentence gives the cumulative share.
_LATER_YEARS: Final = 2


def verdict(ci_low: float, ci_high: float, bar: float = DEFAULT_MET_AT) -> Verdict:
    """The verdict in words from the 95% interval of the probability of meeting a target.

    ``"likely met"`` only when the interval's lower end clears the bar (``ci_low >= bar``),
    ``"likely not met"`` when its upper end is below it (``ci_high < bar``), otherwise
    ``"uncertain"`` (also for a missing interval).

    >>> verdict(0.72, 0.87)
    'uncertain'
    >>> verdict(0.23, 0.42)
    'likely not met'
    >>> verdict(0.81, 0.9)
    'likely met'
    """
    if math.isnan(ci_low) or math.isnan(ci_high):
        return "uncertain"
    if ci_low >= bar:
        return "likely met"
    if ci_high < bar:
        return "likely not met"
    return "uncertain"


@dataclass(frozen=True)
class TargetBrief:
    """One target: definition, estimate, verdict and first-year distribution."""

    name: str
    metric: str
    comparator: str
    threshold: float | None
    year: int
    description: str
    source: str
    probability: float
    ci_low: float
    ci_high: float
    median: float
    p05: float
    p95: float
    verdict: Verdict
    #: (year, cumulative share of runs that have first reached the target by then)
    reached_by: tuple[tuple[int, float], ...] = ()
    never: float = math.nan
    end_year: int = 0


@dataclass(frozen=True)
class StrategyGain:
    """The best strategy for one target, with its paired gain against the baseline."""

    target: str
    best: str
    probability: float
    baseline: str
    baseline_probability: float
    gain: float
    gain_low: float
    gain_high: float


@dataclass(frozen=True)
class Driver:
    """One of the uncertain parameters that most drive a target's attainment."""

    target: str
    parameter: str
    value: float
    measure: str  # "ST" (Sobol' total index) or "mu_star" (Morris)


@dataclass(frozen=True)
class HindcastLine:
    """How an indicator's observed history falls in the ensemble's bands."""

    indicator: str
    n: int
    in90: int
    above_median: int
    first_year: int
    last_year: int


@dataclass(frozen=True)
class Briefing:
    """Everything the briefing says (see the module docstring)."""

    title: str
    scenario: str
    strategy: str
    horizon: str
    n_runs: int
    n_failed: int
    root_seed: int
    targets: tuple[TargetBrief, ...]
    bar: float = DEFAULT_MET_AT
    gains: tuple[StrategyGain, ...] = ()
    overall_best: str | None = None
    drivers: tuple[Driver, ...] = ()
    drivers_source: str = ""
    hindcast: tuple[HindcastLine, ...] = ()
    hindcast_source: str = ""
    synthetic: bool = True
    created: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))


# -----------------------------------------------------------------------------------------------
# building


def target_briefs(
    targets: Sequence[Any],
    attainment: pd.DataFrame,
    first_year: pd.DataFrame | None,
    *,
    end_year: int,
    bar: float = DEFAULT_MET_AT,
) -> tuple[TargetBrief, ...]:
    """One :class:`TargetBrief` per scenario target, from ``attainment.csv`` and
    ``first_year.csv`` data."""
    rows = {str(r["target"]): r for r in attainment.to_dict("records")}
    out: list[TargetBrief] = []
    for t in targets:
        row = rows.get(t.name)
        if row is None:
            continue
        reached: list[tuple[int, float]] = []
        never = math.nan
        if first_year is not None and len(first_year):
            sub = first_year[first_year["target"] == t.name]
            years = sub[sub["label"] != "never"]
            for k in range(_LATER_YEARS + 1):
                y = int(t.year) + k
                hit = years[years["year"].astype("Int64") == y]
                if len(hit):
                    share = float(hit["cumulative_share"].iloc[0])
                    reached.append((y, share))
                    if share >= 1.0 - 1e-12:  # every run has reached it: no later year to add
                        break
            nev = sub[sub["label"] == "never"]
            if len(nev):
                never = float(nev["share"].iloc[0])
        lo, hi = float(row["ci_low"]), float(row["ci_high"])
        out.append(
            TargetBrief(
                name=t.name,
                metric=t.metric,
                comparator=t.comparator,
                threshold=t.threshold,
                year=int(t.year),
                description=t.description,
                source=t.source,
                probability=float(row["probability"]),
                ci_low=lo,
                ci_high=hi,
                median=float(row["median"]),
                p05=float(row["p05"]),
                p95=float(row["p95"]),
                verdict=verdict(lo, hi, bar),
                reached_by=tuple(reached),
                never=never,
                end_year=end_year,
            )
        )
    return tuple(out)


def best_strategies(table: pd.DataFrame, baseline: str) -> tuple[tuple[StrategyGain, ...], str]:
    """Per target the scenario with the highest probability and its paired gain over the
    baseline (``comparison.csv`` data); and the overall best: the highest mean probability over
    the targets (ties: the earlier scenario)."""
    gains: list[StrategyGain] = []
    for target, sub in table.groupby("target", sort=False):
        base = sub[sub["scenario"] == baseline]
        best = sub.loc[sub["probability"].idxmax()]
        gains.append(
            StrategyGain(
                target=str(target),
                best=str(best["scenario"]),
                probability=float(best["probability"]),
                baseline=baseline,
                baseline_probability=float(base["probability"].iloc[0]) if len(base) else math.nan,
                gain=float(best["diff_vs_baseline"]),
                gain_low=float(best["diff_ci_low"]),
                gain_high=float(best["diff_ci_high"]),
            )
        )
    means = table.groupby("scenario", sort=False)["probability"].mean()
    overall = str(means.idxmax()) if len(means) else baseline
    return tuple(gains), overall


def drivers_from_indices(indices: pd.DataFrame, top: int = 3) -> tuple[Driver, ...]:
    """The ``top`` parameters with the largest total Sobol' index (or Morris mu*) of each
    target's attainment, from ``sensitivity_indices.csv`` data."""
    if "target" not in indices.columns:
        return ()
    sub = indices
    if "quantity" in sub.columns:
        sub = sub[sub["quantity"] == "attainment"]
    measure = "ST" if "ST" in sub.columns else "mu_star" if "mu_star" in sub.columns else None
    if measure is None:
        return ()
    out: list[Driver] = []
    for target, rows in sub.groupby("target", sort=False):
        ranked = rows.dropna(subset=[measure]).sort_values(measure, ascending=False).head(top)
        out.extend(
            Driver(str(target), str(r["parameter"]), float(r[measure]), measure)
            for r in ranked.to_dict("records")
            if float(r[measure]) > 0
        )
    return tuple(out)


def hindcast_lines(table: pd.DataFrame, base_year: int) -> tuple[HindcastLine, ...]:
    """Per indicator, of the observed years after the base year (the base year is the model's
    starting point, not a test): how many lie in the ensemble's 90% band, how many above its
    median (a :func:`policysim.studies.hindcast.score_ensemble` table)."""
    sub = table[table["year"] > base_year]
    out: list[HindcastLine] = []
    for indicator, rows in sub.groupby("indicator", sort=False):
        out.append(
            HindcastLine(
                indicator=str(indicator),
                n=len(rows),
                in90=int(rows["in90"].sum()),
                above_median=int((rows["observed"] > rows["median"]).sum()),
                first_year=int(rows["year"].min()),
                last_year=int(rows["year"].max()),
            )
        )
    return tuple(out)


# -----------------------------------------------------------------------------------------------
# words


def _p(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.2f}"


def _pct(x: float) -> str:
    return "—" if math.isnan(x) else f"{100 * x:.0f}%"


def _pp(x: float) -> str:
    return f"{100 * x:+.1f} pp"


def _condition(t: TargetBrief, lang: str) -> str:
    label = metric_label(t.metric, lang)
    if t.comparator == "rising":
        return f"{label}逐年增长" if lang == "zh" else f"{label} rising every year"
    assert t.threshold is not None
    value = format_value(t.threshold, unit_kind(t.metric), t.metric, lang)
    symbol = _COMPARATORS_ZH.get(t.comparator, t.comparator)
    return f"{label} {symbol} {value}"


def _headline(t: TargetBrief, lang: str) -> str:
    interval = f"{_p(t.ci_low)}–{_p(t.ci_high)}"
    if lang == "zh":
        return (
            f"{t.year}年{_condition(t, 'zh')}：{VERDICTS[t.verdict]}"
            f"（概率 P = {_p(t.probability)}，95%区间 {interval}）"
        )
    what = t.description.split(";")[0].strip() or _condition(t, "en")
    what = what[:1].upper() + what[1:]
    return f"{what} by {t.year}: {t.verdict} (P = {_p(t.probability)}, 95% interval {interval})"


def _first_years(t: TargetBrief, lang: str) -> str:
    if not t.reached_by:
        return ""
    if lang == "zh":
        parts = [f"到{y}年已达到的运行占{_pct(s)}" for y, s in t.reached_by]
        text = "，".join(parts)
        if not math.isnan(t.never):
            text += f"；至{t.end_year}年仍未达到的占{_pct(t.never)}"
        return text + "。"
    parts = [f"by {y} in {_pct(s)}" for y, s in t.reached_by]
    text = "Reached " + ", ".join(parts) + " of runs"
    if not math.isnan(t.never):
        text += f"; not reached by {t.end_year} in {_pct(t.never)}"
    later = [(y, s) for y, s in t.reached_by if y > t.year and s > 0.5]
    if t.verdict != "likely met" and later:
        text += f" (reached by {later[0][0]} in most runs)"
    return text + "."


def _definition(t: TargetBrief, lang: str) -> str:
    cond = _condition(t, lang)
    if lang == "zh":
        src = f"；来源：{t.source}" if t.source else ""
        desc = f"；说明：{t.description}" if t.description else ""
        return f"目标 {t.name}：{t.year}年 {cond}{desc}{src}。"
    src = f"; source: {t.source}" if t.source else ""
    return f"Target {t.name}: {cond} in {t.year}{src}."


def _rule(bar: float, lang: str) -> str:
    if lang == "zh":
        return (
            f"判定规则：概率的95%区间下限不低于{bar:.0%}时为“很可能实现”，上限低于{bar:.0%}时为"
            f"“很可能无法实现”，否则为“尚不确定”（增加运行次数可缩小区间）。概率为达到目标的运行所占比例。"
        )
    return (
        f"Rule: a target is 'likely met' only when the lower end of the 95% interval of its "
        f"probability is at least {bar:.0%}, 'likely not met' when the upper end is below "
        f"{bar:.0%}, otherwise 'uncertain' (more runs narrow the interval). The probability is "
        "the share of runs that meet the target."
    )


def _gain_line(g: StrategyGain, lang: str) -> str:
    interval = f"{_pp(g.gain_low)} … {_pp(g.gain_high)}"
    if g.best == g.baseline or g.gain <= 0:
        if lang == "zh":
            return f"{g.target}：没有方案优于基准方案 {g.baseline}（P = {_p(g.baseline_probability)}）。"
        return (
            f"{g.target}: no strategy beats the baseline {g.baseline} "
            f"(P = {_p(g.baseline_probability)})."
        )
    clear = g.gain_low > 0
    if lang == "zh":
        note = "差异显著" if clear else "区间含0，与基准无明显差异"
        return (
            f"{g.target}：最佳方案 {g.best}（P = {_p(g.probability)}），比基准 {g.baseline} "
            f"高 {_pp(g.gain)}（配对95%区间 {interval}，{note}）。"
        )
    note = "a clear gain" if clear else "the interval includes 0: not distinguishable"
    return (
        f"{g.target}: best strategy {g.best} (P = {_p(g.probability)}), {_pp(g.gain)} against "
        f"the baseline {g.baseline} (paired 95% interval {interval}; {note})."
    )


def _driver_line(target: str, drivers: Sequence[Driver], lang: str) -> str:
    measure = drivers[0].measure
    name = "总效应指数 ST" if measure == "ST" else "Morris μ*"
    items = ", ".join(f"{d.parameter} ({d.value:.2f})" for d in drivers)
    if lang == "zh":
        return f"{target}：主要影响因素（{name}）：{items}。"
    name = "Sobol' total index ST" if measure == "ST" else "Morris mu*"
    return f"{target}: driven most by ({name}) {items}."


def _hindcast_line(h: HindcastLine, lang: str) -> str:
    label = metric_label(h.indicator, lang)
    years = f"{h.first_year}–{h.last_year}" if h.first_year != h.last_year else f"{h.first_year}"
    if lang == "zh":
        return (
            f"{label}（{years}）：{h.n}个观测值中有{h.in90}个落在模型90%区间内，"
            f"{h.above_median}个高于模型中位数。"
        )
    verdict_words = (
        "the model tracks it"
        if h.in90 >= 0.8 * h.n
        else "the model misses it"
        + (
            " (observed above the model)"
            if h.above_median > h.n / 2
            else " (observed below the model)"
        )
    )
    return (
        f"{label} ({years}): {h.in90} of {h.n} observed values inside the model's 90% band, "
        f"{h.above_median} above its median: {verdict_words}."
    )


@dataclass(frozen=True)
class Section:
    """A titled section of the briefing in one language."""

    key: str
    title: str
    lines: tuple[str, ...]


_TITLES: Final[dict[str, dict[str, str]]] = {
    "verdicts": {"en": "Verdicts", "zh": "结论"},
    "targets": {"en": "The targets", "zh": "目标"},
    "best": {"en": "Best strategy", "zh": "最佳方案"},
    "drivers": {"en": "What drives the result", "zh": "主要影响因素"},
    "hindcast": {"en": "Hindcast record of the model", "zh": "模型回测记录"},
    "caveat": {"en": "Caveats", "zh": "说明"},
}


def briefing_lines(b: Briefing, lang: str) -> list[Section]:
    """The briefing's sections in one language (``"zh"`` or ``"en"``): the text of both the
    HTML and the terminal."""
    if lang not in ("zh", "en"):
        raise ValueError(f"briefing_lines: lang {lang!r}: expected 'zh' or 'en'")
    sections: list[Section] = []
    verdicts: list[str] = []
    for t in b.targets:
        line = _headline(t, lang)
        first = _first_years(t, lang)
        verdicts.append(f"{line}。{first}" if lang == "zh" else f"{line}. {first}".strip())
    verdicts.append(_rule(b.bar, lang))
    sections.append(Section("verdicts", _TITLES["verdicts"][lang], tuple(verdicts)))
    sections.append(
        Section("targets", _TITLES["targets"][lang], tuple(_definition(t, lang) for t in b.targets))
    )
    if b.gains:
        lines = [_gain_line(g, lang) for g in b.gains]
        if b.overall_best is not None:
            lines.insert(
                0,
                f"总体最佳（各目标平均概率最高）：{b.overall_best}。"
                if lang == "zh"
                else f"Best overall (highest mean probability over the targets): {b.overall_best}.",
            )
        sections.append(Section("best", _TITLES["best"][lang], tuple(lines)))
    by_target: dict[str, list[Driver]] = {}
    for d in b.drivers:
        by_target.setdefault(d.target, []).append(d)
    if by_target:
        lines = [_driver_line(t, ds, lang) for t, ds in by_target.items()]
        lines.append(f"来源：{b.drivers_source}" if lang == "zh" else f"Source: {b.drivers_source}")
    else:
        lines = [
            "本次运行目录中没有敏感性分析；运行 policysim sensitivity 可得出影响因素。"
            if lang == "zh"
            else "No sensitivity study in this run directory; `policysim sensitivity` finds the "
            "drivers."
        ]
    sections.append(Section("drivers", _TITLES["drivers"][lang], tuple(lines)))
    if b.hindcast:
        lines = [_hindcast_line(h, lang) for h in b.hindcast]
        lines.append(
            f"观测数据：{b.hindcast_source}（基准年为模型起点，不计入）。"
            if lang == "zh"
            else f"Observed history: {b.hindcast_source} (the base year is the model's starting "
            "point and is not counted)."
        )
    else:
        lines = [
            "没有可用的观测历史；运行 policysim hindcast 可检验模型。"
            if lang == "zh"
            else "No observed history found next to the scenario; `policysim hindcast` scores "
            "the model against one."
        ]
    sections.append(Section("hindcast", _TITLES["hindcast"][lang], tuple(lines)))
    caveats = [
        f"{b.n_runs}次运行（{b.n_failed}次失败），根种子 {b.root_seed}；方案 {b.scenario}"
        f"（{b.strategy}），{b.horizon}。"
        if lang == "zh"
        else f"{b.n_runs} runs ({b.n_failed} failed), root seed {b.root_seed}; scenario "
        f"{b.scenario} ({b.strategy}), {b.horizon}."
    ]
    if b.synthetic:
        caveats.insert(0, SYNTHETIC_CAVEAT_ZH if lang == "zh" else SYNTHETIC_CAVEAT_EN)
    sections.append(Section("caveat", _TITLES["caveat"][lang], tuple(caveats)))
    return sections


def _langs(lang: str) -> tuple[str, ...]:
    if lang not in LANGS:
        raise ValueError(f"lang {lang!r}: expected one of {', '.join(LANGS)}")
    return ("zh", "en") if lang == "both" else (lang,)


def briefing_text(b: Briefing, lang: str = "both") -> str:
    """The briefing as plain text (what the terminal shows), sections per language."""
    out: list[str] = []
    for code in _langs(lang):
        for section in briefing_lines(b, code):
            out.append(section.title)
            out.extend(f"  {line}" for line in section.lines)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# -----------------------------------------------------------------------------------------------
# HTML

_TEMPLATE: Final = """<!DOCTYPE html>
<html lang="{{ html_lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ font_face | safe }}
body { font-family: "{{ family }}", "Noto Sans", "Helvetica Neue", Arial, "PingFang SC",
       "Microsoft YaHei", sans-serif; margin: 2rem auto; max-width: 48rem; padding: 0 1rem;
       color: #1a1a1a; line-height: 1.55; }
.zh { font-family: "{{ family }}", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei",
      sans-serif; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #0072B2; padding-bottom: .3rem; }
h2 { font-size: 1.2rem; margin-top: 1.6rem; color: #0b3a5c; }
section.lang + section.lang { border-top: 1px solid #d0d7de; margin-top: 2rem; }
ul { padding-left: 1.2rem; } li { margin: .35rem 0; }
.verdict-likely-met { border-left: 6px solid #009E73; padding-left: .5rem; list-style: none; }
.verdict-uncertain { border-left: 6px solid #E69F00; padding-left: .5rem; list-style: none; }
.verdict-likely-not-met { border-left: 6px solid #D55E00; padding-left: .5rem;
                          list-style: none; }
p.meta { color: #555; font-size: .85rem; }
@media print { body { margin: 0; max-width: none; font-size: 11pt; }
               h2 { break-after: avoid; } li { break-inside: avoid; } }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="meta">{{ meta }}</p>
{% for block in blocks %}
<section class="lang {{ block.lang }}" lang="{{ block.html_lang }}">
{% for section in block.sections %}
<h2 id="{{ section.key }}-{{ block.lang }}">{{ section.title }}</h2>
<ul>
{% for line in section.lines %}
{% if section.key == "verdicts" and loop.index0 < verdict_classes | length %}
<li class="verdict-{{ verdict_classes[loop.index0] }}">{{ line }}</li>
{% else %}
<li>{{ line }}</li>
{% endif %}
{% endfor %}
</ul>
{% endfor %}
</section>
{% endfor %}
</body>
</html>
"""


def render_html(b: Briefing, lang: str = "both") -> str:
    """The briefing page as a string (fonts embedded)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(_TEMPLATE)
    blocks = [
        {
            "lang": code,
            "html_lang": "zh-Hans" if code == "zh" else "en",
            "sections": briefing_lines(b, code),
        }
        for code in _langs(lang)
    ]
    title = (
        f"政策模拟简报 / Briefing: {b.scenario}"
        if lang == "both"
        else (f"政策模拟简报：{b.scenario}" if lang == "zh" else f"Briefing: {b.scenario}")
    )
    meta = f"policysim · {b.scenario} ({b.strategy}) · {b.horizon} · {b.n_runs} runs · {b.created}"
    context = {
        "title": title,
        "meta": meta,
        "blocks": blocks,
        "family": EMBEDDED_FAMILY,
        "html_lang": "zh-Hans" if lang == "zh" else "en",
        "verdict_classes": [t.verdict.replace(" ", "-") for t in b.targets],
        "font_face": "",
    }
    page = template.render(**context)
    context["font_face"] = font_face_css(page)
    return template.render(**context)


def render_briefing(path: Path, b: Briefing, lang: str = "both") -> Path:
    """Write ``briefing.html`` atomically (self-contained: CSS inline, the glyphs of its Chinese
    text embedded as a WOFF subset, no scripts, printable to PDF from a browser)."""
    target = Path(path)
    page = render_html(b, lang)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        try:
            out.write(page)
        finally:
            out.detach()
    logger.info("briefing written to %s", target)
    return target


def briefing_summary(b: Briefing) -> Mapping[str, str]:
    """Verdict per target (for manifests and tests)."""
    return {t.name: t.verdict for t in b.targets}


# -----------------------------------------------------------------------------------------------
# from a run or a comparison


def _observed_files(scenario_path: Path) -> list[Path]:
    folder = Path(scenario_path).parent / "observed"
    return sorted(folder.glob("*.csv")) if folder.is_dir() else []


#: Largest relative gap, at the base year, between an observed value and the run's median for the
#: file to be taken as history of the run's province (the model starts from the base-year
#: statistics; the shipped Jiangxi files beside ``tiny.yaml`` are ten times its totals).
BASE_YEAR_TOLERANCE = 0.2


def other_province(table: pd.DataFrame, base_year: int) -> str | None:
    """Why a scored observed file is not the run's province (its base-year values are far from
    where the run starts), or None (a :func:`policysim.studies.hindcast.score_ensemble`
    table)."""
    base = table[table["year"] == base_year]
    observed = pd.to_numeric(base["observed"], errors="coerce").to_numpy(dtype=float)
    median = pd.to_numeric(base["median"], errors="coerce").to_numpy(dtype=float)
    for indicator, obs, med in zip(base["indicator"], observed, median, strict=True):
        if obs != 0 and abs(med / obs - 1.0) > BASE_YEAR_TOLERANCE:
            return f"{indicator} {base_year}: observed {obs:g}, the run starts at {med:g}"
    return None


def find_hindcast(
    metrics: pd.DataFrame, scenario: Any, scenario_path: Path
) -> tuple[tuple[HindcastLine, ...], str]:
    """Score the run's province metrics against the observed history next to the scenario
    (``observed/*.csv``; the file with the most observations after the base year). Files that do
    not fit the scenario (years outside its horizon, unknown indicators) are skipped, and so are
    files about another province: base-year values more than :data:`BASE_YEAR_TOLERANCE` from
    where the run starts."""
    from policysim.errors import PolicysimError
    from policysim.studies.hindcast import read_hindcast_observed, score_ensemble

    base_year = int(scenario.horizon.base_year)
    best: tuple[tuple[HindcastLine, ...], str] = ((), "")
    best_n = 0
    for path in _observed_files(scenario_path):
        try:
            observed = read_hindcast_observed(path, scenario)
            table, _ = score_ensemble(metrics, observed)
        except (PolicysimError, KeyError, ValueError) as exc:
            logger.debug("observed file %s skipped: %s", path, exc)
            continue
        elsewhere = other_province(table, base_year)
        if elsewhere is not None:
            logger.debug("observed file %s skipped (another province: %s)", path, elsewhere)
            continue
        lines = hindcast_lines(table, base_year)
        n = sum(h.n for h in lines)
        if n > best_n:
            best, best_n = (lines, str(path)), n
    return best


def _drivers(out_dir: Path | None) -> tuple[tuple[Driver, ...], str]:
    if out_dir is None:
        return (), ""
    path = Path(out_dir) / "sensitivity_indices.csv"
    if not path.is_file():
        return (), ""
    try:
        indices = pd.read_csv(path, encoding="utf-8-sig")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        logger.warning("%s: not read (%s); no drivers in the briefing", path, exc)
        return (), ""
    return drivers_from_indices(indices), str(path)


def briefing_for_run(
    result: Any,
    attainment: pd.DataFrame,
    first_year: pd.DataFrame | None,
    out_dir: Path | None = None,
) -> Briefing:
    """The briefing of an ensemble (:class:`policysim.experiments.EnsembleResult`)."""
    from policysim.simulation import baseline_for

    loaded = result.loaded
    sc = loaded.scenario
    hindcast, source = find_hindcast(result.metrics, sc, loaded.path)
    drivers, drivers_source = _drivers(out_dir)
    synthetic = any(baseline_for(sc).synthetic_columns.values())
    return Briefing(
        title=f"policysim: {sc.metadata.name}",
        scenario=sc.metadata.name,
        strategy=sc.allocation.strategy,
        horizon=f"{sc.horizon.base_year}–{sc.horizon.end_year}",
        n_runs=int(result.n_runs),
        n_failed=int(result.n_failed),
        root_seed=int(result.root_seed),
        targets=target_briefs(sc.targets, attainment, first_year, end_year=sc.horizon.end_year),
        drivers=drivers,
        drivers_source=drivers_source,
        hindcast=hindcast,
        hindcast_source=source,
        synthetic=synthetic,
    )


def briefing_for_comparison(result: Any, out_dir: Path | None = None) -> Briefing:
    """The briefing of a comparison (:class:`policysim.studies.compare.ComparisonResult`): the
    baseline's verdicts, and the best strategy per target with its paired gain."""
    from policysim.analysis import first_year_met

    base = result.results[result.baseline]
    sc = base.loaded.scenario
    attain = base.attainment()
    first = first_year_met(base.metrics, sc.targets) if sc.targets else None
    b = briefing_for_run(base, attain, first, out_dir)
    gains, overall = (
        best_strategies(result.table, result.baseline) if len(result.table) else ((), None)
    )
    others = [n for n in result.results if n != result.baseline]
    return Briefing(
        **{
            **b.__dict__,
            "title": "policysim: strategy comparison",
            "scenario": f"{result.baseline} vs {', '.join(others)}" if others else result.baseline,
            "gains": gains,
            "overall_best": overall,
        }
    )
