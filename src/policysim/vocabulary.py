"""The vocabularies every layer shares: funding instruments and allocation strategies.

Each is defined here once; the scenario schema, the allocation model, the agent-based model and
the coupling read them from here. The strategy registry names, for each strategy, the allocator
class that carries it out (``module:Class``, resolved by :func:`policysim.coupling.make_allocator`
through :func:`allocator_class`), so adding a strategy is one allocator class (following
:class:`policysim.model.Allocator`: called with the year and the county summary, it returns the
year's plan) and one line in :data:`STRATEGIES`.

This module imports nothing from the package (every layer may use it).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "INSTRUMENTS",
    "I_COMMISSIONERS",
    "I_CREDIT",
    "I_PLATFORMS",
    "I_POVERTY",
    "I_SUBSIDIES",
    "I_VOUCHERS",
    "POVERTY_INSTRUMENT",
    "RULE_STRATEGIES",
    "STRATEGIES",
    "STRATEGY_NAMES",
    "SYNTHETIC_CAVEAT_EN",
    "SYNTHETIC_CAVEAT_ZH",
    "StrategySpec",
    "allocator_class",
    "strategy",
]

#: Funding instruments of the provincial S&T special funds (赣府厅发〔2018〕4号), in the column order
#: of every plan array (n_counties, n_instruments); ``poverty_programme`` goes only to poverty
#: counties.
INSTRUMENTS: Final[tuple[str, ...]] = (
    "vouchers",  # 科技创新券 and other 后补助
    "rd_subsidies",
    "platforms",  # 众创空间, 星创天地, parks
    "commissioners",  # 科技特派员
    "credit",  # 科贷通 / 财园信贷通 risk pools
    "poverty_programme",  # 科技精准扶贫 "个十百千", 25 poverty counties only
)
POVERTY_INSTRUMENT: Final = "poverty_programme"
#: Column of each instrument in a plan array (by name: the order lives in INSTRUMENTS alone).
I_VOUCHERS: Final = INSTRUMENTS.index("vouchers")
I_SUBSIDIES: Final = INSTRUMENTS.index("rd_subsidies")
I_PLATFORMS: Final = INSTRUMENTS.index("platforms")
I_COMMISSIONERS: Final = INSTRUMENTS.index("commissioners")
I_CREDIT: Final = INSTRUMENTS.index("credit")
I_POVERTY: Final = INSTRUMENTS.index(POVERTY_INSTRUMENT)


@dataclass(frozen=True)
class StrategySpec:
    """One allocation strategy.

    Attributes
    ----------
    name : str
        The value of ``allocation.strategy`` in a scenario.
    kind : {"rule", "optimiser"}
        A rule applies a formula to the county facts of the year; an optimiser solves the
        allocation model (Pyomo + HiGHS).
    allocator : str
        ``module:Class`` of the allocator, constructed as ``Class(scenario, baseline)``.
    description : str
        One line for help texts and reports.
    replans : bool
        Re-plans every simulated year from the model's state (closed loop).
    """

    name: str
    kind: Literal["rule", "optimiser"]
    allocator: str
    description: str
    replans: bool = False


_RULE = "policysim.coupling:RuleAllocator"

#: Every allocation strategy, in the order help texts list them.
STRATEGIES: Final[tuple[StrategySpec, ...]] = (
    StrategySpec(
        "factor_formula",
        "rule",
        _RULE,
        "the policy's own rule: shares by research capacity, own fiscal S&T spending and "
        "management capacity",
    ),
    StrategySpec("equal", "rule", _RULE, "an equal share for every county"),
    StrategySpec(
        "needs_weighted",
        "rule",
        _RULE,
        "shares by the distance of the county index from 100, poverty counties weighted up",
    ),
    StrategySpec("fixed", "rule", _RULE, "a plan read from a CSV file (allocation.fixed_plan)"),
    StrategySpec(
        "optimal",
        "optimiser",
        "policysim.experiments.verify:VerifiedAllocator",
        "open-loop plan of the allocation model, verified and improved in the agent-based model "
        "on common random numbers against the rule strategies (never worse than the best rule "
        "on the verification draws)",
    ),
    StrategySpec(
        "closed_loop",
        "optimiser",
        "policysim.experiments.verify:VerifiedClosedLoopAllocator",
        "the verified open-loop plan moved toward the allocation model re-solved every year from "
        "the simulated state, where that wins in the agent-based model",
        replans=True,
    ),
)

STRATEGY_NAMES: Final[tuple[str, ...]] = tuple(s.name for s in STRATEGIES)
RULE_STRATEGIES: Final[tuple[str, ...]] = tuple(s.name for s in STRATEGIES if s.kind == "rule")


def strategy(name: str) -> StrategySpec:
    """The registered strategy ``name``.

    Raises
    ------
    KeyError
        If no strategy has that name (the message lists them).
    """
    for spec in STRATEGIES:
        if spec.name == name:
            return spec
    expected = ", ".join(repr(n) for n in STRATEGY_NAMES)
    raise KeyError(f"unknown strategy {name!r} (expected one of {expected})")


def allocator_class(name: str) -> type:
    """The allocator class of strategy ``name`` (imported on first use)."""
    module, _, qualname = strategy(name).allocator.partition(":")
    cls = getattr(importlib.import_module(module), qualname)
    if not isinstance(cls, type):
        raise TypeError(f"strategy {name!r}: {strategy(name).allocator} is not a class")
    return cls


#: The synthetic-data caveat, in English and Chinese: every output that shows county results of a
#: baseline whose county economics were synthesised carries it (tables, manifest, report,
#: briefing, maps, terminal; see :func:`policysim.data.county_caveat`).
SYNTHETIC_CAVEAT_EN: Final = (
    "County economics are synthetic: per-county GDP, fiscal and R&D spending, firms, HNTEs and "
    "capacities are a seeded draw matching province and prefecture totals, not county "
    "statistics; county results illustrate the mechanism, not facts about a named county."
)
SYNTHETIC_CAVEAT_ZH: Final = (
    "县域经济数据为合成数据（按全省和设区市总量校准的随机生成），并非县级统计数据；"
    "县级结果仅用于说明机制，不代表具体某县的实际情况。"
)
