"""The briefing in words (:mod:`policysim.report.briefing`): its sections, sentence by sentence,
in Chinese or English; the text of both ``briefing.html`` and the terminal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from policysim.report.briefing_facts import (
    LANGS,
    VERDICTS,
    Briefing,
    Driver,
    HindcastLine,
    StrategyGain,
    TargetBrief,
)
from policysim.report.labels import (
    SYNTHETIC_CAVEAT_EN,
    SYNTHETIC_CAVEAT_ZH,
    format_value,
    metric_label,
    unit_kind,
)

__all__ = ["Section", "briefing_lines", "briefing_text"]

_COMPARATORS_ZH: Final = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}


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
    sections = [
        _verdicts(b, lang),
        Section(
            "targets", _TITLES["targets"][lang], tuple(_definition(t, lang) for t in b.targets)
        ),
    ]
    if b.gains:
        sections.append(_best(b, lang))
    sections += [_drivers(b, lang), _hindcast(b, lang), _caveats(b, lang)]
    return sections


def _verdicts(b: Briefing, lang: str) -> Section:
    """Each target's verdict with the years it is reached by, then the verdict rule."""
    verdicts: list[str] = []
    for t in b.targets:
        line = _headline(t, lang)
        first = _first_years(t, lang)
        verdicts.append(f"{line}。{first}" if lang == "zh" else f"{line}. {first}".strip())
    verdicts.append(_rule(b.bar, lang))
    return Section("verdicts", _TITLES["verdicts"][lang], tuple(verdicts))


def _best(b: Briefing, lang: str) -> Section:
    """The best strategy overall (if named), then per target with its gain."""
    lines = [_gain_line(g, lang) for g in b.gains]
    if b.overall_best is not None:
        lines.insert(
            0,
            f"总体最佳（各目标平均概率最高）：{b.overall_best}。"
            if lang == "zh"
            else f"Best overall (highest mean probability over the targets): {b.overall_best}.",
        )
    return Section("best", _TITLES["best"][lang], tuple(lines))


def _drivers(b: Briefing, lang: str) -> Section:
    """The leading parameters of each target and their source, or how to find them."""
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
    return Section("drivers", _TITLES["drivers"][lang], tuple(lines))


def _hindcast(b: Briefing, lang: str) -> Section:
    """How the observed history falls in the ensemble's bands, or how to score it."""
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
    return Section("hindcast", _TITLES["hindcast"][lang], tuple(lines))


def _caveats(b: Briefing, lang: str) -> Section:
    """The synthetic-economics caveat (if any), then the runs, seed, scenario and horizon."""
    caveats = [
        f"{b.n_runs}次运行（{b.n_failed}次失败），根种子 {b.root_seed}；方案 {b.scenario}"
        f"（{b.strategy}），{b.horizon}。"
        if lang == "zh"
        else f"{b.n_runs} runs ({b.n_failed} failed), root seed {b.root_seed}; scenario "
        f"{b.scenario} ({b.strategy}), {b.horizon}."
    ]
    if b.synthetic:
        caveats.insert(0, SYNTHETIC_CAVEAT_ZH if lang == "zh" else SYNTHETIC_CAVEAT_EN)
    return Section("caveat", _TITLES["caveat"][lang], tuple(caveats))


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
