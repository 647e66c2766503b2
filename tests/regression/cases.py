"""The golden regression cases: each builds a table from the model; ``regenerate.py`` writes them
to ``tests/regression/data/*.parquet`` and ``test_regression.py`` compares a fresh build with the
stored table under the tolerances below.

A case's table has key columns (compared exactly) and value columns (compared with ``RTOL`` and
``ATOL``). The tolerances are tight on purpose: the model is deterministic given the seed, so a
difference beyond floating-point reassociation (1e-9 relative) is a change in the model's numbers
that must be reviewed, and regenerated only by running the script and committing its diff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import policysim
from policysim.experiments import run_ensemble

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
DATA = Path(__file__).resolve().parent / "data"

#: Relative and absolute tolerance of value columns (numbers, not keys).
RTOL = 1e-7
ATOL = 1e-9


@dataclass(frozen=True)
class Case:
    """One golden table: its name, how to build it, its key columns."""

    name: str
    build: Callable[[], pd.DataFrame]
    keys: tuple[str, ...]
    description: str

    @property
    def path(self) -> Path:
        return DATA / f"{self.name}.parquet"


def _plain(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """Categoricals to plain values, rows sorted by the keys, a fresh index."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(str)
    return out.sort_values(list(keys), kind="mergesort").reset_index(drop=True)


def _single(scenario: str, seed: int, levels: tuple[str, ...]) -> pd.DataFrame:
    loaded = policysim.load_scenario(SCENARIOS / scenario)
    m = policysim.simulate(loaded, seed=seed).metrics
    m = m[m["level"].isin(list(levels))]
    return _plain(m[["year", "level", "code", "name", "metric", "value"]], _SINGLE_KEYS)


def _ensemble(scenario: str, replications: int, overrides: tuple[str, ...] = ()) -> pd.DataFrame:
    result = run_ensemble(
        SCENARIOS / scenario, replications=replications, workers=1, overrides=overrides
    )
    m = result.metrics
    m = m[m["level"] == "province"][["replication", "year", "metric", "value"]]
    return _plain(m, _ENSEMBLE_KEYS)


def _draws(scenario: str, replications: int) -> pd.DataFrame:
    result = run_ensemble(SCENARIOS / scenario, replications=replications, workers=1)
    draws = result.draws.copy()
    draws["seed_key"] = draws["seed_key"].astype(str)
    long = draws.melt(id_vars=["replication", "seed_key"], var_name="parameter", value_name="value")
    long["value"] = long["value"].astype(float)
    return _plain(long, ("replication", "parameter"))


_SINGLE_KEYS = ("level", "code", "metric", "year")
_ENSEMBLE_KEYS = ("replication", "metric", "year")

CASES: tuple[Case, ...] = (
    Case(
        "tiny_seed1_all_levels",
        lambda: _single("tiny.yaml", 1, ("province", "county", "township")),
        (*_SINGLE_KEYS, "name"),
        "one run of the tiny scenario (seed 1, default parameters): every metric of every unit",
    ),
    Case(
        "tiny_ensemble_factor_formula",
        lambda: _ensemble("tiny.yaml", 6),
        _ENSEMBLE_KEYS,
        "6 replications of the tiny scenario (LHS draws), province metrics",
    ),
    Case(
        "tiny_ensemble_equal",
        lambda: _ensemble("tiny.yaml", 4, ("allocation.strategy=equal",)),
        _ENSEMBLE_KEYS,
        "4 replications of the tiny scenario with the equal split, province metrics",
    ),
    Case(
        "tiny_draws",
        lambda: _draws("tiny.yaml", 6),
        ("replication", "parameter", "seed_key"),
        "the parameter draws and seed keys of 6 replications",
    ),
    Case(
        "jiangxi_seed1_province",
        lambda: _single("jiangxi_baseline.yaml", 1, ("province",)),
        (*_SINGLE_KEYS, "name"),
        "one run of the Jiangxi baseline (seed 1, default parameters): province metrics",
    ),
)


def case(name: str) -> Case:
    """The case called ``name``."""
    for c in CASES:
        if c.name == name:
            return c
    raise KeyError(f"no regression case {name!r}")
