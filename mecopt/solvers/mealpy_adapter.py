"""Any mealpy 3 optimiser as `mealpy:NAME`, on any of the three problems.

mealpy finds optimisers by scanning its modules and answers an unknown name with a print and
``None``; we put a registry in front of it: ``mealpy:GA`` resolves to mealpy's ``OriginalGA``
(or ``BaseGA``/``DevGA`` when there is no original), and a full class name (``mealpy:AIW_PSO``)
works too. Decisions: power is a ``FloatVar`` box; offloading and jrors use mealpy's
``IntegerVar`` (offloading: the server index or -1; jrors: the station or -1 and the units),
read through the same encodings and repairs as our own solvers (``population``), so every
optimiser is scored by the same batched referee. mealpy calls the objective one solution at a
time; that is its design, and the benchmark measures what it costs.
"""

from __future__ import annotations

import functools

import numpy as np
from pydantic import Field

from ..errors import InputError
from .base import Clock, Options, Proposal, SolverInfo, Termination
from .population import Tracker, encoding_for

PREFIX = "mealpy:"


class MealpyOptions(Options):
    pop_size: int = Field(30, ge=2)
    max_iter: int = Field(200, ge=1, description="mealpy epochs")


@functools.lru_cache(maxsize=1)
def optimizers() -> dict[str, type]:
    """Every mealpy optimiser class by name (empty when mealpy is not installed)."""
    try:
        import mealpy
    except ImportError:
        return {}
    return dict(mealpy.get_all_optimizers(verbose=False))


def resolve(name: str) -> type:
    table = optimizers()
    for cand in (name, f"Original{name}", f"Base{name}", f"Dev{name}"):
        if cand in table:
            return table[cand]
    raise InputError(f"--solver: mealpy has no optimiser {name!r}; `mecopt solvers --mealpy` lists them")


def short_names() -> list[str]:
    """The names `mealpy:NAME` accepts in their short form (Original* and Base* classes)."""
    out = set()
    for cls in optimizers():
        for pre in ("Original", "Base"):
            if cls.startswith(pre):
                out.add(cls[len(pre):])
    return sorted(out)


def _bounds(enc):
    from mealpy import FloatVar, IntegerVar

    if enc.problem == "power":
        return FloatVar(lb=enc.lb.tolist(), ub=enc.ub.tolist())
    if enc.problem == "offloading":
        return IntegerVar(lb=[-1] * enc.dim, ub=[enc.m - 1] * enc.dim)
    return IntegerVar(lb=[-1] * enc.q + [1] * enc.q, ub=[enc.s1 - 1] * enc.q + [enc.kmax] * enc.q)


def _to_box(enc, V: np.ndarray) -> np.ndarray:
    """mealpy's integer decisions to the encodings' box."""
    if enc.problem == "power":
        return V
    if enc.problem == "offloading":
        return V + 1.5
    s, k = V[:, : enc.q], V[:, enc.q:]
    return np.concatenate([(s + 1.5) / (enc.s1 + 1), (k - 0.5) / enc.kmax], axis=1)


class _BudgetSpent(Exception):
    pass


def run_mealpy(name: str, instance, *, seed, time_limit, max_evals, callback, options: MealpyOptions):
    cls = resolve(name)
    enc = encoding_for(instance)
    tr = Tracker(enc, Clock(time_limit), max_evals, options.max_iter, callback)

    def obj(x):
        # mealpy checks its own budget only between epochs; we stop it at the exact count.
        if not tr.room(1):
            raise _BudgetSpent
        return float(tr.evaluate(_to_box(enc, np.asarray(x, dtype=float)[None]))[0])

    problem = {"obj_func": obj, "bounds": _bounds(enc), "minmax": "min", "log_to": None}
    term = {"max_epoch": options.max_iter}
    if max_evals is not None:
        term["max_fe"] = max_evals
    if time_limit is not None:
        term["max_time"] = time_limit
    model = cls(epoch=options.max_iter, pop_size=options.pop_size)
    try:
        model.solve(problem, seed=seed, termination=term)
    except _BudgetSpent:
        pass
    if tr.best_z is None:
        return Proposal(None, Termination.EVALUATION_LIMIT, evaluations=tr.evals,
                        message="mealpy used the whole budget before its first full evaluation")
    hist = list(model.history.list_global_best_fit) or [tr.best_f]
    tr.history = [enc.objective_of_fitness(float(f)) for f in hist]
    tr.iterations = len(hist)
    if tr.clock.up():
        tr.termination = Termination.TIME_LIMIT
    elif max_evals is not None and tr.evals >= max_evals:
        tr.termination = Termination.EVALUATION_LIMIT
    return tr.proposal(enc.solution(tr.best_z), mealpy_class=cls.__name__)


def lookup(name: str) -> SolverInfo | None:
    """Registry hook: a SolverInfo for `mealpy:NAME`, made on first use."""
    if not name.startswith(PREFIX):
        return None
    short = name[len(PREFIX):]
    if not optimizers():
        from ..errors import SolverUnavailableError
        raise SolverUnavailableError(f"solver {name} needs mealpy; install it (pip install 'mecopt[meta]')")
    resolve(short)

    def func(instance, *, seed, time_limit, max_evals, callback, options):
        return run_mealpy(short, instance, seed=seed, time_limit=time_limit, max_evals=max_evals,
                          callback=callback, options=options)

    return SolverInfo(name, ("power", "offloading", "jrors"), func, MealpyOptions, False,
                      ("mealpy",), f"mealpy's {resolve(short).__name__} through the adapter")
