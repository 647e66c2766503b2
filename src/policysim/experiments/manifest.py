"""A run directory's manifest (``manifest.json``): the scenario as run, the seeds and how every
run's seeds derive from them, the package versions, the baseline data's checksums, the solver,
the times and the counts of runs.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
import re
from typing import Any

from policysim.data.caveat import county_caveat, county_economy_synthetic
from policysim.experiments.design import DRAW_KEY_OFFSET, SYNTHESIS_KEY, synthesis_seeds_of
from policysim.experiments.runner import EnsembleResult
from policysim.simulation import baseline_for
from policysim.vocabulary import strategy

__all__ = ["build_manifest"]


def _versions() -> dict[str, str]:
    """Versions of policysim and its declared dependencies (importlib.metadata)."""
    out: dict[str, str] = {"python": platform.python_version()}
    try:
        out["policysim"] = md.version("policysim")
        requires = md.requires("policysim") or []
    except md.PackageNotFoundError:  # pragma: no cover - running from a source tree
        requires = []
    for req in requires:
        if "extra ==" in req:
            continue
        name = re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _solver(result: EnsembleResult) -> dict[str, Any]:
    a = result.loaded.scenario.allocation
    info: dict[str, Any] = {"strategy": a.strategy}
    if strategy(a.strategy).kind == "optimiser":
        info["name"] = "HiGHS (highspy) via Pyomo"
        for pkg in ("highspy", "pyomo"):
            try:
                info[f"{pkg}_version"] = md.version(pkg)
            except md.PackageNotFoundError:  # pragma: no cover
                info[f"{pkg}_version"] = "not installed"
        info["options"] = {"time_limit_s": a.solver.time_limit_s, "mip_gap": a.solver.mip_gap}
    else:
        info["name"] = "none (rule strategy, closed-form plan)"
        info["options"] = {}
    return info


def build_manifest(result: EnsembleResult) -> dict[str, Any]:
    """The run's manifest: scenario, seeds, versions, data checksums, solver, times, counts."""
    sc = result.loaded.scenario
    baseline = baseline_for(sc)
    n = result.n_runs
    batch = sc.ensemble.batch_size
    n_batches = (n + batch - 1) // batch
    return {
        "scenario": {
            "name": sc.metadata.name,
            "file": str(result.loaded.path),
            "chain": [str(p) for p in result.loaded.chain],
            "overrides": list(result.loaded.overrides),
            "hash": result.loaded.hash,
            "resolved": result.loaded.resolved,
        },
        "seeds": {
            "root_seed": result.root_seed,
            "run_seed": "numpy.random.SeedSequence(root_seed, spawn_key=(replication,))",
            "spawn_keys": [[int(i)] for i in result.draws["replication"]],
            "sampling": sc.ensemble.sampling,
            "draw_batch_size": batch,
            "draw_batch_spawn_keys": [[DRAW_KEY_OFFSET + b] for b in range(n_batches)],
        },
        "versions": _versions(),
        "data": {
            "baseline": baseline.name,
            "synthesis_seed": baseline.synthesis_seed,
            "synthesis_seeds": list(sc.baseline.ensemble_seeds()),
            "synthesis_seed_of_run": (
                "baseline.synthesis_seed"
                if sc.baseline.synthesis_seeds is None
                else "seeds[permutation_b[replication % count]], permutation_b drawn from "
                f"SeedSequence(root_seed, spawn_key=({SYNTHESIS_KEY}, replication // count))"
            ),
            "synthesis_seed_per_run": synthesis_seeds_of(
                sc.baseline, result.root_seed, result.draws["replication"].to_numpy()
            ).tolist(),
            "county_economy_synthetic": county_economy_synthetic(baseline),
            "caveat": county_caveat(baseline),
            "synthesis_version": baseline.synthesis_version,
            "checksums_sha256": dict(baseline.checksums),
        },
        "solver": _solver(result),
        "times": {"start": result.started, "end": result.ended, "seconds": result.seconds},
        "runs": {
            "requested_or_reached": n,
            "completed": n - result.n_failed,
            "failed": result.n_failed,
            "precision": result.precision,
            "half_width": result.half_width,
            "workers": result.workers,
            "scheduler": result.scheduler,
        },
        "warnings_in_runs": result.warnings,
    }
