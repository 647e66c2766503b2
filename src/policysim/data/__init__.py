"""Baseline data of policysim: the embedded Jiangxi 2017 province, user CSV baselines, and the
synthesiser that completes them (see docs/DATA.md and SOURCES.md in this package).

The tables returned by :func:`load_baseline` are cached and shared between callers: never
mutate them in place.
"""

from __future__ import annotations

from policysim.data.caveat import SYNTHETIC_CAVEAT, county_caveat, county_economy_synthetic
from policysim.data.loader import load_baseline
from policysim.data.schema import (
    BASE_YEAR,
    FUNCTIONAL_CLASSES,
    SECTORS,
    SYNTHESIS_VERSION,
    Baseline,
)
from policysim.data.summary import province_summary
from policysim.data.synthesis import SynthesisParameters, SynthesisTargets, hnte_threshold

__all__ = [
    "BASE_YEAR",
    "FUNCTIONAL_CLASSES",
    "SECTORS",
    "SYNTHESIS_VERSION",
    "SYNTHETIC_CAVEAT",
    "Baseline",
    "SynthesisParameters",
    "SynthesisTargets",
    "county_caveat",
    "county_economy_synthetic",
    "hnte_threshold",
    "load_baseline",
    "province_summary",
]
