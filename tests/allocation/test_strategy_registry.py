"""The strategy registry and the instrument vocabulary (policysim.vocabulary): one place each.

Adding a strategy is one allocator class and one registry line: the last test registers a new
strategy that way, in the test only, and runs it through the scenario schema and the model."""

from __future__ import annotations

import typing

import numpy as np
import pytest

import policysim
from policysim import vocabulary
from policysim.allocation import INSTRUMENTS, STRATEGIES
from policysim.allocation.rules import RULE_STRATEGIES
from policysim.errors import ScenarioError
from policysim.model import CountySummary
from policysim.scenario.schema import Instrument


def test_one_instrument_vocabulary() -> None:
    assert typing.get_args(Instrument) == vocabulary.INSTRUMENTS
    assert INSTRUMENTS == vocabulary.INSTRUMENTS
    assert vocabulary.POVERTY_INSTRUMENT in vocabulary.INSTRUMENTS


def test_strategy_lists_come_from_the_registry() -> None:
    assert STRATEGIES == vocabulary.STRATEGY_NAMES
    assert set(RULE_STRATEGIES) == {s.name for s in vocabulary.STRATEGIES if s.kind == "rule"}
    assert len(set(vocabulary.STRATEGY_NAMES)) == len(vocabulary.STRATEGY_NAMES)


@pytest.mark.parametrize("name", vocabulary.STRATEGY_NAMES)
def test_every_registered_allocator_is_a_class_taking_scenario_and_baseline(name: str) -> None:
    cls = vocabulary.allocator_class(name)
    assert "__call__" in vars(cls)
    params = list(typing.get_type_hints(cls.__init__))
    assert params[:2] == ["scenario", "baseline"], params


def test_unknown_strategy_lists_the_registry(tiny: policysim.LoadedScenario) -> None:
    with pytest.raises(KeyError, match="'closed_loop'"):
        vocabulary.strategy("random")
    with pytest.raises(ScenarioError, match="expected one of 'factor_formula'"):
        policysim.load_scenario(tiny.path, overrides=["allocation.strategy=random"])


class TopCountyAllocator:
    """A test strategy: the whole budget to the county with the highest index, as vouchers."""

    def __init__(self, scenario: policysim.Scenario, baseline: object) -> None:
        self.scenario = scenario

    def __call__(self, year: int, summary: CountySummary) -> np.ndarray:
        plan = np.zeros((len(summary.codes), len(vocabulary.INSTRUMENTS)))
        plan[int(np.argmax(summary.index)), 0] = self.scenario.budget_cny(year)
        return plan


def test_a_new_strategy_is_one_class_and_one_registry_line(
    monkeypatch: pytest.MonkeyPatch, tiny: policysim.LoadedScenario
) -> None:
    spec = vocabulary.StrategySpec("top_county", "rule", f"{__name__}:TopCountyAllocator", "test")
    monkeypatch.setattr(vocabulary, "STRATEGIES", (*vocabulary.STRATEGIES, spec))
    loaded = policysim.load_scenario(tiny.path, overrides=["allocation.strategy=top_county"])
    result = policysim.simulate(loaded, seed=1)
    funds = result.metrics.query("level == 'county' and metric == 'funds_cny' and year == 2018")
    assert (funds["value"] > 0).sum() == 1
    assert funds["value"].sum() == pytest.approx(loaded.scenario.budget_cny(2018))
