"""Behaviour parameters, their uncertainty distributions and policy targets of the scenario
schema (see :mod:`policysim.scenario.schema`).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, model_validator

from policysim.scenario.fields import (
    PROVINCE_METRICS,
    Comparator,
    Year,
    _Strict,
)


class Parameter(_Strict):
    value: float
    unit: str
    source: str


#: The keys of a distribution other than its name.
_DISTRIBUTION_KEYS: Final = ("low", "high", "mode", "mean", "sd", "mean_log", "sd_log", "a", "b")
#: Largest magnitude of a distribution's bounds and centre (beyond it draws overflow to inf).
_MAX_BOUND: Final = 1e15


class Distribution(_Strict):
    distribution: Literal["uniform", "triangular", "normal", "lognormal", "beta"]
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: Annotated[float, Field(gt=0)] | None = None
    mean_log: float | None = None
    sd_log: Annotated[float, Field(gt=0)] | None = None
    a: Annotated[float, Field(gt=0)] | None = None
    b: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _params(self) -> Distribution:
        need = {
            "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high"),
            "normal": ("mean", "sd"),
            "lognormal": ("mean_log", "sd_log"),
            "beta": ("a", "b", "low", "high"),
        }[self.distribution]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(
                f"{self.distribution} distribution needs {', '.join(need)}; missing "
                f"{', '.join(missing)}"
            )
        # a normal may be truncated to [low, high]; any other key is a mistake, not ignored
        allowed = {*need, *(("low", "high") if self.distribution == "normal" else ())}
        stray = [n for n in _DISTRIBUTION_KEYS if n not in allowed and getattr(self, n) is not None]
        if stray:
            raise ValueError(
                f"{self.distribution} distribution takes {', '.join(sorted(allowed))}; "
                f"unexpected {', '.join(stray)}"
            )
        for n in _DISTRIBUTION_KEYS:
            v = getattr(self, n)
            if v is not None and abs(v) > _MAX_BOUND:
                raise ValueError(f"{n} {v:g} is beyond +-{_MAX_BOUND:g}")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low {self.low:g} is not below high {self.high:g}")
        if (
            self.mode is not None
            and self.low is not None
            and self.high is not None
            and not self.low <= self.mode <= self.high
        ):
            raise ValueError(f"mode {self.mode:g} is outside [low, high]")
        return self

    def support(self) -> tuple[float, float]:
        """Smallest interval holding all the mass (infinite ends where unbounded)."""
        if self.distribution in ("uniform", "triangular", "beta"):
            assert self.low is not None and self.high is not None
            return (self.low, self.high)
        if self.distribution == "lognormal":
            return (0.0, float("inf"))
        lo = self.low if self.low is not None else float("-inf")
        hi = self.high if self.high is not None else float("inf")
        return (lo, hi)


class Target(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    metric: str
    comparator: Comparator
    threshold: float | None = None
    year: Year
    level: Literal["province"] = "province"
    description: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> Target:
        if self.metric not in PROVINCE_METRICS:
            raise ValueError(
                f"unknown metric {self.metric!r} (expected one of {', '.join(PROVINCE_METRICS)})"
            )
        if self.comparator == "rising":
            if self.threshold is not None:
                raise ValueError("comparator 'rising' takes no threshold")
        elif self.threshold is None:
            raise ValueError(f"comparator {self.comparator!r} needs a threshold")
        return self
