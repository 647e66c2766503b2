"""Fixtures of the view tests: a working folder with the scenarios, the view on a free port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from viewtools import ROOT, free_port, start_view, stop, wait_http


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working folder with the shipped scenarios (runs go to its results/)."""
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    return tmp_path


@pytest.fixture
def view_server(workdir: Path) -> Iterator[tuple[str, Path]]:
    """``policysim view`` on a free loopback port; yields its address and working folder."""
    pytest.importorskip("solara", reason="the view extra (solara) is not installed")
    port = free_port()
    proc = start_view(["--port", str(port), "--lang", "both"], workdir)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, timeout=60)
        yield url, workdir
    finally:
        stop(proc)
