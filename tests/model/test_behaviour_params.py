"""The behaviour parameters as a typed, frozen object (issue 13 item 7)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from policysim.model import PolicyModel
from policysim.scenario import load_scenario
from policysim.scenario.parameters import BEHAVIOUR_DEFAULTS, BehaviourParams
from policysim.simulation import baseline_for

TINY = Path(__file__).resolve().parents[2] / "scenarios" / "tiny.yaml"


def test_one_field_per_default_in_the_same_order() -> None:
    assert [f.name for f in dataclasses.fields(BehaviourParams)] == list(BEHAVIOUR_DEFAULTS)


def test_frozen_and_complete() -> None:
    values = {k: d.value for k, d in BEHAVIOUR_DEFAULTS.items()}
    bp = BehaviourParams.from_values(values | {"not_a_parameter": 1.0})
    assert bp.index_noise_sd == BEHAVIOUR_DEFAULTS["index_noise_sd"].value
    with pytest.raises(dataclasses.FrozenInstanceError):
        bp.index_noise_sd = 0.0  # type: ignore[misc]
    del values["pilot_support_cny"]
    with pytest.raises(KeyError, match="pilot_support_cny"):
        BehaviourParams.from_values(values)


def test_set_params_updates_every_view() -> None:
    """The nowcast changes parameters of a running model: the dictionary, the typed view the
    county rules read and the enterprise rule's view must all change together."""
    sc = load_scenario(TINY).scenario
    m = PolicyModel(sc, baseline_for(sc), sc.parameters(), np.random.default_rng(1))
    m.step()
    m.set_params({"management_learning": 0.123, "rd_user_cost_elasticity": -0.7})
    assert m.params["management_learning"] == 0.123
    assert m.bp.management_learning == 0.123
    assert m.fp.elasticity == -0.7
