"""The one error wrapper and run directory of the commands (``commands/_common.py``): a user error
is one line and a non-zero exit with no partial output; a finished result is never replaced
without ``--force``; every study command goes through them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from policysim.commands import compare as compare_cmd
from policysim.commands import hindcast as hindcast_cmd
from policysim.commands import nowcast as nowcast_cmd
from policysim.commands import run as run_cmd
from policysim.commands import sensitivity as sensitivity_cmd
from policysim.commands._common import OneLineErrors, StudyDirectory
from policysim.errors import DataError, ScenarioError
from policysim.experiments.rundir import LOCK_FILE, MARKER_FILE

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"

Run = Callable[[Path], str]
Write = Callable[[str, Path], dict[str, Path]]


def _toy_app(run: Run, write: Write, *, on_interrupt: Any = None) -> typer.Typer:
    """A study command in the shape every study command has."""
    app = typer.Typer()

    @app.command()
    def study(out: Path, force: bool = False, resume: bool = False) -> None:
        with (
            OneLineErrors(out, on_interrupt=on_interrupt),
            StudyDirectory(out, command="toy", resume=resume, force=force, key={"k": 1}) as study,
        ):
            result = run(out)
            written = study.finish(write(result, out))
        typer.echo(f"done {result} {sorted(written)}")

    return app


def _write_table(result: str, out: Path) -> dict[str, Path]:
    path = out / "table.csv"
    path.write_text(f"value\n{result}\n", encoding="utf-8")
    return {"table": path}


def _stored_run(out: Path) -> str:
    """A run that streams a part into the directory's store, as an ensemble does."""
    parts = out / ".parts"
    parts.mkdir()
    (parts / "config.json").write_text("{}", encoding="utf-8")
    return "42"


def _invoke(app: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _one_error_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return str(lines[0])


def _marker(out: Path) -> dict[str, Any]:
    data = json.loads((out / MARKER_FILE).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_user_error_before_any_output_leaves_no_folder(tmp_path: Path) -> None:
    def run(out: Path) -> str:
        raise ScenarioError(None, "bad lever", key_path="levers.budget", value=-1)

    out = tmp_path / "study"
    result = _invoke(_toy_app(run, _write_table), str(out))
    assert result.exit_code == 2
    assert "levers.budget = -1: bad lever" in _one_error_line(result)
    assert not out.exists()  # the folder this command created is gone: no partial output


def test_user_error_while_writing_never_marks_the_study_complete(tmp_path: Path) -> None:
    def write(result: str, out: Path) -> dict[str, Path]:
        raise DataError("observed.csv", "not a number", row=3, column="value")

    out = tmp_path / "study"
    result = _invoke(_toy_app(_stored_run, write), str(out))
    assert result.exit_code == 2
    assert "row 3" in _one_error_line(result)
    # the stored runs stay for --resume; nothing claims to be a result
    assert _marker(out)["state"] == "in progress"
    assert (out / ".parts" / "config.json").is_file()
    assert not (out / "table.csv").exists()
    assert not (out / LOCK_FILE).exists()


def test_finished_study_is_never_replaced_without_force(tmp_path: Path) -> None:
    calls: list[Path] = []

    def run(out: Path) -> str:
        calls.append(out)
        return _stored_run(out)

    out = tmp_path / "study"
    app = _toy_app(run, _write_table)
    first = _invoke(app, str(out))
    assert first.exit_code == 0, first.output
    marker = _marker(out)
    assert marker["state"] == "complete" and set(marker["files"]) == {"table.csv"}
    assert not (out / ".parts").exists()  # the stores go once the outputs are written
    before = (out / "table.csv").read_bytes(), (out / MARKER_FILE).read_bytes()

    again = _invoke(app, str(out))
    assert again.exit_code == 2
    assert "holds a complete toy" in _one_error_line(again)
    resumed = _invoke(app, str(out), "--resume")
    assert resumed.exit_code == 0 and "already complete" in resumed.stdout
    assert resumed.stderr == ""
    assert len(calls) == 1
    assert ((out / "table.csv").read_bytes(), (out / MARKER_FILE).read_bytes()) == before

    forced = _invoke(app, str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert len(calls) == 2 and _marker(out)["state"] == "complete"


def test_file_system_failure_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    def run(out: Path) -> str:
        raise OSError(28, "No space left on device", str(out / "part.parquet"))

    out = tmp_path / "study"
    result = _invoke(_toy_app(run, _write_table), str(out))
    assert result.exit_code == 3
    line = _one_error_line(result)
    assert line.startswith(f"error: {out}: cannot write {out / 'part.parquet'}")
    assert line.endswith("(free space, then --resume)")


def test_interrupt_says_what_was_kept(tmp_path: Path) -> None:
    def run(out: Path) -> str:
        _stored_run(out)
        raise KeyboardInterrupt

    out = tmp_path / "study"
    result = _invoke(_toy_app(run, _write_table), str(out))
    assert result.exit_code == 130
    assert f"the finished runs are kept in {out}" in result.stderr
    assert _marker(out)["state"] == "in progress"

    seen: list[Path | None] = []

    def on_interrupt(where: Path | None) -> None:
        seen.append(where)
        raise typer.Exit(code=130)

    other = tmp_path / "other"
    result = _invoke(_toy_app(run, _write_table, on_interrupt=on_interrupt), str(other))
    assert result.exit_code == 130 and seen == [other]


def test_writes_to_names_the_folder_chosen_inside() -> None:
    errors = OneLineErrors()
    assert errors.where is None
    chosen = Path("results/x-20250101-000000")
    assert errors.writes_to(chosen) == chosen and errors.where == chosen


def test_other_errors_propagate() -> None:
    with pytest.raises(ValueError, match="a bug"), OneLineErrors(Path("x")):
        raise ValueError("a bug")


# -- every study command goes through the wrapper --------------------------------------------------

HINDCAST = SCENARIOS / "jiangxi_hindcast.yaml"
OBSERVED = SCENARIOS / "observed"


def _raise_user_error(*args: object, **kwargs: object) -> None:
    raise DataError("input.csv", "the study's own check failed")


#: command line (``OUT`` stands for the output path), the study function the command calls
STUDIES: dict[str, tuple[list[str], str]] = {
    "run": (
        ["run", str(SCENARIOS / "tiny.yaml"), "--out", "OUT"],
        "policysim.experiments.run_ensemble",
    ),
    "compare": (
        ["compare", str(SCENARIOS / "tiny.yaml"), str(SCENARIOS / "tiny.yaml"), "--out", "OUT"],
        "policysim.studies.compare.compare_scenarios",
    ),
    "frontier": (
        ["frontier", str(SCENARIOS / "tiny.yaml"), "--budgets", "1,2", "--out", "OUT"],
        "policysim.studies.frontier.budget_frontier",
    ),
    "sensitivity": (
        ["sensitivity", str(SCENARIOS / "tiny.yaml"), "--out", "OUT"],
        "policysim.studies.sensitivity.scenario_sensitivity",
    ),
    "hindcast": (
        [
            "hindcast",
            str(HINDCAST),
            "--observed",
            str(OBSERVED / "jiangxi_2017.csv"),
            "--out",
            "OUT",
        ],
        "policysim.studies.hindcast.run_hindcast",
    ),
    "calibrate": (
        [
            "calibrate",
            str(HINDCAST),
            "--observed",
            str(OBSERVED / "jiangxi_2017.csv"),
            "--out",
            "OUT.yaml",
        ],
        "policysim.studies.calibrate.calibrate",
    ),
    "nowcast": (
        [
            "nowcast",
            str(SCENARIOS / "jiangxi_nowcast.yaml"),
            "--observed",
            str(OBSERVED / "jiangxi_nowcast.csv"),
            "--out",
            "OUT",
        ],
        "policysim.studies.nowcast.run_nowcast",
    ),
}


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    for module in (run_cmd, compare_cmd, sensitivity_cmd, hindcast_cmd, nowcast_cmd):
        module.register(app)
    return app


@pytest.mark.parametrize("name", list(STUDIES))
def test_every_study_command_fails_in_one_line_with_no_partial_output(
    name: str, cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, study = STUDIES[name]
    monkeypatch.setattr(study, _raise_user_error)
    out = tmp_path / "out"
    result = _invoke(cli, *(a.replace("OUT", str(out)) for a in args))
    assert result.exit_code == 2, result.output
    assert "the study's own check failed" in _one_error_line(result)
    assert list(tmp_path.iterdir()) == []  # no run directory, no runs folder, no file


def test_interrupted_study_without_out_names_the_folder_it_made(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C of a study given no --out names the timestamped folder that keeps its runs (the
    sensitivity command said "nothing was written" there)."""

    def interrupted_study(*args: object, store: Path | None = None, **kwargs: object) -> None:
        assert store is not None
        store.mkdir(parents=True)
        (store / "part.parquet").write_bytes(b"run")
        raise KeyboardInterrupt

    monkeypatch.setattr("policysim.studies.sensitivity.scenario_sensitivity", interrupted_study)
    args = ["sensitivity", str(SCENARIOS / "tiny.yaml"), "--set", f"outputs.dir={tmp_path}"]
    result = _invoke(cli, *args)
    assert result.exit_code == 130
    (made,) = tmp_path.iterdir()
    assert made.name.startswith("tiny-sensitivity-sobol-")
    assert f"the finished runs are kept in {made}" in result.stderr
    assert "nothing was written" not in result.stderr
    # the hint is a command that works: --resume needs the folder
    assert f"with --out {made} --resume" in " ".join(result.stderr.split())
