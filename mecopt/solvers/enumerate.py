"""Brute force over every decision, the test oracle for tiny instances (SPEC.md 3, `enumerate`)."""

from __future__ import annotations

import itertools

import numpy as np
from pydantic import Field

from ..errors import InputError
from ..formulations import jrors, offloading
from .base import Options, Proposal, Termination, register


class EnumerateOptions(Options):
    max_points: int = Field(2_000_000, ge=1, description="refuse instances with more points than this")
    batch: int = Field(65_536, ge=1)


@register("enumerate", problems=("offloading", "jrors"), options=EnumerateOptions, exact=True)
def enumerate_(instance, *, seed, time_limit, max_evals, callback, options: EnumerateOptions) -> Proposal:
    """Every assignment scored by the batched referee; proven optimal by exhaustion."""
    if instance.problem == "offloading":
        return _offloading(instance, options)
    return _jrors(instance, options)


def _check_size(count: int, options: EnumerateOptions) -> None:
    if count > options.max_points:
        raise InputError(f"--solver: enumerate: {count:.3g} points exceed max_points="
                         f"{options.max_points}; use a tinier instance or the exact solver")


def _offloading(inst, options: EnumerateOptions) -> Proposal:
    n, m = inst.n_devices, inst.n_servers
    # Only C1-feasible choices per device (local is always allowed).
    choices = [[-1] + [j for j in range(m) if inst.arrays.eligible[i, j]] for i in range(n)]
    total = int(np.prod([len(c) for c in choices], dtype=float))
    _check_size(total, options)
    best, best_x, evals = np.inf, None, 0
    it = itertools.product(*choices)
    while True:
        chunk = list(itertools.islice(it, options.batch))
        if not chunk:
            break
        X = np.array(chunk, dtype=np.int64)
        obj = offloading.score(inst, X).objective
        evals += len(X)
        k = int(np.argmin(obj))
        if obj[k] < best:
            best, best_x = float(obj[k]), X[k]
    return Proposal(offloading.solution_from_assignment(inst, best_x), Termination.PROVEN_OPTIMAL,
                    proven_optimal=True, bound=best, evaluations=evals, iterations=1)


def _jrors(inst, options: EnumerateOptions) -> Proposal:
    t = inst.table
    # Per request: reject or any (station, k); no pruning, so this checks the pruning too.
    per_q = [[(-1, 0)] + [(s, k) for s in range(inst.n_stations) for k in range(1, int(t.units[s]) + 1)]
             for _ in range(inst.n_requests)]
    total = int(np.prod([len(c) for c in per_q], dtype=float))
    _check_size(total, options)
    best, best_sk, evals = -np.inf, None, 0
    it = itertools.product(*per_q)
    while True:
        chunk = list(itertools.islice(it, options.batch))
        if not chunk:
            break
        arr = np.array(chunk, dtype=np.int64)  # (b, Q, 2)
        sc = jrors.score(inst, arr[:, :, 0], arr[:, :, 1])
        evals += len(arr)
        val = np.where(sc.violation <= 0, sc.objective, -np.inf)
        k = int(np.argmax(val))
        if val[k] > best:
            best, best_sk = float(val[k]), arr[k]
    sol = {"station": best_sk[:, 0].tolist(), "units": best_sk[:, 1].tolist()}
    return Proposal(sol, Termination.PROVEN_OPTIMAL, proven_optimal=True, bound=best,
                    evaluations=evals, iterations=1)
