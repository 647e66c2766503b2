"""``briefing.html`` (:mod:`policysim.report.briefing`): a Jinja2 template (autoescaping on) over
the briefing's sections, self-contained and printable, the glyphs of its Chinese text embedded.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from policysim.report._atomic import atomic_output
from policysim.report.briefing_facts import Briefing
from policysim.report.briefing_words import _langs, briefing_lines
from policysim.report.fonts import EMBEDDED_FAMILY, font_face_css

__all__ = ["briefing_summary", "render_briefing", "render_html"]

logger = logging.getLogger(__name__)

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
