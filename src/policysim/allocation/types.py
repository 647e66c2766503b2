"""Typed inputs and outputs of the allocation model.

These small frozen objects are the whole interface between the allocation model and the rest of
policysim: :mod:`policysim.coupling` builds them from a scenario and the agent-based model state,
and the strategies return an :class:`AllocationResult`. Constructors check shapes and ranges and
raise :class:`~policysim.errors.AllocationError` with a one-line message naming the field, the
value and the expectation.

Money is in CNY throughout the public interface; messages show it in 亿元 (1 亿元 = 1e8 CNY).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim import vocabulary
from policysim.errors import AllocationError

__all__ = [
    "CNY_PER_YI",
    "INSTRUMENTS",
    "POVERTY_INSTRUMENT",
    "STRATEGIES",
    "AllocationResult",
    "AllocationRules",
    "CountyFacts",
    "FloatArray",
    "Objective",
    "ResponseCurves",
    "SolveStatus",
    "check_years",
    "fmt_yi",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Funding instruments and allocation strategies: the shared vocabularies (policysim.vocabulary).
INSTRUMENTS: tuple[str, ...] = vocabulary.INSTRUMENTS
POVERTY_INSTRUMENT = vocabulary.POVERTY_INSTRUMENT
STRATEGIES: tuple[str, ...] = vocabulary.STRATEGY_NAMES

CNY_PER_YI = 1e8
"""CNY in one 亿元 (unit definition)."""


def fmt_yi(cny: float) -> str:
    """Format an amount of CNY as 亿元 with up to four significant digits, e.g. ``9.5亿元``."""
    return f"{cny / CNY_PER_YI:.4g}亿元"


class SolveStatus(enum.Enum):
    """Outcome of an allocation.

    ``OPTIMAL``: proven optimal (gap ≤ 1e-6). ``FEASIBLE_WITH_GAP``: the solver stopped at the
    requested relative MIP gap. ``TIME_LIMIT``: stopped at the time limit with an incumbent (its
    gap is reported). ``INFEASIBLE`` and ``ERROR`` are raised as exceptions by the strategies and
    appear only in logs and diagnostics. ``NOT_SOLVED``: a rule strategy, no optimiser involved.
    """

    OPTIMAL = "optimal"
    FEASIBLE_WITH_GAP = "feasible_with_gap"
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time_limit"
    ERROR = "error"
    NOT_SOLVED = "not_solved"


def _as_float(name: str, value: object, n: int, *, lo: float, hi: float) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (n,):
        raise AllocationError(f"CountyFacts.{name}: shape {arr.shape}: expected ({n},)")
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < lo) | (arr > hi))
    if bad.size:
        i = int(bad[0])
        raise AllocationError(
            f"CountyFacts.{name}[{i}] = {arr[i]!r}: expected a finite number in [{lo}, {hi}]"
        )
    return arr


def _as_bool(name: str, value: object, n: int) -> BoolArray:
    arr = np.asarray(value)
    if arr.shape != (n,):
        raise AllocationError(f"CountyFacts.{name}: shape {arr.shape}: expected ({n},)")
    if arr.dtype != np.bool_ and not np.isin(arr, (0, 1)).all():
        raise AllocationError(f"CountyFacts.{name}: values {arr!r}: expected booleans")
    return arr.astype(np.bool_)


@dataclass(frozen=True)
class CountyFacts:
    """What the allocation model knows about the counties at planning time.

    Parameters
    ----------
    codes, names : tuple of str, length n_counties
        NBS county codes (unique) and names.
    poverty : (n_counties,) bool array
        Poverty county (the 25 of the 13th five-year plan list for Jiangxi).
    research_capacity : (n_counties,) float array, 0..1
        科研创新能力 factor of the provincial allocation formula.
    fiscal_st_spending_cny : (n_counties,) float array, CNY/yr
        Own-level (本级) fiscal S&T spending.
    management_capacity : (n_counties,) float array, 0..1
        科技管理能力 factor.
    index : (n_counties,) float array, index points 0..100
        Current innovation-capacity index.
    designated : (n_counties,) bool array
        Already a provincial pilot/designated innovative county.
    """

    codes: tuple[str, ...]
    names: tuple[str, ...]
    poverty: BoolArray
    research_capacity: FloatArray
    fiscal_st_spending_cny: FloatArray
    management_capacity: FloatArray
    index: FloatArray
    designated: BoolArray

    def __post_init__(self) -> None:
        n = len(self.codes)
        if n == 0:
            raise AllocationError("CountyFacts.codes: empty: expected at least one county")
        if len(set(self.codes)) != n:
            dup = next(c for c in self.codes if self.codes.count(c) > 1)
            raise AllocationError(f"CountyFacts.codes: {dup!r} appears twice: expected unique")
        if len(self.names) != n:
            raise AllocationError(
                f"CountyFacts.names: {len(self.names)} names for {n} codes: expected equal"
            )
        for name in ("codes", "names"):
            values = getattr(self, name)
            if type(values) is not tuple or not all(type(v) is str for v in values):
                object.__setattr__(self, name, tuple(str(v) for v in values))
        object.__setattr__(self, "poverty", _as_bool("poverty", self.poverty, n))
        object.__setattr__(self, "designated", _as_bool("designated", self.designated, n))
        for name, hi in (
            ("research_capacity", 1.0),
            ("management_capacity", 1.0),
            ("index", 100.0),
            ("fiscal_st_spending_cny", np.inf),
        ):
            object.__setattr__(self, name, _as_float(name, getattr(self, name), n, lo=0.0, hi=hi))

    @classmethod
    def unchecked(
        cls,
        *,
        codes: tuple[str, ...],
        names: tuple[str, ...],
        poverty: BoolArray,
        research_capacity: FloatArray,
        fiscal_st_spending_cny: FloatArray,
        management_capacity: FloatArray,
        index: FloatArray,
        designated: BoolArray,
    ) -> CountyFacts:
        """Build without the checks of ``__post_init__``: for values that are checked already
        (the model's own county arrays, handed to an allocator every year)."""
        obj = object.__new__(cls)
        for name, value in (
            ("codes", codes),
            ("names", names),
            ("poverty", poverty),
            ("research_capacity", research_capacity),
            ("fiscal_st_spending_cny", fiscal_st_spending_cny),
            ("management_capacity", management_capacity),
            ("index", index),
            ("designated", designated),
        ):
            object.__setattr__(obj, name, value)
        return obj

    @property
    def n(self) -> int:
        """Number of counties."""
        return len(self.codes)


def _check_share_map(name: str, shares: Mapping[str, float]) -> None:
    for key, val in shares.items():
        if key not in INSTRUMENTS:
            raise AllocationError(
                f"AllocationRules.{name}: unknown instrument {key!r}: expected one of "
                f"{', '.join(INSTRUMENTS)}"
            )
        if not (np.isfinite(val) and 0.0 <= val <= 1.0):
            raise AllocationError(
                f"AllocationRules.{name}[{key!r}] = {val!r}: expected a share in [0, 1]"
            )


@dataclass(frozen=True)
class AllocationRules:
    """Requirements every allocation must meet (money in CNY, per county per year).

    Parameters
    ----------
    floor_cny : float
        Minimum per county per year, all instruments together.
    ceiling_cny : float or None
        Maximum per county per year.
    poverty_share_min : float
        Share of each year's budget reserved for poverty counties.
    instrument_share_min, instrument_share_max : mapping instrument -> share of the year's budget
        Bounds on each instrument's total.
    absorptive_multiple : float or None
        A county's total is at most this multiple of its own fiscal S&T spending.
    max_change_pct : float or None
        ``|x[c,t] - x[c,t-1]| <= max_change_pct/100 * x[c,t-1] + floor_cny`` on county totals.
    designated_floor_only : bool
        Designated counties receive only the floor.
    spend_all : bool
        Each year's budget is spent exactly (otherwise at most the budget is spent).
    """

    floor_cny: float = 0.0
    ceiling_cny: float | None = None
    poverty_share_min: float = 0.0
    instrument_share_min: Mapping[str, float] = field(default_factory=dict)
    instrument_share_max: Mapping[str, float] = field(default_factory=dict)
    absorptive_multiple: float | None = None
    max_change_pct: float | None = None
    designated_floor_only: bool = False
    spend_all: bool = True

    def __post_init__(self) -> None:
        if not (np.isfinite(self.floor_cny) and self.floor_cny >= 0):
            raise AllocationError(
                f"AllocationRules.floor_cny = {self.floor_cny!r}: expected a finite amount >= 0"
            )
        if self.ceiling_cny is not None and not (
            np.isfinite(self.ceiling_cny) and self.ceiling_cny >= 0
        ):
            raise AllocationError(
                f"AllocationRules.ceiling_cny = {self.ceiling_cny!r}: expected a finite amount "
                ">= 0 or None"
            )
        if not (0.0 <= self.poverty_share_min <= 1.0):
            raise AllocationError(
                f"AllocationRules.poverty_share_min = {self.poverty_share_min!r}: expected a "
                "share in [0, 1]"
            )
        _check_share_map("instrument_share_min", self.instrument_share_min)
        _check_share_map("instrument_share_max", self.instrument_share_max)
        if self.absorptive_multiple is not None and not (
            np.isfinite(self.absorptive_multiple) and self.absorptive_multiple > 0
        ):
            raise AllocationError(
                f"AllocationRules.absorptive_multiple = {self.absorptive_multiple!r}: expected a "
                "finite number > 0 or None"
            )
        if self.max_change_pct is not None and not (
            np.isfinite(self.max_change_pct) and self.max_change_pct >= 0
        ):
            raise AllocationError(
                f"AllocationRules.max_change_pct = {self.max_change_pct!r}: expected a finite "
                "percentage >= 0 or None"
            )

    def share_min(self, instrument: str) -> float:
        """Minimum share of the yearly budget for ``instrument`` (0 when not set)."""
        return float(self.instrument_share_min.get(instrument, 0.0))

    def share_max(self, instrument: str) -> float:
        """Maximum share of the yearly budget for ``instrument`` (1 when not set)."""
        return float(self.instrument_share_max.get(instrument, 1.0))

    def county_caps_cny(self, facts: CountyFacts) -> FloatArray:
        """Static upper bound on each county's yearly total, CNY.

        The smallest of the ceiling, the absorptive cap and, for designated counties under
        ``designated_floor_only``, the floor; ``inf`` where nothing applies. Shape (n_counties,).
        """
        cap = np.full(facts.n, np.inf)
        if self.ceiling_cny is not None:
            cap = np.minimum(cap, self.ceiling_cny)
        if self.absorptive_multiple is not None:
            cap = np.minimum(cap, self.absorptive_multiple * facts.fiscal_st_spending_cny)
        if self.designated_floor_only:
            cap = np.where(facts.designated, np.minimum(cap, self.floor_cny), cap)
        return cap


@dataclass(frozen=True)
class ResponseCurves:
    """Response of a county's index and R&D to cumulative funds of one instrument.

    Parameters
    ----------
    breakpoints_cny : (n_bp,) float array, CNY
        Cumulative funds of one instrument in one county; starts at 0, strictly increasing.
    index_gain : (n_counties, n_instruments, n_bp) float array, index points
        Gain of the index at each breakpoint; concave, nondecreasing, ``[..., 0] == 0``. Beyond
        the last breakpoint the gain stays flat.
    rd_gain_cny : (n_counties, n_instruments, n_bp) float array, CNY/yr
        Extra R&D spending at each breakpoint; concave, nondecreasing, ``[..., 0] == 0``.
    baseline_index : (n_counties, n_years) float array, index points
        Index path with no provincial funds, one column per planning year.
    lag_years : int
        Funds of year t count for the index from year t + lag_years.
    """

    breakpoints_cny: FloatArray
    index_gain: FloatArray
    rd_gain_cny: FloatArray
    baseline_index: FloatArray
    lag_years: int = 1

    def __post_init__(self) -> None:
        bp = np.asarray(self.breakpoints_cny, dtype=np.float64)
        if bp.ndim != 1 or bp.size < 2:
            raise AllocationError(
                f"ResponseCurves.breakpoints_cny: shape {bp.shape}: expected (n_bp,) with n_bp >= 2"
            )
        if bp[0] != 0.0 or not np.all(np.diff(bp) > 0) or not np.all(np.isfinite(bp)):
            raise AllocationError(
                f"ResponseCurves.breakpoints_cny = {bp.tolist()!r}: expected finite, starting at "
                "0 and strictly increasing"
            )
        object.__setattr__(self, "breakpoints_cny", bp)
        for name in ("index_gain", "rd_gain_cny"):
            g = np.asarray(getattr(self, name), dtype=np.float64)
            if g.ndim != 3 or g.shape[1] != len(INSTRUMENTS) or g.shape[2] != bp.size:
                raise AllocationError(
                    f"ResponseCurves.{name}: shape {g.shape}: expected (n_counties, "
                    f"{len(INSTRUMENTS)}, {bp.size})"
                )
            _check_concave(name, g, bp)
            object.__setattr__(self, name, g)
        if self.index_gain.shape != self.rd_gain_cny.shape:
            raise AllocationError(
                f"ResponseCurves.rd_gain_cny: shape {self.rd_gain_cny.shape}: expected the shape "
                f"of index_gain {self.index_gain.shape}"
            )
        base = np.asarray(self.baseline_index, dtype=np.float64)
        if base.ndim != 2 or base.shape[0] != self.index_gain.shape[0]:
            raise AllocationError(
                f"ResponseCurves.baseline_index: shape {base.shape}: expected "
                f"({self.index_gain.shape[0]}, n_years)"
            )
        if not np.all(np.isfinite(base)):
            raise AllocationError("ResponseCurves.baseline_index: not finite: expected numbers")
        object.__setattr__(self, "baseline_index", base)
        if not (isinstance(self.lag_years, int | np.integer) and self.lag_years >= 0):
            raise AllocationError(
                f"ResponseCurves.lag_years = {self.lag_years!r}: expected an integer >= 0"
            )
        object.__setattr__(self, "lag_years", int(self.lag_years))

    def slopes(self, which: str = "index") -> FloatArray:
        """Segment slopes, gain per CNY, shape (n_counties, n_instruments, n_bp - 1)."""
        g = self.index_gain if which == "index" else self.rd_gain_cny
        return np.diff(g, axis=2) / np.diff(self.breakpoints_cny)


def _check_concave(name: str, g: FloatArray, bp: FloatArray) -> None:
    if not np.all(np.isfinite(g)):
        raise AllocationError(f"ResponseCurves.{name}: not finite: expected numbers")
    scale = max(float(np.abs(g).max()), 1.0)
    if np.any(np.abs(g[..., 0]) > 1e-12 * scale):
        c, k = np.argwhere(np.abs(g[..., 0]) > 1e-12 * scale)[0]
        raise AllocationError(
            f"ResponseCurves.{name}[{c}, {INSTRUMENTS[k]}, 0] = {g[c, k, 0]!r}: expected 0 "
            "(no funds, no gain)"
        )
    slope = np.diff(g, axis=2) / np.diff(bp)
    tol = 1e-9 * max(float(np.abs(slope).max()), 1e-300)
    if np.any(slope < -tol):
        c, k, s = np.argwhere(slope < -tol)[0]
        raise AllocationError(
            f"ResponseCurves.{name}[{c}, {INSTRUMENTS[k]}]: decreases on segment {s}: expected "
            "nondecreasing"
        )
    if slope.shape[2] > 1 and np.any(np.diff(slope, axis=2) > tol):
        c, k, s = np.argwhere(np.diff(slope, axis=2) > tol)[0]
        raise AllocationError(
            f"ResponseCurves.{name}[{c}, {INSTRUMENTS[k]}]: slope rises after breakpoint "
            f"{s + 1}: expected concave (nonincreasing slopes)"
        )


@dataclass(frozen=True)
class Objective:
    """What the optimiser maximises.

    Parameters
    ----------
    deadlines : mapping year -> weight
        Weight on the number of designated counties (index at or above the threshold) by each year.
    entry_threshold : float, index points
        Index needed for designation.
    max_new_per_year : mapping year -> int
        Quotas of the batch schedule: at most this many new designations in the year.
    rd_weight : float
        Weight per 1e8 CNY/yr of extra R&D at the last planning year.
    index_weight : float
        Weight per index point of gain from provincial funds, summed over counties, at the last
        planning year (tie-break; a proxy for the township share).
    """

    deadlines: Mapping[int, float]
    entry_threshold: float
    max_new_per_year: Mapping[int, int] = field(default_factory=dict)
    rd_weight: float = 0.0
    index_weight: float = 0.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.entry_threshold) and 0.0 <= self.entry_threshold <= 100.0):
            raise AllocationError(
                f"Objective.entry_threshold = {self.entry_threshold!r}: expected index points "
                "in [0, 100]"
            )
        for year, w in self.deadlines.items():
            if not (np.isfinite(w) and w >= 0):
                raise AllocationError(
                    f"Objective.deadlines[{year}] = {w!r}: expected a weight >= 0"
                )
        for year, q in self.max_new_per_year.items():
            if int(q) != q or q < 0:
                raise AllocationError(
                    f"Objective.max_new_per_year[{year}] = {q!r}: expected an integer >= 0"
                )
        for name in ("rd_weight", "index_weight"):
            w = getattr(self, name)
            if not (np.isfinite(w) and w >= 0):
                raise AllocationError(f"Objective.{name} = {w!r}: expected a weight >= 0")


def check_years(years: Sequence[int], budget_cny: object) -> tuple[tuple[int, ...], FloatArray]:
    """Validate planning years (consecutive integers) and the yearly budget, shape (n_years,)."""
    yrs = tuple(int(y) for y in years)
    if not yrs or any(b - a != 1 for a, b in itertools.pairwise(yrs)):
        raise AllocationError(f"years = {list(yrs)!r}: expected consecutive years, e.g. 2018..2030")
    budget = np.asarray(budget_cny, dtype=np.float64)
    if budget.shape != (len(yrs),):
        raise AllocationError(f"budget_cny: shape {budget.shape}: expected ({len(yrs)},)")
    bad = np.flatnonzero(~np.isfinite(budget) | (budget < 0))
    if bad.size:
        i = int(bad[0])
        raise AllocationError(
            f"budget_cny[{yrs[i]}] = {budget[i]!r}: expected a finite amount >= 0"
        )
    return yrs, budget


@dataclass(frozen=True)
class AllocationResult:
    """A plan and how it was obtained.

    Attributes
    ----------
    strategy : str
        One of :data:`STRATEGIES`.
    status : SolveStatus
    plan_cny : (n_years, n_counties, n_instruments) float array, CNY, >= 0
    years : tuple of int, length n_years
    objective : float or None
        Optimiser objective of the plan (None for rule strategies).
    mip_gap : float or None
        Relative gap between the incumbent and the best bound.
    seconds : float
        Wall-clock time, including model build or update.
    duals : mapping name -> array or None
        ``{"budget": (n_years,) float array}``: marginal objective per CNY of each year's budget,
        from the LP with the designation decisions fixed.
    message : str
    """

    strategy: str
    status: SolveStatus
    plan_cny: FloatArray
    years: tuple[int, ...]
    objective: float | None
    mip_gap: float | None
    seconds: float
    duals: Mapping[str, FloatArray] | None
    message: str

    def to_frame(self, facts: CountyFacts) -> pd.DataFrame:
        """Long table with columns ``year, county_code, county_name, instrument, cny``."""
        n_y, n_c, n_k = self.plan_cny.shape
        if n_c != facts.n:
            raise AllocationError(
                f"AllocationResult.to_frame: plan has {n_c} counties, facts {facts.n}: expected equal"
            )
        yy, cc, kk = np.meshgrid(np.arange(n_y), np.arange(n_c), np.arange(n_k), indexing="ij")
        return pd.DataFrame(
            {
                "year": np.asarray(self.years, dtype=np.int64)[yy.ravel()],
                "county_code": np.asarray(facts.codes, dtype=object)[cc.ravel()],
                "county_name": np.asarray(facts.names, dtype=object)[cc.ravel()],
                "instrument": np.asarray(INSTRUMENTS, dtype=object)[kk.ravel()],
                "cny": self.plan_cny.ravel(),
            }
        )
