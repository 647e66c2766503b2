"""The view in headless Chromium: change the strategy, run a small ensemble of the tiny
scenario, see the attainment table and a figure (Debian's chromium driven by Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest
from viewtools import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="chromium is not installed (/usr/bin/chromium)"
    ),
]

ARTIFACTS = Path(__file__).parent / "artifacts"


def _select(page: object, label: str, option: str) -> None:
    """Open the Vuetify select labelled ``label`` and pick ``option``."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    field = page.locator(".v-select", has_text=label).first
    field.click()
    page.locator(".menuable__content__active .v-list-item", has_text=option).first.click()


def _input(page: object, label: str, text: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    box = page.locator(".v-text-field", has_text=label).first.locator("input")
    box.fill(text)
    box.press("Enter")


def test_explore_runs_tiny_scenario(view_server: tuple[str, Path]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    url, workdir = view_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text("运行 / Run", exact=True).wait_for(timeout=60_000)
            _select(page, "情景 / scenario", "tiny.yaml")
            page.get_by_text("10 county-level units", exact=False).first.wait_for(timeout=30_000)
            _select(page, "分配方式 / allocation strategy", "equal")
            # a bad value is refused beside the controls, with the CLI's one-line error
            _input(page, "运行次数 / replications", "0")
            page.get_by_role("button", name="运行 / Run", exact=True).click()
            error = page.locator(".policysim-control-error")
            error.wait_for(timeout=30_000)
            assert "--replications" in error.inner_text()
            # a run cancelled between chunks keeps what it finished, resumable (600 runs: long
            # enough that the click lands before the last chunk even on a loaded machine; 24
            # finished first when two test suites shared 2 cores)
            _input(page, "运行次数 / replications", "600")
            page.get_by_role("button", name="运行 / Run", exact=True).click()
            # the button, not its label: Playwright then waits until the page enables it
            page.get_by_role("button", name="取消 / Cancel", exact=True).click(timeout=60_000)
            page.get_by_text("Cancelled; the finished runs are kept", exact=False).wait_for(
                timeout=120_000
            )
            _input(page, "运行次数 / replications", "3")
            page.get_by_role("button", name="运行 / Run", exact=True).click()
            table = page.locator("table.attainment")
            table.wait_for(timeout=240_000)
            page.locator("img").first.wait_for(timeout=30_000)
            command = page.locator("pre").first.inner_text()
            text = table.inner_text()
            page.screenshot(path=str(ARTIFACTS / "explore.png"), full_page=True)
            # browse: the new run, its attainment, its downloads
            page.get_by_text("浏览运行结果 / Browse runs", exact=True).click()
            page.locator("table.side-by-side").wait_for(timeout=30_000)
            browse = page.locator("table.side-by-side").inner_text()
            page.get_by_text("briefing.html").first.wait_for()
            page.screenshot(path=str(ARTIFACTS / "browse.png"), full_page=True)
            # one county: search, pick, trajectories
            page.get_by_text("单个县 / One county", exact=True).click()
            _input(page, "搜索：名称、代码或设区市 / search: name, code or prefecture", "安源")
            _select(page, "县（市、区） / county", "安源区")
            page.locator(".policysim-county-figure img").wait_for(timeout=60_000)
            page.get_by_text("县域经济数据为合成数据", exact=False).first.wait_for()
            page.screenshot(path=str(ARTIFACTS / "county.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert "allocation.strategy=equal" in command
    assert "--replications 3" in command
    from policysim.experiments.rundir import directory_state

    states = sorted(directory_state(p).state for p in (workdir / "results").glob("tiny-*"))
    assert states == ["complete", "in progress"], states
    done = next(p for p in (workdir / "results").glob("tiny-*") if (p / "manifest.json").is_file())
    assert (done / "briefing.html").is_file()
    assert "counties_2020" in text
    assert "counties_2020" in browse
    assert any(w in text for w in ("likely met", "uncertain", "likely not met"))
