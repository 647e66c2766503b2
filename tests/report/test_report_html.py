"""render_report: one self-contained, escaped, atomic HTML file with every figure embedded."""

from __future__ import annotations

import base64
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.artist import Artist

from policysim.errors import DataError
from policysim.plotting import save_figure
from policysim.plotting._common import new_figure
from policysim.report import format_table, render_report


def _figure(path: Path, colour: str) -> Path:
    fig = new_figure(3.0, 2.0)
    fig.add_subplot().plot([2018, 2019, 2020], [1.0, 2.0, 4.0], color=colour)
    return save_figure(fig, path)


@pytest.fixture
def figures(tmp_path: Path) -> list[tuple[str, Path]]:
    folder = tmp_path / "figures"
    return [
        ("Provincial counties fan chart", _figure(folder / "fan.png", "#0072B2")),
        ("County map <script>alert(1)</script>", _figure(folder / "map.png", "#D55E00")),
    ]


@pytest.fixture
def attainment() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "target": ["provincial counties", "<script>alert('x')</script>"],
            "metric": ["provincial_innovative_counties", "innovative_township_share_pct"],
            "year": [2020, 2030],
            "comparator": [">=", ">="],
            "threshold": [20.0, 30.0],
            "probability": [0.6321, 0.05],
            "ci_low": [0.581, 0.01],
            "ci_high": [0.68, 0.12],
            "median": [21.5, 12.25],
            "p05": [17.0, 8.0],
            "p95": [26.0, 17.5],
            "status": ["met", "missed"],
        }
    )


@pytest.fixture
def counties() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": ["360102", "360121"],
            "name": ["东湖区", "南昌县"],
            "p_2020": [0.1, 0.25],
            "p_2030": [0.9, np.nan],
        }
    )


def _render(
    tmp_path: Path,
    figures: list[tuple[str, Path]],
    attainment: pd.DataFrame,
    counties: pd.DataFrame,
) -> Path:
    return render_report(
        tmp_path / "out" / "report.html",
        title="Jiangxi county innovation: baseline <b>",
        summary={"scenario": "baseline", "county": "东湖区", "danger": "<script>evil()</script>"},
        tables=[("Target attainment", attainment), ("Counties", counties)],
        figures=figures,
        manifest={
            "scenario_hash": "abc123",
            "seed": np.int64(20180104),
            "data": Path("/data/jiangxi/counties.csv"),
            "names": ["东湖区"],
            "options": {"mip_gap": np.float64(1e-4)},
        },
        notes=["Per-county economics are synthetic & scaled to province totals."],
    )


def test_single_self_contained_file(
    tmp_path: Path,
    figures: list[tuple[str, Path]],
    attainment: pd.DataFrame,
    counties: pd.DataFrame,
) -> None:
    path = _render(tmp_path, figures, attainment, counties)
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in text
    # the only url() is the embedded subset of the CJK font (the page has Chinese names)
    urls = re.findall(r"url\(([^)]*)\)", text)
    assert len(urls) == 1
    assert urls[0].startswith("data:font/woff;base64,")
    assert '@font-face { font-family: "policysim-cjk"' in text
    text = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", text)
    assert "http" not in text.lower()
    sources = re.findall(r'src="([^"]*)"', text)
    assert len(sources) == 2
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in text.lower()
    assert "<link" not in text.lower()
    assert "@import" not in text


def test_every_figure_embedded(
    tmp_path: Path,
    figures: list[tuple[str, Path]],
    attainment: pd.DataFrame,
    counties: pd.DataFrame,
) -> None:
    text = _render(tmp_path, figures, attainment, counties).read_text(encoding="utf-8")
    for _, path in figures:
        assert base64.b64encode(path.read_bytes()).decode("ascii") in text


def test_text_is_escaped_and_chinese_kept(
    tmp_path: Path,
    figures: list[tuple[str, Path]],
    attainment: pd.DataFrame,
    counties: pd.DataFrame,
) -> None:
    raw = _render(tmp_path, figures, attainment, counties).read_bytes()
    assert "东湖区".encode() in raw
    assert "南昌县".encode() in raw
    text = raw.decode("utf-8")
    assert "&lt;script&gt;evil()&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "baseline &lt;b&gt;" in text
    assert "synthetic &amp; scaled" in text


def test_tables_are_formatted(
    tmp_path: Path,
    figures: list[tuple[str, Path]],
    attainment: pd.DataFrame,
    counties: pd.DataFrame,
) -> None:
    text = _render(tmp_path, figures, attainment, counties).read_text(encoding="utf-8")
    assert '<td class="num">63.2%</td><td class="num">[58.1%, 68.0%]</td>' in text
    assert '<td class="num">2020</td>' in text  # a year, not "2,020"
    assert '<td class="num">[17, 26]</td>' in text
    assert '<td class="status status-met">met</td>' in text
    assert '<td class="status status-missed">missed</td>' in text
    assert "<th>CI</th>" in text
    assert "<th>ci_high</th>" not in text
    assert '<td class="num">90.0%</td><td class="num">—</td>' not in text
    assert '<td class="num">25.0%</td><td class="num">—</td>' in text
    assert "td.status-met { background: #009E73" in text


def test_manifest_is_collapsible_pretty_json(
    tmp_path: Path,
    figures: list[tuple[str, Path]],
    attainment: pd.DataFrame,
    counties: pd.DataFrame,
) -> None:
    text = _render(tmp_path, figures, attainment, counties).read_text(encoding="utf-8")
    block = re.search(r"<details>.*?<pre>(.*?)</pre>\s*</details>", text, re.S)
    assert block is not None
    parsed = json.loads(html.unescape(block.group(1)))
    assert parsed == {
        "scenario_hash": "abc123",
        "seed": 20180104,
        "data": "/data/jiangxi/counties.csv",
        "names": ["东湖区"],
        "options": {"mip_gap": 1e-4},
    }
    assert '\n  "seed": 20180104' in html.unescape(block.group(1))


def test_rendering_is_deterministic(
    tmp_path: Path,
    figures: list[tuple[str, Path]],
    attainment: pd.DataFrame,
    counties: pd.DataFrame,
) -> None:
    first = _render(tmp_path, figures, attainment, counties).read_bytes()
    second = _render(tmp_path, figures, attainment, counties).read_bytes()
    assert first == second


class _Exploding(Artist):
    def draw(self, renderer: object) -> None:
        raise RuntimeError("figure cannot be drawn")


def test_failure_midway_leaves_no_files(
    tmp_path: Path,
    figures: list[tuple[str, Path]],
    attainment: pd.DataFrame,
    counties: pd.DataFrame,
) -> None:
    broken = new_figure(3.0, 2.0)
    broken.add_subplot().add_artist(_Exploding())
    figure_dir = figures[0][1].parent
    with pytest.raises(RuntimeError, match="cannot be drawn"):
        save_figure(broken, figure_dir / "broken.png")
    assert sorted(p.name for p in figure_dir.iterdir()) == ["fan.png", "map.png"]
    out = tmp_path / "out"
    out.mkdir()
    target = out / "report.html"
    with pytest.raises(DataError, match=r"broken\.png.*file not found"):
        render_report(
            target,
            title="t",
            summary={},
            tables=[("Attainment", attainment)],
            figures=[*figures, ("Broken", figure_dir / "broken.png")],
            manifest={},
        )
    assert list(out.iterdir()) == []
    # an existing report survives a failed re-render untouched
    _render(tmp_path, figures, attainment, counties)
    before = target.read_bytes()
    not_png = out / "notes.txt"
    not_png.write_text("not an image", encoding="utf-8")
    with pytest.raises(DataError, match="not a PNG"):
        render_report(
            target, title="t", summary={}, tables=[], figures=[("x", not_png)], manifest={}
        )
    assert target.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.html"]


def test_unserialisable_manifest_fails_cleanly(tmp_path: Path) -> None:
    loop: dict[str, object] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular"):
        render_report(
            tmp_path / "r.html", title="t", summary={}, tables=[], figures=[], manifest=loop
        )
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.html"):
        render_report(tmp_path / "r.pdf", title="t", summary={}, tables=[], figures=[], manifest={})
    with pytest.raises(DataError, match="expected a pandas DataFrame"):
        render_report(
            tmp_path / "r.html",
            title="t",
            summary={},
            tables=[("x", [1, 2])],
            figures=[],
            manifest={},  # type: ignore[list-item]
        )
    assert list(tmp_path.iterdir()) == []


def test_format_table_merges_metric_difference_interval() -> None:
    frame = pd.DataFrame(
        {"metric_diff_mean": [2.3], "metric_diff_ci_low": [2.1173], "metric_diff_ci_high": [2.5543]}
    )
    headers, rows = format_table(frame)
    assert headers == ["metric_diff_mean", "metric diff CI"]
    assert [c.text for c in rows[0]] == ["2.30", "[2.12, 2.55]"]


def test_format_table_numbers_and_index() -> None:
    frame = pd.DataFrame(
        {
            "hnte_count": [1095, 12000],
            "rd_intensity_pct": [1.28, 0.000123],
            "diff_vs_baseline": [0.032, -0.1],
        },
        index=pd.Index(["2016", "2017"], name="label"),
    )
    headers, rows = format_table(frame)
    assert headers == ["label", "hnte_count", "rd_intensity_pct", "diff_vs_baseline"]
    # a difference of unknown unit is a signed number, never percentage points
    assert [c.text for c in rows[0]] == ["2016", "1,095", "1.28", "+0.03"]
    assert [c.text for c in rows[1]] == ["2017", "12,000", "0.000123", "-0.10"]
    # declared a probability difference: pp
    _, rows = format_table(frame, {"diff_vs_baseline": "probability"})
    assert [c.text for c in rows[0]] == ["2016", "1,095", "1.28", "+3.2 pp"]
    assert [c.text for c in rows[1]] == ["2017", "12,000", "0.000123", "-10.0 pp"]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_dd = False
        self.dd: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "dd":
            self.in_dd = True
            self.dd.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "dd":
            self.in_dd = False

    def handle_data(self, data: str) -> None:
        if self.in_dd:
            self.dd[-1] += data


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40))
def test_any_summary_text_round_trips(tmp_path: Path, value: str) -> None:
    path = render_report(
        tmp_path / "r.html", title="t", summary={"k": value}, tables=[], figures=[], manifest={}
    )
    parser = _Collector()
    parser.feed(path.read_text(encoding="utf-8"))
    assert parser.dd == [value]
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
