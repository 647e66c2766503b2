"""The one caveat that county outputs carry while county economics are synthetic.

No public file gives per-county GDP, fiscal and R&D spending, firms or HNTEs for Jiangxi, so the
embedded baseline synthesises them (docs/DATA.md). Every county table, map and report a run writes
says so with :data:`SYNTHETIC_CAVEAT`, unless the user's baseline supplies all these columns
(``county_economy.csv``), in which case :func:`county_caveat` returns None.
"""

from __future__ import annotations

from typing import Final

from policysim.data.schema import COUNTY_SYNTHETIC_COLUMNS, Baseline
from policysim.vocabulary import SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH

__all__ = ["SYNTHETIC_CAVEAT", "county_caveat", "county_economy_synthetic"]

#: English and Chinese, one line (it goes into table columns, manifests and terminal output).
SYNTHETIC_CAVEAT: Final = f"{SYNTHETIC_CAVEAT_EN} {SYNTHETIC_CAVEAT_ZH}"


def county_economy_synthetic(baseline: Baseline) -> bool:
    """True when any county economic column of ``baseline`` was synthesised."""
    synthetic = set(baseline.synthetic_columns.get("counties", ()))
    return bool(synthetic & set(COUNTY_SYNTHETIC_COLUMNS))


def county_caveat(baseline: Baseline) -> str | None:
    """:data:`SYNTHETIC_CAVEAT` when the baseline's county economics are synthetic, else None."""
    return SYNTHETIC_CAVEAT if county_economy_synthetic(baseline) else None
