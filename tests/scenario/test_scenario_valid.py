"""The valid path: the shipped scenario, ``extends`` merging, ``--set`` overrides, the hash and
relative paths."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from scenario_testpaths import BASELINE, REPO, VALID

from policysim.errors import ScenarioError
from policysim.scenario import load_scenario, parse_override, scenario_hash


def test_shipped_scenarios_load() -> None:
    shipped = sorted((REPO / "scenarios").glob("*.yaml"))
    assert BASELINE in shipped
    for path in shipped:
        loaded = load_scenario(path)
        assert loaded.path == path.resolve()
        assert loaded.chain[-1] == path.resolve()


def test_baseline_is_the_policy_as_written() -> None:
    s = load_scenario(BASELINE).scenario
    assert s.metadata.name == "jiangxi_baseline"
    assert s.allocation.strategy == "factor_formula"
    assert (s.horizon.base_year, s.horizon.end_year) == (2017, 2030)
    by_name = {t.name: t for t in s.targets}
    # 赣府厅发〔2018〕4号: about 20 provincial innovative counties by 2020, about 60 by 2030,
    # at least 10% / 30% of townships
    assert by_name["counties_2020"].threshold == 20
    assert by_name["counties_2030"].threshold == 60
    assert by_name["townships_2020"].threshold == 10
    assert by_name["townships_2030"].threshold == 30
    assert by_name["county_rd_rising_2030"].comparator == "rising"
    assert by_name["county_rd_rising_2030"].threshold is None


def test_extends_merges_nested_keys_and_replaces_lists() -> None:
    base = load_scenario(BASELINE)
    child = load_scenario(VALID / "equal_strategy.yaml")
    c, b = child.scenario, base.scenario
    assert child.chain == (BASELINE.resolve(), (VALID / "equal_strategy.yaml").resolve())
    # set in the child
    assert c.allocation.strategy == "equal"
    assert c.ensemble.replications == 10
    assert c.metadata.name == "equal_strategy"
    # nested mapping merged key by key: two weights from the child, one from the baseline
    assert c.allocation.factor_weights.research_capacity == 0.5
    assert c.allocation.factor_weights.fiscal_st_spending == 0.2
    assert c.allocation.factor_weights.management_capacity == 0.3
    # siblings the child does not name are inherited
    assert c.allocation.instrument_shares == b.allocation.instrument_shares
    assert c.allocation.floor_100m_cny == b.allocation.floor_100m_cny
    assert c.ensemble.root_seed == b.ensemble.root_seed
    assert c.policy == b.policy
    # lists replace: one target instead of eight
    assert [t.name for t in c.targets] == ["counties_2020"]
    assert len(b.targets) == 8
    # an uncertainty entry is replaced whole: no 'mode' inherited from the triangular parent
    d = c.uncertainties["voucher_additionality"]
    assert (d.distribution, d.low, d.high, d.mode) == ("uniform", 0.5, 0.9, None)
    assert b.uncertainties["voucher_additionality"].mode == 0.8
    # other uncertainty entries are inherited
    assert c.uncertainties["firm_entry_rate"] == b.uncertainties["firm_entry_rate"]


def test_extends_chain_of_three() -> None:
    loaded = load_scenario(VALID / "longer_horizon.yaml")
    assert [p.name for p in loaded.chain] == [
        "jiangxi_baseline.yaml",
        "equal_strategy.yaml",
        "longer_horizon.yaml",
    ]
    s = loaded.scenario
    assert s.horizon.end_year == 2035
    assert s.allocation.strategy == "equal"  # from the middle file
    assert s.allocation.factor_weights.management_capacity == 0.3  # from the root


def test_line_map_points_at_the_file_that_wrote_each_key() -> None:
    loaded = load_scenario(VALID / "equal_strategy.yaml")
    child = str((VALID / "equal_strategy.yaml").resolve())
    base = str(BASELINE.resolve())
    assert loaded.lines[("allocation", "strategy")] == (child, 7)
    assert loaded.lines[("ensemble", "replications")] == (child, 14)
    assert loaded.lines[("ensemble", "root_seed")][0] == base
    # the child replaced the list: no stale line of the baseline's third target survives
    assert ("targets", 2) not in loaded.lines
    assert ("uncertainties", "voucher_additionality", "mode") not in loaded.lines


def test_error_in_inherited_key_names_the_parent_file(tmp_path: Path) -> None:
    parent = tmp_path / "parent.yaml"
    parent.write_text(
        f"extends: {BASELINE}\nmetadata:\n  name: parent\nensemble:\n  replications: 0\n",
        encoding="utf-8",
    )
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nmetadata:\n  name: child\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    assert str(info.value).startswith(f"{parent.resolve()}:5: ensemble.replications = 0: ")


@pytest.mark.parametrize(
    ("override", "check"),
    [
        ("ensemble.replications=5", lambda s: s.ensemble.replications == 5),
        ("allocation.strategy=equal", lambda s: s.allocation.strategy == "equal"),
        ("horizon.end_year=2035", lambda s: s.horizon.end_year == 2035),
        ("budget.values.2021=7.5", lambda s: s.budget.values[2021] == 7.5),
        ("targets.0.threshold=25", lambda s: s.targets[0].threshold == 25),
        (
            "allocation.factor_weights={research_capacity: 1, fiscal_st_spending: 0, "
            "management_capacity: 0}",
            lambda s: s.allocation.factor_weights.research_capacity == 1,
        ),
    ],
)
def test_set_overrides(override: str, check: object) -> None:
    loaded = load_scenario(BASELINE, [override])
    assert callable(check) and check(loaded.scenario)
    assert loaded.overrides == (override,)
    assert loaded.lines[parse_override(override)[0]] == ("--set " + override, 0)


def test_overrides_apply_in_order() -> None:
    s = load_scenario(BASELINE, ["ensemble.replications=5", "ensemble.replications=7"]).scenario
    assert s.ensemble.replications == 7


def test_parse_override() -> None:
    assert parse_override("ensemble.replications=5") == (("ensemble", "replications"), 5)
    assert parse_override("budget.values.2021=7.5") == (("budget", "values", 2021), 7.5)
    assert parse_override("targets.-1.year=2030") == (("targets", -1, "year"), 2030)
    assert parse_override("metadata.name=a=b") == (("metadata", "name"), "a=b")
    assert parse_override("outputs.dir=") == (("outputs", "dir"), "")
    assert parse_override("x.y=[1, 2]") == (("x", "y"), [1, 2])
    # a non-ASCII digit is a key, not an index (int() would reject '²')
    assert parse_override("budget.values.²=1") == (("budget", "values", "²"), 1)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ensemble.replications", "override without '='"),
        ("=5", "empty key"),
        ("ensemble..replications=5", "empty key"),
        ("ensemble.replications=[1, 2", "not valid YAML"),
    ],
)
def test_parse_override_errors(text: str, words: str) -> None:
    with pytest.raises(ScenarioError, match=r"^--set: ") as info:
        parse_override(text)
    assert words in str(info.value)


def test_bad_override_names_scenario_file_and_override() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(BASELINE, ["ensemble.replications=-1"])
    assert str(info.value).startswith(
        f"{BASELINE.resolve()} (--set ensemble.replications=-1): ensemble.replications = -1: "
    )
    assert info.value.line is None


def test_override_replacing_a_section_forgets_its_old_lines() -> None:
    """After ``--set allocation={strategy: fixed}`` the error is the override's, not a line of
    the baseline's allocation section."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(BASELINE, ["allocation={strategy: fixed}"])
    message = str(info.value)
    assert message.startswith(f"{BASELINE.resolve()} (--set allocation={{strategy: fixed}}): ")
    assert "allocation.strategy = 'fixed'" in message
    assert "needs fixed_plan" in message


def test_descending_into_a_scalar_by_override_is_an_error() -> None:
    with pytest.raises(ScenarioError, match="cannot set this key"):
        load_scenario(BASELINE, ["targets.99=1"])
    with pytest.raises(ScenarioError, match="cannot descend into this key"):
        load_scenario(BASELINE, ["targets.x.year=1"])


def test_hash_is_stable_and_changes_with_an_override() -> None:
    a = load_scenario(BASELINE)
    b = load_scenario(BASELINE)
    assert a.hash == b.hash
    assert len(a.hash) == 64 and int(a.hash, 16) >= 0
    assert a.hash == scenario_hash(a.resolved)
    changed = load_scenario(BASELINE, ["ensemble.replications=5"])
    assert changed.hash != a.hash
    # setting a key to the value it already has changes nothing
    same = load_scenario(BASELINE, ["ensemble.replications=200"])
    assert same.hash == a.hash


def test_hash_ignores_comments_formatting_and_key_order(tmp_path: Path) -> None:
    data = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    reordered = {k: data[k] for k in reversed(list(data))}
    copy = tmp_path / "copy.yaml"
    copy.write_text(yaml.safe_dump(reordered, allow_unicode=True, sort_keys=False), "utf-8")
    assert load_scenario(copy).hash == load_scenario(BASELINE).hash


def test_scenario_hash_known_answer() -> None:
    # sha256 of the canonical JSON '{"a": 1, "b": [2, "三"]}' (sorted keys, UTF-8)
    import hashlib

    text = '{"a": 1, "b": [2, "三"]}'
    assert scenario_hash({"b": [2, "三"], "a": 1}) == hashlib.sha256(text.encode()).hexdigest()


def test_relative_paths_resolve_against_the_file_that_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = (VALID / "plans" / "plan.csv").resolve()
    monkeypatch.chdir(tmp_path)
    direct = load_scenario(VALID / "fixed_plan.yaml")
    assert direct.scenario.allocation.fixed_plan == str(plan)
    # a child one folder down inherits the path; it stays relative to fixed_plan.yaml
    inherited = load_scenario(VALID / "sub" / "inherits_fixed.yaml")
    assert inherited.scenario.allocation.fixed_plan == str(plan)
    assert inherited.resolve_path("x.csv") == (VALID / "sub" / "x.csv").resolve()


def test_relative_path_written_in_the_child_resolves_against_the_child(tmp_path: Path) -> None:
    """The same relative text in a file elsewhere points elsewhere and fails there."""
    moved = tmp_path / "fixed_plan.yaml"
    text = (VALID / "fixed_plan.yaml").read_text(encoding="utf-8")
    moved.write_text(text.replace("../../../scenarios/", f"{BASELINE.parent}/"), "utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(moved)
    assert f"path not found: {tmp_path.resolve() / 'plans' / 'plan.csv'}" in str(info.value)
    shutil.copytree(VALID / "plans", tmp_path / "plans")
    assert load_scenario(moved).scenario.allocation.fixed_plan == str(
        (tmp_path / "plans" / "plan.csv").resolve()
    )


def test_override_path_resolves_against_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.csv").write_text("year,county_code,instrument,cny\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    s = load_scenario(
        BASELINE, ["allocation.strategy=fixed", "allocation.fixed_plan=mine.csv"]
    ).scenario
    assert s.allocation.fixed_plan == str((tmp_path / "mine.csv").resolve())


def test_loading_is_deterministic_and_does_not_touch_the_file() -> None:
    before = BASELINE.read_bytes()
    a = load_scenario(VALID / "equal_strategy.yaml")
    b = load_scenario(VALID / "equal_strategy.yaml")
    assert a.scenario == b.scenario and a.resolved == b.resolved and a.hash == b.hash
    assert BASELINE.read_bytes() == before
