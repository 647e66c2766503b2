"""Levers: policy choices that a study varies run by run, beside the uncertain parameters.

A lever is a named transformation of the scenario (EMA Workbench's split of *levers* from
*uncertainties*): a run specification carries its lever values next to its parameter draw, and
the engine applies them to the scenario before the run. Lever names are prefixed ``lever_`` so
that they cannot clash with behaviour parameters.

>>> from policysim.scenario import load_scenario
>>> sc = load_scenario("scenarios/jiangxi_baseline.yaml").scenario
>>> half = apply_levers(sc, {LEVER_BUDGET: 0.5})
>>> half.budget_cny(2018) == 0.5 * sc.budget_cny(2018)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np

from policysim.errors import ScenarioError
from policysim.scenario.schema import Scenario

__all__ = [
    "LEVER_BUDGET",
    "LEVER_NAMES",
    "LEVER_PREFIX",
    "LEVER_WEIGHTS",
    "apply_levers",
    "check_lever_names",
    "is_lever",
]

LEVER_PREFIX: Final = "lever_"
#: Multiplier of the scenario's provincial budget in every year (> 0).
LEVER_BUDGET: Final = "lever_budget_scale"
#: Unnormalised weights of the three factors of the policy's allocation formula (divided by
#: their sum; all three together, only for the factor formula).
LEVER_WEIGHTS: Final = (
    "lever_weight_research_capacity",
    "lever_weight_fiscal_st_spending",
    "lever_weight_management_capacity",
)
LEVER_NAMES: Final = (LEVER_BUDGET, *LEVER_WEIGHTS)


def is_lever(name: str) -> bool:
    """A column of a run design that names a lever (rather than a behaviour parameter)."""
    return name.startswith(LEVER_PREFIX)


def check_lever_names(names: list[str], source: str) -> None:
    """Every ``lever_`` column must be a known lever; the three weights come together.

    Raises
    ------
    ScenarioError
        Naming the unknown lever or the missing weights.
    """
    for name in names:
        if name not in LEVER_NAMES:
            raise ScenarioError(
                source,
                "unknown lever",
                key_path=name,
                expected="one of " + ", ".join(LEVER_NAMES),
            )
    given = [w for w in LEVER_WEIGHTS if w in names]
    if given and len(given) != len(LEVER_WEIGHTS):
        missing = [w for w in LEVER_WEIGHTS if w not in names]
        raise ScenarioError(
            source,
            "the factor-formula weights are levers together",
            key_path=missing[0],
            expected="all of " + ", ".join(LEVER_WEIGHTS),
        )


def apply_levers(scenario: Scenario, values: Mapping[str, float]) -> Scenario:
    """The scenario with lever values applied (no lever: the scenario itself).

    Raises
    ------
    ScenarioError
        For a budget scale that is not positive, or weights that are negative or all zero.
    """
    if not values:
        return scenario
    check_lever_names(list(values), "levers")
    update: dict[str, Any] = {}
    if LEVER_BUDGET in values:
        scale = float(values[LEVER_BUDGET])
        if not (np.isfinite(scale) and scale > 0.0):
            raise ScenarioError(
                "levers", "bad budget scale", key_path=LEVER_BUDGET, value=scale, expected="> 0"
            )
        update["budget"] = scenario.budget.model_copy(
            update={"values": {y: v * scale for y, v in scenario.budget.values.items()}}
        )
    if LEVER_WEIGHTS[0] in values:
        raw = np.array([float(values[w]) for w in LEVER_WEIGHTS])
        if not (np.isfinite(raw).all() and (raw >= 0.0).all() and raw.sum() > 0.0):
            raise ScenarioError(
                "levers",
                "bad factor-formula weights",
                key_path=LEVER_WEIGHTS[0],
                value=raw.tolist(),
                expected="finite weights >= 0, not all zero",
            )
        shares = raw / raw.sum()
        weights = scenario.allocation.factor_weights.model_copy(
            update={
                "research_capacity": float(shares[0]),
                "fiscal_st_spending": float(shares[1]),
                "management_capacity": float(shares[2]),
            }
        )
        update["allocation"] = scenario.allocation.model_copy(update={"factor_weights": weights})
    return scenario.model_copy(update=update)
