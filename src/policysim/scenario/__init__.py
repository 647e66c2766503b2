"""Scenario files: the typed schema, loading with ``extends`` and ``--set`` overrides."""

from policysim.scenario.loader import LoadedScenario, load_scenario, parse_override, scenario_hash
from policysim.scenario.parameters import BEHAVIOUR_DEFAULTS, ParameterDefault
from policysim.scenario.schema import (
    INSTRUMENT_NAMES,
    PROVINCE_METRICS,
    Distribution,
    Scenario,
    Target,
)

__all__ = [
    "BEHAVIOUR_DEFAULTS",
    "INSTRUMENT_NAMES",
    "PROVINCE_METRICS",
    "Distribution",
    "LoadedScenario",
    "ParameterDefault",
    "Scenario",
    "Target",
    "load_scenario",
    "parse_override",
    "scenario_hash",
]
