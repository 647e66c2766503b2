"""``policysim nowcast``: a scenario's ensemble conditioned on the observations so far, then
projected to the end of its horizon.

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
    resolved_seed,
    study_dir,
)
from policysim.errors import ScenarioError

if TYPE_CHECKING:
    import pandas as pd

    from policysim.scenario import LoadedScenario
    from policysim.studies.nowcast import NowcastResult
    from policysim.studies.nowcast_observed import NowcastObservations

__all__ = ["register"]


def _pct(v: float) -> str:
    return "" if not math.isfinite(v) else f"{v:.0%}"


def _num(v: float) -> str:
    if not math.isfinite(v):
        return ""
    a = abs(v)
    return f"{v:,.0f}" if a >= 1000 else f"{v:.1f}" if a >= 10 else f"{v:.3g}"


Observed = Annotated[
    Path,
    typer.Option(
        help="Observed CSV (UTF-8): `indicator,year,value[,code]`; province series "
        "(the hindcast indicators) and events (pilot_county, national_county with a "
        "county code; county_batch_size, national_batch_size)."
    ),
]
Through = Annotated[
    int | None,
    typer.Option(
        help="Last year of information (default: the file's last year); later "
        "observations are scored out of sample, not used."
    ),
]
Events = Annotated[
    str,
    typer.Option(
        help="Named-county events in runs that did not produce them: `force` (the "
        "county takes the seat of the run's last new entrant) or `filter` (exact "
        "conditioning: a named pilot gets weight 0 where missed; named national counties "
        "weigh each run by their probability and redraw its nomination given them)."
    ),
]
ObsSd = Annotated[
    float,
    typer.Option(
        "--obs-sd",
        help="Relative standard deviation of the observation error (model discrepancy included).",
    ),
]
Outlook = Annotated[
    bool,
    typer.Option(
        "--outlook",
        help="Also condition through every earlier year of information and write the "
        "outlook by year (outlook.csv and a figure).",
    ),
]


def nowcast(
    scenario: ScenarioFile,
    observed: Observed,
    through: Through = None,
    replications: Replications = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    seed: Seed = None,
    events: Events = "force",
    obs_sd: ObsSd = 0.10,
    outlook: Outlook = False,
    overrides: Overrides = None,
    out_dir: OutDir = None,
    resume: Resume = False,
    quiet: Quiet = False,
    force: Force = False,
) -> None:
    """Condition a scenario's ensemble on what has been observed, then project it.

    A particle filter over whole runs (docs/NOWCAST.md): the prior ensemble is stepped year
    by year; at each year of information up to --through the runs are weighted by the
    observations (events: contradicting runs get weight 0, or the named county is forced),
    resampled (copies continue from a clone of the state with fresh streams) and the copies'
    uncertain parameters are jittered (Liu-West). Writes `scores.csv` (observations after
    --through, scored as `hindcast.csv`), `attainment.csv` (before and after), `ess.csv`,
    `events.csv`, `parameters.csv`, `briefing.txt`, figures, `manifest.json`, `report.html`.

    Examples:

        policysim nowcast scenarios/jiangxi_nowcast.yaml --observed scenarios/observed/jiangxi_nowcast.csv

        policysim nowcast scenarios/jiangxi_nowcast.yaml --observed scenarios/observed/jiangxi_nowcast.csv --through 2020 --replications 200 --outlook --out results/nc2020
    """
    from policysim.scenario import load_scenario
    from policysim.studies.nowcast import check_through, read_nowcast_observed

    with OneLineErrors(out_dir) as errors:
        check_before_work(out_dir=out_dir, resume=resume, replications=replications,
                          workers=workers, scheduler=scheduler)  # fmt: skip
        _check_options(events, obs_sd)
        check_input_file(observed, "--observed")
        loaded = load_scenario(scenario, overrides or ())
        obs = read_nowcast_observed(observed, loaded.scenario)  # fail before creating anything
        last = check_through(through, obs, loaded.scenario)
        target = errors.writes_to(study_dir(out_dir, loaded, "nowcast"))
        result, written = _run_and_write(
            loaded, observed, obs, target, last,
            replications=replications, seed=seed, workers=workers, scheduler=scheduler,
            events=events, obs_sd=obs_sd, outlook=outlook, resume=resume, force=force,
            quiet=quiet,
        )  # fmt: skip
    if not quiet:
        _print_nowcast(result, written)


def _run_and_write(
    loaded: LoadedScenario,
    observed: Path,
    obs: NowcastObservations,
    target: Path,
    last: int,
    *,
    replications: int | None,
    seed: int | None,
    workers: int,
    scheduler: str | None,
    events: str,
    obs_sd: float,
    outlook: bool,
    resume: bool,
    force: bool,
    quiet: bool,
) -> tuple[NowcastResult, dict[str, Path]]:
    """The nowcast (and ``--outlook``) in its study folder, resumable under a key of the
    scenario, seed, observations and options; the files written."""
    from policysim.experiments.runner import resume_key
    from policysim.experiments.store import PARTS_DIR
    from policysim.studies.nowcast import run_nowcast, write_nowcast

    key = resume_key(loaded, resolved_seed(loaded, seed), user_files=[observed])
    key.update(through=last, events=events, obs_sd=obs_sd)
    with StudyDirectory(target, command="nowcast", resume=resume, force=force, key=key) as study:
        result = run_nowcast(
            loaded,
            observed,
            through=last,
            replications=replications,
            seed=seed,
            workers=workers,
            scheduler=scheduler,
            obs_rel_sd=obs_sd,
            events="filter" if events == "filter" else "force",
            store=target,
            resume=resume and (target / PARTS_DIR / "config.json").is_file(),
            progress=False if quiet else f"nowcast prior: {loaded.name}",
        )
        table = (
            _outlook(loaded, result, obs, observed, last, obs_sd=obs_sd, events=events)
            if outlook
            else None
        )
        written = study.finish(write_nowcast(result, target, table), study_stores=False)
    return result, written


def _outlook(
    loaded: LoadedScenario,
    result: NowcastResult,
    obs: NowcastObservations,
    observed: Path,
    last: int,
    *,
    obs_sd: float,
    events: str,
) -> pd.DataFrame:
    """``--outlook``: the targets' probabilities conditioned through every year of information
    up to --through (the base year: unconditioned), on the same prior ensemble."""
    from policysim.studies.nowcast import outlook

    base = loaded.scenario.horizon.base_year
    years = [base, *[y for y in obs.years() if base < y <= last]]
    return outlook(
        loaded,
        observed,
        years,
        result.prior,
        obs_rel_sd=obs_sd,
        events="filter" if events == "filter" else "force",
    )


def _check_options(events: str, obs_sd: float) -> None:
    """``--events`` and ``--obs-sd`` (before any work)."""
    if events not in ("force", "filter"):
        raise ScenarioError(
            None, "unknown mode", key_path="--events", value=events, expected="force or filter"
        )
    if not (math.isfinite(obs_sd) and obs_sd > 0):
        raise ScenarioError(
            None, "not a positive number", key_path="--obs-sd", value=obs_sd,
            expected="a relative standard deviation > 0, e.g. 0.05",
        )  # fmt: skip


def _print_nowcast(result: NowcastResult, written: dict[str, Path]) -> None:
    """The nowcast on the terminal: ESS, events, attainment before and after, CRPS."""
    prior, post = result.prior, result.posterior
    out.print(
        f"{prior.n_runs} runs, root seed {prior.root_seed}; statistics through "
        f"{result.through}; prior ensemble {prior.seconds:.1f} s, filter {post.seconds:.1f} s",
        highlight=False,
        markup=False,
    )
    _print_filter(result)
    _print_outcomes(result)
    for line in result.briefing():
        out.print(line, highlight=False, markup=False)
    out.print("Written:", highlight=False)
    for name, path in written.items():
        out.print(f"  {name}: {path}", highlight=False, markup=False)
    if len(post.ess) and float(post.ess["ess"].min()) < 0.05 * prior.n_runs:
        err.print(
            "[yellow]warning:[/] the effective sample size fell below 5% of the runs; "
            "use more --replications for a steadier nowcast",
            highlight=False,
        )


def _print_filter(result: NowcastResult) -> None:
    """Effective sample size per year, and the events with the runs that carried them."""
    post = result.posterior
    ess = Table(title="Effective sample size per year of information")
    for col in ("year", "series", "events", "ESS", "share", "distinct runs"):
        ess.add_column(col, justify="right")
    for row in post.ess.to_dict("records"):
        ess.add_row(
            str(row["year"]),
            str(row["series"]),
            str(row["events"]),
            f"{row['ess']:.1f}",
            _pct(float(row["ess_share"])),
            str(row["distinct_runs"]),
        )
    out.print(ess)
    if len(post.events):
        ev = Table(title="Events")
        for col in ("event", "year", "county", "value", "runs carrying it", "handling"):
            ev.add_column(
                col, justify="left" if col in ("event", "county", "handling") else "right"
            )
        for row in post.events.to_dict("records"):
            ev.add_row(
                escape(str(row["indicator"])),
                str(row["year"]),
                escape(f"{row['code']} {row['name']}".strip()),
                f"{row['value']:g}",
                f"{row['carried']} of {row['runs']}",
                escape(str(row["handling"])),
            )
        out.print(ev)


def _print_outcomes(result: NowcastResult) -> None:
    """Attainment before and after conditioning, and the out-of-sample CRPS."""
    att = Table(title="Target attainment: before and after conditioning (95% intervals)")
    for col in ("target", "year", "before", "after", "change"):
        att.add_column(col, justify="left" if col == "target" else "right")
    for row in result.attainment.to_dict("records"):
        att.add_row(
            escape(str(row["target"])) + ("" if row["remaining"] else " (past)"),
            str(row["year"]),
            f"{_pct(row['prior_probability'])} [{_pct(row['prior_ci_low'])}-"
            f"{_pct(row['prior_ci_high'])}]",
            f"{_pct(row['posterior_probability'])} [{_pct(row['posterior_ci_low'])}-"
            f"{_pct(row['posterior_ci_high'])}]",
            f"{row['change']:+.0%}",
        )
    out.print(att)
    crps = result.crps()
    if len(crps):
        ct = Table(title=f"Out of sample (after {result.through}): mean CRPS, lower is better")
        for col in ("indicator", "n", "unconditioned", "nowcast"):
            ct.add_column(col, justify="left" if col == "indicator" else "right")
        for row in crps.to_dict("records"):
            ct.add_row(
                escape(str(row["indicator"])),
                str(row["n"]),
                _num(float(row["prior_crps"])),
                _num(float(row["nowcast_crps"])),
            )
        out.print(ct)


def register(app: typer.Typer) -> None:
    """Add the ``nowcast`` command to ``app``."""
    app.command()(nowcast)
