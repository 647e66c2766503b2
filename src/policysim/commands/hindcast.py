"""``policysim hindcast`` and ``policysim calibrate``: score a scenario against observed history
and fit its uncertain parameters to it.

Register with ``register(app)``. User mistakes print one line on stderr and exit 2.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from policysim.commands._common import (
    check_cli_counts,
    check_input_file,
    err,
    fail_os,
    out,
    timestamped_dir,
)
from policysim.commands._common import fail as _fail
from policysim.errors import PolicysimError
from policysim.experiments.rundir import RunDirectory, check_output_dir, check_output_file

__all__ = ["register"]


def _num(v: object) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return ""
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        if a >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}"
    return escape(str(v))


def _pct(v: float) -> str:
    return "" if not math.isfinite(v) else f"{v:.0%}"


def _default_dir(base: Path, name: str, kind: str) -> Path:
    return timestamped_dir(base, f"{name}-{kind}")


def register(app: typer.Typer) -> None:
    """Add the ``hindcast`` and ``calibrate`` commands to ``app``."""

    @app.command()
    def hindcast(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        observed: Annotated[
            Path,
            typer.Option(
                help="Observed CSV (UTF-8): columns `indicator,year,value`, extra columns "
                "ignored; years within the scenario's horizon, base year included."
            ),
        ],
        replications: Annotated[
            int | None, typer.Option(help="Runs (default: the scenario's ensemble.replications).")
        ] = None,
        workers: Annotated[
            int, typer.Option(help="Local worker processes (1: in this process).")
        ] = 1,
        seed: Annotated[
            int | None, typer.Option(help="Root seed (default: the scenario's ensemble.root_seed).")
        ] = None,
        overrides: Annotated[
            list[str] | None,
            typer.Option("--set", help="Override a key: `--set horizon.end_year=2022`."),
        ] = None,
        out_dir: Annotated[
            Path | None,
            typer.Option(
                "--out", help="Output directory (default: `results/<scenario>-hindcast-<time>/`)."
            ),
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
        """Run a scenario's ensemble from its base year and score it against observed history.

        For each observation: the ensemble median, 50% and 90% intervals, whether the
        observation falls inside, its percentile in the ensemble (PIT) and CRPS; per indicator:
        interval coverage, MAPE of the median and mean CRPS. Writes `hindcast.csv`,
        `hindcast_summary.json`, one plot per indicator, `manifest.json` and `report.html`.

        Indicators: rd_expenditure_100m_cny, rd_intensity_pct, gdp_100m_cny, hnte_count,
        provincial_innovative_counties, innovative_townships, national_innovative_counties.

        Examples:

            policysim hindcast scenarios/jiangxi_hindcast.yaml --observed scenarios/observed/jiangxi_2017_2022.csv

            policysim hindcast scenarios/jiangxi_hindcast.yaml --observed scenarios/observed/jiangxi_2017.csv --replications 50 --workers 2 --out results/hc
        """
        from policysim.experiments.store import PartsStore
        from policysim.scenario import load_scenario
        from policysim.studies.hindcast import (
            read_hindcast_observed,
            run_hindcast,
            write_hindcast,
        )

        try:
            if out_dir is not None:
                check_output_dir(out_dir)  # before any work
            check_cli_counts(replications=replications, workers=workers)
            check_input_file(observed, "--observed")
            loaded = load_scenario(scenario, overrides or ())
            read_hindcast_observed(observed, loaded.scenario)  # fail before creating anything
            target = (
                out_dir
                if out_dir is not None
                else _default_dir(Path(loaded.scenario.outputs.dir), loaded.name, "hindcast")
            )
            with RunDirectory(target, command="hindcast", force=force) as rundir:
                result = run_hindcast(
                    loaded,
                    observed,
                    replications=replications,
                    seed=seed,
                    workers=workers,
                    store=target,
                    progress=not quiet,
                )
                written = write_hindcast(result, target)
                rundir.complete(written)
                PartsStore(target).remove()
        except PolicysimError as exc:
            _fail(exc)
            return
        except OSError as exc:
            fail_os(exc, out_dir)
            return
        ens = result.ensemble
        if not quiet:
            out.print(
                f"{ens.n_runs} runs ({ens.n_failed} failed) in {ens.seconds:.1f} s, root seed "
                f"{ens.root_seed}; {len(result.table)} observations",
                highlight=False,
                markup=False,
            )
            table = Table(title=f"Hindcast: {escape(loaded.name)} against {escape(str(observed))}")
            for col in (
                "indicator",
                "year",
                "observed",
                "median",
                "50% interval",
                "90% interval",
                "in50",
                "in90",
                "PIT",
                "CRPS",
            ):
                table.add_column(col, justify="left" if col == "indicator" else "right")
            for row in result.table.to_dict("records"):
                mark = "" if row["informative"] else " *"
                table.add_row(
                    escape(str(row["indicator"])),
                    str(row["year"]),
                    _num(float(row["observed"])),
                    _num(float(row["median"])),
                    f"{_num(float(row['p25']))} - {_num(float(row['p75']))}",
                    f"{_num(float(row['p05']))} - {_num(float(row['p95']))}",
                    _num(bool(row["in50"])),
                    _num(bool(row["in90"])),
                    f"{float(row['pit']):.2f}{mark}",
                    _num(float(row["crps"])),
                )
            out.print(table)
            summary = Table(title="Per indicator")
            for col in ("indicator", "n", "informative", "cover 50%", "cover 90%", "MAPE", "CRPS"):
                summary.add_column(col, justify="left" if col == "indicator" else "right")
            for name, s in sorted(result.summary.items()):
                summary.add_row(
                    escape(name),
                    str(int(s["n"])),
                    str(int(s["n_informative"])),
                    _pct(s["coverage50"]),
                    _pct(s["coverage90"]),
                    "" if not math.isfinite(s["mape_median"]) else f"{s['mape_median']:.1f}%",
                    _num(s["mean_crps"]),
                )
            out.print(summary)
            out.print(
                "* the ensemble has no spread here (a value the model starts from): the "
                "observation says nothing about calibration.",
                highlight=False,
                markup=False,
            )
            out.print("Written:", highlight=False)
            for name, path in written.items():
                out.print(f"  {name}: {path}", highlight=False, markup=False)
        if ens.n_failed:
            err.print(
                f"[bold red]{ens.n_failed} of {ens.n_runs} runs failed[/]; scores use the rest",
                highlight=False,
            )
            raise typer.Exit(code=1)

    @app.command()
    def calibrate(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file (its uncertainties).")],
        observed: Annotated[
            Path,
            typer.Option(help="Observed CSV: `indicator,year,value` (as for `hindcast`)."),
        ],
        replications: Annotated[
            int | None,
            typer.Option(help="Prior runs (default: the scenario's ensemble.replications)."),
        ] = None,
        accept: Annotated[
            float, typer.Option(help="Share of runs accepted (closest to the observations).")
        ] = 0.1,
        min_narrowing: Annotated[
            float,
            typer.Option(
                help="Fit a parameter only if its accepted 5-95% width is at most (1 - this) "
                "of the prior's; otherwise keep the prior."
            ),
        ] = 0.3,
        shape: Annotated[
            str, typer.Option(help="Fitted distribution: `triangular` or `uniform`.")
        ] = "triangular",
        workers: Annotated[
            int, typer.Option(help="Local worker processes (1: in this process).")
        ] = 1,
        seed: Annotated[
            int | None, typer.Option(help="Root seed (default: the scenario's ensemble.root_seed).")
        ] = None,
        overrides: Annotated[
            list[str] | None,
            typer.Option(
                "--set",
                help="Override a key for the calibration runs, e.g. a shorter horizon: "
                "`--set horizon.end_year=2020` (recorded, not carried into the output).",
            ),
        ] = None,
        out_file: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Fitted scenario to write (default: `<scenario>_calibrated.yaml` beside "
                "the input); a report `<name>.fit.json` goes beside it.",
            ),
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar or tables.")] = False,
    ) -> None:
        """Fit the scenario's uncertain parameters to observed series by ABC rejection.

        Runs the ensemble over the scenario's uncertainties (the prior), keeps the runs closest
        to the observations (each scaled by its prior-predictive spread) and writes a scenario
        that `extends` the input with the fitted distributions of the parameters the data
        narrow; the others keep their prior. Prints the fit of each parameter and observation.

        Examples:

            policysim calibrate scenarios/jiangxi_hindcast.yaml --observed scenarios/observed/jiangxi_2017_2022.csv --replications 400 --workers 4

            policysim calibrate my.yaml --observed obs.csv --set horizon.end_year=2020 --accept 0.05 --out fitted.yaml
        """
        from policysim.errors import ScenarioError
        from policysim.scenario import load_scenario
        from policysim.studies.calibrate import calibrate as run_calibration
        from policysim.studies.calibrate import write_calibrated
        from policysim.studies.hindcast import read_hindcast_observed

        try:
            if shape not in ("triangular", "uniform"):
                raise ScenarioError(
                    None,
                    "unknown shape",
                    key_path="--shape",
                    value=shape,
                    expected="triangular or uniform",
                )
            if out_file is not None:
                check_output_file(out_file)  # before any work
            check_cli_counts(replications=replications, workers=workers)
            check_input_file(observed, "--observed")
            loaded = load_scenario(scenario, overrides or ())
            read_hindcast_observed(observed, loaded.scenario)
            target = (
                out_file
                if out_file is not None
                else loaded.path.with_name(f"{loaded.path.stem}_calibrated.yaml")
            )
            check_output_file(target)
            if target.suffix.lower() not in (".yaml", ".yml"):
                raise ScenarioError(
                    None,
                    "bad output file",
                    key_path="--out",
                    value=str(target),
                    expected="a path ending in .yaml",
                )
            result = run_calibration(
                loaded,
                observed,
                replications=replications,
                accept=accept,
                min_narrowing=min_narrowing,
                shape="uniform" if shape == "uniform" else "triangular",
                seed=seed,
                workers=workers,
                progress=not quiet,
            )
            written = write_calibrated(result, target)
        except PolicysimError as exc:
            _fail(exc)
            return
        if not quiet:
            out.print(
                f"ABC rejection: {result.n_accepted} of {len(result.runs)} runs accepted "
                f"(root seed {result.ensemble.root_seed})",
                highlight=False,
                markup=False,
            )
            params = Table(title="Parameters (prior 5-95% vs accepted 5-95%)")
            for col in (
                "parameter",
                "prior",
                "prior 5-95%",
                "accepted median",
                "accepted 5-95%",
                "width ratio",
                "fitted",
            ):
                params.add_column(
                    col, justify="left" if col in ("parameter", "prior", "fitted") else "right"
                )
            priors = dict(
                zip(
                    result.parameter_table()["parameter"],
                    result.parameter_table()["prior"],
                    strict=True,
                )
            )
            for p in result.parameters:
                params.add_row(
                    escape(p.name),
                    escape(str(priors[p.name])),
                    f"{p.prior_q05:.4g} - {p.prior_q95:.4g}",
                    f"{p.median:.4g}",
                    f"{p.q05:.4g} - {p.q95:.4g}",
                    f"{p.width_ratio:.2f}",
                    "[green]fitted[/]" if p.identified else "prior kept",
                )
            out.print(params)
            fit = Table(title="Fit to the observations (prior vs accepted runs, median [5-95%])")
            for col in ("indicator", "year", "observed", "used", "prior", "accepted"):
                fit.add_column(col, justify="left" if col == "indicator" else "right")
            for row in result.fit.to_dict("records"):
                fit.add_row(
                    escape(str(row["indicator"])),
                    str(row["year"]),
                    _num(float(row["observed"])),
                    _num(bool(row["used"])),
                    escape(
                        f"{_num(float(row['prior_median']))} [{_num(float(row['prior_p05']))}, "
                        f"{_num(float(row['prior_p95']))}]"
                    ),
                    escape(
                        f"{_num(float(row['post_median']))} [{_num(float(row['post_p05']))}, "
                        f"{_num(float(row['post_p95']))}]"
                    ),
                )
            out.print(fit)
            out.print("Written:", highlight=False)
            for name, path in written.items():
                out.print(f"  {name}: {path}", highlight=False, markup=False)
