"""The one module that knows both the agent-based model and the allocation model.

It turns a scenario into the allocation package's typed inputs (rules, objective, county facts),
estimates the optimiser's response curves from simulations with common random numbers, and builds
the yearly *allocator* the model calls. The optimiser never reads agent arrays; the agents never
see Pyomo.
"""

from policysim.coupling.allocators import (
    ClosedLoopAllocator,
    OptimalAllocator,
    RuleAllocator,
    make_allocator,
)
from policysim.coupling.cache import (
    CACHE_FORMAT,
    FINGERPRINT_LAYERS,
    cache_dir,
    cache_entries,
    clear_cache,
    code_fingerprint,
    fingerprint_files,
)
from policysim.coupling.cache import (
    _cache_key as _cache_key,
)
from policysim.coupling.cache import (
    _code_fingerprint as _code_fingerprint,
)
from policysim.coupling.cache import (
    _load_npz as _load_npz,
)
from policysim.coupling.cache import (
    _save_npz as _save_npz,
)
from policysim.coupling.inputs import (
    OPTIMISER_ENTRY_SCORE,
    allocation_rules,
    budget_path,
    county_facts,
    objective,
)
from policysim.coupling.inputs import (
    _base_facts as _base_facts,
)
from policysim.coupling.inputs import (
    _check_result as _check_result,
)
from policysim.coupling.inputs import (
    _feasible as _feasible,
)
from policysim.coupling.inputs import (
    _net_of_support as _net_of_support,
)
from policysim.coupling.inputs import (
    _solve_row as _solve_row,
)
from policysim.coupling.response import (
    _PLANS as _PLANS,
)
from policysim.coupling.response import (
    _RESPONSES as _RESPONSES,
)
from policysim.coupling.response import (
    estimate_response,
    optimal_plan_for,
    response_for,
)

__all__ = [
    "CACHE_FORMAT",
    "FINGERPRINT_LAYERS",
    "OPTIMISER_ENTRY_SCORE",
    "ClosedLoopAllocator",
    "OptimalAllocator",
    "RuleAllocator",
    "allocation_rules",
    "budget_path",
    "cache_dir",
    "cache_entries",
    "clear_cache",
    "code_fingerprint",
    "county_facts",
    "estimate_response",
    "fingerprint_files",
    "make_allocator",
    "objective",
    "optimal_plan_for",
    "response_for",
]
