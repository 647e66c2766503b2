"""Building blocks of the scenario schema: the strict base model, shared field types, dated
series, the instrument and comparator vocabularies and key-path validation errors (see
:mod:`policysim.scenario.schema`).
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policysim.metrics import target_metrics
from policysim.vocabulary import INSTRUMENTS

#: The instruments (one vocabulary, :mod:`policysim.vocabulary`); ``Instrument`` spells them for
#: the type checker and for key-path errors on unknown keys (a test ties the two).
INSTRUMENT_NAMES = INSTRUMENTS
Instrument = Literal[
    "vouchers", "rd_subsidies", "platforms", "commissioners", "credit", "poverty_programme"
]
Comparator = Literal[">=", ">", "<=", "<", "rising"]

#: Province-level metrics that targets may name (from the metric registry).
PROVINCE_METRICS = target_metrics()

NonNeg = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Year = Annotated[int, Field(ge=1990, le=2100)]


def at_path(path: tuple[str | int, ...], message: str) -> ValueError:
    """A validation error located at ``path`` (the loader reports that key path and its line)."""
    return ValueError("@" + json.dumps(list(path)) + "@" + message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DatedSeries(_Strict):
    """Values by year; the value in force in year t is the one of the latest year <= t."""

    values: dict[Year, float]
    unit: str = ""
    source: str = ""

    @field_validator("values")
    @classmethod
    def _non_empty(cls, v: dict[int, float]) -> dict[int, float]:
        if not v:
            raise ValueError("needs at least one year: value entry")
        return v

    def at(self, year: int) -> float:
        """The value in force in ``year`` (the first value applies before its year)."""
        years = sorted(self.values)
        chosen = years[0]
        for y in years:
            if y <= year:
                chosen = y
        return self.values[chosen]
