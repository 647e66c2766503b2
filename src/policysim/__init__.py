"""policysim: policy simulation and target-scenario modelling.

An agent-based model (Mesa) of counties, townships and enterprises under a provincial innovation
policy, coupled with an allocation model (Pyomo + HiGHS) of provincial funds, run as seeded
ensembles that estimate the probability of reaching each dated target.

>>> import policysim
>>> result = policysim.run_ensemble("scenarios/jiangxi_baseline.yaml", replications=50)
>>> result.attainment()[["target", "probability", "ci_low", "ci_high"]]
>>> policysim.write_outputs(result, "results/base")  # tables, figures, briefing.html, report
>>> cmp = policysim.compare(["scenarios/jiangxi_baseline.yaml", "scenarios/jiangxi_equal.yaml"],
...                         replications=50)
>>> cmp.table[["scenario", "target", "probability", "diff_vs_baseline"]]
>>> policysim.verdict(0.72, 0.87)  # the briefing's rule on the 95% interval
'uncertain'

The top-level names are lazy: importing :mod:`policysim` stays cheap.
"""

from __future__ import annotations

from policysim.errors import DataError, PolicysimError, ScenarioError
from policysim.scenario import LoadedScenario, Scenario, load_scenario
from policysim.simulation import SimulationResult, simulate

__version__ = "0.1.0"

#: Public API loaded on first use: name -> (module, attribute).
_LAZY: dict[str, tuple[str, str]] = {
    "run_ensemble": ("policysim.experiments", "run_ensemble"),
    "EnsembleResult": ("policysim.experiments", "EnsembleResult"),
    "write_outputs": ("policysim.experiments", "write_outputs"),
    "compare": ("policysim.studies.compare", "compare_scenarios"),
    "compare_scenarios": ("policysim.studies.compare", "compare_scenarios"),
    "write_comparison": ("policysim.studies.compare", "write_comparison"),
    "ComparisonResult": ("policysim.studies.compare", "ComparisonResult"),
    "budget_frontier": ("policysim.studies.frontier", "budget_frontier"),
    "run_hindcast": ("policysim.studies.hindcast", "run_hindcast"),
    "run_nowcast": ("policysim.studies.nowcast", "run_nowcast"),
    "write_nowcast": ("policysim.studies.nowcast", "write_nowcast"),
    "NowcastResult": ("policysim.studies.nowcast", "NowcastResult"),
    "verdict": ("policysim.report.briefing", "verdict"),
    "load_baseline": ("policysim.data", "load_baseline"),
}


def __getattr__(name: str) -> object:
    """The lazily imported public functions (see :data:`_LAZY`)."""
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'policysim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
    *_LAZY,
]
