"""An ensemble's request, checked before any work: the scenario with its overrides, the seed,
workers, scheduler, precision, store and draws, and the key that a resumed ensemble must match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import pandas as pd

from policysim.errors import ScenarioError
from policysim.experiments.design import draws_fingerprint, explicit_draws
from policysim.scenario import LoadedScenario, load_scenario

__all__ = [
    "MAX_RUNS",
    "MAX_WORKERS",
    "check_request",
    "check_scheduler",
    "load_with_overrides",
    "resume_key",
]

#: Most local worker processes (each holds a model and a baseline, ~300 MB).
MAX_WORKERS: Final = 256
#: Most runs of one ensemble (the schema's cap of ``ensemble.replications``).
MAX_RUNS: Final = 1_000_000


def load_with_overrides(
    scenario: LoadedScenario | str | Path, overrides: Sequence[str] = ()
) -> LoadedScenario:
    """A scenario loaded with extra ``key.path=value`` overrides (a loaded one is reloaded with
    its own overrides first, then these; returned as is without any). Every study loads its
    scenarios through here."""
    if isinstance(scenario, LoadedScenario):
        if not overrides:
            return scenario
        return load_scenario(scenario.path, (*scenario.overrides, *overrides))
    return load_scenario(Path(scenario), tuple(overrides))


def resume_key(
    loaded: LoadedScenario,
    root_seed: int,
    fixed_draws: pd.DataFrame | None = None,
    user_files: Sequence[Path] = (),
) -> dict[str, Any]:
    """Everything the runs of an ensemble depend on: the resolved scenario, the seed and design,
    the code version, the checksums of the baseline data and of any user files (an observed
    file). ``--resume`` is refused, naming the part, when any of it changed."""
    from policysim import __version__
    from policysim.coupling import code_fingerprint
    from policysim.experiments.rundir import file_sha256
    from policysim.simulation import baseline_for

    ens = loaded.scenario.ensemble
    return {
        "scenario_hash": loaded.hash,
        "root_seed": root_seed,
        "sampling": ens.sampling,
        "batch_size": ens.batch_size,
        "draws": "sampled" if fixed_draws is None else draws_fingerprint(fixed_draws),
        "code_version": f"{__version__}+{code_fingerprint()}",
        "baseline": dict(baseline_for(loaded.scenario).checksums),
        "user_files": {str(p): file_sha256(Path(p)) for p in user_files},
    }


def check_scheduler(address: str | None) -> None:
    """A Dask scheduler address must look like ``tcp://host:port`` (checked before any work)."""
    if address is None:
        return
    if not re.fullmatch(r"(tcp|tls|ucx|ws|wss|inproc)://[^\s/:]+(:\d{1,5})?/?", address):
        raise ScenarioError(
            None,
            "not a scheduler address",
            key_path="--scheduler",
            value=address,
            expected="an address such as tcp://10.0.0.5:8786",
        )


def check_request(
    loaded: LoadedScenario,
    *,
    replications: int | None,
    seed: int | None,
    workers: int,
    scheduler: str | None,
    precision: float | None,
    resume: bool,
    store: Path | None,
    draws: pd.DataFrame | None,
) -> tuple[int, pd.DataFrame | None, int]:
    """Check the arguments of :func:`~policysim.experiments.runner.run_ensemble` before any work.

    Returns
    -------
    root_seed : int
    fixed_draws : DataFrame or None
        The explicit draws, checked.
    n_target : int
        Runs of the first batch.

    Raises
    ------
    ScenarioError
        Naming the option at fault.
    """
    root_seed = _root_seed(loaded, seed)
    _check_workers(loaded, workers)
    check_scheduler(scheduler)
    if precision is not None and not 0.0 < precision < 0.5:
        raise ScenarioError(
            loaded.path,
            "bad precision",
            key_path="--precision",
            value=precision,
            expected="a half-width between 0 and 0.5",
        )
    if resume and store is None:
        raise ScenarioError(
            loaded.path,
            "--resume needs the run directory",
            key_path="--out",
            expected="the directory of the interrupted run",
        )
    fixed_draws, n_target = _first_batch(loaded, replications, precision, draws)
    return root_seed, fixed_draws, n_target


def _root_seed(loaded: LoadedScenario, seed: int | None) -> int:
    """``seed``, else the scenario's ``ensemble.root_seed``; not negative."""
    root_seed = loaded.scenario.ensemble.root_seed if seed is None else int(seed)
    if root_seed < 0:
        raise ScenarioError(
            loaded.path,
            "negative seed",
            key_path="--seed",
            value=root_seed,
            expected="an integer >= 0",
        )
    return root_seed


def _first_batch(
    loaded: LoadedScenario,
    replications: int | None,
    precision: float | None,
    draws: pd.DataFrame | None,
) -> tuple[pd.DataFrame | None, int]:
    """The explicit draws (checked; then no ``precision``) and the runs of the first batch:
    one per draw, else ``replications`` (default ``ensemble.replications``), 1 to
    :data:`MAX_RUNS`."""
    fixed_draws = explicit_draws(draws) if draws is not None else None
    if fixed_draws is not None:
        if precision is not None:
            raise ScenarioError(
                loaded.path,
                "explicit draws fix the runs; precision cannot add any",
                key_path="--precision",
                value=precision,
                expected="no precision with explicit draws",
            )
        n_target = len(fixed_draws)
    else:
        ens = loaded.scenario.ensemble
        n_target = ens.replications if replications is None else int(replications)
    if not 1 <= n_target <= MAX_RUNS:
        raise ScenarioError(
            loaded.path,
            "no runs requested" if n_target < 1 else "too many runs",
            key_path="--replications",
            value=n_target,
            expected=f"an integer from 1 to {MAX_RUNS:,}",
        )
    return fixed_draws, n_target


def _check_workers(loaded: LoadedScenario, workers: int) -> None:
    if workers < 1:
        raise ScenarioError(
            loaded.path,
            "bad worker count",
            key_path="--workers",
            value=workers,
            expected="an integer >= 1",
        )
    if workers > MAX_WORKERS:
        raise ScenarioError(
            loaded.path,
            "too many worker processes",
            key_path="--workers",
            value=workers,
            expected=f"an integer from 1 to {MAX_WORKERS}",
        )
