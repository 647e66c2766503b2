"""The briefing: verdict rule, sentences from the run's tables, bilingual HTML and terminal."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from policysim.cli import app
from policysim.report.briefing import (
    Briefing,
    best_strategies,
    briefing_lines,
    briefing_text,
    drivers_from_indices,
    hindcast_lines,
    render_briefing,
    target_briefs,
    verdict,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"


def test_verdict_known_answers_from_the_issue() -> None:
    assert verdict(0.72, 0.87) == "uncertain"  # national_2020 was called "met" at 81%
    assert verdict(0.38, 0.96) == "uncertain"  # the report's "met" with a 38-96% interval
    assert verdict(0.23, 0.42) == "likely not met"
    assert verdict(0.80, 0.95) == "likely met"  # the lower end clears the bar (inclusive)
    assert verdict(0.5, 0.799) == "likely not met"
    assert verdict(math.nan, math.nan) == "uncertain"
    assert verdict(0.55, 0.7, bar=0.5) == "likely met"


@given(
    lo=st.floats(0, 1),
    width=st.floats(0, 1),
    bar=st.floats(0.01, 0.99),
)
def test_verdict_rule_is_the_stated_rule(lo: float, width: float, bar: float) -> None:
    hi = min(1.0, lo + width)
    v = verdict(lo, hi, bar)
    assert (v == "likely met") == (lo >= bar)
    assert (v == "likely not met") == (hi < bar)
    # a wider interval never makes the verdict more certain
    if v == "uncertain":
        assert verdict(max(0.0, lo - 0.01), hi, bar) == "uncertain"


TARGET = SimpleNamespace(
    name="counties_2020",
    metric="provincial_innovative_counties",
    comparator=">=",
    threshold=20.0,
    year=2020,
    description="about 20 provincial innovative counties",
    source="赣府厅发〔2018〕4号",
)
ESCAPE = SimpleNamespace(
    name="x<script>",
    metric="innovative_township_share_pct",
    comparator=">=",
    threshold=10.0,
    year=2020,
    description="<script>alert(1)</script>",
    source="",
)


def _attainment() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "target": ["counties_2020", "x<script>"],
            "probability": [0.32, 0.9],
            "ci_low": [0.23, 0.85],
            "ci_high": [0.42, 0.95],
            "median": [19.0, 12.0],
            "p05": [16.0, 10.5],
            "p95": [22.0, 13.0],
        }
    )


def _first_year() -> pd.DataFrame:
    rows = []
    for target, shares in (
        ("counties_2020", {2019: 0.1, 2020: 0.22, 2021: 0.4, 2022: 0.18, None: 0.1}),
        ("x<script>", {2020: 1.0}),
    ):
        cum = 0.0
        for year, share in shares.items():
            cum += share
            rows.append(
                {
                    "target": target,
                    "year": year,
                    "label": "never" if year is None else str(year),
                    "share": share,
                    "cumulative_share": cum,
                }
            )
    frame = pd.DataFrame(rows)
    frame["year"] = frame["year"].astype("Int64")
    return frame


def _briefing(**extra: object) -> Briefing:
    targets = target_briefs([TARGET, ESCAPE], _attainment(), _first_year(), end_year=2030)
    return Briefing(
        title="t",
        scenario="jiangxi_baseline",
        strategy="factor_formula",
        horizon="2017–2030",
        n_runs=200,
        n_failed=0,
        root_seed=1,
        targets=targets,
        **extra,  # type: ignore[arg-type]
    )


def test_verdict_sentence_with_first_years() -> None:
    b = _briefing()
    first = b.targets[0]
    assert first.verdict == "likely not met"
    assert first.reached_by == ((2020, pytest.approx(0.32)), (2021, pytest.approx(0.72)),
                                (2022, pytest.approx(0.9)))  # fmt: skip
    assert first.never == pytest.approx(0.1)
    en = briefing_lines(b, "en")[0].lines[0]
    assert en.startswith(
        "About 20 provincial innovative counties by 2020: likely not met "
        "(P = 0.32, 95% interval 0.23–0.42)."
    )
    assert "by 2021 in 72%" in en and "not reached by 2030 in 10%" in en
    assert "reached by 2021 in most runs" in en
    zh = briefing_lines(b, "zh")[0].lines[0]
    assert zh.startswith("2020年省级创新型县（市、区） ≥ 20个：很可能无法实现（概率 P = 0.32")
    assert "到2021年已达到的运行占72%" in zh
    # the second target is reached by everyone in 2020: no later years listed
    assert b.targets[1].reached_by == ((2020, 1.0),)
    text = briefing_text(b, "both")
    assert "赣府厅发〔2018〕4号" in text  # the source from the YAML
    assert "Rule: a target is 'likely met' only when the lower end" in text
    assert "County economics" in text and "合成" in text  # the synthetic caveat, both languages


def test_best_strategy_and_paired_gain() -> None:
    table = pd.DataFrame(
        {
            "scenario": ["base", "opt", "eq", "base", "opt", "eq"],
            "target": ["a", "a", "a", "b", "b", "b"],
            "probability": [0.3, 0.6, 0.4, 0.9, 0.85, 0.9],
            "diff_vs_baseline": [0.0, 0.3, 0.1, 0.0, -0.05, 0.0],
            "diff_ci_low": [0.0, 0.2, -0.02, 0.0, -0.1, 0.0],
            "diff_ci_high": [0.0, 0.4, 0.2, 0.0, 0.0, 0.0],
        }
    )
    gains, overall = best_strategies(table, "base")
    assert overall == "opt"  # mean 0.725 against 0.6 and 0.65
    a, b = gains
    assert (a.best, a.gain, a.gain_low) == ("opt", 0.3, 0.2)
    assert b.best == "base"  # ties go to the earlier (the baseline)
    lines = briefing_lines(_briefing(gains=gains, overall_best=overall), "en")
    best = next(s for s in lines if s.key == "best").lines
    assert best[0] == "Best overall (highest mean probability over the targets): opt."
    assert "a: best strategy opt (P = 0.60), +30.0 pp against the baseline base" in best[1]
    assert "a clear gain" in best[1]
    assert best[2].startswith("b: no strategy beats the baseline base")


def test_drivers_from_sobol_and_morris_indices() -> None:
    sobol = pd.DataFrame(
        {
            "target": ["a"] * 4 + ["b"],
            "quantity": ["attainment"] * 3 + ["value", "attainment"],
            "parameter": ["p1", "p2", "p3", "p4", "p1"],
            "ST": [0.1, 0.6, 0.0, 0.9, 0.3],
        }
    )
    drivers = drivers_from_indices(sobol, top=2)
    assert [(d.target, d.parameter) for d in drivers] == [("a", "p2"), ("a", "p1"), ("b", "p1")]
    morris = sobol.drop(columns="ST").assign(mu_star=[1.0, 3.0, 2.0, 9.0, 1.0])
    assert [d.parameter for d in drivers_from_indices(morris)][:3] == ["p2", "p3", "p1"]
    assert drivers_from_indices(pd.DataFrame({"output": ["x"]})) == ()


def test_hindcast_lines_skip_the_base_year() -> None:
    table = pd.DataFrame(
        {
            "indicator": ["rd_expenditure_100m_cny"] * 3 + ["gdp_100m_cny"] * 2,
            "year": [2017, 2018, 2019, 2018, 2019],
            "observed": [255.8, 310.0, 384.0, 100.0, 101.0],
            "median": [255.8, 280.0, 300.0, 100.5, 100.0],
            "in90": [True, True, False, True, True],
        }
    )
    rd, gdp = hindcast_lines(table, base_year=2017)
    assert (rd.n, rd.in90, rd.above_median, rd.first_year) == (2, 1, 2, 2018)
    assert (gdp.n, gdp.in90, gdp.above_median) == (2, 2, 1)
    lines = briefing_lines(_briefing(hindcast=(rd, gdp), hindcast_source="obs.csv"), "en")
    record = next(s for s in lines if s.key == "hindcast").lines
    assert "1 of 2 observed values inside the model's 90% band" in record[0]
    assert "the model misses it (observed above the model)" in record[0]
    assert "the model tracks it" in record[1]


def test_html_is_bilingual_escaped_printable_and_embeds_its_glyphs(tmp_path: Path) -> None:
    path = render_briefing(tmp_path / "briefing.html", _briefing(), "both")
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;" in text
    assert 'lang="zh-Hans"' in text and 'lang="en"' in text
    assert "很可能无法实现" in text and "likely not met" in text
    assert "@media print" in text
    faces = re.findall(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", text)
    assert len(faces) == 1 and len(faces[0]) > 1000
    assert "http" not in re.sub(r"base64,[A-Za-z0-9+/=]+", "", text).lower()
    en = render_briefing(tmp_path / "en.html", _briefing(), "en").read_text(encoding="utf-8")
    assert "结论" not in en and "Verdicts" in en
    zh = render_briefing(tmp_path / "zh.html", _briefing(), "zh").read_text(encoding="utf-8")
    assert "Verdicts" not in zh and "结论" in zh
    with pytest.raises(ValueError, match="lang"):
        render_briefing(tmp_path / "x.html", _briefing(), "fr")
    assert not (tmp_path / "x.html").exists()


def test_run_writes_and_prints_the_briefing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        ["run", str(SCENARIO), "--replications", "3", "--out", str(out)],
        env={"COLUMNS": "80"},
        terminal_width=80,
    )
    assert res.exit_code == 0, res.output
    html = (out / "briefing.html").read_text(encoding="utf-8")
    text = (out / "briefing.txt").read_text(encoding="utf-8")
    assert "结论" in html and "Verdicts" in html and "省级创新型县" in html
    assert "Hindcast record of the model" in text  # scored against scenarios/observed/
    assert "observed values inside the model's 90% band" in text
    # every target name whole in the terminal (the table and the briefing)
    for name in ("county_rd_rising_2020", "county_rd_rising_2030", "townships_2030"):
        assert name in res.output
    assert "…" not in res.output
    assert "Briefing / 简报" in res.output
    # spreadsheets: the workbook's sheets, CSVs with a BOM
    wb = openpyxl.load_workbook(out / "results.xlsx", read_only=True)
    assert wb.sheetnames == ["README", "attainment", "first_year", "counties", "townships"]
    header = next(wb["counties"].iter_rows(max_row=1, values_only=True))
    assert header[:4] == ("code", "name", "prefecture_code", "prefecture")
    first = next(wb["counties"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert first[1] == "东湖区" and first[3] == "南昌市"
    wb.close()
    for name in ("attainment.csv", "first_year.csv", "draws.csv", "solves.csv"):
        assert (out / name).read_bytes().startswith(b"\xef\xbb\xbf"), name
    assert "结论" in res.output and "Verdicts" in res.output
    # observed history on the fan charts of the province metrics the package has it for
    for metric in ("rd_expenditure_100m_cny", "rd_intensity_pct", "gdp_100m_cny", "hnte_count"):
        assert (out / "figures" / f"fan_{metric}.png").stat().st_size > 1000, metric
    assert "observed history (filled points: sourced" in (out / "report.html").read_text("utf-8")


def test_progress_bar_is_labelled_and_says_elapsed_and_left() -> None:
    from rich.progress import TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from policysim.experiments.runner import _ProgressBar

    bar = _ProgressBar("compare: jiangxi_equal (equal)")
    try:
        progress = bar._progress
        assert progress.tasks[0].description == "compare: jiangxi_equal (equal)"
        texts = [c.text_format for c in progress.columns if isinstance(c, TextColumn)]
        kinds = [type(c) for c in progress.columns]
        # "elapsed" precedes the elapsed clock, "left" the remaining one
        i = kinds.index(TimeElapsedColumn)
        j = kinds.index(TimeRemainingColumn)
        assert progress.columns[i - 1].text_format == "elapsed"  # type: ignore[attr-defined]
        assert "left" in progress.columns[j - 1].text_format  # type: ignore[attr-defined]
        assert "{task.description}" in texts
    finally:
        bar.close()
    default = _ProgressBar(True)
    try:
        assert default._progress.tasks[0].description == "ensemble"
    finally:
        default.close()


def test_progress_clocks_stay_whole_on_a_narrow_terminal() -> None:
    """At 100 columns a study label cut the elapsed clock to "0:00:…"; the bar gives way now,
    and label and clocks stay whole."""
    import io

    from rich.console import Console

    from policysim.experiments.runner import _ProgressBar

    label = "compare: jiangxi_baseline (factor_formula)"
    bar = _ProgressBar(label)
    try:
        progress = bar._progress
        progress.update(bar._task, total=6, completed=4, rate="3.9 runs/s")
        for width in (100, 120):
            sink = io.StringIO()
            Console(file=sink, width=width, color_system=None).print(
                progress.make_tasks_table(progress.tasks)
            )
            line = sink.getvalue()
            assert line.startswith(label), line
            assert re.search(r"elapsed \d:\d\d:\d\d · left (\d:\d\d:\d\d|-:--:--)", line), line
            assert len(line.rstrip("\n")) <= width
    finally:
        bar.close()


def test_observed_history_of_another_province_is_not_scored(tmp_path: Path) -> None:
    """tiny.yaml sits beside scenarios/observed/ (Jiangxi's history): its briefing scored ten
    counties against Jiangxi's R&D and said the model misses every series."""
    from policysim.report.briefing import other_province

    table = pd.DataFrame(
        {
            "indicator": ["rd_expenditure_100m_cny", "rd_intensity_pct", "gdp_100m_cny"],
            "year": [2017, 2017, 2018],
            "observed": [255.8, 1.28, 21984.8],
            "median": [255.8, 1.23, 2000.0],  # a later year is a forecast, not the start
        }
    )
    assert other_province(table, 2017) is None
    tiny = table.assign(median=[23.0, 1.2, 2000.0])
    assert "rd_expenditure_100m_cny 2017" in str(other_province(tiny, 2017))
    out = tmp_path / "tiny"
    res = CliRunner().invoke(
        app,
        ["run", str(ROOT / "scenarios" / "tiny.yaml"), "--replications", "2", "--out", str(out),
         "--quiet", "--lang", "en"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    text = (out / "briefing.txt").read_text(encoding="utf-8")
    assert "observed values inside the model's 90% band" not in text
