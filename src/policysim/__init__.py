"""policysim: policy simulation and target-scenario modelling.

An agent-based model (Mesa) of counties, townships and enterprises under a provincial innovation
policy, coupled with an allocation model (Pyomo + HiGHS) of provincial funds, run as seeded
ensembles that estimate the probability of reaching each dated target.
"""

from __future__ import annotations

from policysim.errors import DataError, PolicysimError, ScenarioError
from policysim.scenario import LoadedScenario, Scenario, load_scenario
from policysim.simulation import SimulationResult, simulate

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "LoadedScenario",
    "PolicysimError",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "__version__",
    "load_scenario",
    "simulate",
]
