"""The solver plug-in contract: registry, options, the one Result, and the referee gate.

A solver returns a :class:`Proposal` (a solution and what it can prove); :func:`solve` has the
problem's referee score that solution and builds the :class:`Result`. No solver reports its
own objective.
"""

from __future__ import annotations

import enum
import importlib
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import InfeasibleError, InputError, SolverUnavailableError
from ..formulations import PROBLEMS
from ..formulations._schema import format_validation_error


class Status(str, enum.Enum):
    """How good the returned answer is (SPEC.md 3)."""

    OPTIMAL = "optimal"  # proven: the bound meets the objective
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"  # the instance is proven infeasible, or no feasible point found
    TIME_LIMIT = "time_limit"  # stopped by the clock with no proof (solution may be feasible)
    ERROR = "error"


class Termination(str, enum.Enum):
    """Why the solver stopped, kept apart from how good its answer is."""

    CONVERGED = "converged"
    PROVEN_OPTIMAL = "proven_optimal"
    PROVEN_INFEASIBLE = "proven_infeasible"
    TIME_LIMIT = "time_limit"
    EVALUATION_LIMIT = "evaluation_limit"
    ITERATION_LIMIT = "iteration_limit"
    ERROR = "error"


class Options(BaseModel):
    """Base of each solver's typed options: unknown names are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Proposal:
    """What a solver hands back: a solution and what it can prove about it, never its objective."""

    solution: dict | None
    termination: Termination
    proven_optimal: bool = False
    bound: float | None = None  # a proven bound on the optimum in the problem's sense
    evaluations: int = 0
    iterations: int = 0
    history: list[float] = field(default_factory=list)
    message: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Result:
    """One answer, like scipy's OptimizeResult: everything a study needs to tabulate."""

    solver: str
    problem: str
    status: Status
    termination: Termination
    objective: float | None
    feasible: bool
    bound: float | None
    gap: float | None
    runtime_s: float
    evaluations: int
    iterations: int
    solution: dict | None
    metrics: dict
    violations: dict
    history: list[float]
    options: dict
    seed: int | None
    message: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self, history: bool = False) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        d["termination"] = self.termination.value
        if not history:
            d.pop("history")
        return d


def relative_gap(objective: float | None, reference: float | None, sense: str) -> float | None:
    """Relative distance of ``objective`` from ``reference`` in the problem's direction, >= 0."""
    if objective is None or reference is None or not math.isfinite(objective) or not math.isfinite(reference):
        return None
    diff = (objective - reference) if sense == "min" else (reference - objective)
    diff = max(diff, 0.0)
    if diff == 0.0:
        return 0.0
    return diff / max(abs(reference), 1e-12)


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class SolverInfo:
    name: str
    problems: tuple[str, ...]
    func: Callable[..., Proposal]
    options: type[Options]
    exact: bool
    needs: tuple[str, ...]
    doc: str

    def available(self) -> bool:
        for mod in self.needs:
            try:
                importlib.import_module(mod)
            except ImportError:
                return False
        return True


_REGISTRY: dict[str, SolverInfo] = {}
_LOADED = False


def register(name: str, problems: tuple[str, ...], options: type[Options] = Options,
             exact: bool = False, needs: tuple[str, ...] = ()):
    """Decorator: register ``func(instance, *, seed, time_limit, max_evals, callback, options)``."""

    def deco(func):
        if name in _REGISTRY:
            raise ValueError(f"solver {name!r} is already registered")
        unknown = set(problems) - set(PROBLEMS)
        if unknown:
            raise ValueError(f"solver {name!r}: unknown problems {sorted(unknown)}")
        doc = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        _REGISTRY[name] = SolverInfo(name, tuple(problems), func, options, exact, tuple(needs), doc)
        return func

    return deco


def _load_builtins() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import (  # noqa: F401
            bssa as _b, doa as _d, enumerate as _e, exact as _x, greedy as _g, learned as _l, minlp as _m,
            power_baselines as _p,
        )


def registry() -> dict[str, SolverInfo]:
    _load_builtins()
    return dict(_REGISTRY)


def get_solver(name: str) -> SolverInfo:
    reg = registry()
    if name not in reg and name.startswith("mealpy:"):
        from .mealpy_adapter import lookup

        return lookup(name)
    if name not in reg:
        raise InputError(f"--solver: unknown solver {name!r}; known: {', '.join(sorted(reg))}")
    return reg[name]


# ----------------------------------------------------------------------------- the gate


def score_solution(instance, solution: dict) -> dict:
    """The problem's referee on a solution dict."""
    from ..io import solution_from_dict

    mod = PROBLEMS[instance.problem]
    return mod.evaluate(instance, solution_from_dict(instance, solution))


def solve(instance, solver: str = "exact", *, seed: int | None = 0, time_limit: float | None = None,
          max_evals: int | None = None, callback: Callable | None = None, **options) -> Result:
    """Run a registered solver and have the referee score what it returns."""
    info = get_solver(solver)
    if instance.problem not in info.problems:
        raise InputError(f"--solver: {solver} does not solve {instance.problem} "
                         f"(it solves {', '.join(info.problems)})")
    if not info.available():
        raise SolverUnavailableError(
            f"solver {solver} needs {', '.join(info.needs)}; install it (pip install {' '.join(info.needs)})")
    try:
        opts = info.options(**options)
    except ValidationError as err:
        raise InputError(format_validation_error(err, f"options of {solver}")) from None
    sense = PROBLEMS[instance.problem].SENSE
    t0 = time.perf_counter()
    prop = info.func(instance, seed=seed, time_limit=time_limit, max_evals=max_evals,
                     callback=callback, options=opts)
    runtime = time.perf_counter() - t0
    if prop.solution is None:
        status = Status.INFEASIBLE if prop.termination == Termination.PROVEN_INFEASIBLE else (
            Status.TIME_LIMIT if prop.termination == Termination.TIME_LIMIT else Status.ERROR)
        return Result(solver, instance.problem, status, prop.termination, None, False, prop.bound,
                      None, runtime, prop.evaluations, prop.iterations, None, {}, {}, prop.history,
                      opts.model_dump(), seed, prop.message, prop.extra)
    verdict = score_solution(instance, prop.solution)
    objective, feasible = verdict["objective"], verdict["feasible"]
    gap = relative_gap(objective, prop.bound, sense) if feasible else None
    if not feasible:
        status = Status.INFEASIBLE
    elif prop.proven_optimal:
        # A claim of optimality must survive the referee: the bound has to meet the score.
        if gap is None or gap > 1e-6:
            status = Status.FEASIBLE
            prop.message = (prop.message + " " if prop.message else "") + (
                f"solver claimed optimal but the referee's objective {objective:.10g} "
                f"is not within 1e-6 of its bound {prop.bound}")
        else:
            status = Status.OPTIMAL
    elif prop.termination == Termination.TIME_LIMIT:
        status = Status.TIME_LIMIT
    else:
        status = Status.FEASIBLE
    solution = dict(prop.solution)
    if instance.problem == "offloading" and solution.get("cpu_hz") is None:
        solution["cpu_hz"] = verdict["cpu_hz"]
    return Result(solver, instance.problem, status, prop.termination, objective, feasible,
                  prop.bound, gap, runtime, prop.evaluations, prop.iterations, solution,
                  verdict["metrics"], verdict["violations"], prop.history, opts.model_dump(), seed,
                  prop.message, prop.extra)


class Clock:
    """Deadline helper for solvers: ``clock.left()`` seconds remain, ``clock.up()`` when spent."""

    def __init__(self, time_limit: float | None):
        self.start = time.perf_counter()
        self.limit = time_limit

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float | None:
        return None if self.limit is None else max(self.limit - self.elapsed(), 0.0)

    def up(self) -> bool:
        return self.limit is not None and self.elapsed() >= self.limit


__all__ = ["Status", "Termination", "Options", "Proposal", "Result", "register", "registry",
           "get_solver", "solve", "relative_gap", "Clock", "InfeasibleError"]
