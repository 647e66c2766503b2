"""Paths shared by the scenario tests (a plain module: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BASELINE = REPO / "scenarios" / "jiangxi_baseline.yaml"
INVALID = HERE / "invalid"
VALID = HERE / "valid"
