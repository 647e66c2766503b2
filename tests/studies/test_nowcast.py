"""The nowcast (particle filter over runs): known answers, determinism, out-of-sample scoring,
calibration on synthetic truth and bad observed files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policysim
from policysim.errors import DataError, ScenarioError
from policysim.experiments import EnsembleResult, run_ensemble
from policysim.studies.hindcast import interval_coverage, synthetic_observations
from policysim.studies.nowcast import (
    COUNT_INDICATORS,
    OBS_REL_SD,
    NowcastResult,
    check_through,
    read_nowcast_observed,
    run_nowcast,
    systematic_resample,
    write_nowcast,
)

N_RUNS = 30
SERIES = ("rd_expenditure_100m_cny", "gdp_100m_cny", "hnte_count")


@pytest.fixture(scope="module")
def prior(tiny: policysim.LoadedScenario) -> EnsembleResult:
    return run_ensemble(tiny, replications=N_RUNS)


def province(metrics: pd.DataFrame, indicator: str, year: int) -> pd.Series:
    rows = metrics[
        (metrics["level"] == "province")
        & (metrics["metric"] == indicator)
        & (metrics["year"] == year)
    ]
    return rows.set_index("replication")["value"].sort_index()


def write_obs(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def truth_file(tmp_path: Path, metrics: pd.DataFrame, run: int, name: str = "obs.csv") -> Path:
    obs = synthetic_observations(metrics, run, indicators=SERIES)
    return write_obs(tmp_path / name, obs[obs["year"] > 2017])


# -- resampling -------------------------------------------------------------------------------


def test_systematic_resampling_known_answers() -> None:
    assert systematic_resample(np.full(4, 0.25), 0.5).tolist() == [0, 1, 2, 3]
    assert systematic_resample(np.array([0.0, 1.0, 0.0]), 0.3).tolist() == [1, 1, 1]
    assert systematic_resample(np.array([0.5, 0.0, 0.5, 0.0]), 0.1).tolist() == [0, 0, 2, 2]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40).filter(lambda w: sum(w) > 1e-6),
    st.floats(0.0, 0.999999),
)
def test_systematic_resampling_gives_floor_or_ceil_children(raw: list[float], u: float) -> None:
    w = np.asarray(raw) / sum(raw)
    ancestors = systematic_resample(w, u)
    n = w.size
    counts = np.bincount(ancestors, minlength=n)
    assert counts.sum() == n
    assert np.all(np.diff(ancestors) >= 0)
    assert np.all(counts >= np.floor(n * w - 1e-9)) and np.all(counts <= np.ceil(n * w + 1e-9))
    assert np.all(counts[w == 0] == 0)


# -- known answers ----------------------------------------------------------------------------


def test_without_information_the_nowcast_is_the_prior(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    """Observations only after --through: nothing conditions the runs, which are then the
    prior's runs number for number (the filter rebuilds them exactly as the ensemble does)."""
    obs = truth_file(tmp_path, prior.metrics, 2)
    obs_late = pd.read_csv(obs)
    write_obs(obs, obs_late[obs_late["year"] >= 2021])
    r = run_nowcast(tiny, obs, through=2020, prior=prior)
    assert r.posterior.ess.empty
    for indicator in ("hnte_count", "gdp_100m_cny", "provincial_innovative_counties"):
        for year in (2018, 2021, 2024):
            a = province(prior.metrics, indicator, year).to_numpy()
            b = province(r.posterior.metrics, indicator, year).to_numpy()
            np.testing.assert_array_equal(a, b)
    assert (r.attainment["change"] == 0).all()
    assert r.posterior.draws["origin"].tolist() == list(range(N_RUNS))


def test_an_exact_observation_keeps_exactly_the_matching_run(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    rd = province(prior.metrics, "rd_expenditure_100m_cny", 2019)
    run = int(rd.index[np.argsort(rd.to_numpy())[N_RUNS // 2]])
    matching = set(rd.index[rd == rd[run]])
    obs = write_obs(
        tmp_path / "o.csv",
        pd.DataFrame(
            {"indicator": ["rd_expenditure_100m_cny"], "year": [2019], "value": [rd[run]]}
        ),
    )
    # a tiny observation error (R&D: no count floor): only runs equal to it keep any weight
    r = run_nowcast(tiny, obs, through=2019, prior=prior, obs_rel_sd=1e-9)
    assert set(r.posterior.draws["origin"]) <= matching
    post = province(r.posterior.metrics, "rd_expenditure_100m_cny", 2019)
    assert (post == rd[run]).all()
    assert r.posterior.ess["ess"].iloc[0] == pytest.approx(len(matching))


def test_the_posterior_moves_toward_the_observation(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    rd = province(prior.metrics, "rd_expenditure_100m_cny", 2020)
    high = float(np.quantile(rd, 0.9))
    obs = write_obs(
        tmp_path / "o.csv",
        pd.DataFrame({"indicator": ["rd_expenditure_100m_cny"], "year": [2020], "value": [high]}),
    )
    r = run_nowcast(tiny, obs, through=2020, prior=prior)
    post = province(r.posterior.metrics, "rd_expenditure_100m_cny", 2020)
    assert abs(post.median() - high) < abs(rd.median() - high)
    assert 1.0 <= r.posterior.ess["ess"].iloc[0] < N_RUNS


def national_batch(metrics: pd.DataFrame, year: int) -> pd.Series:
    """Jiangxi's national nominees of ``year`` per run (national status is kept once given)."""
    return province(metrics, "national_innovative_counties", year) - province(
        metrics, "national_innovative_counties", year - 1
    )


def test_a_batch_size_event_keeps_only_the_runs_that_carry_it(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    sizes = national_batch(prior.metrics, 2018)
    value = int(sizes.mode().iloc[0])
    carriers = set(sizes.index[sizes == value])
    assert 0 < len(carriers) < N_RUNS  # the event must be informative for the test to mean much
    obs = write_obs(
        tmp_path / "o.csv",
        pd.DataFrame(
            {"indicator": ["national_batch_size"], "year": [2018], "value": [value], "code": [""]}
        ),
    )
    r = run_nowcast(tiny, obs, through=2018, prior=prior)
    ev = r.posterior.events.iloc[0]
    assert ev["carried"] == len(carriers) and ev["runs"] == N_RUNS
    assert f"{N_RUNS - len(carriers)} weight 0" in ev["handling"]
    assert set(r.posterior.draws["origin"]) <= carriers
    assert (national_batch(r.posterior.metrics, 2018) == value).all()


def test_a_batch_size_no_run_produces_is_imposed_or_refused(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    """The tiny province's national batch is 0 or 1 county in every run; a batch of 3 can only
    be imposed (force) or refused (filter), never silently dropped."""
    assert national_batch(prior.metrics, 2018).max() <= 1
    obs = write_obs(
        tmp_path / "o.csv",
        pd.DataFrame(
            {
                "indicator": ["national_batch_size", "national_county"],
                "year": [2018, 2018],
                "value": [3, 1],
                "code": ["", "360622"],
            }
        ),
    )
    r = run_nowcast(tiny, obs, through=2018, prior=prior, events="force")
    size = r.posterior.events.iloc[0]
    assert size["carried"] == 0 and "size imposed" in size["handling"]
    assert (national_batch(r.posterior.metrics, 2018) == 3).all()
    nat = r.posterior.metrics
    named = nat[(nat["metric"] == "national") & (nat["code"] == "360622") & (nat["year"] == 2018)]
    assert (named["value"] == 1).all()  # 余江县 is one of the three in every run
    with pytest.raises(DataError, match="national_batch_size 2018 = 3"):
        run_nowcast(tiny, obs, through=2018, prior=prior, events="filter")


def test_a_named_county_event_is_forced_or_filtered(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    code = "360681"  # 贵溪市
    obs = write_obs(
        tmp_path / "o.csv",
        pd.DataFrame(
            {"indicator": ["national_county"], "year": [2018], "value": [1], "code": [code]}
        ),
    )
    forced = run_nowcast(tiny, obs, through=2018, prior=prior, events="force")
    ev = forced.posterior.events.iloc[0]
    assert ev["name"] == "贵溪市"
    nat = forced.posterior.metrics
    rows = nat[(nat["level"] == "county") & (nat["metric"] == "national") & (nat["code"] == code)]
    assert (rows[rows["year"] >= 2018]["value"] == 1).all()  # every run, every year after
    # forcing takes a seat: the batch keeps the size each run drew (when it had an entrant)
    before = national_batch(prior.metrics, 2018)
    after = national_batch(nat, 2018)
    origins = forced.posterior.draws["origin"].to_numpy()
    np.testing.assert_array_equal(after.to_numpy(), np.maximum(before.to_numpy()[origins], 1))
    # filtered: each run weighted by the probability that its nomination had the county (0
    # without a seat), its nomination drawn given that it had: every run kept carries it
    filtered = run_nowcast(tiny, obs, through=2018, prior=prior, events="filter")
    fev = filtered.posterior.events.iloc[0]
    assert fev["carried"] == ev["carried"]  # the runs' own draws, before conditioning
    assert "weighted by the probability" in fev["handling"]
    nat = filtered.posterior.metrics
    rows = nat[(nat["level"] == "county") & (nat["metric"] == "national") & (nat["code"] == code)]
    assert (rows[rows["year"] >= 2018]["value"] == 1).all()
    # only runs that had a seat in 2018 can carry it: their descendants are all that is left
    seated = set(np.flatnonzero(before.to_numpy() >= 1))
    assert seated and set(filtered.posterior.draws["origin"]) <= seated
    np.testing.assert_array_equal(national_batch(nat, 2018).to_numpy(), 1)


def test_a_named_county_no_run_can_nominate_is_refused(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    """A district (区) is never a candidate for a national innovative county (县 and 县级市)."""
    obs = write_obs(
        tmp_path / "o.csv",
        pd.DataFrame(
            {"indicator": ["national_county"], "year": [2018], "value": [1], "code": ["360302"]}
        ),
    )
    with pytest.raises(DataError, match="no run of 30 is compatible"):
        run_nowcast(tiny, obs, through=2018, prior=prior, events="filter")


def test_rejuvenated_parameters_stay_in_the_prior_support(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    r = run_nowcast(tiny, truth_file(tmp_path, prior.metrics, 11), through=2020, prior=prior)
    draws = r.posterior.draws
    copies = draws["origin"].duplicated()
    assert copies.any()  # the observations were informative: some runs were copied
    for name, dist in tiny.scenario.uncertainties.items():
        lo, hi = dist.support()
        assert draws[name].between(lo, hi).all(), name
    # the initial-state parameter is never moved: every value is its origin's prior value
    origin_values = prior.draws.set_index("replication")["hnte_stock_2017"]
    np.testing.assert_array_equal(
        draws["hnte_stock_2017"].to_numpy(), origin_values[draws["origin"]].to_numpy()
    )
    # a moved parameter differs between copies of one run
    moved = draws[draws["origin"] == draws["origin"][copies].iloc[0]]["rd_user_cost_elasticity"]
    assert moved.nunique() == len(moved)


# -- determinism, out of sample ---------------------------------------------------------------


def test_same_numbers_whatever_the_workers(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    obs = truth_file(tmp_path, prior.metrics, 5)
    one = run_nowcast(tiny, obs, through=2020, prior=prior)
    two = run_nowcast(tiny, obs, through=2020, replications=N_RUNS, workers=2)
    pd.testing.assert_frame_equal(one.posterior.draws, two.posterior.draws)
    pd.testing.assert_frame_equal(one.posterior.ess, two.posterior.ess)
    pd.testing.assert_frame_equal(
        one.scores.reset_index(drop=True), two.scores.reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(one.attainment, two.attainment)


def test_observations_after_through_are_never_used(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    obs = pd.read_csv(truth_file(tmp_path, prior.metrics, 7))
    changed = obs.copy()
    late = changed["year"] > 2020
    changed.loc[late, "value"] *= 3.0
    a = run_nowcast(tiny, write_obs(tmp_path / "a.csv", obs), through=2020, prior=prior)
    b = run_nowcast(tiny, write_obs(tmp_path / "b.csv", changed), through=2020, prior=prior)
    pd.testing.assert_frame_equal(a.posterior.draws, b.posterior.draws)
    pd.testing.assert_frame_equal(a.posterior.metrics, b.posterior.metrics)
    assert (a.scores["year"] > 2020).all() and len(a.scores) == int(late.sum())
    assert list(a.scores.columns[:11]) == [
        *("indicator", "year", "observed", "median", "p05", "p25", "p75", "p95"),
        *("in50", "in90", "pit"),
    ]
    np.testing.assert_allclose(b.scores["observed"], 3.0 * a.scores["observed"])


# -- synthetic truth --------------------------------------------------------------------------


def test_synthetic_truth_is_covered_and_observed_intervals_never_widen(
    tiny: policysim.LoadedScenario, tmp_path: Path
) -> None:
    """Runs of another ensemble of the same model play the truth: the nowcast through 2020
    covers their later years at close to nominal rates, and conditioning narrows the 90%
    interval of the observed indicators at the observed years wherever the observation is
    informative. Where it is not (observation error several times the prior's spread: GDP,
    whose runs differ by 2-5% against an error of 10%), the posterior is the prior up to the
    Monte Carlo error of a 5-95% range read off fewer effective runs, and that can come out a
    few per cent wider; exact importance weighting of the same prior runs, with no resampling
    or jitter, widens as often (docs/NOWCAST.md)."""
    prior = run_ensemble(tiny, replications=60)
    truths = run_ensemble(tiny, replications=8, seed=99)
    tables, prior_tables, ratios, informative = [], [], [], []
    for run in range(8):
        obs = truth_file(tmp_path, truths.metrics, run, f"t{run}.csv")
        r = run_nowcast(tiny, obs, through=2020, prior=prior)
        tables.append(r.scores)
        prior_tables.append(r.prior_scores)
        values = pd.read_csv(obs).set_index(["indicator", "year"])["value"]
        for indicator in SERIES:
            for year in (2018, 2019, 2020):
                a = province(prior.metrics, indicator, year)
                b = province(r.posterior.metrics, indicator, year)
                wa = np.quantile(a, 0.95) - np.quantile(a, 0.05)
                wb = np.quantile(b, 0.95) - np.quantile(b, 0.05)
                ratios.append(wb / wa)
                # the observation's error (the filter's likelihood) against the prior's spread
                error = OBS_REL_SD * abs(values[indicator, year])
                error = max(error, 0.5) if indicator in COUNT_INDICATORS else error
                informative.append(a.std() >= error)
    width, info = np.asarray(ratios), np.asarray(informative)
    assert width.mean() <= 0.85, width
    # an informative observation (error no larger than the prior's spread: a Gaussian update
    # narrows the interval by 29% at least) narrows it, in every truth (72 cells, 31 of them
    # informative: at most 0.75 measured)
    assert info.sum() >= 20 and width[info].max() <= 0.9, (width, info)
    # the others may widen, by Monte Carlo error only (a kernel jitter too wide, or weights
    # ignored, widens far more). At most 1.04 measured before the macro shock; 1.15 with it
    # (truth 2's R&D of 2018: info 0.65, the truth 3.5 prior sds above the prior median, the
    # smallest ESS 20 of 60, so the range rests on few distinct runs; exact importance
    # weighting of the same prior runs widens that truth's GDP of 2020 by 1.22)
    assert width[~info].max() <= 1.2, (width, info)
    post = pd.concat(tables, ignore_index=True)
    unconditioned = pd.concat(prior_tables, ignore_index=True)
    pooled = interval_coverage(post)
    base = interval_coverage(unconditioned)
    # 8 truths x 3 indicators x 4 years = 96 cells, strongly correlated within a truth; with 60
    # runs the nominal 90% interval covers about 85% (hindcast.held_out_scores): a loose band
    # (an overconfident filter, e.g. obs_rel_sd 0.05 with 30 runs, gives about 60%)
    assert pooled["coverage90"] >= 0.7, pooled
    assert pooled["coverage90"] >= base["coverage90"] - 0.15, (pooled, base)
    # and the conditioned runs are sharper where it counts: a lower mean CRPS out of sample
    assert post["crps"].mean() < unconditioned["crps"].mean()


# -- outputs ----------------------------------------------------------------------------------


def test_outputs_are_written(
    tiny: policysim.LoadedScenario, prior: EnsembleResult, tmp_path: Path
) -> None:
    obs = truth_file(tmp_path, prior.metrics, 4)
    r: NowcastResult = policysim.run_nowcast(tiny, obs, through=2020, prior=prior)
    written = write_nowcast(r, tmp_path / "out")
    for key in ("scores", "attainment", "ess", "events", "parameters", "manifest", "report"):
        assert written[key].is_file(), key
    att = pd.read_csv(written["attainment"], encoding="utf-8-sig")
    assert {"prior_probability", "posterior_probability", "change", "remaining"} <= set(att)
    assert att.loc[att["target"] == "national_2024", "remaining"].item()
    text = written["briefing"].read_text(encoding="utf-8")
    assert "Given the statistics through 2020" in text and "依据截至2020年" in text
    counties = pd.read_csv(written["county_probabilities"], encoding="utf-8-sig")
    assert "安源区" in set(counties["name"]) and counties["caveat"].notna().all()


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("indicator,year\nhnte_count,2019\n", r"missing column.*\(and code for county events\)"),
        ("", r"the file is empty; expected a header indicator,year,value\[,code\]"),
        (b"indicator,year,value\nhnte_count,2019,\xff\n", "not UTF-8 text"),
        ("indicator,year,value\nnope,2019,1\n", "row 2.*unknown indicator"),
        ("indicator,year,value\nhnte_count,2040,1\n", "row 2.*year outside the horizon"),
        ("indicator,year,value\nhnte_count,20x9,1\n", "not an integer year"),
        ("indicator,year,value\nhnte_count,2019,inf\n", "not a finite number"),
        ("indicator,year,value\nhnte_count,2019,-3\n", "expected a value >= 0"),
        ("indicator,year,value,code\nnational_county,2017,1,360681\n", "after the base year"),
        ("indicator,year,value,code\nnational_county,2018,1,999999\n", "unknown county code"),
        ("indicator,year,value,code\npilot_county,2018,2,360681\n", "value 1"),
        ("indicator,year,value,code\nnational_batch_size,2018,1.5,\n", "whole number"),
        ("indicator,year,value,code\nhnte_count,2019,5,360681\n", "expected an empty code"),
        (
            "indicator,year,value\nhnte_count,2019,5\nhnte_count,2019,6\n",
            "row 3.*repeats row 2",
        ),
        ("indicator,year,value\n", "no observations"),
    ],
)
def test_bad_observed_files_name_file_row_and_expectation(
    tiny: policysim.LoadedScenario, tmp_path: Path, body: str | bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        read_nowcast_observed(path, tiny.scenario)
    assert "bad.csv" in str(info.value) and "\n" not in str(info.value)


def test_through_outside_the_horizon_is_refused(
    tiny: policysim.LoadedScenario, tmp_path: Path
) -> None:
    path = tmp_path / "o.csv"
    path.write_text("indicator,year,value\nhnte_count,2019,5\n", encoding="utf-8")
    obs = read_nowcast_observed(path, tiny.scenario)
    assert check_through(None, obs, tiny.scenario) == 2019
    for bad in (2016, 2024, 2031):
        with pytest.raises(ScenarioError, match="--through"):
            check_through(bad, obs, tiny.scenario)
