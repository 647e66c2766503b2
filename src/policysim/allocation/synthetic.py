"""Synthetic allocation inputs for tests, benchmarks and examples.

Every number here is an **assumption** chosen to look like Jiangxi (about 100 counties, 25 of them
poverty counties, an index of 40–80, a provincial budget of about 9.5亿元 in 2019 per PARAMETERS.md);
ranges are given inline. These inputs are not estimates: :mod:`policysim.coupling` estimates the
real response curves from the agent-based model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from policysim.allocation.types import (
    INSTRUMENTS,
    CountyFacts,
    FloatArray,
    ResponseCurves,
)

__all__ = ["SyntheticInputs", "synthetic_inputs"]

BUDGET_2019_CNY = 9.5e8
"""Provincial S&T special funds in 2019, about 9.5亿元 (PARAMETERS.md, derived: 15.1 − 5.6)."""

BUDGET_GROWTH = 0.05
"""Assumption: yearly growth of the budget after 2019 (range 0–0.10); 2018 = 2019 / (1 + growth)."""


@dataclass(frozen=True)
class SyntheticInputs:
    """A consistent set of allocation inputs.

    Attributes
    ----------
    years : tuple of int
    budget_cny : (n_years,) float array, CNY
    facts : CountyFacts
    response : ResponseCurves
    """

    years: tuple[int, ...]
    budget_cny: FloatArray
    facts: CountyFacts
    response: ResponseCurves


def synthetic_inputs(
    rng: np.random.Generator,
    *,
    n_counties: int = 100,
    years: Sequence[int] = tuple(range(2018, 2031)),
    poverty_share: float = 0.25,
    breakpoints_cny: Sequence[float] = (0.0, 5e6, 2e7, 6e7),
    designated_above: float = 78.0,
) -> SyntheticInputs:
    """Draw synthetic counties, budget and concave response curves.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    n_counties : int
    years : sequence of int
        Consecutive planning years.
    poverty_share : float
        Share of poverty counties (Jiangxi: 25 of 100).
    breakpoints_cny : sequence of float, CNY
        Breakpoints of the cumulative funds of one instrument in one county.
    designated_above : float, index points
        Counties whose starting index is at or above this are already designated (assumption).

    Returns
    -------
    SyntheticInputs
    """
    yrs = tuple(int(y) for y in years)
    n, n_k = n_counties, len(INSTRUMENTS)
    bp = np.asarray(breakpoints_cny, dtype=np.float64)
    poverty = np.zeros(n, dtype=bool)
    poverty[rng.choice(n, size=round(poverty_share * n), replace=False)] = True
    # Assumption: index 40–80 at the start, poverty counties 5 points lower on average.
    index = np.clip(rng.uniform(40.0, 80.0, n) - 5.0 * poverty, 0.0, 100.0)
    # Assumption: own fiscal S&T spending lognormal around 2e7 CNY/yr (range 5e6–1e8).
    fiscal = np.exp(rng.normal(np.log(2e7), 0.6, n)) * np.where(poverty, 0.6, 1.0)
    facts = CountyFacts(
        codes=tuple(f"36{i:04d}" for i in range(n)),
        names=tuple(f"county {i}" for i in range(n)),
        poverty=poverty,
        research_capacity=np.clip(index / 100.0 + rng.normal(0.0, 0.1, n), 0.0, 1.0),
        fiscal_st_spending_cny=fiscal,
        management_capacity=rng.uniform(0.2, 0.9, n),
        index=index,
        designated=index >= designated_above,
    )
    # Assumption: with no provincial funds the index drifts by 0–0.6 points a year.
    drift = rng.uniform(0.0, 0.6, n)
    steps = np.arange(len(yrs), dtype=np.float64)
    baseline = np.clip(index[:, None] + drift[:, None] * steps[None, :], 0.0, 100.0)
    # Assumption: each instrument's full effect (at the last breakpoint) is 1–5 index points,
    # reached with diminishing returns (segment slopes falling by a factor 0.3–0.7 each).
    full = rng.uniform(1.0, 5.0, (n, n_k))
    decay = rng.uniform(0.3, 0.7, (n, n_k, 1))
    widths = np.diff(bp)
    rel = decay ** np.arange(widths.size)[None, None, :] * widths[None, None, :]
    shape = np.concatenate([np.zeros((n, n_k, 1)), np.cumsum(rel, axis=2)], axis=2)
    index_gain = full[:, :, None] * shape / shape[:, :, -1:]
    # Assumption: extra R&D 0.5–2 CNY/yr per CNY at the start, with the same diminishing returns.
    rd_scale = rng.uniform(0.5, 2.0, (n, n_k, 1))
    rd_gain = rd_scale * np.concatenate(
        [np.zeros((n, n_k, 1)), np.cumsum(decay ** np.arange(widths.size) * widths, axis=2)],
        axis=2,
    )
    response = ResponseCurves(
        breakpoints_cny=bp,
        index_gain=index_gain,
        rd_gain_cny=rd_gain,
        baseline_index=baseline,
        lag_years=1,
    )
    growth = (1.0 + BUDGET_GROWTH) ** (np.asarray(yrs, dtype=np.float64) - 2019.0)
    budget = BUDGET_2019_CNY * growth * n / 100.0
    return SyntheticInputs(years=yrs, budget_cny=budget, facts=facts, response=response)
