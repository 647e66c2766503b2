"""Ctrl-C during `policysim run`: workers stop without tracebacks, the resume command is
printed, and it finishes the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_prints_the_resume_command(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "policysim.cli", "run", str(SCENARIO), "--replications", "80",
        "--workers", "2", "--out", str(out), "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    parts = out / ".parts"
    while time.monotonic() < deadline and proc.poll() is None:
        if parts.is_dir() and any(parts.rglob("*.parquet")):
            break
        time.sleep(0.2)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "Resume with:" in stderr
    line = next(x for x in stderr.splitlines() if x.strip().startswith("policysim run"))
    assert f"--out {out}" in line and line.rstrip().endswith("--resume")
    assert "--replications 80" in line
    # the printed command finishes the run
    args = line.split()[2:]
    done = subprocess.run(
        [sys.executable, "-m", "policysim.cli", "run", *args, "--quiet"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "briefing.html").is_file()
