"""save_figure atomicity and determinism; fonts and text safety; no global pyplot state."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager

import policysim.plotting._common as common
from policysim.plotting import cjk_font, save_figure
from policysim.plotting._common import new_figure, text_font
from policysim.report.fonts import cjk_font_file

Render = Callable[[Figure], bytes]


def _simple_figure() -> Figure:
    fig = new_figure(3.0, 2.0)
    ax = fig.add_subplot()
    ax.plot([2018, 2019, 2020], [1.0, 3.0, 2.0])
    ax.set_title("simple")
    return fig


class _Exploding(Artist):
    def draw(self, renderer: object) -> None:
        raise RuntimeError("cannot draw this artist")


def test_save_figure_writes_png_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "fig.png"
    assert save_figure(_simple_figure(), target) == target
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in target.parent.iterdir()) == ["fig.png"]


def test_save_figure_is_deterministic(tmp_path: Path) -> None:
    fig = _simple_figure()
    a = save_figure(fig, tmp_path / "a.png").read_bytes()
    b = save_figure(_simple_figure(), tmp_path / "b.png").read_bytes()
    assert a == b


def test_save_figure_failure_leaves_nothing_and_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "fig.png"
    save_figure(_simple_figure(), target)
    before = target.read_bytes()
    fig = _simple_figure()
    fig.axes[0].add_artist(_Exploding())
    with pytest.raises(RuntimeError, match="cannot draw"):
        save_figure(fig, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]
    with pytest.raises(RuntimeError):
        save_figure(fig, tmp_path / "new.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]


def test_save_figure_respects_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = save_figure(_simple_figure(), tmp_path / "fig.png")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_save_figure_rejects_other_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png"):
        save_figure(_simple_figure(), tmp_path / "fig.svg")
    assert not list(tmp_path.iterdir())


def test_cjk_detection_matches_fontconfig() -> None:
    # fc-list is the system's own answer; the detector must agree when fontconfig is present.
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("fontconfig not installed")
    found = cjk_font()
    # the packaged font (mplfonts' Noto Sans CJK SC) is found whatever the system has
    packaged = cjk_font_file()
    assert packaged is not None, "the mplfonts package (a dependency) ships the CJK font"
    assert found == packaged
    if not listed:  # no system CJK font: the packaged one is what makes Chinese drawable
        assert "Noto Sans CJK SC" in {e.name for e in fontManager.ttflist if e.fname == str(found)}


def test_text_without_cjk_font_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "cjk_font", lambda: None)
    assert text_font("东湖区 P(2030)") == ("? P(2030)", None)
    assert text_font("cost $5") == (r"cost \$5", None)
    assert text_font("≥ 20%") == ("≥ 20%", None)


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=30))
def test_text_font_output_is_drawable(text: str) -> None:
    drawn, font = text_font(text)
    allowed = common._default_charmap()
    if font is not None:
        allowed = allowed | common._charmap(str(font.get_file()))
    assert all(ch in " \n" or ord(ch) in allowed for ch in drawn)


def test_titles_with_any_script_draw_without_warnings(render: Render) -> None:
    fig = _simple_figure()
    for i, text in enumerate(["东湖区 <script>", "Ελληνικά € ≥ ≤", "emoji 🙂 and $x$", "tab\tend"]):
        drawn, font = text_font(text)
        fig.axes[0].text(0.1, 0.1 * i, drawn, fontproperties=font, transform=fig.axes[0].transAxes)
    render(fig)


def test_import_and_drawing_leave_pyplot_and_backend_alone() -> None:
    code = (
        "import sys, matplotlib\n"
        "before = matplotlib.rcParams._get_backend_or_none()\n"
        "import pandas as pd\n"
        "import policysim.plotting as p\n"
        "t = pd.DataFrame({'target': ['a'], 'metric': ['m'], 'year': [2020], 'comparator': ['>='],"
        " 'threshold': [1.0], 'probability': [0.5], 'ci_low': [0.4], 'ci_high': [0.6],"
        " 'status': ['at risk']})\n"
        "import io; p.attainment_bars(t).savefig(io.BytesIO(), format='png')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert matplotlib.rcParams._get_backend_or_none() == before, 'backend changed'\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 0, result.stderr


def test_save_figure_writes_vector_formats_beside_the_png(tmp_path: Path) -> None:
    from policysim.plotting.io import VECTOR_FORMATS

    fig = _simple_figure()
    drawn, font = text_font("东湖区 南昌县")
    fig.axes[0].set_title(drawn, fontproperties=font)
    png = save_figure(fig, tmp_path / "f.png", vector=VECTOR_FORMATS)
    svg, pdf = png.with_suffix(".svg"), png.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    text = svg.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    # glyphs are drawn as paths: the SVG shows the Chinese title without any installed font
    assert "<text" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pdf", "f.png", "f.svg"]
    with pytest.raises(ValueError, match="vector format"):
        save_figure(fig, tmp_path / "g.png", vector=("eps",))
    assert not (tmp_path / "g.png").exists()  # checked before anything is written
