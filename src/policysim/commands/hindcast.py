"""``policysim hindcast`` and ``policysim calibrate``: score a scenario against observed history
and fit its uncertain parameters to it.

Register with ``register(app)``. User mistakes print one line on stderr and exit 2.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from policysim.commands._common import (
    Force,
    OneLineErrors,
    OutDir,
    Overrides,
    Quiet,
    Replications,
    Resume,
    ScenarioFile,
    Scheduler,
    Seed,
    StudyDirectory,
    Workers,
    check_before_work,
    check_input_file,
    err,
    out,
    print_written,
    resolved_seed,
    study_dir,
)
from policysim.errors import ScenarioError
from policysim.experiments.rundir import MARKER_FILE, check_output_file

if TYPE_CHECKING:
    from policysim.studies.calibrate import CalibrationResult
    from policysim.studies.hindcast import HindcastResult

__all__ = ["register"]

#: ``--observed`` of ``hindcast`` and ``calibrate``.
Observed = Annotated[
    Path,
    typer.Option(
        help="Observed CSV (UTF-8): columns `indicator,year,value`, extra columns ignored; "
        "years within the scenario's horizon, base year included."
    ),
]

# -- the options of calibrate alone --------------------------------------------------------------

UncertainScenario = Annotated[Path, typer.Argument(help="Scenario YAML file (its uncertainties).")]
PriorReplications = Annotated[
    int | None,
    typer.Option(help="Prior runs (default: the scenario's ensemble.replications)."),
]
Accept = Annotated[
    float, typer.Option(help="Share of runs accepted (closest to the observations).")
]
MinNarrowing = Annotated[
    float,
    typer.Option(
        help="Fit a parameter only if its accepted 5-95% width is at most (1 - this) "
        "of the prior's; otherwise keep the prior."
    ),
]
Shape = Annotated[str, typer.Option(help="Fitted distribution: `triangular` or `uniform`.")]
FittedScenario = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Fitted scenario to write (default: `<scenario>_calibrated.yaml` beside "
        "the input); a report `<name>.fit.json` goes beside it. The prior runs stream to "
        "`<name>.runs/` beside it until the fit is written.",
    ),
]


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


def hindcast(
    scenario: ScenarioFile,
    observed: Observed,
    replications: Replications = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    seed: Seed = None,
    overrides: Overrides = None,
    out_dir: OutDir = None,
    quiet: Quiet = False,
    resume: Resume = False,
    force: Force = False,
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

        policysim hindcast scenarios/jiangxi_hindcast.yaml --observed scenarios/observed/jiangxi_2017_2022.csv --out results/hc --resume
    """
    from policysim.scenario import load_scenario
    from policysim.studies.hindcast import read_hindcast_observed, run_hindcast, write_hindcast
    from policysim.studies.runs import study_key

    with OneLineErrors(out_dir) as errors:
        check_before_work(out_dir=out_dir, resume=resume, replications=replications,
                          workers=workers, scheduler=scheduler)  # fmt: skip
        check_input_file(observed, "--observed")
        loaded = load_scenario(scenario, overrides or ())
        read_hindcast_observed(observed, loaded.scenario)  # fail before creating anything
        target = errors.writes_to(study_dir(out_dir, loaded, "hindcast"))
        root_seed = resolved_seed(loaded, seed)
        key = study_key([loaded], root_seed, user_files=[observed])
        with StudyDirectory(target, command="hindcast", resume=resume, force=force,
                            key=key) as study:  # fmt: skip
            result = run_hindcast(
                loaded,
                observed,
                replications=replications,
                seed=root_seed,
                workers=workers,
                scheduler=scheduler,
                store=target,
                resume=resume,
                progress=not quiet,
            )
            written = study.finish(write_hindcast(result, target))
    if not quiet:
        _print_hindcast(result, observed, written)
    ens = result.ensemble
    if ens.n_failed:
        err.print(
            f"[bold red]{ens.n_failed} of {ens.n_runs} runs failed[/]; scores use the rest",
            highlight=False,
        )
        raise typer.Exit(code=1)


def _print_hindcast(result: HindcastResult, observed: Path, written: dict[str, Path]) -> None:
    """The scores on the terminal."""
    ens = result.ensemble
    name = ens.loaded.name
    out.print(
        f"{ens.n_runs} runs ({ens.n_failed} failed) in {ens.seconds:.1f} s, root seed "
        f"{ens.root_seed}; {len(result.table)} observations",
        highlight=False,
        markup=False,
    )
    table = Table(title=f"Hindcast: {escape(name)} against {escape(str(observed))}")
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
    print_written(written)


def calibrate(
    scenario: UncertainScenario,
    observed: Observed,
    replications: PriorReplications = None,
    accept: Accept = 0.1,
    min_narrowing: MinNarrowing = 0.3,
    shape: Shape = "triangular",
    workers: Workers = 1,
    scheduler: Scheduler = None,
    seed: Seed = None,
    overrides: Overrides = None,
    out_file: FittedScenario = None,
    quiet: Quiet = False,
    resume: Resume = False,
    force: Force = False,
) -> None:
    """Fit the scenario's uncertain parameters to observed series by ABC rejection.

    Runs the ensemble over the scenario's uncertainties (the prior), keeps the runs closest
    to the observations (each scaled by its prior-predictive spread) and writes a scenario
    that `extends` the input with the fitted distributions of the parameters the data
    narrow; the others keep their prior. Prints the fit of each parameter and observation.
    The --set overrides apply to the calibration runs (recorded, not carried into the output).

    Examples:

        policysim calibrate scenarios/jiangxi_hindcast.yaml --observed scenarios/observed/jiangxi_2017_2022.csv --replications 400 --workers 4

        policysim calibrate my.yaml --observed obs.csv --set horizon.end_year=2020 --accept 0.05 --out fitted.yaml

        policysim calibrate my.yaml --observed obs.csv --out fitted.yaml --resume
    """
    from policysim.scenario import load_scenario
    from policysim.studies.calibrate import calibrate as run_calibration
    from policysim.studies.calibrate import write_calibrated
    from policysim.studies.hindcast import read_hindcast_observed
    from policysim.studies.runs import study_key

    with OneLineErrors() as errors:
        _check_shape(shape)
        if out_file is not None:
            check_output_file(out_file)  # before any work
        check_before_work(replications=replications, workers=workers, scheduler=scheduler)
        check_input_file(observed, "--observed")
        loaded = load_scenario(scenario, overrides or ())
        read_hindcast_observed(observed, loaded.scenario)
        target = _fitted_scenario_file(out_file, loaded.path)
        work = errors.writes_to(calibration_runs_dir(target))
        root_seed = resolved_seed(loaded, seed)
        key = study_key([loaded], root_seed, user_files=[observed])
        with StudyDirectory(work, command="calibrate", resume=resume, force=force,
                            key=key) as study:  # fmt: skip
            result = run_calibration(
                loaded,
                observed,
                replications=replications,
                accept=accept,
                min_narrowing=min_narrowing,
                shape="uniform" if shape == "uniform" else "triangular",
                seed=root_seed,
                workers=workers,
                scheduler=scheduler,
                progress=not quiet,
                store=work,
                resume=resume,
            )
            written = write_calibrated(result, target)
            study.finish({})  # the fitted scenario goes beside the runs' folder, not in it
        _remove_runs_dir(work)
    if not quiet:
        _print_calibration(result, written)


def _check_shape(shape: str) -> None:
    """``--shape`` must be ``triangular`` or ``uniform``."""
    if shape not in ("triangular", "uniform"):
        raise ScenarioError(None, "unknown shape", key_path="--shape", value=shape,
                            expected="triangular or uniform")  # fmt: skip


def _fitted_scenario_file(out_file: Path | None, scenario: Path) -> Path:
    """Where ``calibrate`` writes the fitted scenario (``--out``, default
    ``<scenario>_calibrated.yaml`` beside the input), checked: a writable ``.yaml`` path."""
    target = out_file or scenario.with_name(f"{scenario.stem}_calibrated.yaml")
    check_output_file(target)
    if target.suffix.lower() not in (".yaml", ".yml"):
        raise ScenarioError(None, "bad output file", key_path="--out", value=str(target),
                            expected="a path ending in .yaml")  # fmt: skip
    return target


def calibration_runs_dir(target: Path) -> Path:
    """Where ``calibrate --out FILE`` streams its prior runs until the fit is written (the run
    directory that ``--resume`` continues): ``FILE`` without its suffix, plus ``.runs``."""
    return Path(target).with_name(f"{Path(target).stem}.runs")


def _remove_runs_dir(work: Path) -> None:
    """The finished calibration's run folder: its marker, then the folder if empty."""
    import contextlib

    (work / MARKER_FILE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        work.rmdir()


def _print_calibration(result: CalibrationResult, written: dict[str, Path]) -> None:
    """The fit on the terminal."""
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
    print_written(written)


def register(app: typer.Typer) -> None:
    """Add the ``hindcast`` and ``calibrate`` commands to ``app``."""
    app.command()(hindcast)
    app.command()(calibrate)
