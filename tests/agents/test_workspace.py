"""The enterprise rule in its work buffers (issue 20): the same bits as the allocating form on
random populations, in place and not, year after year (a year's outcome is the next year's input,
as in the model) and as the population grows; the buffers reused, not reallocated, across calls
of one size."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.agents.calendar import YearRules, resolve_year
from policysim.agents.enterprises import (
    Draws,
    EnterpriseWorkspace,
    FirmParams,
    Firms,
    Support,
    YearOutcome,
    enterprise_year,
)
from policysim.agents.random import UniformBuffers, uniform_streams
from policysim.agents.reference import enterprise_year_allocating
from policysim.scenario import load_scenario

HINDCAST = Path(__file__).resolve().parents[2] / "scenarios" / "jiangxi_hindcast.yaml"
_SCENARIO = load_scenario(HINDCAST).scenario
#: rules of consecutive years (cultivation and take-up change, certificates expire)
RULES: tuple[YearRules, ...] = tuple(resolve_year(_SCENARIO.policy, y) for y in range(2018, 2024))
PARAMS = FirmParams.from_values(_SCENARIO.parameters())


def random_firms(rng: np.random.Generator, n: int, year: int) -> Firms:
    """A population around the HNTE thresholds: every branch of the rule is taken."""
    r0 = np.where(rng.random(n) < 0.4, 0.0, rng.uniform(0.005, 0.08, n))
    # a few firms with own R&D but no base intensity: R&D without the performers' support
    own = np.where(r0 > 0, r0 * rng.uniform(0.5, 1.5, n), 0.0)
    own[rng.random(n) < 0.03] = 0.01
    sales = np.exp(rng.uniform(np.log(1e6), np.log(1e9), n))
    real = own * sales
    hnte = rng.random(n) < 0.3
    return Firms(
        firm_id=rng.permutation(n).astype(np.int64),
        county=rng.integers(0, 5, n),
        township=rng.integers(0, 20, n),
        sector=rng.integers(0, 4, n),
        manufacturing=rng.random(n) < 0.5,
        other_ok=rng.random(n) < 0.5,
        sales=sales,
        employees=rng.uniform(5.0, 2000.0, n),
        age=rng.integers(0, 10, n).astype(np.float64),
        r0=r0,
        b0=rng.uniform(0.8, 1.0, n),
        own=own,
        gap=np.zeros(n),
        rd_real=real,
        rd_reported=real,
        hist1=rng.uniform(0.0, 0.07, n),
        hist2=rng.uniform(0.0, 0.07, n),
        hnte=hnte,
        hnte_expiry=np.where(hnte, rng.integers(year - 1, year + 3, n), -1),
        tech_sme=rng.random(n) < 0.3,
        success=rng.random(n) < 0.2,
        patents=np.zeros(n),
        claim_u=rng.random(n),
        criteria_cost=np.exp(rng.normal(0.0, 1.0, n)),
        cultivated=rng.random(n) < 0.2,
    )


def random_year(
    rng: np.random.Generator, f: Firms, performers: bool, admitted: bool
) -> tuple[Support, Draws]:
    """Support (to the performers alone, as the model passes it, or to every firm) and draws."""
    n = f.n
    idx = np.flatnonzero(f.r0 > 0.0)
    k = idx.size if performers else n
    support = Support(
        voucher=rng.uniform(0, 1e5, k) * (rng.random(k) < 0.3),
        subsidy=rng.uniform(0, 2e5, k) * (rng.random(k) < 0.3),
        credit_rd=rng.uniform(0, 1e4, k) * (rng.random(k) < 0.2),
        boost=1.0 + rng.uniform(0, 0.5, k),
        admitted=(rng.random(n) < 0.1) if admitted else None,
        performers=idx if performers else None,
    )
    return support, Draws(*(rng.random(n) for _ in range(5)))


def assert_same(a: YearOutcome, b: YearOutcome) -> None:
    """Identical bits and dtypes, field by field."""
    for field in dataclasses.fields(Firms):
        x, y = getattr(a.firms, field.name), getattr(b.firms, field.name)
        assert x.dtype == y.dtype, field.name
        np.testing.assert_array_equal(x, y, err_msg=field.name, strict=True)
    for name in ("exits", "bunched", "certified"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def snapshot(f: Firms) -> dict[str, np.ndarray]:
    return {fl.name: getattr(f, fl.name).copy() for fl in dataclasses.fields(f)}


def assert_unchanged(f: Firms, before: dict[str, np.ndarray]) -> None:
    for name, values in before.items():
        np.testing.assert_array_equal(getattr(f, name), values, err_msg=name, strict=True)


def copy_firms(f: Firms) -> Firms:
    return Firms(**snapshot(f))


@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 300), min_size=1, max_size=4),
    years=st.integers(1, 4),
    performers=st.booleans(),
    admitted=st.booleans(),
    upgrade=st.floats(0.0, 1.0),
    growth_scale=st.sampled_from([0.0, PARAMS.growth_scale, 0.5]),
)
@settings(max_examples=60, deadline=None)
def test_workspace_form_equals_allocating_form(
    seed: int,
    sizes: list[int],
    years: int,
    performers: bool,
    admitted: bool,
    upgrade: float,
    growth_scale: float,
) -> None:
    """One workspace through populations of changing size (grown when needed), each run for a
    few years with the outcome fed back (as the model does): every year the same bits as the
    allocating rule, in place (the model's form) and not (the inputs then left as they were)."""
    rng = np.random.default_rng(seed)
    p = dataclasses.replace(PARAMS, upgrade=upgrade, growth_scale=growth_scale)
    ws = EnterpriseWorkspace()
    for n in sizes:
        start = int(rng.integers(0, len(RULES) - years + 1))
        f_alloc = random_firms(rng, n, RULES[start].year)
        f_pure, f_inplace = f_alloc, copy_firms(f_alloc)
        for rules in RULES[start : start + years]:
            support, draws = random_year(rng, f_alloc, performers, admitted)
            before = snapshot(f_pure)
            a = enterprise_year_allocating(f_alloc, rules, support, p, draws)
            b = enterprise_year(f_pure, rules, support, p, draws, ws)
            assert_same(a, b)
            assert_unchanged(f_pure, before)
            c = enterprise_year(f_inplace, rules, support, p, draws, ws, inplace=True)
            assert_same(a, c)
            assert c.firms.sales is f_inplace.sales  # updated in place
            f_alloc, f_pure, f_inplace = a.firms, b.firms, c.firms
        assert ws.capacity >= n


def _run(ws: EnterpriseWorkspace, f: Firms, rules: YearRules, seed: int) -> YearOutcome:
    support, draws = random_year(np.random.default_rng(seed), f, True, False)
    return enterprise_year(f, rules, support, PARAMS, draws, ws, inplace=True)


def _buffer_ids(ws: EnterpriseWorkspace) -> list[int]:
    buffers = (ws.kind, ws.valid, ws.lasting, ws.registered, ws.mask, ws.mask2, ws.exits)
    return [id(b) for b in (*buffers, ws.bunched, ws.certified, ws.sub_kind, *ws.sub, *ws.sub_mask)]


def test_workspace_is_reused_not_reallocated() -> None:
    """Years of one population use the same buffers, and the population's own arrays (the two
    intensity histories swap places); a larger population grows the workspace once, a smaller
    one fits in it."""
    rng = np.random.default_rng(3)
    ws = EnterpriseWorkspace()
    f = copy_firms(random_firms(rng, 500, RULES[0].year))  # (distinct arrays: updated in place)
    arrays = {fl.name: id(getattr(f, fl.name)) for fl in dataclasses.fields(f)}
    out = _run(ws, f, RULES[0], 0)
    assert (ws.allocations, ws.capacity) == (1, 500)
    ids = _buffer_ids(ws)
    for year, rules in enumerate(RULES[1:], start=1):
        out = _run(ws, out.firms, rules, year)
        assert ws.allocations == 1
        assert _buffer_ids(ws) == ids
        now = {fl.name: id(getattr(out.firms, fl.name)) for fl in dataclasses.fields(f)}
        hist = {arrays["hist1"], arrays["hist2"]}
        assert {now["hist1"], now["hist2"]} == hist
        assert {k: v for k, v in now.items() if k not in ("hist1", "hist2")} == {
            k: v for k, v in arrays.items() if k not in ("hist1", "hist2")
        }
    _run(ws, random_firms(rng, 800, RULES[0].year), RULES[0], 9)
    assert (ws.allocations, ws.capacity) == (2, 800)
    _run(ws, random_firms(rng, 300, RULES[0].year), RULES[0], 10)
    assert (ws.allocations, ws.capacity) == (2, 800)


def test_without_a_workspace_the_outcome_is_the_callers() -> None:
    """Without a workspace the rule is pure: two calls give equal, unshared arrays."""
    rng = np.random.default_rng(5)
    f = random_firms(rng, 200, RULES[2].year)
    support, draws = random_year(rng, f, True, True)
    a = enterprise_year(f, RULES[2], support, PARAMS, draws)
    b = enterprise_year(f, RULES[2], support, PARAMS, draws)
    assert_same(a, b)
    inputs = {id(getattr(f, fl.name)) for fl in dataclasses.fields(Firms)}
    for fl in dataclasses.fields(Firms):
        x, y = getattr(a.firms, fl.name), getattr(b.firms, fl.name)
        if id(x) not in inputs:  # (arrays the rule does not change are passed on)
            assert not np.shares_memory(x, y), fl.name
    assert not np.shares_memory(a.exits, b.exits)


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_populations(n: int) -> None:
    rng = np.random.default_rng(n)
    f = random_firms(rng, n, RULES[1].year)
    support, draws = random_year(rng, f, True, True)
    expected = enterprise_year_allocating(f, RULES[1], support, PARAMS, draws)
    ws = EnterpriseWorkspace()
    assert_same(expected, enterprise_year(f, RULES[1], support, PARAMS, draws, ws))
    assert_same(expected, enterprise_year(f, RULES[1], support, PARAMS, draws, ws, inplace=True))


@given(
    key=st.integers(0, 2**64 - 1),
    sizes=st.lists(st.integers(0, 500), min_size=1, max_size=4),
    n_streams=st.integers(1, 7),
)
@settings(max_examples=40, deadline=None)
def test_uniform_streams_in_buffers_equal_the_allocating_form(
    key: int, sizes: list[int], n_streams: int
) -> None:
    """The draws written into reused buffers (contiguous rows, grown with the population) are
    the same bits as the allocating form's."""
    buffers = UniformBuffers()
    streams = tuple(range(1, n_streams + 1))
    for n in sizes:
        ids = np.random.default_rng(n).permutation(2 * n + 1)[:n].astype(np.int64) - 1
        expected = uniform_streams(key, ids, 2020, streams)
        got = uniform_streams(key, ids, 2020, streams, buffers)
        assert len(got) == n_streams
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b, strict=True)
            assert b.flags.c_contiguous


def test_in_place_on_shared_or_narrow_arrays_still_equals_the_allocating_form() -> None:
    """A population whose fields share an array (here R&D real and reported) or whose expiry
    years are not int64 is first copied (in place, the fields would see each other's values)."""
    rng = np.random.default_rng(11)
    f = random_firms(rng, 400, RULES[3].year)
    assert f.rd_real is f.rd_reported
    support, draws = random_year(rng, f, True, True)
    expected = enterprise_year_allocating(copy_firms(f), RULES[3], support, PARAMS, draws)
    ws = EnterpriseWorkspace()
    assert_same(expected, enterprise_year(f, RULES[3], support, PARAMS, draws, ws, inplace=True))
    g = dataclasses.replace(copy_firms(f), hnte_expiry=f.hnte_expiry.astype(np.int32))
    g = dataclasses.replace(g, rd_real=g.rd_real.copy())
    got = enterprise_year(g, RULES[3], support, PARAMS, draws, ws, inplace=True)
    assert_same(expected, got)
    assert got.firms.sales is g.sales  # (only the expiry years were replaced)


def test_released_buffers_change_nothing_but_memory() -> None:
    """simulate() gives back a finished model's work buffers; a model that releases them in
    mid-run and steps on computes the same numbers as one that keeps them."""
    from policysim.model import PolicyModel
    from policysim.simulation import baseline_for

    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "tiny.yaml").scenario
    b = baseline_for(sc)
    runs = []
    for release in (False, True):
        m = PolicyModel(sc, b, sc.parameters(), np.random.default_rng(5))
        for year in range(4):
            m.step()
            if release and year == 1:
                m.release_buffers()
                assert m._workspace.capacity == 0
        runs.append(m.records)
    for a, c in zip(*runs, strict=True):
        np.testing.assert_array_equal(a.rd_reported, c.rd_reported)
        np.testing.assert_array_equal(a.hnte, c.hnte)


@given(
    seed=st.integers(0, 2**32 - 1),
    steps=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 200)), min_size=1, max_size=5),
)
@settings(max_examples=40, deadline=None)
def test_place_grows_in_its_room_without_changing_the_population(
    seed: int, steps: list[tuple[int, int]]
) -> None:
    """Entrants placed into free slots then appended give the same population, firm for firm and
    in the same order, whether the arrays grow into spare room of their backing arrays or are
    copied each time; the room itself is never part of the population (no empty slots at the
    end that a rule would spend work on), and a growth into room copies nothing."""
    rng = np.random.default_rng(seed)
    with_room = random_firms(rng, 50, 2020)
    copied = copy_firms(with_room)
    for exits, arriving in steps:
        gone = rng.choice(with_room.n, size=min(exits, with_room.n), replace=False)
        for f in (with_room, copied):
            f.township[gone] = 99  # (exited: free slots)
        new = random_firms(rng, arriving, 2020)
        free = np.flatnonzero(with_room.township == 99)
        np.testing.assert_array_equal(free, np.flatnonzero(copied.township == 99))
        before = with_room.sales
        with_room = with_room.place(free, new)
        copied = copy_firms(copied).place(free, new)  # (arrays with no room: always copied)
        assert_unchanged(with_room, snapshot(copied))
        assert with_room.n == copied.n == before.size + max(new.n - free.size, 0)
        if before.base is not None and before.base.size >= with_room.n:
            # grown into its room: the same memory, longer
            assert with_room.sales.ctypes.data == before.ctypes.data


def test_place_appends_into_room_then_copies_when_it_runs_out() -> None:
    """Known answer: 10 firms and 5 entrants with no free slot make 15 firms in backing arrays
    with room for 20 (10 firms and a spare of twice the entrants); 3 more entrants use that room (same
    memory); 8 more do not fit, so the arrays are copied into new room."""
    rng = np.random.default_rng(1)
    f = random_firms(rng, 10, 2020)
    none = np.empty(0, np.int64)
    f = f.place(none, random_firms(rng, 5, 2020))
    assert f.n == 15 and f.sales.base is not None and f.sales.base.size == 20
    start = f.sales.ctypes.data
    f = f.place(none, random_firms(rng, 3, 2020))
    assert f.n == 18 and f.sales.ctypes.data == start
    new = random_firms(rng, 8, 2020)
    f = f.place(none, new)
    assert f.n == 26 and f.sales.ctypes.data != start
    np.testing.assert_array_equal(f.sales[18:], new.sales)
