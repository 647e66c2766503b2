"""The ``policysim validate`` command and ``--help`` of every command."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from rich.errors import MarkupError
from rich.markup import render
from scenario_testpaths import BASELINE, INVALID, VALID
from typer.testing import CliRunner

from policysim.cli import app
from policysim.errors import ScenarioError
from policysim.scenario import load_scenario

runner = CliRunner()
CORPUS = sorted(p for p in INVALID.iterdir() if p.is_file())
VALID_FILES = [BASELINE, *sorted(VALID.rglob("*.yaml"))]


def _message(path: object) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    return str(info.value)


def test_validate_valid_files_prints_ok_per_file() -> None:
    # the corpus is schema-valid; two of its fixed plans break the allocation rules, which the
    # pre-flight checks of a plain `validate` report (tests/redteam)
    result = runner.invoke(app, ["validate", "--schema-only", *map(str, VALID_FILES)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(VALID_FILES)
    for line, path in zip(lines, VALID_FILES, strict=True):
        assert line.startswith(f"ok {path}: ")
    base = load_scenario(VALID_FILES[0]).scenario
    assert (
        f"jiangxi_baseline (factor_formula, 2017-2030, {len(base.targets)} targets, "
        f"{len(base.uncertainties)} uncertainties)"
    ) in lines[0]
    assert len(base.targets) == 8
    assert result.stderr == ""


def test_validate_with_override() -> None:
    result = runner.invoke(app, ["validate", str(BASELINE), "--set", "allocation.strategy=equal"])
    assert result.exit_code == 0
    assert "(equal, 2017-2030" in result.stdout
    bad = runner.invoke(app, ["validate", str(BASELINE), "--set", "ensemble.replications=0"])
    assert bad.exit_code == 2
    assert "(--set ensemble.replications=0): ensemble.replications = 0: " in bad.stderr


def _mangled_by_rich_markup(text: str) -> bool:
    """Whether rich, with markup on, would print ``text`` other than verbatim (or fail)."""
    try:
        return render(text).plain != text
    except MarkupError:
        return True


def _corpus_param(path: object) -> object:
    name = getattr(path, "name", str(path))
    return pytest.param(path, id=name)


@pytest.mark.parametrize("path", [_corpus_param(p) for p in CORPUS])
def test_validate_invalid_file_prints_the_error_and_exits_2(path: object) -> None:
    expected = _message(path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"INVALID {expected}"]


def test_validate_reports_every_file_and_fails_if_any_fails() -> None:
    bad = INVALID / "negative_budget.yaml"
    result = runner.invoke(app, ["validate", str(BASELINE), str(bad), str(VALID_FILES[1])])
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr.splitlines() == [f"INVALID {_message(bad)}"]


def test_validate_missing_file() -> None:
    result = runner.invoke(app, ["validate", str(INVALID / "no_such_file.yaml")])
    assert result.exit_code == 2
    assert "no_such_file.yaml: file not found" in result.stderr


def test_validate_entry_point_in_a_subprocess() -> None:
    """The real entry point: exit code 2, one line on stderr, no traceback."""
    bad = INVALID / "unknown_key_top.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "policysim.cli", "validate", str(BASELINE), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout.startswith(f"ok {BASELINE}: jiangxi_baseline")
    assert proc.stderr.splitlines() == [f"INVALID {_message(bad)}"]


def _commands() -> list[str]:
    # typer >= 0.25 vendors click: read the group's commands without importing click's classes
    commands: dict[str, object] = getattr(typer.main.get_command(app), "commands", {})
    return sorted(commands)


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in _commands():
        assert name in result.stdout
    assert {"validate", "data"} <= set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_help_of_every_command_shows_examples(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "Examples" in result.stdout
    assert f"policysim {command}" in result.stdout.split("Examples", 1)[1]
