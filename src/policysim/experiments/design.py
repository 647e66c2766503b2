"""Seeds and parameter draws of an ensemble, each a function of ``(root_seed, run id)`` only.

Run ``i`` simulates with ``SeedSequence(root_seed, spawn_key=(i,))``, which equals
``SeedSequence(root_seed).spawn(n)[i]`` for any ``n > i``. Its uncertain parameters come from
draw batch ``b = i // batch_size``: a Latin hypercube (or plain uniform sample, for Monte Carlo)
of ``batch_size`` points in the unit cube generated from
``SeedSequence(root_seed, spawn_key=(DRAW_KEY_OFFSET + b,))`` and mapped through the scenario's
distributions by :func:`policysim.analysis.transform_unit_samples`. Every batch is drawn whole,
so adding batches (``--precision``) or resuming never changes an earlier run, and two scenarios
with the same uncertainties and seed get the same seeds and draws (common random numbers).

When the scenario samples the synthetic county economy (``baseline.synthesis_seeds``), run ``i``
uses synthesis seed ``seeds[perm_b[i % count]]``, where ``perm_b`` is a permutation of
``range(count)`` drawn from ``SeedSequence(root_seed, spawn_key=(SYNTHESIS_KEY, b))`` for block
``b = i // count``: every block of ``count`` runs uses each seed once, in random order, and the
choice depends on ``(root_seed, i)`` only (not on workers or chunks).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.analysis import DistributionLike, latin_hypercube, transform_unit_samples
from policysim.errors import ScenarioError
from policysim.scenario.levers import check_lever_names, is_lever
from policysim.scenario.parameters import BEHAVIOUR_DEFAULTS
from policysim.scenario.schema import BaselineSpec

__all__ = [
    "DRAW_KEY_OFFSET",
    "SYNTHESIS_KEY",
    "draw_parameters",
    "draws_fingerprint",
    "explicit_draws",
    "run_seed",
    "seed_key",
    "synthesis_seed_of",
    "synthesis_seeds_of",
]

logger = logging.getLogger(__name__)

#: Spawn keys of the draw batches start here, far above any run id, so that the run streams
#: ``(i,)`` and the draw streams ``(DRAW_KEY_OFFSET + b,)`` never coincide (max_replications is
#: validated far below 1e9 by the schema's practical limits; 1e9 is a convention, not a source).
DRAW_KEY_OFFSET: Final = 10**9

#: First word of the spawn keys of the synthesis-seed blocks, ``(SYNTHESIS_KEY, block)``: a
#: two-word key, so it never equals a run key ``(i,)`` or a draw-batch key
#: ``(DRAW_KEY_OFFSET + b,)`` (a convention, not a source).
SYNTHESIS_KEY: Final = 2 * 10**9

Sampling = Literal["lhs", "monte_carlo"]


def synthesis_seeds_of(
    spec: BaselineSpec, root_seed: int, runs: Sequence[int] | npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The synthesis seed of each run (see the module text); ``spec.synthesis_seed`` for every
    run when the scenario samples none."""
    ids = np.asarray(runs, dtype=np.int64)
    seeds = np.asarray(spec.ensemble_seeds(), dtype=np.int64)
    if seeds.size == 1:
        return np.full(ids.size, seeds[0], dtype=np.int64)
    count = seeds.size
    out = np.empty(ids.size, dtype=np.int64)
    blocks = ids // count
    for b in np.unique(blocks):
        rng = np.random.default_rng(
            np.random.SeedSequence(root_seed, spawn_key=(SYNTHESIS_KEY, int(b)))
        )
        perm = rng.permutation(count)
        rows = blocks == b
        out[rows] = seeds[perm[ids[rows] % count]]
    return out


def synthesis_seed_of(spec: BaselineSpec, root_seed: int, run: int) -> int:
    """The synthesis seed of run ``run`` (see :func:`synthesis_seeds_of`)."""
    return int(synthesis_seeds_of(spec, root_seed, [run])[0])


def run_seed(root_seed: int, run: int) -> np.random.SeedSequence:
    """The seed sequence of run ``run``: ``SeedSequence(root_seed, spawn_key=(run,))``."""
    return np.random.SeedSequence(root_seed, spawn_key=(run,))


def seed_key(run: int) -> str:
    """The spawn key of run ``run`` as text, as recorded in the results: ``"(run,)"``."""
    return f"({run},)"


def _unit_batch(
    root_seed: int, batch: int, batch_size: int, k: int, sampling: Sampling
) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(
        np.random.SeedSequence(root_seed, spawn_key=(DRAW_KEY_OFFSET + batch,))
    )
    if sampling == "lhs":
        return latin_hypercube(batch_size, k, rng)
    return rng.random((batch_size, k))


def draw_parameters(
    uncertainties: Mapping[str, DistributionLike],
    runs: Sequence[int] | npt.NDArray[np.int64],
    *,
    root_seed: int,
    batch_size: int,
    sampling: Sampling = "lhs",
) -> pd.DataFrame:
    """Parameter values of the given runs, drawn from the scenario's uncertainties.

    Parameters
    ----------
    uncertainties : mapping of str to DistributionLike
        The scenario's ``uncertainties`` section; columns are ordered by name so that the order
        of keys in the file does not change the draws.
    runs : (n,) int sequence
        Run ids (replication numbers, 0-based), any order.
    root_seed : int
        The ensemble's root seed.
    batch_size : int
        Runs per draw batch (``ensemble.batch_size``).
    sampling : {"lhs", "monte_carlo"}
        Latin hypercube per batch, or independent uniforms.

    Returns
    -------
    DataFrame
        Columns ``replication``, ``seed_key`` and one float column per uncertain parameter (in the
        parameter's unit), one row per run in the order of ``runs``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size = {batch_size}: expected >= 1")
    ids = np.asarray(runs, dtype=np.int64)
    if ids.size and ids.min() < 0:
        raise ValueError("run ids must be >= 0")
    names = sorted(uncertainties)
    frame = pd.DataFrame(
        {"replication": ids, "seed_key": [seed_key(int(i)) for i in ids]},
    )
    if not names or not ids.size:
        for name in names:
            frame[name] = np.empty(0, dtype=np.float64)
        return frame
    dists = [uncertainties[n] for n in names]
    values = np.empty((ids.size, len(names)), dtype=np.float64)
    batches = ids // batch_size
    for b in np.unique(batches):
        unit = _unit_batch(root_seed, int(b), batch_size, len(names), sampling)
        rows = batches == b
        mapped = transform_unit_samples(unit[ids[rows] % batch_size], dists, names=names)
        values[rows] = mapped
    for j, name in enumerate(names):
        frame[name] = values[:, j]
    return frame


def explicit_draws(draws: pd.DataFrame, source: str = "draws") -> pd.DataFrame:
    """Check a table of explicit parameter values (one row per run) and number its runs.

    Parameters
    ----------
    draws : DataFrame
        One row per run; each column a behaviour parameter (its unit as in
        :data:`policysim.scenario.BEHAVIOUR_DEFAULTS`) or a lever
        (:mod:`policysim.scenario.levers`). Columns ``replication`` and ``seed_key``
        are ignored if present: run ``i`` is row ``i``.
    source : str
        Name used in error messages.

    Returns
    -------
    DataFrame
        ``replication, seed_key`` then the parameter columns as float.

    Raises
    ------
    ScenarioError
        For an unknown parameter name, a non-numeric or non-finite value, or no rows.
    """
    params = [c for c in draws.columns if c not in ("replication", "seed_key")]
    check_lever_names([str(c) for c in params if is_lever(str(c))], source)
    for c in params:
        if c not in BEHAVIOUR_DEFAULTS and not is_lever(str(c)):
            raise ScenarioError(
                source,
                "unknown behaviour parameter",
                key_path=str(c),
                expected="one of " + ", ".join(sorted(BEHAVIOUR_DEFAULTS)),
            )
    if draws.empty:
        raise ScenarioError(source, "no rows", expected="one row of parameter values per run")
    out = pd.DataFrame(
        {
            "replication": np.arange(len(draws), dtype=np.int64),
            "seed_key": [seed_key(i) for i in range(len(draws))],
        }
    )
    for c in params:
        col = pd.to_numeric(draws[c], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            row = int(bad[0])
            raise ScenarioError(
                source,
                f"row {row}: not a finite number",
                key_path=str(c),
                value=draws[c].iloc[row],
                expected="a finite float",
            )
        out[str(c)] = col
    return out


def draws_fingerprint(draws: pd.DataFrame) -> str:
    """SHA-256 of a draws table's parameter values (to check that a resumed run is the same)."""
    params = sorted(c for c in draws.columns if c not in ("replication", "seed_key"))
    h = hashlib.sha256(",".join(params).encode())
    for c in params:
        h.update(np.ascontiguousarray(draws[c].to_numpy(dtype=np.float64)).tobytes())
    return h.hexdigest()
