"""``policysim nowcast`` through typer's CliRunner: outputs, no overwrite without --force,
one-line errors with exit 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from policysim.commands.nowcast import register
from policysim.scenario import load_scenario
from policysim.studies.nowcast import read_nowcast_observed

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"
OBS = (
    "indicator,year,value,code,status\n"
    "rd_expenditure_100m_cny,2018,30,,made up\n"
    "hnte_count,2019,300,,made up\n"
    "national_county,2018,1,360681,made up\n"
    "rd_expenditure_100m_cny,2022,40,,made up\n"
)


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()

    @a.callback()
    def main() -> None:
        """A group, so the command is invoked by name as in the real CLI."""

    register(a)
    return a


def invoke(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["nowcast", str(TINY), *args])
    return result.exit_code, result.output


def test_nowcast_writes_its_outputs_and_refuses_to_overwrite(
    app: typer.Typer, tmp_path: Path
) -> None:
    obs = tmp_path / "obs.csv"
    obs.write_text(OBS, encoding="utf-8")
    out = tmp_path / "nc"
    args = ["--observed", str(obs), "--through", "2020", "--replications", "8", "--out", str(out)]
    code, text = invoke(app, *args, "--outlook")
    assert code == 0, text
    for phrase in ("Effective sample size", "Events", "Target attainment", "CRPS", "Given the"):
        assert phrase in text
    scores = pd.read_csv(out / "scores.csv", encoding="utf-8-sig")
    assert scores[["indicator", "year"]].values.tolist() == [["rd_expenditure_100m_cny", 2022]]
    ess = pd.read_csv(out / "ess.csv", encoding="utf-8-sig")
    assert ess["year"].tolist() == [2018, 2019]
    events = pd.read_csv(out / "events.csv", encoding="utf-8-sig", dtype={"code": str})
    assert events["name"].tolist() == ["贵溪市"] and events["runs"].tolist() == [8]
    outlook = pd.read_csv(out / "outlook.csv", encoding="utf-8-sig")
    assert sorted(set(outlook["through"])) == [2017, 2018, 2019]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["nowcast"]["through"] == 2020
    for name in ("nowcast_parameters.png", "nowcast_outlook.png"):
        assert (out / "figures" / name).is_file()
    before = (out / "scores.csv").read_bytes()
    code, text = invoke(app, *args, "--quiet")
    assert code == 2 and "--force" in text
    assert (out / "scores.csv").read_bytes() == before
    code, text = invoke(app, *args, "--quiet", "--force")
    assert code == 0, text


@pytest.mark.parametrize(
    ("extra", "body", "expected"),
    [
        ((), "indicator,year,value,code\nnational_county,2018,1,111111\n", "unknown county code"),
        ((), "indicator,year,value\nhnte_count,2031,5\n", "year outside the horizon"),
        (("--through", "2024"), OBS, "--through"),
        (("--through", "2010"), OBS, "--through"),
        (("--events", "maybe"), OBS, "--events"),
        (("--obs-sd", "0"), OBS, "--obs-sd"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    app: typer.Typer, tmp_path: Path, extra: tuple[str, ...], body: str, expected: str
) -> None:
    obs = tmp_path / "obs.csv"
    obs.write_text(body, encoding="utf-8")
    out = tmp_path / "never"
    code, text = invoke(app, "--observed", str(obs), "--out", str(out), "--quiet", *extra)
    assert code == 2, text
    assert expected in text
    assert len(text.strip().splitlines()) == 1, text
    assert not out.exists()


def test_the_shipped_observed_file_reads_for_the_shipped_scenario() -> None:
    loaded = load_scenario(ROOT / "scenarios" / "jiangxi_nowcast.yaml")
    obs = read_nowcast_observed(
        ROOT / "scenarios" / "observed" / "jiangxi_nowcast.csv", loaded.scenario
    )
    assert obs.last_year() == 2023 and obs.series["year"].max() == 2022
    assert set(obs.events["name"]) >= {"井冈山市", "南昌县", "樟树市", "贵溪市", "永新县"}
    raw = pd.read_csv(ROOT / "scenarios" / "observed" / "jiangxi_nowcast.csv", dtype=str)
    assert raw["status"].notna().all() and raw["source"].notna().all()
