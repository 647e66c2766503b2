"""The firm population and what the enterprise rule exchanges with the model: the struct of
arrays (:class:`Firms`, with the placing of entrants in free slots), the rule's parameters
(:class:`FirmParams`), the support a year brings (:class:`Support`), the year's uniform draws
(:class:`Draws`), its outcome (:class:`YearOutcome`), the rule's work buffers
(:class:`EnterpriseWorkspace`, owned by the model) and the size constants of the rules.
The rule itself is :func:`policysim.agents.enterprises.enterprise_year` (which re-exports these
names)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from policysim.agents.random import UniformBuffers

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

_ArrayT = TypeVar("_ArrayT", bound=NDArray[Any])


def _take(a: NDArray[Any], index: NDArray[Any], out: _ArrayT) -> _ArrayT:
    """``a[index]`` into ``out``. (``mode="clip"``: the indices are valid, and numpy's default
    mode, which raises on a bad index, first writes into a fresh copy of ``out``.)"""
    a.take(index, out=out, mode="clip")
    return out


TECH_SME_MAX_SALES_CNY = 2.0e8  # 科技型中小企业评价办法 (国科发政〔2017〕115号): revenue <= 2亿元
TECH_SME_MAX_EMPLOYEES = 500.0  # same source: staff <= 500
THRESHOLD_RTOL = 1e-9  # relative tolerance of comparisons with the HNTE threshold
SIZE_REFERENCE_CNY = (
    5.0e7  # assumption: sales at which growth dispersion and exit take their base value
)


@dataclass(frozen=True)
class Firms:
    """Struct of arrays, one element per living firm (shape ``(n,)`` unless stated).

    Money in CNY per year; intensities are shares of sales.
    """

    firm_id: IntArray
    county: IntArray
    township: IntArray
    sector: IntArray
    manufacturing: BoolArray
    other_ok: BoolArray  # meets the non-R&D HNTE criteria
    sales: FloatArray
    employees: FloatArray
    age: FloatArray
    r0: FloatArray  # own real intensity chosen at the base-year user cost b0
    b0: FloatArray  # base-year B-index of the firm
    own: FloatArray  # own-financed real R&D intensity (last chosen)
    gap: FloatArray  # relabelled share of reported R&D (0 <= gap < 1)
    rd_real: FloatArray
    rd_reported: FloatArray
    hist1: FloatArray  # reported intensity two years ago
    hist2: FloatArray  # reported intensity last year
    hnte: BoolArray
    hnte_expiry: IntArray  # last year of validity (-1 if never certified)
    tech_sme: BoolArray
    success: BoolArray  # innovated last year
    patents: FloatArray  # patents this year
    claim_u: FloatArray  # fixed rank in [0, 1): loss-making below loss, then take-up order
    criteria_cost: FloatArray  # relative cost of meeting the non-R&D criteria (median 1)
    cultivated: BoolArray  # admitted to the HNTE cultivation pool (高企入库培育)

    @property
    def n(self) -> int:
        return int(self.firm_id.shape[0])

    def take(self, index: NDArray[Any]) -> Firms:
        """Subset or reorder by an integer or boolean index."""
        return Firms(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def place(self, slots: IntArray, new: Firms) -> Firms:
        """Write ``new`` firms into empty ``slots`` (in order); firms beyond the free slots are
        appended. Arrays are updated in place when no append is needed.

        Every array is a prefix view of a longer backing array (:func:`_backing`): an append
        writes into the backing array's spare room and lengthens the views, so the arrays are
        copied only when the room runs out (then into backing arrays with room for half as
        many firms again: a Jiangxi run copies twice). Unused room is never part of the population: no rule spends work
        on it. Appended firms go after every other firm whether or not the room was there, so
        the order of the firms, hence every sum over them, does not depend on the room."""
        k = min(slots.size, new.n)
        extra = new.n - k
        if extra == 0:
            for f in fields(self):
                getattr(self, f.name)[slots[:k]] = getattr(new, f.name)
            return self
        n = self.n
        spare = max(extra, 2 * new.n, n // 2)  # (room is free of work: a few copies a run)
        out: dict[str, NDArray[Any]] = {}
        for f in fields(self):
            old = getattr(self, f.name)
            add = getattr(new, f.name)
            base = _backing(old)
            if base is None or base.shape[0] < n + extra:
                base = np.empty(n + spare, dtype=old.dtype)
                base[:n] = old
            arr = base[: n + extra]
            arr[slots[:k]] = add[:k]
            arr[n:] = add[k:]
            out[f.name] = arr
        return Firms(**out)


def _backing(a: NDArray[Any]) -> NDArray[Any] | None:
    """The one-dimensional array of which ``a`` is the leading part (``a`` itself if it owns
    its memory), or None if ``a`` is some other view."""
    base = a.base
    if base is None:
        return a
    if (
        isinstance(base, np.ndarray)
        and base.ndim == 1
        and base.dtype == a.dtype
        and base.strides == a.strides
        and base.ctypes.data == a.ctypes.data
    ):
        return base
    return None


@dataclass(frozen=True)
class FirmParams:
    """Behaviour parameters used by the enterprise rule (see scenario.parameters for sources)."""

    elasticity: float
    adjustment: float
    window: float
    relabel: float
    margin: float
    approval: float
    voucher_add: float
    subsidy_add: float
    zeta: float
    sales_gain: float
    patents_per_success: float
    growth_mean: float
    growth_scale: float
    exit_rate: float
    tech_sme_min_rd: float
    catchup: float
    renewal: float
    criteria_cost: float
    loss_share: float
    upgrade: float
    pool_relabel: float
    pool_window: float

    @staticmethod
    def from_values(v: dict[str, float]) -> FirmParams:
        return FirmParams(
            elasticity=v["rd_user_cost_elasticity"],
            adjustment=v["rd_adjustment_speed"],
            window=v["hnte_notch_window"],
            relabel=v["hnte_relabel_share"],
            margin=v["profit_margin"],
            approval=v["hnte_approval_rate"],
            voucher_add=v["voucher_additionality"],
            subsidy_add=v["subsidy_additionality"],
            zeta=v["innovation_zeta"],
            sales_gain=v["innovation_sales_gain"],
            patents_per_success=v["patents_per_success"],
            growth_mean=v["sales_growth_mean"],
            growth_scale=v["sales_growth_scale"],
            exit_rate=v["firm_exit_rate"],
            tech_sme_min_rd=v["tech_sme_min_rd_share"],
            catchup=v["hnte_catchup"],
            renewal=v["hnte_renewal_rate"],
            criteria_cost=v["hnte_criteria_cost_share"],
            loss_share=v["loss_making_share"],
            upgrade=v["hnte_criteria_upgrade_rate"],
            pool_relabel=v["hnte_pool_relabel_share"],
            pool_window=v["hnte_pool_window"],
        )


@dataclass(frozen=True)
class Support:
    """Support reaching each firm in one year (CNY) and the local innovation boost (factor >= 1).

    Only R&D performers (``r0 > 0``) receive support or can innovate, so the model passes the
    arrays for them alone: with ``performers`` (the indices of the firms with ``r0 > 0``, in
    order) ``voucher``, ``subsidy``, ``credit_rd`` and ``boost`` have one element per performer
    (every other firm gets no support). Without it they have one element per firm."""

    voucher: FloatArray
    subsidy: FloatArray
    credit_rd: FloatArray
    boost: FloatArray
    #: firms admitted to the HNTE cultivation pool this year (None: none)
    admitted: BoolArray | None = None
    #: indices of the R&D performers the arrays above refer to (None: every firm)
    performers: IntArray | None = None

    def per_firm(self, n: int) -> Support:
        """The same support with one element per firm of a population of ``n`` (no support and
        a boost of 1 outside the performers)."""
        if self.performers is None:
            return self
        idx = self.performers

        def spread(values: FloatArray, fill: float) -> FloatArray:
            out = np.full(n, fill)
            out[idx] = values
            return out

        return Support(
            voucher=spread(self.voucher, 0.0),
            subsidy=spread(self.subsidy, 0.0),
            credit_rd=spread(self.credit_rd, 0.0),
            boost=spread(self.boost, 1.0),
            admitted=self.admitted,
        )


@dataclass(frozen=True)
class Draws:
    """Uniform draws in [0, 1), one per firm and purpose.

    The number of patents of a successful firm is drawn from ``success / P`` (uniform on [0, 1)
    given success), so it needs no stream of its own."""

    growth: FloatArray
    success: FloatArray
    approval: FloatArray
    exit: FloatArray
    upgrade: FloatArray


@dataclass(frozen=True)
class YearOutcome:
    firms: Firms  # after the year's choices, before exit
    exits: BoolArray  # firms leaving at the end of the year
    bunched: BoolArray
    certified: BoolArray


@dataclass(eq=False)
class EnterpriseWorkspace:
    """Work buffers of :func:`enterprise_year`, reused from one year to the next (issue 20).

    Every intermediate the rule needs of the size of the population (or of a subset of it) is
    a slice of a buffer here, or, in place, one of the firm arrays whose old values the rule
    does not read (gap, R&D, patents: scratch until the rule writes them): a call allocates
    no float or mask array of the population's size, or of a large subset's, so the memory of
    one year is not freed and faulted in again the next, and the memory a call touches stays
    small (more of it in the cache). Still allocated each call: the subsets' index arrays
    (``np.flatnonzero`` has no ``out``) and the values of small subsets (the firms that bunch,
    apply, innovate or may exit). The buffers
    have room for ``capacity`` firms and are replaced by larger ones when a population
    outgrows them (:meth:`reserve`). Float64 throughout: the numbers are identical to those of
    the allocating form (:func:`policysim.agents.reference.enterprise_year_allocating`)."""

    capacity: int = 0
    # scratch over every firm
    kind: NDArray[np.uint8] = field(default_factory=lambda: np.empty(0, np.uint8))
    valid: BoolArray = field(default_factory=lambda: np.empty(0, bool))
    lasting: BoolArray = field(default_factory=lambda: np.empty(0, bool))
    registered: BoolArray = field(default_factory=lambda: np.empty(0, bool))
    mask: BoolArray = field(default_factory=lambda: np.empty(0, bool))
    mask2: BoolArray = field(default_factory=lambda: np.empty(0, bool))
    # the outcome's flags (overwritten by the next call)
    exits: BoolArray = field(default_factory=lambda: np.empty(0, bool))
    bunched: BoolArray = field(default_factory=lambda: np.empty(0, bool))
    certified: BoolArray = field(default_factory=lambda: np.empty(0, bool))
    # scratch over a subset of the firms (those reconsidering the criteria, those meeting them,
    # the notch candidates, the firms with R&D): only the part a subset uses is ever touched
    sub: list[FloatArray] = field(default_factory=list)
    sub_mask: list[BoolArray] = field(default_factory=list)
    sub_kind: NDArray[np.uint8] = field(default_factory=lambda: np.empty(0, np.uint8))
    sub_index: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    #: the year's uniform draws of the firms (:func:`policysim.agents.random.uniform_streams`)
    uniforms: UniformBuffers = field(default_factory=UniformBuffers)
    #: times the buffers were (re)allocated (tests: reused, not reallocated)
    allocations: int = 0

    N_SUB: ClassVar[int] = 18
    N_SUB_MASK: ClassVar[int] = 6

    def reserve(self, n: int) -> None:
        """Room for ``n`` firms: new buffers if the present ones are smaller, for ``n`` firms or a
        quarter more than the present room, whichever is more (a population that grows by a few
        per cent a year reallocates every few years, not every year)."""
        if n <= self.capacity and self.allocations:
            return
        n = max(n, self.capacity + self.capacity // 4)
        self.capacity = n
        self.allocations += 1
        for name in ("valid", "lasting", "registered", "mask", "mask2"):
            setattr(self, name, np.empty(n, bool))
        for name in ("exits", "bunched", "certified"):
            setattr(self, name, np.empty(n, bool))
        self.kind = np.empty(n, np.uint8)
        self.sub = [np.empty(n) for _ in range(self.N_SUB)]
        self.sub_mask = [np.empty(n, bool) for _ in range(self.N_SUB_MASK)]
        self.sub_kind = np.empty(n, np.uint8)
        self.sub_index = np.empty(n, np.int64)


__all__ = [
    "SIZE_REFERENCE_CNY",
    "TECH_SME_MAX_EMPLOYEES",
    "TECH_SME_MAX_SALES_CNY",
    "THRESHOLD_RTOL",
    "Draws",
    "EnterpriseWorkspace",
    "FirmParams",
    "Firms",
    "Support",
    "YearOutcome",
]
