"""briefing.html and report.html in headless Chromium without system CJK fonts: the embedded
font face is loaded and used, and Chinese county names are drawn as glyphs, not boxes.

Skips (with the reason) when Debian's ``chromium`` is not installed (``.ci/run`` installs it).
The screenshots are kept in ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from typer.testing import CliRunner

from policysim.cli import app

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)

_PROBE = """<script>
document.fonts.ready.then(() => {
  const faces = [...document.fonts].filter(f => f.family.replace(/"/g, '') === 'policysim-cjk');
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({
    faces: faces.map(f => f.status),
    check: document.fonts.check('16px "policysim-cjk"', '东湖区南昌县'),
  });
  document.body.appendChild(out);
});
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _screenshot(page: Path, shot: Path, size: str = "1000,1400") -> np.ndarray:
    res = _chromium(f"--screenshot={shot}", f"--window-size={size}", page.as_uri())
    assert shot.is_file(), res.stderr[-2000:]
    return np.asarray(image.imread(shot))[..., :3]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chromium") / "run"
    res = CliRunner().invoke(
        app, ["run", str(SCENARIO), "--replications", "3", "--out", str(out), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.parametrize("name", ["briefing.html", "report.html"])
def test_embedded_font_renders_chinese(run_dir: Path, name: str, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = run_dir / name
    text = page.read_text(encoding="utf-8")
    assert "东湖区" in text or "省级创新型县" in text
    # 1. the browser loads the embedded face and it covers the Chinese text
    probed = tmp_path / name
    probed.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = _chromium("--dump-dom", probed.as_uri()).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found is not None, dom[-2000:]
    assert '"faces":["loaded"]' in found.group(1).replace("&quot;", '"')
    assert '"check":true' in found.group(1).replace("&quot;", '"')
    # 2. the page differs from the same page without the embedded face (which shows boxes or
    # nothing where there is no system CJK font)
    with_font = _screenshot(page, ARTIFACTS / f"{page.stem}.png")
    stripped = tmp_path / f"nofont-{name}"
    stripped.write_text(re.sub(r"@font-face \{[^}]*\}", "", text), encoding="utf-8")
    without = _screenshot(stripped, ARTIFACTS / f"{page.stem}-without-font.png")
    has_system_cjk = (
        bool(subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip())
        if shutil.which("fc-list")
        else False
    )
    ink = (with_font < 0.5).sum()
    assert ink > 1000  # something is drawn
    if not has_system_cjk:
        assert np.abs(with_font - without).mean() > 1e-3, "the embedded face changed nothing"
