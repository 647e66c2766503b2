"""The page's levers as ``--set`` overrides, checked through the CLI's scenario validation."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from policysim.errors import PolicysimError, ScenarioError
from policysim.scenario import load_scenario
from policysim.view import controls as ctl
from policysim.view.words import attainment_html, verdict_words

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny() -> object:
    return load_scenario(TINY)


def test_controls_show_units_defaults_sources(tiny: object) -> None:
    controls = ctl.lever_controls(tiny)  # type: ignore[arg-type]
    keys = [c.key for c in controls]
    assert keys[0] == ctl.BUDGET_SCALE
    assert "designation.county.batches.0.size" in keys
    assert "allocation.instrument_shares.vouchers" in keys
    batch = next(c for c in controls if c.key == "designation.county.batches.0.size")
    assert batch.default == "1" and batch.unit == "count" and "assumption" in batch.source
    low = next(c for c in controls if c.key == "uncertainties.rd_user_cost_elasticity.low")
    assert low.default == "-2" and low.unit == "elasticity" and "Qian" in low.source
    assert "equal" in ctl.strategy_names() and "factor_formula" in ctl.strategy_names()


def test_unchanged_values_give_no_override(tiny: object) -> None:
    defaults = {c.key: c.default for c in ctl.lever_controls(tiny)}  # type: ignore[arg-type]
    assert ctl.build_overrides(tiny, defaults, "factor_formula") == []  # type: ignore[arg-type]


def test_overrides_and_command(tiny: object) -> None:
    values = {ctl.BUDGET_SCALE: "2", "designation.county.batches.0.size": "2"}
    overrides = ctl.build_overrides(tiny, values, "equal")  # type: ignore[arg-type]
    assert overrides == [
        "allocation.strategy=equal",
        "budget.values.2018=0.58",
        "budget.values.2019=0.68",
        "budget.values.2020=1.08",
        "designation.county.batches.0.size=2",
    ]
    loaded = ctl.check_controls(TINY, overrides)
    assert loaded.scenario.allocation.strategy == "equal"
    assert loaded.scenario.budget.values[2020] == pytest.approx(1.08)
    command = ctl.cli_command(TINY, overrides, replications=4, workers=1)
    args = shlex.split(command)
    assert args[:3] == ["policysim", "run", str(TINY)]
    assert args.count("--set") == len(overrides)
    assert args[-4:] == ["--replications", "4", "--workers", "1"]
    # the command line loads the same scenario
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    assert load_scenario(TINY, sets).hash == loaded.hash


@pytest.mark.parametrize(
    ("values", "strategy", "expected"),
    [
        ({ctl.BUDGET_SCALE: "-1"}, None, "budget.values"),
        ({ctl.BUDGET_SCALE: "lots"}, None, "budget scale"),
        ({"designation.county.batches.0.size": "-3"}, None, "designation.county.batches.0.size"),
        ({"designation.county.batches.0.size": "two"}, None, "designation.county.batches.0.size"),
        ({"allocation.instrument_shares.vouchers": "0.9"}, None, "instrument_shares"),
        ({"uncertainties.county_batch_size.low": "20"}, None, "uncertainties.county_batch_size"),
    ],
)
def test_bad_values_give_one_line_errors(
    tiny: object, values: dict[str, str], strategy: str | None, expected: str
) -> None:
    def check() -> None:
        overrides = ctl.build_overrides(tiny, values, strategy)  # type: ignore[arg-type]
        ctl.check_controls(TINY, overrides)

    with pytest.raises(PolicysimError) as caught:
        check()
    line = ctl.one_line(caught.value)
    assert "\n" not in line
    assert expected in line


def test_counts_are_checked() -> None:
    assert ctl.check_counts("4", "1") == (4, 1)
    for reps, workers, option in (
        ("0", "1", "--replications"),
        ("x", "1", "--replications"),
        ("4", "0", "--workers"),
    ):
        with pytest.raises(ScenarioError, match=option):
            ctl.check_counts(reps, workers)


def test_attainment_table_words() -> None:
    import pandas as pd

    table = pd.DataFrame(
        [
            {
                "target": "counties_2020",
                "metric": "provincial_innovative_counties",
                "comparator": ">=",
                "threshold": 2.0,
                "year": 2020,
                "probability": 0.3,
                "ci_low": 0.1,
                "ci_high": 0.6,
                "verdict": "likely not met",
            }
        ]
    )
    html = attainment_html(table, "both")
    assert "很可能无法实现 / likely not met" in html
    assert "30%" in html and "10%–60%" in html
    assert verdict_words("likely met", "zh") == "很可能实现"
    assert "<script>" not in attainment_html(table.assign(target="<script>"), "en")


def test_cli_import_does_not_load_the_ui() -> None:
    """The CLI stays fast: Solara is imported only when `policysim view` runs."""
    import subprocess
    import sys

    code = (
        "import sys, policysim.cli; "
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('solara', 'uvicorn', 'reacton')]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
