"""Pieces shared by the three instance schemas: strict pydantic config and error formatting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError

SCHEMA_VERSION = "mecopt/v1"

# Strict: "1" is not a number, unknown fields are typos, NaN/inf are errors.
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=False)

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Unit = Annotated[float, Field(ge=0, le=1)]


class Model(BaseModel):
    model_config = STRICT


class InstanceBase(Model):
    """Fields common to every instance file."""

    schema_: Literal["mecopt/v1"] = Field(alias="schema")
    name: str = ""
    generator: dict[str, Any] | None = None

    model_config = ConfigDict(**STRICT, populate_by_name=True)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    @property
    def _cache(self) -> dict:
        # Derived arrays (rates, option tables) are computed once per instance.
        cache = self.__dict__.get("_mecopt_cache")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_mecopt_cache", cache)
        return cache


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def format_validation_error(err: ValidationError, what: str = "instance") -> str:
    """One line naming the first offending field, e.g. ``devices[2].cpu_hz: ...``."""
    first = err.errors()[0]
    loc = _loc(tuple(p for p in first["loc"] if p not in ("function-after",)))
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    extra = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{what}: {loc + ': ' if loc else ''}{msg}{extra}"


def validate(model_cls: type[BaseModel], data: Any, what: str) -> Any:
    try:
        return model_cls.model_validate(data)
    except ValidationError as err:
        raise InputError(format_validation_error(err, what)) from None


def check_matrix(name: str, value: list, rows: int, cols: int, rows_of: str, cols_of: str) -> None:
    """Shape check with a message a user can act on."""
    if len(value) != rows:
        raise ValueError(f"{name}: expected {rows} rows (one per {rows_of}), got {len(value)}")
    for r, row in enumerate(value):
        if len(row) != cols:
            raise ValueError(
                f"{name}[{r}]: expected {cols} columns (one per {cols_of}), got {len(row)}"
            )


@dataclass
class Scores:
    """Batched referee output: one entry per member of the population."""

    objective: np.ndarray
    violation: np.ndarray

    @property
    def feasible(self) -> np.ndarray:
        return self.violation <= 0.0


def sum_by_choice(choice: np.ndarray, weights, n: int) -> np.ndarray:
    """(pop, n): per row, the sum of ``weights`` over the entries whose choice is j in 0..n-1.

    ``choice`` is (pop, k) with -1 meaning "none" (local, rejected); one bincount serves the
    whole population. Server loads, CPU and units used all come from here.
    """
    pop = choice.shape[0]
    idx = (choice + 1) + (n + 1) * np.arange(pop)[:, None]
    w = np.broadcast_to(weights, choice.shape)
    return np.bincount(idx.ravel(), weights=w.ravel(), minlength=pop * (n + 1)).reshape(pop, n + 1)[:, 1:]
