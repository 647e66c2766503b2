"""What the model exchanges with the rest of the package: the county summary an allocator sees,
the allocator type, the year's funds and records, and the baseline columns as arrays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from policysim.data import FUNCTIONAL_CLASSES, Baseline
from policysim.vocabulary import (
    I_COMMISSIONERS,
    I_CREDIT,
    I_PLATFORMS,
    I_POVERTY,
    I_SUBSIDIES,
    I_VOUCHERS,
    INSTRUMENTS,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

N_INSTRUMENTS = len(INSTRUMENTS)


@dataclass(frozen=True)
class CountySummary:
    """What an allocator may know about the counties at the start of a year (no agent arrays).

    Arrays of shape (n_counties,).
    """

    year: int
    codes: tuple[str, ...]
    names: tuple[str, ...]
    poverty: BoolArray
    research_capacity: FloatArray
    fiscal_st_spending_cny: FloatArray
    management_capacity: FloatArray
    index: FloatArray
    designated: BoolArray  # pilot or designated provincial innovative county
    # provincial funds of this year's pilot support packages, CNY (earmarked out of the budget:
    # the allocator distributes the rest)
    pilot_support_cny: FloatArray | None = None

    def available_budget(self, budget_cny: float) -> float:
        """The part of the year's budget left to the allocator once pilot packages are paid."""
        if self.pilot_support_cny is None:
            return budget_cny
        return max(budget_cny - float(self.pilot_support_cny.sum()), 0.0)


Allocator = Callable[[int, CountySummary], FloatArray]
"""Returns the year's plan: (n_counties, n_instruments) CNY, in INSTRUMENTS order (policysim.vocabulary)."""


def zero_allocator(year: int, summary: CountySummary) -> FloatArray:
    """An allocator that gives nothing (no provincial funds)."""
    return np.zeros((len(summary.codes), N_INSTRUMENTS))


_ARRAYS: dict[int, tuple[Baseline, dict[str, Any]]] = {}


def baseline_arrays(baseline: Baseline) -> dict[str, Any]:
    """The baseline columns the model reads, as read-only numpy arrays (and tuples of codes and
    names), converted once per baseline object: the loader caches baselines, so every run of an
    ensemble shares them. The model copies what it changes."""
    hit = _ARRAYS.get(id(baseline))
    if hit is not None and hit[0] is baseline:
        return hit[1]
    c, t, e = baseline.counties, baseline.townships, baseline.enterprises
    host = t["counts_as_xiangzhen"].to_numpy(bool)
    out: dict[str, Any] = {
        "county_codes": tuple(c["code"].astype(str)),
        "county_names": tuple(c["name"].astype(str)),
        "township_codes": tuple(t["code"].astype(str)),
        "township_names": tuple(t["name"].astype(str)),
        "poverty_county": c["poverty_county"].to_numpy(bool),
        "is_county": (c["type"] != "district").to_numpy(bool),
        "rd_non_enterprise": (
            c["rd_cny"].to_numpy(float) - c["rd_enterprise_cny"].to_numpy(float)
        ).clip(min=0.0),
        "county_idx": t["county_idx"].to_numpy(np.int64),
        "counts_as_xiangzhen": host,
        "agri_weight": np.where(t["kind"].to_numpy(str) == "township", 2.0, 1.0) * host,
        "firm_county_idx": e["county_idx"].to_numpy(np.int64),
        "functional_class": np.array(
            [FUNCTIONAL_CLASSES.index(x) for x in c["functional_class"].astype(str)], np.int64
        ),
    }
    for name in (
        "population",
        "gdp_cny",
        "fiscal_expenditure_cny",
        "fiscal_st_spending_cny",
        "management_capacity",
        "research_capacity",
    ):
        out[name] = c[name].to_numpy(float)
    for name in ("platforms", "commissioners", "agri_tech_adoption"):
        out[name] = t[name].to_numpy(float)
    for name, dtype in (
        ("firm_id", np.int64),
        ("township_idx", np.int64),
        ("sector", np.int64),
        ("sales_cny", np.float64),
        ("rd_cny", np.float64),
        ("rd_intensity_3y", np.float64),
        ("employees", np.float64),
        ("age_years", np.float64),
        ("other_criteria_ok", np.bool_),
        ("manufacturing", np.bool_),
    ):
        out[name] = e[name].to_numpy(dtype)
    for name, value in out.items():
        if isinstance(value, np.ndarray):
            out[name] = value.copy()  # not a view of the shared DataFrame
            out[name].flags.writeable = False
    if len(_ARRAYS) >= 8:
        _ARRAYS.clear()
    _ARRAYS[id(baseline)] = (baseline, out)
    return out


@dataclass(frozen=True)
class YearFunds:
    """Provincial funds of one year, per county (arrays of shape ``(n_counties,)`` unless
    stated), CNY."""

    plan: FloatArray  # (n_counties, n_instruments): the strategy's plan plus pilot packages
    allocated: FloatArray  # by the strategy
    received: FloatArray  # allocated plus pilot packages
    matching: FloatArray  # the pilots' matching obligation (own S&T spending)
    cultivation: FloatArray  # (n_counties + 1,): 1 for a funded pilot, else 0


@dataclass(frozen=True)
class YearRecord:
    """State of one year kept for metrics (county arrays (n_counties,), township arrays
    (n_townships,))."""

    year: int
    rd_reported: FloatArray
    rd_real: FloatArray
    rd_enterprise: FloatArray
    gdp: FloatArray
    hnte: FloatArray
    tech_sme: FloatArray
    firms: FloatArray
    patents: FloatArray
    funds: FloatArray
    pilot_support: FloatArray  # provincial funds of pilot support packages (part of funds)
    st_spending: FloatArray
    management: FloatArray
    index: FloatArray
    provincial: BoolArray
    designated: BoolArray
    national: BoolArray
    platforms: FloatArray
    commissioners: FloatArray
    innovative: BoolArray
    hnte_t: FloatArray


__all__ = [
    "I_COMMISSIONERS",
    "I_CREDIT",
    "I_PLATFORMS",
    "I_POVERTY",
    "I_SUBSIDIES",
    "I_VOUCHERS",
    "N_INSTRUMENTS",
    "Allocator",
    "CountySummary",
    "YearFunds",
    "YearRecord",
    "baseline_arrays",
    "zero_allocator",
]
