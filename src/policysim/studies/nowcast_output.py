"""Writing a nowcast: attainment before and after conditioning, scores, effective sample
sizes, events, the posterior table and figure, the outlook by year of information, briefing and
report (:func:`write_nowcast`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from policysim.analysis.units import unit_probabilities_from_counts
from policysim.experiments import build_manifest
from policysim.experiments.store import write_bytes
from policysim.plotting import hindcast_plot, save_figure
from policysim.plotting._common import new_figure
from policysim.report import render_report
from policysim.report.tables import csv_bytes
from policysim.studies.hindcast import json_safe, quantile_frame
from policysim.studies.nowcast_filter import LIU_WEST_DISCOUNT, STATIC_PARAMETERS
from policysim.vocabulary import SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH

if TYPE_CHECKING:
    from policysim.studies.nowcast import NowcastResult

__all__ = ["outlook_figure", "posterior_figure", "write_nowcast"]

logger = logging.getLogger(__name__)


def posterior_figure(result: NowcastResult) -> Figure:
    """Prior and posterior 5-95% ranges and medians of the uncertain parameters, each scaled
    to its prior range (0 = prior 5%, 1 = prior 95%)."""
    table = result.parameters
    n = len(table)
    fig = new_figure(7.0, max(2.0, 0.28 * n + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    for i, row in enumerate(table.to_dict("records")):
        lo, hi = row["prior_p05"], row["prior_p95"]
        span = hi - lo if hi > lo else 1.0

        def s(v: float, lo: float = lo, span: float = span) -> float:
            return (v - lo) / span

        ax.plot([0, 1], [i + 0.15, i + 0.15], color="#999999", lw=3)
        ax.plot(s(row["prior_median"]), i + 0.15, "o", color="#666666", ms=3)
        ax.plot(
            [s(row["posterior_p05"]), s(row["posterior_p95"])], [i - 0.15, i - 0.15],
            color="#1f5fa8", lw=3,
        )  # fmt: skip
        ax.plot(s(row["posterior_median"]), i - 0.15, "o", color="#1f5fa8", ms=3)
    ax.set_yticks(range(n))
    ax.set_yticklabels(table["parameter"].tolist(), fontsize=7)
    ax.set_xlabel("position in the prior 5-95% range (grey: prior, blue: posterior)")
    ax.set_title(f"Uncertain parameters given the statistics through {result.through}")
    ax.invert_yaxis()
    return fig


def outlook_figure(table: pd.DataFrame) -> Figure:
    """Probability of each target still ahead (deadline after the last year of information)
    by year of information, with 95% intervals."""
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    years = sorted({int(y) for y in table["through"]})
    ahead = table[table["year"] > max(years)]
    for target, group in ahead.groupby("target", sort=True):
        g = group.sort_values("through")
        x = g["through"].to_numpy()
        ax.plot(x, g["probability"].to_numpy(), marker="o", label=str(target))
        ax.fill_between(x, g["ci_low"].to_numpy(), g["ci_high"].to_numpy(), alpha=0.15)
    ax.set_ylim(0, 1)
    ax.set_xticks(years)
    ax.set_xticklabels([f"{y}\n(none)" if i == 0 else str(y) for i, y in enumerate(years)])
    ax.set_xlabel("statistics through (the first year: no conditioning)")
    ax.set_ylabel("probability the target is met")
    ax.set_title("Outlook by year of information")
    ax.legend(fontsize=7)
    return fig


def write_nowcast(
    result: NowcastResult, out_dir: Path, outlook_table: pd.DataFrame | None = None
) -> dict[str, Path]:
    """Write the nowcast's files, each atomically.

    Returns
    -------
    dict of str to Path
        ``scores`` (``scores.csv``: out of sample, the columns of ``hindcast.csv``),
        ``prior_scores`` (the same against the prior), ``crps`` (``crps.csv``), ``attainment``,
        ``parameters``, ``posterior_draws``, ``prior_draws``, ``ess``, ``events``,
        ``county_probabilities`` (with the synthetic-data caveat), ``briefing`` (``briefing.txt``),
        ``summary`` (``nowcast_summary.json``), ``manifest``, ``outlook`` (if given), figures and
        ``report`` (``report.html``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    w: dict[str, Path] = {}
    prior, post = result.prior, result.posterior
    sc = prior.loaded.scenario

    def put(key: str, name: str, frame: pd.DataFrame) -> None:
        w[key] = out / name
        write_bytes(w[key], csv_bytes(frame))

    put("scores", "scores.csv", result.scores)
    put("prior_scores", "prior_scores.csv", result.prior_scores)
    put("crps", "crps.csv", result.crps())
    put("attainment", "attainment.csv", result.attainment)
    put("parameters", "parameters.csv", result.parameters)
    put("posterior_draws", "posterior_draws.csv", post.draws)
    put("prior_draws", "prior_draws.csv", prior.draws)
    put("ess", "ess.csv", post.ess)
    put("events", "events.csv", post.events)
    counties = _county_probabilities(result)
    put("county_probabilities", "county_probabilities.csv", counties)
    if outlook_table is not None:
        put("outlook", "outlook.csv", outlook_table)
    briefing = [*result.briefing(), "", SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH]
    w["briefing"] = out / "briefing.txt"
    write_bytes(w["briefing"], ("\n".join(briefing) + "\n").encode("utf-8"))
    manifest = _manifest(result)
    w["manifest"] = out / "manifest.json"
    write_bytes(
        w["manifest"],
        json.dumps(manifest, indent=1, ensure_ascii=False, default=str).encode("utf-8"),
    )
    w["summary"] = out / "nowcast_summary.json"
    write_bytes(
        w["summary"],
        json.dumps(json_safe(_summary(result)), indent=1, ensure_ascii=False).encode("utf-8"),
    )
    figures = _write_figures(result, out, outlook_table, w)
    w["report"] = render_report(
        out / "report.html",
        title=f"policysim nowcast: {sc.metadata.name} through {result.through}",
        summary={
            "scenario": sc.metadata.name,
            "observed file": str(result.observed.path),
            "statistics through": str(result.through),
            "runs": f"{prior.n_runs}, root seed {prior.root_seed}",
            "smallest effective sample size": (
                f"{post.ess['ess'].min():.1f}" if len(post.ess) else "no conditioning"
            ),
            "run time": f"prior {prior.seconds:.1f} s, filter {post.seconds:.1f} s",
        },
        tables=[
            ("Target attainment before and after conditioning", result.attainment),
            ("Effective sample size per year of information", post.ess),
            ("Events", post.events),
            ("Out of sample (after the last year of information)", result.scores),
            ("Mean CRPS out of sample", result.crps()),
            ("Uncertain parameters", result.parameters),
        ],
        figures=figures,
        manifest=manifest,
        notes=[*result.briefing(), SYNTHETIC_CAVEAT_EN],
    )
    logger.info("wrote %d nowcast files to %s", len(w), out)
    return w


def _manifest(result: NowcastResult) -> dict[str, Any]:
    prior, post = result.prior, result.posterior
    manifest = build_manifest(prior)
    manifest["nowcast"] = {
        "observed_file": str(result.observed.path),
        "through": result.through,
        "obs_rel_sd": result.obs_rel_sd,
        "events": result.events_mode,
        "liu_west_discount": LIU_WEST_DISCOUNT,
        "static_parameters": sorted(STATIC_PARAMETERS),
        "filter_seconds": post.seconds,
        "prior_seconds": prior.seconds,
    }
    return manifest


def _summary(result: NowcastResult) -> dict[str, Any]:
    prior, post = result.prior, result.posterior
    return {
        "scenario": prior.loaded.scenario.metadata.name,
        "scenario_hash": prior.loaded.hash,
        "observed_file": str(result.observed.path),
        "through": result.through,
        "runs": prior.n_runs,
        "root_seed": prior.root_seed,
        "ess": post.ess.to_dict("records"),
        "crps": result.crps().to_dict("records"),
        "attainment": result.attainment.to_dict("records"),
        "briefing": result.briefing(),
        "seconds": {"prior": prior.seconds, "filter": post.seconds},
    }


def _write_figures(
    result: NowcastResult,
    out: Path,
    outlook_table: pd.DataFrame | None,
    w: dict[str, Path],
) -> list[tuple[str, Path]]:
    """The posterior of the parameters, each observed series conditioned then projected, and
    the outlook by year of information (added to ``w``)."""
    figures: list[tuple[str, Path]] = []
    w["plot_parameters"] = save_figure(
        posterior_figure(result), out / "figures" / "nowcast_parameters.png"
    )
    figures.append(("Uncertain parameters: prior and posterior", w["plot_parameters"]))
    obs = result.observed.series
    for indicator in dict.fromkeys(obs["indicator"]):
        name = str(indicator)
        rows = obs[obs["indicator"] == name][["year", "value"]]
        fig = hindcast_plot(quantile_frame(result.posterior.metrics, name), rows, name)
        fig.axes[0].axvline(result.through + 0.5, color="#aa3333", lw=0.8, ls="--")
        fig.axes[0].set_title(f"Nowcast through {result.through}: {name}")
        path = save_figure(fig, out / "figures" / f"nowcast_{name}.png")
        w[f"plot_{name}"] = path
        figures.append(
            (f"{name}: conditioned through {result.through} (dashed line), then projected", path)
        )
    if outlook_table is not None and not outlook_table.empty:
        w["plot_outlook"] = save_figure(
            outlook_figure(outlook_table), out / "figures" / "nowcast_outlook.png"
        )
        figures.append(("Outlook by year of information", w["plot_outlook"]))
    return figures


def _county_probabilities(result: NowcastResult) -> pd.DataFrame:
    """Per county: prior and posterior probability of being a provincial (pilot or designated)
    and a national innovative county in the end year, with the synthetic-data caveat."""
    end = result.prior.loaded.scenario.horizon.end_year

    def probs(metrics: pd.DataFrame, metric: str) -> pd.Series:
        rows = metrics[
            (metrics["level"] == "county")
            & (metrics["metric"] == metric)
            & (metrics["year"] == end)
        ]
        return rows.groupby(["code", "name"], observed=True)["value"].mean()

    def prior_probs(metric: str) -> pd.Series:
        # an ensemble streamed to a store keeps only its province rows in memory, and per-unit
        # counts of its report years (the end year among them) instead
        rows = probs(result.prior.metrics, metric)
        counts = result.prior.unit_counts
        if len(rows) or counts is None or end not in set(counts.cells["year"]):
            return rows
        table = unit_probabilities_from_counts(counts, metric, "county", (end,))
        return table.set_index(["code", "name"])[f"p_{end}"]

    frames = {
        "prior_provincial": prior_probs("designated"),
        "posterior_provincial": probs(result.posterior.metrics, "designated"),
        "prior_national": prior_probs("national"),
        "posterior_national": probs(result.posterior.metrics, "national"),
    }
    table = pd.DataFrame(frames).reset_index()
    table.insert(2, "year", end)
    table["caveat"] = SYNTHETIC_CAVEAT_EN
    return table
