"""Every study resumes (issues 12, 16, 19): ``compare``, ``frontier``, ``hindcast`` and
``calibrate`` killed with SIGKILL mid-way, then run again with ``--resume``, give the results of
an uninterrupted run without running the stored runs again; a resume after the scenario (or the
observed file) changed is refused with a one-line error; and the results are the same for 1 and
2 workers and on a Dask cluster.

All on the tiny scenario with a few runs. The kill is made at a known point (after the N-th
stored chunk, see ``study_killer.py``) rather than by racing a timer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import policysim.experiments.runner
from policysim.cli import app
from policysim.errors import ScenarioError
from policysim.experiments.rundir import directory_state
from policysim.experiments.store import STUDY_RUNS_DIR
from policysim.experiments.worker import ChunkOutput, ChunkTask
from policysim.studies.calibrate import calibrate
from policysim.studies.compare import compare_scenarios
from policysim.studies.frontier import budget_frontier
from policysim.studies.hindcast import run_hindcast

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"
KILLER = Path(__file__).resolve().parent / "study_killer.py"
#: An edit of the user scenario that changes the resolved scenario.
EDIT = "behaviour: {county_batch_size: {value: 2, unit: count, source: test}}\n"
OBSERVED = "indicator,year,value\nhnte_count,2017,190\nhnte_count,2019,230\nhnte_count,2020,260\n"

runner = CliRunner()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A user scenario extending the tiny one (edited by the refusal tests)."""
    path = tmp_path / "mine.yaml"
    path.write_text(f"extends: {TINY.as_posix()}\nmetadata: {{name: mine}}\n", encoding="utf-8")
    return path


@pytest.fixture
def observed(tmp_path: Path) -> Path:
    path = tmp_path / "observed.csv"
    path.write_text(OBSERVED, encoding="utf-8")
    return path


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Runs made in this process (workers 1), one entry per run."""
    done: list[int] = []
    real = policysim.experiments.runner.run_chunk

    def counting(task: ChunkTask) -> ChunkOutput:
        done.extend(task.runs)
        return real(task)

    monkeypatch.setattr(policysim.experiments.runner, "run_chunk", counting)
    return done


def _cli(*args: object) -> tuple[int, str]:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.output


def _killed(after_chunks: int, *args: object) -> None:
    """Run ``policysim ARGS`` in a new process killed (SIGKILL) after its N-th stored chunk."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "POLICYSIM_KILL_AFTER_CHUNKS": str(after_chunks),
    }
    proc = subprocess.run(
        [sys.executable, str(KILLER), *map(str, args)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]


def _stored_runs(out: Path) -> int:
    """Runs stored in the parts of an interrupted study."""
    return sum(
        int(p.name.split("-")[2].split(".")[0]) - int(p.name.split("-")[1]) + 1
        for p in out.rglob("part-*.parquet")
    )


def _refused(code: int, output: str, what: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
    assert f"cannot resume: {what} changed" in output


def _tables(out: Path, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    return {n: pd.read_csv(out / n) for n in names}


def _same_tables(a: Path, b: Path, names: tuple[str, ...]) -> None:
    ta, tb = _tables(a, names), _tables(b, names)
    for n in names:
        pd.testing.assert_frame_equal(ta[n], tb[n], check_exact=True, obj=n)


def _kill_refuse_resume(
    out: Path,
    reference: Path,
    args: tuple[object, ...],
    after_chunks: int,
    total_runs: int,
    change: Callable[[], str],
    restore: Callable[[], None],
    counted: list[int],
) -> None:
    """Kill the study, refuse a resume after ``change``, resume after ``restore``, then check
    that only the runs not stored were made and that the directory is complete."""
    _killed(after_chunks, *args, "--out", out)
    assert directory_state(out).state == "in progress"
    stored = _stored_runs(out)
    assert 0 < stored < total_runs
    what = change()
    code, output = _cli(*args, "--out", out, "--resume")
    _refused(code, output, what)
    restore()
    code, output = _cli(*args, "--out", out, "--resume")
    assert code == 0, output
    assert len(counted) == total_runs - stored  # the stored runs were not run again
    assert directory_state(out).state == "complete"
    assert not (out / STUDY_RUNS_DIR).exists() and not (out / ".parts").exists()
    assert reference.is_dir()


def _edit(path: Path, extra: str) -> Callable[[], None]:
    """Append ``extra`` to a file; returns the function that restores it."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text + extra, encoding="utf-8")
    return lambda: path.write_text(text, encoding="utf-8")


# -- killed, refused, resumed: identical --------------------------------------------------------


@pytest.mark.slow
def test_compare_killed_then_resumed_is_identical(
    scenario: Path, tmp_path: Path, counted: list[int]
) -> None:
    args = ("compare", scenario, TINY, "--set", "allocation.strategy=equal",
            "--replications", "6", "--seed", "3", "--marginal", "--marginal-replications", "2",
            "--quiet", "--lang", "en")  # fmt: skip
    reference = tmp_path / "reference"
    code, output = _cli(*args, "--out", reference)
    assert code == 0, output
    counted.clear()
    restore: list[Callable[[], None]] = []
    _kill_refuse_resume(
        tmp_path / "cmp", reference, args, after_chunks=4, total_runs=2 * 6 + 3 * 2,
        change=lambda: restore.append(_edit(scenario, EDIT)) or "the resolved scenario",
        restore=lambda: restore[0](), counted=counted,
    )  # fmt: skip
    _same_tables(reference, tmp_path / "cmp",
                 ("comparison.csv", "comparison_metrics.csv", "counties.csv",
                  "marginal_groups.csv"))  # fmt: skip


@pytest.mark.slow
def test_frontier_killed_then_resumed_is_identical(
    scenario: Path, tmp_path: Path, counted: list[int]
) -> None:
    args = ("frontier", scenario, "--budgets", "0.2,0.4,0.6", "--replications", "4",
            "--seed", "3", "--quiet")  # fmt: skip
    reference = tmp_path / "reference"
    code, output = _cli(*args, "--out", reference)
    assert code == 0, output
    counted.clear()
    restore: list[Callable[[], None]] = []
    _kill_refuse_resume(
        tmp_path / "fr", reference, args, after_chunks=6, total_runs=3 * 4,
        change=lambda: restore.append(_edit(scenario, EDIT)) or "the resolved scenario",
        restore=lambda: restore[0](), counted=counted,
    )  # fmt: skip
    _same_tables(reference, tmp_path / "fr", ("frontier.csv", "smallest_budget.csv"))


@pytest.mark.slow
def test_hindcast_killed_then_resumed_is_identical(
    scenario: Path, observed: Path, tmp_path: Path, counted: list[int]
) -> None:
    args = ("hindcast", scenario, "--observed", observed, "--replications", "8",
            "--seed", "3", "--quiet")  # fmt: skip
    reference = tmp_path / "reference"
    code, output = _cli(*args, "--out", reference)
    assert code == 0, output
    counted.clear()
    restore: list[Callable[[], None]] = []
    _kill_refuse_resume(
        tmp_path / "hc", reference, args, after_chunks=2, total_runs=8,
        change=lambda: restore.append(_edit(observed, "hnte_count,2018,200\n")) or "a user file",
        restore=lambda: restore[0](), counted=counted,
    )  # fmt: skip
    _same_tables(reference, tmp_path / "hc", ("hindcast.csv", "draws.csv"))
    summary = [json.loads((d / "hindcast_summary.json").read_text()) for d in
               (reference, tmp_path / "hc")]  # fmt: skip
    assert summary[0] == summary[1]


@pytest.mark.slow
def test_calibrate_killed_then_resumed_is_identical(
    scenario: Path, observed: Path, tmp_path: Path, counted: list[int]
) -> None:
    args = ("calibrate", scenario, "--observed", observed, "--replications", "20", "--accept", "0.25", "--seed", "3", "--quiet")  # fmt: skip
    reference = tmp_path / "reference" / "fitted.yaml"
    code, output = _cli(*args, "--out", reference)
    assert code == 0, output
    assert not (tmp_path / "reference" / "fitted.runs").exists()  # removed once written
    counted.clear()
    fitted = tmp_path / "cal" / "fitted.yaml"
    work = tmp_path / "cal" / "fitted.runs"
    fitted.parent.mkdir()
    _killed(2, *args, "--out", fitted)
    assert directory_state(work).state == "in progress" and not fitted.exists()
    stored = _stored_runs(work)
    assert 0 < stored < 20
    code, output = _cli(*args, "--out", fitted)  # without --resume: refused, nothing lost
    assert code == 2 and "--resume" in output and len(output.strip().splitlines()) == 1
    restore = _edit(scenario, EDIT)
    code, output = _cli(*args, "--out", fitted, "--resume")
    _refused(code, output, "the resolved scenario")
    restore()
    code, output = _cli(*args, "--out", fitted, "--resume")
    assert code == 0, output
    assert len(counted) == 20 - stored
    assert not work.exists()

    def body(path: Path) -> object:
        return yaml.safe_load(path.read_text(encoding="utf-8"))

    def fit(path: Path) -> object:
        data = json.loads(path.with_suffix(".fit.json").read_text(encoding="utf-8"))
        return {k: data[k] for k in ("runs", "accepted", "root_seed", "parameters", "fit")}

    assert body(reference) == body(fitted)
    assert fit(reference) == fit(fitted)


@pytest.mark.slow
def test_sensitivity_killed_then_resumed_is_identical(
    scenario: Path, tmp_path: Path, counted: list[int]
) -> None:
    two = ("uncertainties={firm_entry_rate: {distribution: uniform, low: 0.03, high: 0.10}, "
           "hnte_stock_2017: {distribution: uniform, low: 135, high: 235}}")  # fmt: skip
    args = ("sensitivity", scenario, "--method", "morris", "--samples", "4", "--set", two,
            "--seed", "3", "--quiet")  # fmt: skip
    reference = tmp_path / "reference"
    code, output = _cli(*args, "--out", reference)
    assert code == 0, output
    counted.clear()
    restore: list[Callable[[], None]] = []
    _kill_refuse_resume(
        tmp_path / "sa", reference, args, after_chunks=2, total_runs=4 * 3,
        change=lambda: restore.append(_edit(scenario, EDIT)) or "the resolved scenario",
        restore=lambda: restore[0](), counted=counted,
    )  # fmt: skip
    _same_tables(reference, tmp_path / "sa", ("sensitivity_indices.csv", "sensitivity_runs.csv"))


@pytest.mark.slow
def test_force_over_an_interrupted_study_starts_it_afresh(scenario: Path, tmp_path: Path) -> None:
    """``--force`` deletes the interrupted study's stores (every ``runs/`` sub-store) and runs
    it again from the start; without ``--resume`` or ``--force`` it is refused."""
    out = tmp_path / "fr"
    args = ("frontier", scenario, "--budgets", "0.2,0.4", "--replications", "4", "--seed", "3",
            "--quiet", "--out", out)  # fmt: skip
    _killed(3, *args)
    assert any((out / STUDY_RUNS_DIR).rglob("part-*.parquet"))
    code, output = _cli(*args)
    assert code == 2 and "holds an interrupted frontier" in output and "--resume" in output
    code, output = _cli(*args, "--force")
    assert code == 0, output
    assert directory_state(out).state == "complete"
    assert not (out / STUDY_RUNS_DIR).exists()


def test_resume_without_out_is_one_line_error() -> None:
    for command in (("compare", TINY), ("frontier", TINY, "--budgets", "1,2")):
        code, output = _cli(*command, "--resume")
        assert code == 2 and "--resume needs" in output, output
        assert len(output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"workers": 0}, "bad worker count"),
        ({"workers": 100_000}, "bad worker count"),
        ({"scheduler": "not a url"}, "not a scheduler address"),
    ],
)
def test_study_api_checks_workers_and_scheduler(
    kw: dict[str, object], message: str, observed: Path, tmp_path: Path
) -> None:
    """The Python API of every study checks the engine's options before any run."""
    calls: list[Callable[[], object]] = [
        lambda: compare_scenarios([TINY], replications=1, marginal=False, **kw),  # type: ignore[arg-type]
        lambda: budget_frontier(TINY, [0.2], replications=1, **kw),  # type: ignore[arg-type]
        lambda: run_hindcast(TINY, observed, replications=1, store=tmp_path / "hc", **kw),  # type: ignore[arg-type]
        lambda: calibrate(TINY, observed, replications=20, **kw),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(ScenarioError, match=message):
            call()
    assert not (tmp_path / "hc").exists()


# -- the same numbers for any workers and backend ---------------------------------------------


def _compare_tables(result: object) -> list[pd.DataFrame]:
    assert hasattr(result, "table")
    return [result.table, result.counties, result.metrics, result.decisions]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_compare_and_frontier_identical_for_one_and_two_workers(tmp_path: Path) -> None:
    kw = {"replications": 5, "seed": 4}
    one = compare_scenarios([TINY, TINY], workers=1, marginal=False, **kw)  # type: ignore[arg-type]
    two = compare_scenarios(
        [TINY, TINY],
        workers=2,
        marginal=False,
        store=tmp_path / "c2",
        **kw,  # type: ignore[arg-type]
    )
    for a, b in zip(_compare_tables(one), _compare_tables(two), strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    f1 = budget_frontier(TINY, [0.2, 0.5], workers=1, **kw)  # type: ignore[arg-type]
    f2 = budget_frontier(TINY, [0.2, 0.5], workers=2, store=tmp_path / "f2", **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(f1.table, f2.table, check_exact=True)


@pytest.mark.slow
def test_hindcast_identical_on_a_dask_cluster(observed: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    kw = {"replications": 6, "seed": 4}
    local = run_hindcast(TINY, observed, workers=2, **kw)  # type: ignore[arg-type]
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        dask = run_hindcast(
            TINY,
            observed,
            scheduler=cluster.scheduler_address,
            store=tmp_path / "hc",
            **kw,  # type: ignore[arg-type]
        )
    pd.testing.assert_frame_equal(local.table, dask.table, check_exact=True)
    pd.testing.assert_frame_equal(local.ensemble.draws, dask.ensemble.draws, check_exact=True)


# -- the same numbers on 1 worker, 2 workers and a Dask cluster, for every study ---------------


@pytest.fixture(scope="module")
def dask_scheduler() -> object:
    """A local Dask cluster of two worker processes shared by the backend tests."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        yield cluster.scheduler_address


_SENSITIVITY_TWO = (
    "uncertainties={firm_entry_rate: {distribution: uniform, low: 0.03, high: 0.10}, "
    "hnte_stock_2017: {distribution: uniform, low: 135, high: 235}}"
)

#: Each study on the tiny scenario: its command line (without --out and the backend) and the
#: tables (or files) that must be identical whatever runs it.
_STUDIES: dict[str, tuple[tuple[object, ...], tuple[str, ...]]] = {
    "compare": (
        ("compare", TINY, TINY, "--replications", "4", "--seed", "5", "--quiet"),
        ("comparison.csv", "comparison_metrics.csv", "counties.csv"),
    ),
    "frontier": (
        (
            "frontier",
            TINY,
            "--budgets",
            "0.2,0.5",
            "--replications",
            "4",
            "--seed",
            "5",
            "--quiet",
        ),
        ("frontier.csv", "smallest_budget.csv"),
    ),
    "hindcast": (
        (
            "hindcast",
            TINY,
            "--observed",
            "{observed}",
            "--replications",
            "6",
            "--seed",
            "5",
            "--quiet",
        ),
        ("hindcast.csv",),
    ),
    "sensitivity": (
        (
            "sensitivity",
            TINY,
            "--method",
            "morris",
            "--samples",
            "3",
            "--set",
            _SENSITIVITY_TWO,
            "--seed",
            "5",
            "--quiet",
        ),
        ("sensitivity_indices.csv", "sensitivity_runs.csv"),
    ),
    "calibrate": (
        (
            "calibrate",
            TINY,
            "--observed",
            "{observed}",
            "--replications",
            "20",
            "--accept",
            "0.25",
            "--seed",
            "5",
            "--quiet",
        ),
        (),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("study", sorted(_STUDIES))
def test_every_study_identical_on_one_and_two_workers_and_dask(
    study: str, observed: Path, tmp_path: Path, dask_scheduler: str
) -> None:
    """Issue 12: every study gives the same numbers on 1 worker, 2 workers and a Dask
    LocalCluster (the runs' seeds and draws do not depend on who runs them)."""
    args, tables = _STUDIES[study]
    args = tuple(str(a).replace("{observed}", str(observed)) for a in args)
    backends = {"one": ("--workers", "1"), "two": ("--workers", "2"),
                "dask": ("--scheduler", dask_scheduler)}  # fmt: skip
    outs: dict[str, Path] = {}
    for name, backend in backends.items():
        out = tmp_path / name
        if study == "calibrate":
            out.mkdir()
            out = out / "fitted.yaml"
        code, output = _cli(*args, *backend, "--out", out)
        assert code == 0, output
        outs[name] = out
    if study == "calibrate":
        texts = {n: p.read_text(encoding="utf-8") for n, p in outs.items()}
        fits = {
            n: {k: v for k, v in json.loads(p.with_suffix(".fit.json").read_text("utf-8")).items()
                if k in ("runs", "accepted", "root_seed", "parameters", "fit")}
            for n, p in outs.items()
        }  # fmt: skip
        assert texts["one"] == texts["two"] == texts["dask"]
        assert fits["one"] == fits["two"] == fits["dask"]
        return
    _same_tables(outs["one"], outs["two"], tables)
    _same_tables(outs["one"], outs["dask"], tables)


_NOWCAST_OBSERVED = (
    "indicator,year,value,code,status\n"
    "rd_expenditure_100m_cny,2018,30,,made up\n"
    "hnte_count,2019,300,,made up\n"
    "rd_expenditure_100m_cny,2022,40,,made up\n"
)


@pytest.mark.slow
def test_nowcast_killed_then_resumed_is_identical(tmp_path: Path, counted: list[int]) -> None:
    """Issue 19 ("resumable like every study"): a nowcast killed while its prior ensemble is
    stored resumes it without running the stored runs again, refuses a resume after the
    observed file changed, and writes the outputs of an uninterrupted nowcast (the filter
    reruns from the stored runs: its streams are deterministic)."""
    obs = tmp_path / "obs.csv"
    obs.write_text(_NOWCAST_OBSERVED, encoding="utf-8")
    args = ("nowcast", TINY, "--observed", obs, "--through", "2020", "--replications", "12",
            "--seed", "3", "--quiet")  # fmt: skip
    reference = tmp_path / "reference"
    code, output = _cli(*args, "--out", reference)
    assert code == 0, output
    counted.clear()
    restore: list[Callable[[], None]] = []
    _kill_refuse_resume(
        tmp_path / "nc", reference, args, after_chunks=1, total_runs=12,
        change=lambda: restore.append(_edit(obs, "hnte_count,2020,310,,made up\n"))
        or "a user file",
        restore=lambda: restore[0](), counted=counted,
    )  # fmt: skip
    _same_tables(reference, tmp_path / "nc", ("scores.csv", "ess.csv", "attainment.csv"))
