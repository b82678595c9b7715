"""Fast constructive baselines, one per problem.

- offloading: the JTORA-style local search of Tran & Pompili (2019): start all-local, take the
  best single-device move (offload, move, or bring back) while it improves Q by more than a
  factor (1 + eps); F by KKT. Each round scores every neighbour in one batched referee call.
- jrors: requests by priority, each to its best-valued option that still fits.
- power: the paper's greedy start (everyone at pmax, Algorithm 3), then Gauss-Seidel sweeps of
  best responses (each user just meets its deadline under the current interference), stopping
  at the first sweep whose point meets every deadline. The sweeps descend towards the least
  power vector from above, so the first feasible point is a good but not optimal answer.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..formulations import offloading, power
from .base import Clock, Options, Proposal, Termination, register


class GreedyOptions(Options):
    eps: float = Field(1e-3, ge=0, description="accept a move only if it improves by (1 + eps)")
    max_rounds: int = Field(100_000, ge=1)


def offloading_local_search(inst, X0: np.ndarray, eps: float = 1e-3, max_rounds: int = 100_000,
                            clock: Clock | None = None) -> tuple[np.ndarray, int, list[float], int]:
    """Best-improvement local search over single-device reassignments (KKT F)."""
    a = inst.arrays
    n, m = inst.n_devices, inst.n_servers
    X = X0.copy()
    cur = float(offloading.score(inst, X[None]).objective[0])
    history, evals, rounds = [cur], 1, 0
    # Neighbour (i, c): device i goes to choice c in -1..m-1; ineligible pairs are skipped.
    dev, choice = np.meshgrid(np.arange(n), np.arange(-1, m), indexing="ij")
    ok = np.ones_like(dev, dtype=bool)
    ok[:, 1:] = a.eligible
    dev, choice = dev[ok], choice[ok]
    while rounds < max_rounds and not (clock and clock.up()):
        rounds += 1
        moves = choice != X[dev]
        d, c = dev[moves], choice[moves]
        if len(d) == 0:
            break
        cand = np.repeat(X[None], len(d), axis=0)
        cand[np.arange(len(d)), d] = c
        obj = offloading.score(inst, cand).objective
        evals += len(d)
        best = int(np.argmin(obj))
        if not obj[best] * (1 + eps) < cur:
            break
        X, cur = cand[best], float(obj[best])
        history.append(cur)
    return X, evals, history, rounds


@register("greedy", problems=("offloading", "jrors", "power"), options=GreedyOptions)
def greedy(instance, *, seed, time_limit, max_evals, callback, options: GreedyOptions) -> Proposal:
    """Constructive baselines: JTORA local search, priority-first knapsack, best-response sweep."""
    clock = Clock(time_limit)
    if instance.problem == "offloading":
        X0 = -np.ones(instance.n_devices, dtype=np.int64)
        X, evals, hist, rounds = offloading_local_search(instance, X0, options.eps,
                                                         options.max_rounds, clock)
        return Proposal(offloading.solution_from_assignment(instance, X), Termination.CONVERGED,
                        evaluations=evals, iterations=rounds, history=hist)
    if instance.problem == "jrors":
        return _greedy_jrors(instance)
    return _greedy_power(instance)


def _greedy_jrors(inst) -> Proposal:
    t = inst.table
    Q = inst.n_requests
    left = t.units.astype(int).copy()
    station = -np.ones(Q, dtype=int)
    units = np.zeros(Q, dtype=int)
    prio = np.array([r.priority for r in inst.requests])
    # Requests with more at stake first, ties by tighter deadline.
    order = np.lexsort((np.array([r.tolerable_delay_s for r in inst.requests]), -prio))
    k_idx = np.arange(1, t.k_max + 1)
    for q in order:
        fits = k_idx[None, :] <= left[:, None]
        val = np.where(fits, t.value[q], -np.inf)
        s, k = np.unravel_index(int(np.argmax(val)), val.shape)
        if val[s, k] > t.reject_value[q]:
            station[q], units[q] = s, k + 1
            left[s] -= k + 1
    sol = {"station": station.tolist(), "units": units.tolist()}
    return Proposal(sol, Termination.CONVERGED, evaluations=1, iterations=Q)


def best_response_sweep(inst, p: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each user in turn lowers (or raises) its power to just meet its deadline, capped at pmax."""
    a = inst.arrays
    p = p.copy()
    for u in order:
        interference = inst.noise_w + p @ a.cross[:, u]
        p[u] = min(a.pmax[u], a.gamma[u] * interference / a.own_gain[u])
    return p


def _greedy_power(inst, max_sweeps: int = 1000) -> Proposal:
    a = inst.arrays
    p = a.pmax.copy()  # Algorithm 3: every user starts at pmax on its nearest station
    order = np.argsort(-a.own_gain)
    history = []
    for sweep in range(1, max_sweeps + 1):
        p = best_response_sweep(inst, p, order)
        s = power.score(inst, p[None])
        history.append(float(s.objective[0]))
        if s.violation[0] <= 0:
            break
    return Proposal({"power_w": p.tolist()}, Termination.CONVERGED, evaluations=sweep,
                    iterations=sweep, history=history)
