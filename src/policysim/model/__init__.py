"""The agent-based model: :class:`PolicyModel` (a ``mesa.Model`` whose populations are arrays,
stepped yearly by the schedule of docs/ODD.md) and what it exchanges with the allocator and the
metrics (:mod:`policysim.model.state`)."""

from policysim.model.core import ABOVE_SCALE_SALES_CNY, PolicyModel
from policysim.model.state import (
    I_COMMISSIONERS,
    I_CREDIT,
    I_PLATFORMS,
    I_POVERTY,
    I_SUBSIDIES,
    I_VOUCHERS,
    N_INSTRUMENTS,
    Allocator,
    CountySummary,
    YearFunds,
    YearRecord,
    baseline_arrays,
    zero_allocator,
)

__all__ = [
    "ABOVE_SCALE_SALES_CNY",
    "I_COMMISSIONERS",
    "I_CREDIT",
    "I_PLATFORMS",
    "I_POVERTY",
    "I_SUBSIDIES",
    "I_VOUCHERS",
    "N_INSTRUMENTS",
    "Allocator",
    "CountySummary",
    "PolicyModel",
    "YearFunds",
    "YearRecord",
    "baseline_arrays",
    "zero_allocator",
]
