"""``policysim sensitivity``: Sobol' indices or Morris screening of a scenario's targets."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from policysim.commands._common import check_cli_counts, fail, fail_os, out, timestamped_dir
from policysim.errors import PolicysimError
from policysim.experiments.rundir import RunDirectory, check_output_dir
from policysim.experiments.runner import check_scheduler

__all__ = ["register"]


def _default_dir(base: str, name: str, method: str) -> Path:
    return timestamped_dir(Path(base), f"{name}-sensitivity-{method}")


def register(app: typer.Typer) -> None:
    """Add the ``sensitivity`` command to ``app``."""

    @app.command()
    def sensitivity(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        method: Annotated[
            str, typer.Option(help="`sobol` (first-order and total indices) or `morris`.")
        ] = "sobol",
        samples: Annotated[
            int | None,
            typer.Option(
                help="Sobol': base sample N, a power of 2 (runs = N x (factors + 2)); Morris: "
                "trajectories (runs = N x (factors + 1)). Default 64 (Sobol') or 20 (Morris)."
            ),
        ] = None,
        workers: Annotated[
            int, typer.Option(help="Local worker processes (1: in this process).")
        ] = 1,
        seed: Annotated[
            int | None,
            typer.Option(help="Root seed of runs and design (default: ensemble.root_seed)."),
        ] = None,
        out_dir: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Output directory (default: `results/<scenario>-sensitivity-<method>-<time>/`).",
            ),
        ] = None,
        levers: Annotated[
            bool,
            typer.Option(
                "--levers",
                help="Also vary the budget (x0.5-1.5) and the factor-formula weights.",
            ),
        ] = False,
        scheduler: Annotated[
            str | None,
            typer.Option(help="Dask scheduler address, e.g. `tcp://10.0.0.5:8786`."),
        ] = None,
        overrides: Annotated[
            list[str] | None,
            typer.Option("--set", help="Override a key: `--set horizon.end_year=2025`."),
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar or tables.")] = False,
        force: Annotated[
            bool,
            typer.Option(
                "--force",
                help="Write into a folder policysim did not create, or replace what it holds.",
            ),
        ] = False,
    ) -> None:
        """Which uncertain parameters drive each target: global sensitivity of every target's
        attainment (0/1 per run) and of its metric in the target year, with 95% intervals; a
        table (CSV), plots, scenario discovery of the misses (PRIM) and an HTML report.

        Examples:

            policysim sensitivity scenarios/jiangxi_baseline.yaml --method morris --samples 10

            policysim sensitivity scenarios/jiangxi_baseline.yaml --samples 64 --workers 4

            policysim sensitivity scenarios/jiangxi_baseline.yaml --levers --out results/sa
        """
        from policysim.scenario import load_scenario
        from policysim.studies.sensitivity import scenario_sensitivity, write_sensitivity

        try:
            if out_dir is not None:
                check_output_dir(out_dir)  # before any work
            check_cli_counts(workers=workers)
            check_scheduler(scheduler)
            loaded = load_scenario(scenario, overrides or ())
            if method not in ("sobol", "morris"):
                from policysim.errors import ScenarioError

                raise ScenarioError(
                    scenario,
                    "unknown sensitivity method",
                    key_path="--method",
                    value=method,
                    expected="sobol or morris",
                )
            target = (
                out_dir
                if out_dir is not None
                else _default_dir(loaded.scenario.outputs.dir, loaded.name, method)
            )
            with RunDirectory(target, command="sensitivity", force=force) as rundir:
                result = scenario_sensitivity(
                    loaded,
                    method="sobol" if method == "sobol" else "morris",
                    samples=samples,
                    seed=seed,
                    workers=workers,
                    scheduler=scheduler,
                    levers=levers,
                    store=None if levers else target / "runs",
                    progress=not quiet,
                )
                written = write_sensitivity(result, target)
                rundir.complete(written)
                if not levers:
                    from policysim.experiments.store import PartsStore

                    PartsStore(target / "runs").remove()
                    with contextlib.suppress(OSError):  # only if nothing else is in it
                        (target / "runs").rmdir()
        except PolicysimError as exc:
            fail(exc)
        except OSError as exc:
            fail_os(exc, out_dir)
        if not quiet:
            out.print(
                f"{result.n_runs} runs ({result.method}, N = {result.samples}, "
                f"{len(result.problem['names'])} factors) in {result.seconds:.1f} s",
                highlight=False,
            )
            table = Table(title="Leading factor per output")
            key = "ST" if result.method == "sobol" else "mu_star"
            for col in ("output", "parameter", key, "interval"):
                table.add_column(col)
            for output, rows in result.indices.groupby("output", sort=False):
                if bool(rows["constant"].iloc[0]):
                    table.add_row(str(output), "(constant output)", "", "")
                    continue
                top = rows.sort_values(key, ascending=False).iloc[0]
                table.add_row(
                    str(output),
                    str(top["parameter"]),
                    f"{float(top[key]):.3g}",
                    f"± {float(top[key + '_conf']):.2g}",
                )
            out.print(table)
            for note in result.notes:
                out.print(f"- {note}", highlight=False, markup=False)
            out.print("Written:", highlight=False)
            for name, path in written.items():
                out.print(f"  {name}: {path}", highlight=False, markup=False)
