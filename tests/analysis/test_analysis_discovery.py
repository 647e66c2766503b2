"""PRIM recovers a planted box; trajectory bookkeeping; plain-words description."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policysim.analysis.discovery import prim_box


def _planted(n: int = 3000, noise: float = 0.0, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "voucher_additionality": rng.uniform(0.0, 1.0, n),
            "firm_entry_rate": rng.uniform(0.0, 0.1, n),
            "talent_effect": rng.uniform(0.0, 1.0, n),
            "credit_leverage": rng.uniform(4.0, 12.0, n),
        }
    )
    y = (X["voucher_additionality"] < 0.31).to_numpy() & (X["firm_entry_rate"] < 0.042).to_numpy()
    flip = rng.uniform(size=n) < noise
    return X, np.where(flip, ~y, y)


def test_prim_recovers_planted_box() -> None:
    X, y = _planted()
    result = prim_box(X, y)
    box = result.box
    assert set(box.restricted) == {"voucher_additionality", "firm_entry_rate"}
    assert box.upper["voucher_additionality"] == pytest.approx(0.31, abs=0.02)
    assert box.upper["firm_entry_rate"] == pytest.approx(0.042, abs=0.002)
    assert box.coverage > 0.9
    assert box.density > 0.9
    assert box.support == pytest.approx(0.31 * 0.42, abs=0.02)


def test_prim_with_noise_still_finds_the_parameters() -> None:
    X, y = _planted(noise=0.05, seed=8)
    box = prim_box(X, y).box
    assert set(box.restricted) == {"voucher_additionality", "firm_entry_rate"}
    assert box.density > 0.8


def test_trajectory_bookkeeping() -> None:
    X, y = _planted(n=1000)
    result = prim_box(X, y, alpha=0.1, min_support=0.1)
    traj = result.trajectory
    assert traj.loc[0, "coverage"] == 1.0
    assert traj.loc[0, "support"] == 1.0
    assert traj.loc[0, "density"] == pytest.approx(y.mean())
    assert (traj["support"] >= 0.1).all()
    assert (np.diff(traj["n_in_box"]) < 0).all()
    # box limits describe exactly the runs counted in the box
    for step in (3, len(result.boxes) - 1):
        b = result.boxes[step]
        inside = np.ones(len(X), dtype=bool)
        for p in X.columns:
            inside &= (X[p] >= b.lower[p]).to_numpy() & (X[p] <= b.upper[p]).to_numpy()
        assert inside.sum() == b.n_in_box
        assert (y & inside).sum() / y.sum() == pytest.approx(b.coverage)


def test_describe_in_plain_words() -> None:
    X, y = _planted()
    text = prim_box(X, y).describe("Runs miss the 2030 county target")
    assert text.startswith("Runs miss the 2030 county target mostly when ")
    assert "voucher_additionality <= 0.3" in text
    assert "firm_entry_rate <= 0.04" in text
    assert "of runs)" in text
    assert "talent_effect" not in text
    first = prim_box(X, y).select(0)
    assert "no clear pattern" in first.describe()


def test_prim_input_errors() -> None:
    X, y = _planted(n=100)
    with pytest.raises(ValueError, match="no case of interest"):
        prim_box(X, np.zeros(100, dtype=bool))
    with pytest.raises(ValueError, match="runs in X"):
        prim_box(X, y[:50])
    with pytest.raises(ValueError, match="non-numeric"):
        prim_box(X.assign(strategy="formula"), y)
    with pytest.raises(IndexError):
        prim_box(X, y).select(10_000)
