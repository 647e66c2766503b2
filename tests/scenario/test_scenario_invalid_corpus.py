"""Every invalid scenario in ``invalid/`` fails with its expected one-line message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from scenario_testpaths import INVALID

from policysim.errors import ScenarioError
from policysim.scenario import load_scenario

EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (INVALID.parent / "expected.yaml").read_text(encoding="utf-8")
)


def test_corpus_and_expectations_match() -> None:
    files = {p.name for p in INVALID.iterdir() if p.is_file()}
    assert files == set(EXPECTED), (
        f"files without expectation: {sorted(files - set(EXPECTED))}; "
        f"expectations without file: {sorted(set(EXPECTED) - files)}"
    )
    assert len(files) >= 24


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_scenario_message(name: str) -> None:
    spec = EXPECTED[name]
    path = INVALID / name
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    named = (INVALID / spec.get("file", name)).resolve()
    line = spec["line"]
    prefix = f"{named}:{line}: " if line is not None else f"{named}: "
    assert message.startswith(prefix), f"{message!r} does not start with {prefix!r}"
    assert info.value.file == str(named)
    assert info.value.line == line
    for part in spec["contains"]:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_scenario_message_is_independent_of_working_directory(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative paths resolve against the scenario file, so the message is the same from any
    folder and whether the file is named by a relative or an absolute path."""
    with pytest.raises(ScenarioError) as first:
        load_scenario(INVALID / name)
    monkeypatch.chdir(INVALID)
    with pytest.raises(ScenarioError) as relative:
        load_scenario(name)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as elsewhere:
        load_scenario(INVALID / name)
    assert str(first.value) == str(relative.value) == str(elsewhere.value)
