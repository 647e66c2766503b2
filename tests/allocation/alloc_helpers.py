"""Small builders of allocation inputs for the tests."""

from __future__ import annotations

import numpy as np

from policysim.allocation import INSTRUMENTS, CountyFacts, ResponseCurves


def facts(
    n: int,
    *,
    poverty: list[bool] | None = None,
    index: list[float] | None = None,
    designated: list[bool] | None = None,
    fiscal: list[float] | None = None,
) -> CountyFacts:
    """Counties ``c0..c{n-1}`` with simple, distinct factors."""
    return CountyFacts(
        codes=tuple(f"c{i}" for i in range(n)),
        names=tuple(f"county {i}" for i in range(n)),
        poverty=np.array(poverty if poverty is not None else [False] * n),
        research_capacity=np.linspace(0.2, 0.8, n),
        fiscal_st_spending_cny=np.array(fiscal if fiscal is not None else [2e7] * n, dtype=float),
        management_capacity=np.linspace(0.9, 0.3, n),
        index=np.array(index if index is not None else [60.0] * n, dtype=float),
        designated=np.array(designated if designated is not None else [False] * n),
    )


def one_instrument_curves(
    breakpoints: list[float],
    index_gain: list[list[float]],
    rd_gain: list[list[float]],
    baseline: list[list[float]],
    lag: int = 0,
    instrument: str = "vouchers",
) -> ResponseCurves:
    """Curves where only ``instrument`` has an effect (the others have zero gain)."""
    n = len(index_gain)
    k = INSTRUMENTS.index(instrument)
    ig = np.zeros((n, len(INSTRUMENTS), len(breakpoints)))
    rg = np.zeros_like(ig)
    ig[:, k, :] = index_gain
    rg[:, k, :] = rd_gain
    return ResponseCurves(
        breakpoints_cny=np.array(breakpoints, dtype=float),
        index_gain=ig,
        rd_gain_cny=rg,
        baseline_index=np.array(baseline, dtype=float),
        lag_years=lag,
    )
