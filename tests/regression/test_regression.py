"""Golden regression: the model's numbers on fixed seeds equal the stored tables (cases.py).

A failure here means the model's numbers changed. If the change is intended, regenerate with
``python tests/regression/regenerate.py`` and commit the reviewed diff; if not, it is a bug.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cases import ATOL, CASES, RTOL, SCENARIOS, Case, _plain

import policysim


def compare(stored: pd.DataFrame, fresh: pd.DataFrame, keys: tuple[str, ...]) -> list[str]:
    """Differences between two golden tables, as readable lines (empty: equal within tolerance)."""
    problems: list[str] = []
    if list(stored.columns) != list(fresh.columns):
        return [f"columns {list(stored.columns)} != {list(fresh.columns)}"]
    if len(stored) != len(fresh):
        return [f"{len(stored)} stored rows != {len(fresh)} fresh rows"]
    for k in keys:
        if not stored[k].astype(str).equals(fresh[k].astype(str)):
            bad = int((stored[k].astype(str) != fresh[k].astype(str)).sum())
            problems.append(f"key column {k!r}: {bad} rows differ")
    if problems:
        return problems
    a = stored["value"].to_numpy(float)
    b = fresh["value"].to_numpy(float)
    moved = ~np.isclose(b, a, rtol=RTOL, atol=ATOL, equal_nan=True)
    for i in np.flatnonzero(moved)[:10]:
        where = ", ".join(f"{k}={fresh[k].iloc[i]}" for k in keys)
        problems.append(f"{where}: stored {a[i]!r}, now {b[i]!r}")
    if moved.sum() > 10:
        problems.append(f"... {int(moved.sum())} values moved in all")
    return problems


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_golden(c: Case) -> None:
    assert c.path.exists(), f"{c.path.name} missing: run tests/regression/regenerate.py"
    problems = compare(pd.read_parquet(c.path), c.build(), c.keys)
    assert not problems, f"{c.name} ({c.description}) changed:\n" + "\n".join(problems)


def test_compare_catches_a_one_percent_change() -> None:
    """The comparison itself: a 1% change of one value, a renamed key and a lost row are caught."""
    c = CASES[0]
    stored = pd.read_parquet(c.path)
    nudged = stored.copy()
    i = int(np.flatnonzero(nudged["value"].to_numpy(float) != 0)[0])
    nudged.loc[i, "value"] *= 1.01
    assert compare(stored, nudged, c.keys)
    renamed = stored.copy()
    renamed.loc[0, "metric"] = "other"
    assert compare(stored, renamed, c.keys)
    assert compare(stored, stored.iloc[1:].reset_index(drop=True), c.keys)
    assert compare(stored, stored.copy(), c.keys) == []


@pytest.mark.parametrize(
    "parameter",
    ["rd_user_cost_elasticity", "sales_growth_mean", "county_matching_rate", "firm_entry_rate"],
)
def test_a_one_percent_change_of_a_parameter_fails_the_golden_case(parameter: str) -> None:
    """The golden data are sensitive enough: the same run with one behaviour parameter moved by
    1% differs from the stored table (so a 1% change of a model constant cannot pass)."""
    c = CASES[0]
    loaded = policysim.load_scenario(SCENARIOS / "tiny.yaml")
    value = loaded.scenario.parameters()[parameter]
    moved = policysim.simulate(loaded, seed=1, params={parameter: value * 1.01}).metrics
    fresh = _plain(moved[["year", "level", "code", "name", "metric", "value"]], c.keys)
    assert compare(pd.read_parquet(c.path), fresh, c.keys)
