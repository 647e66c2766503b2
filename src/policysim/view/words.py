"""The page's words in Chinese and English (``--lang zh|en|both``), and the attainment table as
HTML with the briefing's verdict words. No UI framework here."""

from __future__ import annotations

import contextlib
import functools
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import pandas as pd

__all__ = [
    "attainment_html",
    "page_font_css",
    "page_glyphs",
    "say",
    "table_html",
    "verdict_words",
]

#: Rule of the verdict, as the briefing states it.
RULE_EN: Final = (
    "likely met only when the 95% interval's lower end is at least 80%; likely not met when its "
    "upper end is below 80%; otherwise uncertain"
)
RULE_ZH: Final = (
    "95%区间下限不低于80%方为“很可能实现”；上限低于80%为“很可能无法实现”；其余为“尚不确定”"
)


def say(en: str, zh: str, lang: str) -> str:
    """``en``, ``zh`` or both (``zh / en``) by the language setting."""
    if lang == "en":
        return en
    if lang == "zh":
        return zh
    return f"{zh} / {en}"


def verdict_words(verdict: str, lang: str) -> str:
    """The briefing's verdict (``likely met``...) in the page's language."""
    from policysim.report.briefing import VERDICTS

    if not verdict:
        return ""
    return say(verdict, VERDICTS.get(verdict, verdict), lang)


def _target_name(row: Mapping[Any, Any], lang: str) -> str:
    from policysim import metrics

    metric = str(row.get("metric", ""))
    label_en = metrics.label(metric, "province", "en")
    label_zh = metrics.label(metric, "province", "zh")
    cond = f"{row.get('comparator', '')} {row.get('threshold', '')}".replace("nan", "").strip()
    words = say(label_en, label_zh, lang)
    return f"{row['target']}: {words} {cond} ({row.get('year', '')})"


def attainment_html(table: pd.DataFrame, lang: str) -> str:
    """The attainment table (target in words, P(met), 95% interval, verdict) as an HTML table
    (``class="attainment"``; cells escaped)."""
    head = [
        say("target", "目标", lang),
        say("P(met)", "实现概率", lang),
        say("95% interval", "95%区间", lang),
        say("verdict", "判断", lang),
    ]
    rows = []
    for r in table.to_dict("records"):
        rows.append(
            [
                _target_name(r, lang),
                f"{float(r['probability']):.0%}",
                f"{float(r['ci_low']):.0%}–{float(r['ci_high']):.0%}",
                verdict_words(str(r.get("verdict", "")), lang),
            ]
        )
    caption = say(RULE_EN, RULE_ZH, lang)
    return table_html(head, rows, css_class="attainment", caption=caption)


def table_html(
    head: list[str], rows: list[list[str]], *, css_class: str = "", caption: str = ""
) -> str:
    """A plain HTML table; every cell is escaped."""
    esc = html.escape
    parts = [f'<table class="{esc(css_class)}" style="border-collapse:collapse;font-size:14px">']
    if caption:
        parts.append(
            f'<caption style="caption-side:bottom;font-size:12px">{esc(caption)}</caption>'
        )
    cell = 'style="border:1px solid #ccc;padding:3px 8px;text-align:left"'
    parts.append("<tr>" + "".join(f"<th {cell}>{esc(h)}</th>" for h in head) + "</tr>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td {cell}>{esc(str(c))}</td>" for c in row) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


def _cjk(text: str) -> set[str]:
    return {ch for ch in text if ord(ch) > 0x7F and not ch.isspace()}


def page_glyphs(scenario_dir: Path | None = None) -> str:
    """Every non-ASCII character the page may show: its own words (the view's modules), the
    metric labels and verdicts, the embedded county and prefecture names, the synthetic-data
    caveat, and the scenario files offered."""
    from importlib import resources

    from policysim import metrics
    from policysim.report.briefing import VERDICTS
    from policysim.vocabulary import SYNTHETIC_CAVEAT_ZH

    chars: set[str] = set()
    here = Path(__file__).parent
    for module in here.glob("*.py"):
        chars |= _cjk(module.read_text(encoding="utf-8"))
    for m in metrics.METRICS:
        chars |= _cjk(m.label_zh)
    chars |= _cjk("".join(VERDICTS.values()) + SYNTHETIC_CAVEAT_ZH)
    data = resources.files("policysim.data")
    for name in ("jiangxi/counties.csv", "jiangxi/prefecture_indicators.csv"):
        with contextlib.suppress(OSError):
            chars |= _cjk(data.joinpath(name).read_text(encoding="utf-8-sig"))
    if scenario_dir is not None and scenario_dir.is_dir():
        for file in scenario_dir.rglob("*.yaml"):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                chars |= _cjk(file.read_text(encoding="utf-8"))
    return "".join(sorted(chars))


@functools.cache
def page_font_css(scenario_dir: Path | None = None) -> str:
    """CSS embedding the CJK glyphs of :func:`page_glyphs` (the briefing's font, subset), so
    that Chinese renders in a browser without Chinese fonts; the page's text falls back to it."""
    from policysim.report.fonts import EMBEDDED_FAMILY, font_face_css

    face = font_face_css(page_glyphs(scenario_dir))
    if not face:
        return ""
    family = f'Roboto, "{EMBEDDED_FAMILY}", sans-serif'
    return face + f".v-application, .v-application * {{ font-family: {family} !important; }}\n"
