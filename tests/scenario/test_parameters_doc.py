"""docs/PARAMETERS.md holds the behaviour defaults as the code has them, and every default is
either sourced or marked as an assumption with a range."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.scenario.parameters import BEHAVIOUR_DEFAULTS, parameters_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "PARAMETERS.md"


def test_doc_table_is_the_code() -> None:
    assert parameters_markdown() in DOC.read_text(encoding="utf-8"), (
        "docs/PARAMETERS.md is out of date: regenerate its table with parameters_markdown()"
    )


@pytest.mark.parametrize("name", sorted(BEHAVIOUR_DEFAULTS))
def test_default_has_a_source_and_assumptions_a_range(name: str) -> None:
    p = BEHAVIOUR_DEFAULTS[name]
    assert p.source.strip(), f"{name}: no source"
    if p.source.startswith("assumption"):
        assert p.low is not None and p.high is not None, f"{name}: assumption without a range"
    if p.low is not None and p.high is not None:
        assert p.low <= p.value <= p.high, f"{name}: default {p.value} outside [{p.low}, {p.high}]"
