"""Reporting a sensitivity study: the leading factors in plain words (:func:`plain_summary`)
and the run directory's tables, figures and report (:func:`write_sensitivity`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from policysim.report.tables import csv_bytes
from policysim.studies.discovery import describe_miss

if TYPE_CHECKING:
    from policysim.studies.sensitivity import Method, SensitivityResult

__all__ = ["TOP_PARAMETERS", "plain_summary", "write_sensitivity"]

logger = logging.getLogger(__name__)


#: Parameters listed per output in the plain-words summary.
TOP_PARAMETERS: Final = 3


def _ranked(indices: pd.DataFrame, method: Method) -> pd.DataFrame:
    key = "ST" if method == "sobol" else "mu_star"
    return indices.sort_values(key, ascending=False, kind="stable")


def plain_summary(result: SensitivityResult) -> list[str]:
    """Findings in plain words: the leading factors of each attainment output, what explains
    the misses (scenario discovery), and the caveats of the method.

    Returns
    -------
    list of str
        One sentence each.
    """
    lines: list[str] = []
    idx = result.indices
    has_quantity = "quantity" in idx.columns
    outputs = list(dict.fromkeys(idx["output"]))
    for output in outputs:
        rows = idx[idx["output"] == output]
        if has_quantity and str(rows["quantity"].iloc[0]) != "attainment":
            continue
        if bool(rows["constant"].iloc[0]):
            mean = float(result.outputs[output].iloc[0])
            lines.append(f"{output}: the same in every run ({mean:g}); no parameter matters.")
            continue
        top = _ranked(rows, result.method).head(TOP_PARAMETERS)
        if result.method == "sobol":
            parts = [
                f"{r.parameter} (total {r.ST:.2f} ± {r.ST_conf:.2f}, first-order {r.S1:.2f} ± {r.S1_conf:.2f})"
                for r in top.itertuples(index=False)
            ]
            unexplained = 1.0 - float(np.nansum(rows["S1"].to_numpy(dtype=np.float64)))
            tail = f"; {max(unexplained, 0.0):.0%} of the variance is not explained by single parameters (interactions and model randomness)"
        else:
            parts = [
                f"{r.parameter} (mu* {r.mu_star:.3g} ± {r.mu_star_conf:.3g}, sigma {r.sigma:.3g})"
                for r in top.itertuples(index=False)
            ]
            tail = ""
        mean = float(result.outputs[output].mean())
        lines.append(
            f"{output} (mean {mean:.2f}): driven most by " + ", then ".join(parts) + tail + "."
        )
    if result.loaded is not None:
        for t in result.loaded.scenario.targets:
            prim = result.discoveries.get(t.name)
            if prim is not None:
                lines.append(describe_miss(prim, t) + ".")
    if result.method == "sobol":
        lines.append(
            "Every run has its own random seed: model randomness is part of the variance no "
            "parameter explains and raises each total index (ST) by about its share; first-order "
            "indices (S1) are unbiased but noisier. Intervals are 95% bootstrap half-widths."
        )
    else:
        lines.append(
            "Morris mu* is the mean absolute elementary effect: the change of the output per "
            "move across a parameter's whole quantile range (output units), estimated from moves "
            "of two thirds of it; sigma large against mu* means interactions, non-linearity or "
            "(here) model randomness."
        )
    lines.append(
        "Scenario discovery (PRIM) is run over the design's rows; coverage is the share of all "
        "misses inside the box, density the share of misses among the runs in the box."
    )
    return lines


def write_sensitivity(result: SensitivityResult, out_dir: Path) -> dict[str, Path]:
    """Write the indices table, the design with its outputs, figures and a short HTML report.

    Files (all written atomically): ``sensitivity_indices.csv``, ``sensitivity_runs.csv``
    (design and outputs per run), ``sensitivity_attainment.png`` and
    ``sensitivity_values.png`` (or one ``sensitivity.png`` for studies without targets),
    ``discovery.csv`` (scenario studies) and ``sensitivity_report.html``.

    Parameters
    ----------
    result : SensitivityResult
        The study.
    out_dir : Path
        Directory (created if missing).

    Returns
    -------
    dict of str to Path
        What was written, by kind.
    """
    from policysim.experiments.store import write_bytes
    from policysim.report import render_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    path = out / "sensitivity_indices.csv"
    write_bytes(path, csv_bytes(result.indices))
    written["indices"] = path
    runs = pd.concat([result.design, result.outputs], axis=1)
    runs.insert(0, "run", np.arange(len(runs)))
    path = out / "sensitivity_runs.csv"
    write_bytes(path, csv_bytes(runs))
    written["runs"] = path
    figures = _write_figures(result, out, written)
    tables: list[tuple[str, pd.DataFrame]] = []
    if result.loaded is not None:
        discovery = _discovery_table(result)
        path = out / "discovery.csv"
        write_bytes(path, csv_bytes(discovery))
        written["discovery"] = path
        tables.append(("Scenario discovery: boxes where runs miss a target", discovery))
    index_cols = ["output", "parameter"] + (
        ["S1", "S1_conf", "ST", "ST_conf"]
        if result.method == "sobol"
        else ["mu_star", "mu_star_conf", "sigma"]
    )
    tables.insert(0, ("Sensitivity indices", result.indices[index_cols]))
    name = result.loaded.name if result.loaded is not None else "model"
    summary, manifest = _summary_and_manifest(result, name)
    path = out / "sensitivity_report.html"
    written["report"] = render_report(
        path,
        title=f"Sensitivity analysis: {name}",
        summary=summary,
        tables=tables,
        figures=figures,
        manifest=manifest,
        notes=list(result.notes) or plain_summary(result),
    )
    logger.info("sensitivity outputs written to %s", out)
    return written


def _write_figures(
    result: SensitivityResult, out: Path, written: dict[str, Path]
) -> list[tuple[str, Path]]:
    """The index plots (attainment and values, or one for studies without targets)."""
    from policysim.plotting import save_figure, sensitivity_plot

    figures: list[tuple[str, Path]] = []
    varying = result.indices[~result.indices["constant"]]
    groups: list[tuple[str, str, pd.DataFrame]]
    if "quantity" in varying.columns:
        groups = [
            (
                "attainment",
                "Sensitivity of target attainment (0/1 per run)",
                varying[varying["quantity"] == "attainment"],
            ),
            (
                "values",
                "Sensitivity of target metrics in the target year",
                varying[varying["quantity"] == "value"],
            ),
        ]
    else:
        groups = [("", "Sensitivity indices", varying)]
    for suffix, caption, table in groups:
        if table.empty:
            continue
        fig = sensitivity_plot(table)
        name = f"sensitivity_{suffix}.png" if suffix else "sensitivity.png"
        written[f"figure_{suffix or 'indices'}"] = save_figure(fig, out / name)
        figures.append((caption, out / name))
    return figures


def _discovery_table(result: SensitivityResult) -> pd.DataFrame:
    """The restricted limits of each target's PRIM box (``discovery.csv``)."""
    disc_rows: list[dict[str, object]] = []
    targets = result.loaded.scenario.targets if result.loaded is not None else ()
    for t in targets:
        prim = result.discoveries.get(t.name)
        if prim is None:
            continue
        for r in prim.limits.itertuples(index=False):
            if not r.restricted:
                continue
            disc_rows.append(
                {
                    "target": t.name,
                    "parameter": r.parameter,
                    "lower": r.lower,
                    "upper": r.upper,
                    "coverage": prim.box.coverage,
                    "density": prim.box.density,
                    "support": prim.box.support,
                }
            )
    return pd.DataFrame(
        disc_rows,
        columns=["target", "parameter", "lower", "upper", "coverage", "density", "support"],
    )


def _summary_and_manifest(
    result: SensitivityResult, name: str
) -> tuple[dict[str, str], dict[str, object]]:
    summary = {
        "scenario": name,
        "method": "Sobol' (Saltelli design, first-order and total)"
        if result.method == "sobol"
        else "Morris (4 levels)",
        "factors": ", ".join(result.problem["names"]),
        "sample size": f"N = {result.samples}, {result.n_runs} runs",
        "seed": str(result.seed),
        "time": f"{result.seconds:.1f} s",
    }
    manifest: dict[str, object] = {
        "method": result.method,
        "samples": result.samples,
        "seed": result.seed,
        "root_seed": result.root_seed,
        "factors": list(result.problem["names"]),
        "runs": result.n_runs,
    }
    if result.loaded is not None:
        manifest["scenario_hash"] = result.loaded.hash
        manifest["scenario_path"] = str(result.loaded.path)
        manifest["overrides"] = list(result.loaded.overrides)
    return summary, manifest
