"""The one caveat that county outputs carry while county economics are synthetic.

No public file gives per-county GDP, fiscal and R&D spending, firms or HNTEs for Jiangxi, so the
embedded baseline synthesises them (docs/DATA.md). Every county table, map and report a run writes
says so with :data:`SYNTHETIC_CAVEAT`, unless the user's baseline supplies all these columns
(``county_economy.csv``), in which case :func:`county_caveat` returns None.
"""

from __future__ import annotations

from typing import Final

from policysim.data.schema import COUNTY_SYNTHETIC_COLUMNS, Baseline

__all__ = ["SYNTHETIC_CAVEAT", "county_caveat", "county_economy_synthetic"]

#: English and Chinese, one line (it goes into table columns, manifests and terminal output).
SYNTHETIC_CAVEAT: Final = (
    "County economics are synthetic: per-county GDP, fiscal and R&D spending, firms, HNTEs and "
    "capacities are a seeded draw matching province and prefecture totals, not county "
    "statistics; county results illustrate the mechanism, not facts about a named county. "
    "县域经济数据为合成数据（按全省和设区市总量校准的随机生成），并非县级统计数据；"
    "县级结果仅用于说明机制，不代表具体某县的实际情况。"
)


def county_economy_synthetic(baseline: Baseline) -> bool:
    """True when any county economic column of ``baseline`` was synthesised."""
    synthetic = set(baseline.synthetic_columns.get("counties", ()))
    return bool(synthetic & set(COUNTY_SYNTHETIC_COLUMNS))


def county_caveat(baseline: Baseline) -> str | None:
    """:data:`SYNTHETIC_CAVEAT` when the baseline's county economics are synthetic, else None."""
    return SYNTHETIC_CAVEAT if county_economy_synthetic(baseline) else None
