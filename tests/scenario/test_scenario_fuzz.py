"""Hypothesis: random edits of the shipped scenario, and random files, give either a valid
scenario or a one-line ScenarioError naming the file, never another exception."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_testpaths import BASELINE

from policysim.errors import ScenarioError
from policysim.scenario import LoadedScenario, load_scenario

BASE: dict[str, Any] = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
KeyPath = tuple[Any, ...]

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same examples every run: a failure here is a bug, never flakiness
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", "equal", "fixed", ">=", "rising", "uniform", "embedded", "2018"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
years = st.sampled_from(
    [-1, 0, 1800, 1989, 1990, 2016, 2017, 2018, 2030, 2031, 2060, 2061, 2100, 2101, 10**6]
)


def _paths(node: Any, prefix: KeyPath = ()) -> list[KeyPath]:
    out: list[KeyPath] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _get(node: Any, path: KeyPath) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def edited(draw: st.DrawFn) -> dict[str, Any]:
    """The baseline mapping after 1 to 4 random edits."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        if not paths:
            break
        op = draw(st.sampled_from(["delete", "replace", "insert", "negate", "year"]))
        path = draw(st.sampled_from(paths))
        parent, key = _get(data, path[:-1]), path[-1]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(values)
        elif op == "insert":
            containers = [p for p in [(), *paths] if isinstance(_get(data, p), dict)]
            target = _get(data, draw(st.sampled_from(containers)))
            target[draw(st.text(min_size=1, max_size=12))] = draw(values)
        elif op == "negate":
            numbers = [
                p
                for p in paths
                if isinstance(_get(data, p), int | float) and not isinstance(_get(data, p), bool)
            ]
            if numbers:
                p = draw(st.sampled_from(numbers))
                _get(data, p[:-1])[p[-1]] = -_get(data, p)
        else:  # a year out of range: a year-valued key, or a year used as a key
            year_values = [p for p in paths if isinstance(p[-1], str) and "year" in p[-1]]
            year_keys = [
                p for p in paths if isinstance(p[-1], int) and len(p) > 1 and p[-2] == "values"
            ]
            choice = draw(st.sampled_from(year_values + year_keys))
            holder = _get(data, choice[:-1])
            if choice in year_values:
                holder[choice[-1]] = draw(years)
            else:
                holder[draw(years)] = holder.pop(choice[-1])
    return data


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "scenario.yaml"


def _check(path: Path) -> LoadedScenario | None:
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(str(path.resolve())), message
        return None


@FUZZ
@given(data=edited())
def test_random_edits_give_a_scenario_or_a_scenario_error(
    scratch: Path, data: dict[str, Any]
) -> None:
    scratch.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    loaded = _check(scratch)
    if loaded is not None:
        # a valid edit loads the same way twice (same scenario, same hash)
        again = load_scenario(scratch)
        assert again.scenario == loaded.scenario
        assert again.hash == loaded.hash


def test_fuzzing_reaches_both_outcomes(scratch: Path) -> None:
    """The edit strategy is not degenerate: unedited data loads, a deleted budget does not."""
    scratch.write_text(yaml.safe_dump(BASE, allow_unicode=True), encoding="utf-8")
    assert _check(scratch) is not None
    broken = {k: v for k, v in BASE.items() if k != "budget"}
    scratch.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    assert _check(scratch) is None


@FUZZ
@given(blob=st.binary(max_size=300))
def test_random_bytes_give_a_scenario_error(scratch: Path, blob: bytes) -> None:
    scratch.write_bytes(blob)
    assert _check(scratch) is None


YAML_TOKENS = st.sampled_from(
    [
        "a",
        "metadata",
        "budget",
        "extends",
        ":",
        ": ",
        "\n",
        "  ",
        "\t",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&x ",
        "*x",
        "!!python/object:os.system ",
        "!!binary ",
        "!!set ",
        "<<: ",
        "'",
        '"',
        "#",
        "---",
        "...",
        "?",
        "|",
        ">",
        "1e999",
        "2018-13-45",
        "0x1F",
        "~",
        "null",
        "true",
        "9" * 30,
        "%YAML 1.1\n",
        "\x00",
        "\ufeff",
        "三",
    ]
)


@FUZZ
@given(text=st.lists(YAML_TOKENS, max_size=40).map("".join) | st.text(max_size=200))
def test_random_text_gives_a_scenario_error(scratch: Path, text: str) -> None:
    scratch.write_text(text, encoding="utf-8")
    assert _check(scratch) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: &a [*a]\n", "alias refers to a value that contains it"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ("x: " + "[" * 80 + "]" * 80 + "\n", "nested too deeply"),
        (
            "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
            + "".join(
                f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                for p, c in zip("abcdefg", "bcdefgh", strict=True)
            ),
            "too many values",
        ),
        ("budget: " + "9" * 5000 + "\n", "unreadable YAML value"),
        ("metadata: {name: 2018-13-45}\n", "unreadable YAML value"),
        ("[1, 2]: x\n", "a key is a list or mapping"),
        ("~: x\n", "not a name or a year"),
        ("extends: " + "x" * 5000 + "\nmetadata: {name: a}\n", "does not exist"),
        ("extends: .\nmetadata: {name: a}\n", "does not exist"),
        ("!!python/object:os.system {}\n", "unsupported YAML tag"),
        ("!!python/name:os.system x\n", "malformed YAML value"),
        ("a: !!set {x, y}\n", "unsupported YAML tag"),
    ],
)
def test_hostile_yaml(scratch: Path, text: str, words: str) -> None:
    """Alias bombs, recursion, huge numbers, impossible dates, odd keys, absurd paths."""
    scratch.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(scratch)
    assert words in str(info.value)
    assert "\n" not in str(info.value)
