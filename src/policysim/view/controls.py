"""The levers a page can change, as ``--set`` overrides: no UI here, only the logic the page and
the tests share.

A page shows a scenario's levers with their units, defaults and sources (:func:`lever_controls`),
turns the values typed into them into the ``key.path=value`` overrides of the CLI
(:func:`build_overrides`), checks them through the same path as ``policysim run --set``
(:func:`check_controls`: :func:`~policysim.scenario.load_scenario` then the pre-flight checks of
``run``), and writes the exact command that reproduces a run (:func:`cli_command`).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from policysim.errors import PolicysimError, ScenarioError
from policysim.scenario import LoadedScenario, load_scenario

__all__ = [
    "BUDGET_SCALE",
    "Control",
    "build_overrides",
    "check_controls",
    "check_counts",
    "cli_command",
    "lever_controls",
    "strategy_names",
]

#: Name of the budget-scale control (a multiplier of every year's budget value).
BUDGET_SCALE: Final = "budget_scale"
#: Uncertainties whose range the page offers (when the scenario samples them with low/high).
KEY_UNCERTAINTIES: Final = (
    "rd_user_cost_elasticity",
    "county_batch_size",
    "county_matching_rate",
    "hnte_stock_2017",
)
#: Most replications and workers a page may ask for (the page runs on a laptop).
MAX_PAGE_REPLICATIONS: Final = 10_000
MAX_PAGE_WORKERS: Final = 64


@dataclass(frozen=True)
class Control:
    """One lever shown on the page.

    Attributes
    ----------
    key : str
        The scenario key path it overrides (``allocation.instrument_shares.vouchers``), or
        :data:`BUDGET_SCALE` for the budget multiplier.
    label_en, label_zh : str
        What the control is called.
    unit : str
        Unit of the value (``x`` for the budget multiplier, ``count``, ``share``).
    default : str
        The scenario's value, as text.
    source : str
        Where the default comes from (the scenario's ``source``), or "".
    """

    key: str
    label_en: str
    label_zh: str
    unit: str
    default: str
    source: str = ""


_SHARES_ZH: Final = {
    "vouchers": "科技创新券",
    "rd_subsidies": "研发后补助",
    "platforms": "创新平台",
    "commissioners": "科技特派员",
    "credit": "科技信贷",
    "poverty_programme": "科技精准扶贫",
}


def _text(value: float) -> str:
    return f"{value:g}"


def lever_controls(loaded: LoadedScenario) -> list[Control]:
    """The levers of a scenario with their units, defaults and sources: the budget scale, the
    sizes of the documented county and township batches, the ranges of the key uncertainties
    and the instrument shares (the strategy is chosen from :func:`strategy_names`)."""
    sc = loaded.scenario
    budget = ", ".join(f"{y}: {v:g}" for y, v in sorted(sc.budget.values.items()))
    controls = [
        Control(
            BUDGET_SCALE,
            f"budget scale (x the scenario's 亿元/yr: {budget})",
            f"预算倍数（× 情景预算，亿元/年：{budget}）",
            "x",
            "1",
            sc.budget.source,
        )
    ]
    designation = sc.designation
    for level, batches, zh in (
        ("county", designation.county.batches, "创新型县批次"),
        ("township", designation.township.batches, "创新型乡镇批次"),
    ):
        for i, batch in enumerate(batches):
            controls.append(
                Control(
                    f"designation.{level}.batches.{i}.size",
                    f"{level} batch {batch.year} (size)",
                    f"{zh} {batch.year}（个数）",
                    "count",
                    str(batch.size),
                    batch.source,
                )
            )
    controls += _uncertainty_controls(loaded)
    for name, share in sc.allocation.instrument_shares.items():
        controls.append(
            Control(
                f"allocation.instrument_shares.{name}",
                f"share of county funds: {name.replace('_', ' ')}",
                f"县级资金占比：{_SHARES_ZH.get(name, name)}",
                "share",
                _text(share),
                "scenario file (shares sum to 1)",
            )
        )
    return controls


def _uncertainty_controls(loaded: LoadedScenario) -> list[Control]:
    """Low and high ends of the key uncertainties' ranges, with the parameter's unit and
    source (:data:`policysim.scenario.parameters.BEHAVIOUR_DEFAULTS`)."""
    from policysim.scenario.parameters import BEHAVIOUR_DEFAULTS

    out: list[Control] = []
    for name in KEY_UNCERTAINTIES:
        dist = loaded.scenario.uncertainties.get(name)
        if dist is None or dist.low is None or dist.high is None:
            continue
        meta = BEHAVIOUR_DEFAULTS.get(name)
        unit = meta.unit if meta is not None else ""
        source = meta.source if meta is not None else ""
        for end, zh, value in (("low", "下限", dist.low), ("high", "上限", dist.high)):
            out.append(
                Control(
                    f"uncertainties.{name}.{end}",
                    f"range of {name.replace('_', ' ')} ({dist.distribution}): {end}",
                    f"不确定参数 {name} 取值范围{zh}",
                    unit,
                    _text(value),
                    source,
                )
            )
    return out


def strategy_names() -> list[str]:
    """The allocation strategies of the registry (:data:`policysim.vocabulary.STRATEGIES`)."""
    from policysim.vocabulary import STRATEGIES

    return [s.name for s in STRATEGIES]


def _scale(raw: str, path: Path) -> float:
    """The budget multiplier typed by the user: a finite number (its sign is checked by the
    scenario schema, on the budget values it produces)."""
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ScenarioError(
            path, "not a number", key_path="budget scale", value=raw, expected="a number, e.g. 1.5"
        )
    return value


def build_overrides(
    loaded: LoadedScenario, values: Mapping[str, str], strategy: str | None = None
) -> list[str]:
    """The ``--set`` overrides that apply the page's values to the scenario.

    Only values that differ from the scenario's own appear. The budget scale becomes one
    override per budget year (``budget.values.2018=3.84``); every other control passes its text
    unchanged, so that the scenario's YAML parsing and schema judge it exactly as on the CLI.

    Parameters
    ----------
    loaded : LoadedScenario
        The scenario without overrides.
    values : mapping of str to str
        Control key (see :func:`lever_controls`) to the text typed.
    strategy : str, optional
        The allocation strategy chosen.

    Raises
    ------
    ScenarioError
        A budget scale that is not a number.
    """
    sc = loaded.scenario
    out: list[str] = []
    if strategy is not None and strategy != sc.allocation.strategy:
        out.append(f"allocation.strategy={strategy}")
    defaults = {c.key: c.default for c in lever_controls(loaded)}
    for key, raw in values.items():
        text = raw.strip()
        if key == BUDGET_SCALE:
            scale = _scale(text, loaded.path)
            if scale != 1.0:
                out += [
                    f"budget.values.{y}={v * scale:.6g}"
                    for y, v in sorted(sc.budget.values.items())
                ]
            continue
        if key not in defaults:
            raise ScenarioError(loaded.path, "not a lever of this page", key_path=key)
        if text != defaults[key]:
            out.append(f"{key}={text}")
    return out


def check_counts(replications: str, workers: str) -> tuple[int, int]:
    """Replications and workers typed on the page, as the CLI checks them (integers within
    caps); raises :class:`ScenarioError` naming ``--replications`` or ``--workers``."""
    parsed: list[int] = []
    for option, raw, cap in (
        ("--replications", replications, MAX_PAGE_REPLICATIONS),
        ("--workers", workers, MAX_PAGE_WORKERS),
    ):
        try:
            n = int(str(raw).strip())
        except ValueError:
            n = 0
        if not 1 <= n <= cap:
            raise ScenarioError(
                None, "bad number", key_path=option, value=raw, expected=f"an integer 1-{cap}"
            )
        parsed.append(n)
    return parsed[0], parsed[1]


def check_controls(path: Path, overrides: Sequence[str]) -> LoadedScenario:
    """Load ``path`` with ``overrides`` and run the pre-flight checks of ``policysim run``.

    Raises
    ------
    PolicysimError
        The CLI's one-line error (file, key path, value, expectation).
    """
    from policysim.experiments.runner import preflight

    loaded = load_scenario(path, overrides)
    preflight(loaded.scenario)
    return loaded


def one_line(exc: PolicysimError) -> str:
    """The error as the CLI prints it: one line."""
    return " ".join(str(exc).split())


def cli_command(
    scenario: Path,
    overrides: Sequence[str],
    *,
    replications: int,
    workers: int,
    out: Path | None = None,
    lang: str = "both",
) -> str:
    """The ``policysim run`` command that reproduces a run of the page, shell-quoted."""
    args = ["policysim", "run", str(scenario)]
    for o in overrides:
        args += ["--set", o]
    args += ["--replications", str(replications), "--workers", str(workers)]
    if lang != "both":
        args += ["--lang", lang]
    if out is not None:
        args += ["--out", str(out)]
    return " ".join(shlex.quote(a) for a in args)
