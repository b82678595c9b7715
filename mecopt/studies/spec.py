"""Study files (TOML): a problem, a generator grid, solvers, seeds and limits, expanded to runs.

```toml
[study]
name = "table2-jrors"
problem = "jrors"
store = "table2-jrors.db"     # SQLite file, relative to this TOML file
instance_seeds = [0, 1]       # generator seeds
solver_seeds = [0, 1, 2]      # for stochastic solvers; deterministic ones run once
time_limit = 60               # seconds per run (default: none)

[generator]                   # lists expand as a cartesian product ...
preset = ["table2-12", "table2-40"]
zip = []                      # ... except the keys named here, which vary together

[[solvers]]
name = "exact"

[[solvers]]
name = "bssa"
max_evals = 6000
options = { pop_size = 30 }
```
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError
from ..formulations import PROBLEMS
from ..formulations._schema import format_validation_error

DETERMINISTIC = {"exact", "enumerate", "minlp", "greedy"}


class SolverEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    options: dict[str, Any] = Field(default_factory=dict)
    max_evals: int | None = Field(None, ge=1)
    time_limit: float | None = Field(None, gt=0)


class StudyHead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    problem: str
    store: str = "results.db"
    instance_seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    solver_seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    time_limit: float | None = Field(None, gt=0)


class StudyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    study: StudyHead
    generator: dict[str, Any] = Field(default_factory=dict)
    solvers: list[SolverEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Run:
    """One cell of the study: an instance (by generator parameters) and one solver run."""

    run_id: str
    problem: str
    generator: dict
    instance_seed: int
    solver: str
    options: dict
    solver_seed: int
    time_limit: float | None
    max_evals: int | None

    def key(self) -> dict:
        return {"problem": self.problem, "generator": self.generator, "instance_seed": self.instance_seed,
                "solver": self.solver, "options": self.options, "solver_seed": self.solver_seed,
                "time_limit": self.time_limit, "max_evals": self.max_evals}


@dataclass
class Study:
    name: str
    problem: str
    store: Path
    runs: list[Run] = field(default_factory=list)


def _grid(gen: dict) -> list[dict]:
    gen = dict(gen)
    zipped = gen.pop("zip", [])
    lists = {k: v for k, v in gen.items() if isinstance(v, list) and k not in zipped}
    fixed = {k: v for k, v in gen.items() if not isinstance(v, list)}
    zip_vals = [gen[k] for k in zipped] if zipped else []
    for k in zipped:
        if k not in gen or not isinstance(gen[k], list):
            raise InputError(f"study: generator.zip: {k!r} must name a list in [generator]")
    if zipped and len({len(v) for v in zip_vals}) != 1:
        raise InputError("study: generator.zip: the zipped lists must have the same length")
    zipped_rows = [dict(zip(zipped, row)) for row in zip(*zip_vals)] if zipped else [{}]
    keys = list(lists)
    out = []
    for combo in itertools.product(*(lists[k] for k in keys)):
        for zrow in zipped_rows:
            out.append({**fixed, **dict(zip(keys, combo)), **zrow})
    return out


def run_id(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def load_study(path: str | Path) -> Study:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as err:
        raise InputError(f"study: cannot read {path}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"study: {path} is not valid TOML ({err})") from None
    try:
        spec = StudyFile.model_validate(data)
    except ValidationError as err:
        raise InputError(format_validation_error(err, "study")) from None
    if spec.study.problem not in PROBLEMS:
        raise InputError(f"study: study.problem: expected one of {', '.join(PROBLEMS)}, "
                         f"got {spec.study.problem!r}")
    from ..solvers.base import get_solver

    for i, s in enumerate(spec.solvers):
        info = get_solver(s.name)
        if spec.study.problem not in info.problems:
            raise InputError(f"study: solvers[{i}].name: {s.name} does not solve {spec.study.problem}")
        try:
            info.options(**s.options)
        except ValidationError as err:
            raise InputError(format_validation_error(err, f"study: solvers[{i}].options")) from None
    mod = PROBLEMS[spec.study.problem]
    cells = _grid(spec.generator)
    for g in cells:
        if "preset" in g and g["preset"] not in mod.PRESETS:
            raise InputError(f"study: generator.preset: unknown preset {g['preset']!r}")
    study = Study(spec.study.name, spec.study.problem, (path.parent / spec.study.store).resolve())
    for g in cells:
        for iseed in spec.study.instance_seeds:
            for s in spec.solvers:
                seeds = spec.study.solver_seeds[:1] if s.name in DETERMINISTIC else spec.study.solver_seeds
                for sseed in seeds:
                    tl = s.time_limit if s.time_limit is not None else spec.study.time_limit
                    key = {"problem": spec.study.problem, "generator": g, "instance_seed": iseed,
                           "solver": s.name, "options": s.options, "solver_seed": sseed,
                           "time_limit": tl, "max_evals": s.max_evals}
                    study.runs.append(Run(run_id(key), spec.study.problem, g, iseed, s.name,
                                          s.options, sseed, tl, s.max_evals))
    return study
