"""A plan of the verified optimiser (:mod:`policysim.experiments.verify`) as a mix of component
plans, and the allocator that runs a mix in the model year by year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from policysim import coupling
from policysim.allocation import INSTRUMENTS
from policysim.data import Baseline
from policysim.model import CountySummary
from policysim.scenario.schema import Scenario

__all__ = ["COMPONENTS", "POLICY_RULE", "RULES", "FloatArray", "Mix", "MixAllocator"]

FloatArray = NDArray[np.float64]

RULES: Final = ("factor_formula", "equal", "needs_weighted")
POLICY_RULE: Final = "factor_formula"
"""The policy's own rule (按因素法分配): the reference of the target guard, with the best rule."""
COMPONENTS: Final = (*RULES, "surrogate", "replan")
"""Component plans of a mix: the three rules at the year's county facts, the surrogate's
open-loop plan, and the closed-loop re-plan of the year (closed loop only)."""

#: the shares of the components in a mix and of the instruments in the rule components
_EPS: Final = 1e-12


@dataclass(frozen=True)
class Mix:
    """A plan as a mix of component plans.

    Attributes
    ----------
    weights : tuple of float, one per :data:`COMPONENTS`, summing to 1
    shares : tuple of float, one per instrument (INSTRUMENTS order), summing to 1
        Instrument split of the rule components.
    """

    weights: tuple[float, ...]
    shares: tuple[float, ...]

    @classmethod
    def vertex(cls, component: str, shares: Sequence[float]) -> Mix:
        w = tuple(1.0 if c == component else 0.0 for c in COMPONENTS)
        return cls(w, tuple(float(s) for s in shares))

    def toward_component(self, component: str, r: float) -> Mix:
        target = np.array([1.0 if c == component else 0.0 for c in COMPONENTS])
        w = (1.0 - r) * np.asarray(self.weights) + r * target
        return Mix(_rounded(w), self.shares)

    def toward_instrument(self, k: int, r: float) -> Mix:
        target = np.zeros(len(INSTRUMENTS))
        target[k] = 1.0
        s = (1.0 - r) * np.asarray(self.shares) + r * target
        return Mix(self.weights, _rounded(s))

    def weight(self, component: str) -> float:
        return self.weights[COMPONENTS.index(component)]

    def describe(self) -> str:
        parts = [f"{c} {w:.3g}" for c, w in zip(COMPONENTS, self.weights, strict=True) if w > 0]
        uses_rules = any(self.weight(r) > 0 for r in RULES)
        split = ", ".join(
            f"{k} {s:.3g}" for k, s in zip(INSTRUMENTS, self.shares, strict=True) if s > 0
        )
        return " + ".join(parts) + (f" (rule split: {split})" if uses_rules else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "weights": dict(zip(COMPONENTS, self.weights, strict=True)),
            "instrument_shares": dict(zip(INSTRUMENTS, self.shares, strict=True)),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Mix:
        return cls(
            tuple(float(d["weights"][c]) for c in COMPONENTS),
            tuple(float(d["instrument_shares"][k]) for k in INSTRUMENTS),
        )


def _rounded(x: FloatArray) -> tuple[float, ...]:
    """Weights rounded to 1e-9 and renormalised (so that the same mix has one key)."""
    y = np.round(np.maximum(x, 0.0), 9)
    return tuple(float(v) for v in y / y.sum())


def _rule_scenario(scenario: Scenario, rule: str, shares: Sequence[float]) -> Scenario:
    alloc = scenario.allocation.model_copy(
        update={
            "strategy": rule,
            "instrument_shares": dict(zip(INSTRUMENTS, (float(s) for s in shares), strict=True)),
        }
    )
    return scenario.model_copy(update={"allocation": alloc})


class MixAllocator:
    """Yearly plan of a :class:`Mix`: the weighted sum of its component plans, each net of the
    pilot packages (so the sum is too). Rule components re-apply their rule to the county facts
    of the year; the closed-loop component sees the mixed plans as the funds spent."""

    def __init__(
        self,
        scenario: Scenario,
        baseline: Baseline,
        mix: Mix,
        surrogate_plan: FloatArray | None,
    ) -> None:
        self.scenario = scenario
        self.mix = mix
        self.years, _ = coupling.budget_path(scenario)
        self.surrogate_plan = surrogate_plan
        self.rules = {
            r: coupling.RuleAllocator(_rule_scenario(scenario, r, mix.shares), baseline)
            for r in RULES
            if mix.weight(r) > 0
        }
        self.replan = (
            coupling.ClosedLoopAllocator(scenario, baseline) if mix.weight("replan") > 0 else None
        )
        if mix.weight("surrogate") > 0 and surrogate_plan is None:
            raise ValueError("a mix with a surrogate component needs the surrogate plan")
        self.solves: list[dict[str, Any]] = []
        self.plans: dict[int, FloatArray] = {}

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        n = len(summary.codes)
        plan = np.zeros((n, len(INSTRUMENTS)))
        for r, alloc in self.rules.items():
            plan += self.mix.weight(r) * alloc(year, summary)
        w_s = self.mix.weight("surrogate")
        if w_s > 0:
            assert self.surrogate_plan is not None
            row = self.surrogate_plan[self.years.index(year)]
            plan += w_s * coupling._net_of_support(row, summary, self.scenario.budget_cny(year))
        if self.replan is not None:
            self.replan.plans.update(self.plans)  # what was really spent
            before = len(self.replan.solves)
            plan += self.mix.weight("replan") * self.replan(year, summary)
            self.solves.extend(self.replan.solves[before:])
        self.plans[year] = plan
        return plan
