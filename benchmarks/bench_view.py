"""Benchmark of ``policysim view``: start-up until it answers HTTP (target ≤ 5 s), and a Jiangxi
ensemble run from the page against the same ``policysim run`` on the command line.

Starts the view on a free loopback port in a scratch folder (with a copy of ``scenarios/``),
drives it in Debian's headless chromium (Playwright), runs ``--replications`` runs of
``scenarios/jiangxi_baseline.yaml`` with 1 worker from the page (Run click to the attainment
table), then the same command line; prints the figures, and with ``--screenshot PATH`` saves a
screenshot of the page after the run (the README's ``docs/img/view.png``).

Run: ``python benchmarks/bench_view.py [--replications 20] [--screenshot docs/img/view.png]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), s: the start-up's own cost,
    whatever else the machine is doing."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_http(url: str, timeout: float = 60.0) -> None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(url)


def _drive(url: str, replications: int, screenshot: Path | None) -> float:
    """Seconds from the Run click to the attainment table and a figure."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1050})
        page.goto(url)
        run = page.get_by_role("button", name="运行 / Run", exact=True)
        run.wait_for(timeout=60_000)
        page.locator(".v-select", has_text="情景 / scenario").first.click()
        page.locator(
            ".menuable__content__active .v-list-item", has_text="jiangxi_baseline.yaml"
        ).first.click()
        page.get_by_text("county-level innovation-driven", exact=False).first.wait_for()
        box = page.locator(".v-text-field", has_text="运行次数 / replications").first
        box.locator("input").fill(str(replications))
        box.locator("input").press("Enter")
        page.wait_for_timeout(500)
        t0 = time.perf_counter()
        run.click()
        page.locator("table.attainment").wait_for(timeout=1_800_000)
        page.locator("img.policysim-figure, .policysim-figure img").first.wait_for()
        seconds = time.perf_counter() - t0
        if screenshot is not None:
            page.evaluate(
                "() => { window.scrollTo(0, 0); document.querySelectorAll('*')"
                ".forEach(e => { if (e.scrollTop) e.scrollTop = 0; }); }"
            )
            page.wait_for_timeout(300)
            page.screenshot(path=str(screenshot))
            _shrink(screenshot)
        browser.close()
    return seconds


def _shrink(path: Path) -> None:
    """Keep the README's screenshot small: 80% size, 96 colours (about 120 KB)."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    image = image.resize((image.width * 4 // 5, image.height * 4 // 5), Image.Resampling.LANCZOS)
    image.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="policysim-view-"))
    shutil.copytree(ROOT / "scenarios", work / "scenarios")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    shot = args.screenshot.resolve() if args.screenshot else None
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "policysim.cli", "view", "--port", str(port)],
        cwd=work,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_http(url)
        startup = time.perf_counter() - t0
        cpu = _cpu_seconds(proc.pid)
        load = Path("/proc/loadavg").read_text().split()[0]
        print(
            f"start-up until HTTP answers: {startup:.2f} s wall (target <= 5 s), "
            f"{cpu:.2f} s CPU; load average {load} on {os.cpu_count()} cores"
        )
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import policysim.cli"], check=True)
        print(f"  for scale, importing the CLI alone: {time.perf_counter() - t0:.2f} s wall")
        page_s = _drive(url, args.replications, shot)
        print(
            f"page: {args.replications} Jiangxi runs, Run click to table and figures: {page_s:.1f} s"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "policysim.cli", "run", "scenarios/jiangxi_baseline.yaml",
         "--replications", str(args.replications), "--workers", "1", "--quiet"],
        cwd=work,
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    cli_s = time.perf_counter() - t0
    print(f"CLI: the same run, whole command: {cli_s:.1f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
