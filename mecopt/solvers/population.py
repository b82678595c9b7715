"""What every population heuristic shares: encodings of the three problems as boxes, one batched
fitness call per population, and the bookkeeping of evaluations, limits and convergence.

Encodings (positions ``Z`` of shape pop x dim, all decoded in one vectorised call):

- power: ``Z = p`` in [0, pmax]. Fitness is feasibility-first: a point that meets every deadline
  scores its energy E; any other scores ``E_cap * (1 + violation)``, where ``E_cap = sum pmax
  tau`` exceeds the energy of every feasible point. So every infeasible point is worse than
  every feasible one, and less infeasible is better.
- offloading: ``Z`` in [0, M + 1)^N, choice = floor(z) - 1 (-1 is local); an upload that would
  miss its deadline (C1) is repaired to local; F by KKT. Always feasible; fitness is Q.
- jrors: ``Z`` in [0, 1)^{2Q}: station = floor(z_q (S + 2)) - 1 (-1 rejects), units =
  1 + floor(z_{Q+q} K) capped at the station's units; then a first-fit repair in request order
  rejects any request that no longer fits. Always feasible; fitness is -W.

Binary coding (BSSA, mealpy's binary variables): each coordinate is ``bits`` bits read as an
integer v and mapped to the box centre of its cell, z = lb + (v + 0.5) / 2^bits (ub - lb).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..formulations import jrors, offloading, power
from .base import Clock, Proposal, Termination

CONVERGENCE_TOL = 0.005  # the AGDOA/BSSA paper, section 5.3.1
CONVERGENCE_RUN = 10


class Encoding:
    problem: str
    sense: str

    def __init__(self, inst):
        self.inst = inst

    def fitness(self, Z: np.ndarray) -> np.ndarray:  # minimised
        raise NotImplementedError

    def solution(self, z: np.ndarray) -> dict:
        raise NotImplementedError

    def encode_solution(self, sol: dict) -> np.ndarray:
        raise NotImplementedError

    def objective_of_fitness(self, f: float) -> float:
        return -f if self.sense == "max" else f

    def random(self, rng: np.random.Generator, pop: int) -> np.ndarray:
        return rng.uniform(self.lb, self.ub, size=(pop, self.dim))

    def clip(self, Z: np.ndarray) -> np.ndarray:
        return np.clip(Z, self.lb, self.ub)


class PowerEncoding(Encoding):
    problem, sense = "power", "min"

    def __init__(self, inst):
        super().__init__(inst)
        a = inst.arrays
        self.dim = inst.n_users
        self.lb = np.zeros(self.dim)
        self.ub = a.pmax.copy()
        self.e_cap = float(np.sum(a.pmax * a.deadline_s))

    def fitness(self, Z):
        s = power.score(self.inst, Z)
        return np.where(s.violation <= 0, s.objective, self.e_cap * (1.0 + s.violation))

    def solution(self, z):
        return {"power_w": np.clip(z, self.lb, self.ub).tolist()}

    def encode_solution(self, sol):
        return np.asarray(sol["power_w"], dtype=float)


class OffloadingEncoding(Encoding):
    problem, sense = "offloading", "min"

    def __init__(self, inst):
        super().__init__(inst)
        self.dim = inst.n_devices
        self.m = inst.n_servers
        self.lb = np.zeros(self.dim)
        self.ub = np.full(self.dim, self.m + 1 - 1e-9)

    def decode(self, Z):
        X = np.clip(np.floor(Z).astype(np.int64) - 1, -1, self.m - 1)
        ok = self.inst.arrays.eligible[np.arange(self.dim), np.clip(X, 0, None)]
        return np.where((X >= 0) & ~ok, -1, X)

    def fitness(self, Z):
        return offloading.score(self.inst, self.decode(Z)).objective

    def solution(self, z):
        return offloading.solution_from_assignment(self.inst, self.decode(z[None])[0])

    def encode_solution(self, sol):
        return np.asarray(sol["assignment"], dtype=float) + 1.5


class JrorsEncoding(Encoding):
    problem, sense = "jrors", "max"

    def __init__(self, inst):
        super().__init__(inst)
        self.q = inst.n_requests
        self.s1 = inst.n_stations
        self.kmax = int(inst.table.k_max)
        self.dim = 2 * self.q
        self.lb = np.zeros(self.dim)
        self.ub = np.full(self.dim, 1 - 1e-9)

    def decode(self, Z):
        t = self.inst.table
        Z = np.atleast_2d(Z)
        S = np.clip(np.floor(Z[:, :self.q] * (self.s1 + 1)).astype(np.int64) - 1, -1, self.s1 - 1)
        K = 1 + np.floor(Z[:, self.q:] * self.kmax).astype(np.int64)
        K = np.where(S >= 0, np.minimum(K, t.units[np.clip(S, 0, None)]), 0)
        # First fit in request order: a loop over requests, vectorised over the population.
        left = np.broadcast_to(t.units, (len(Z), self.s1)).copy()
        rows = np.arange(len(Z))
        for q in range(self.q):
            s = S[:, q]
            served = s >= 0
            fits = served & (left[rows, np.clip(s, 0, None)] >= K[:, q])
            left[rows[fits], s[fits]] -= K[fits, q]
            S[served & ~fits, q] = -1
            K[served & ~fits, q] = 0
        return S, K

    def fitness(self, Z):
        S, K = self.decode(Z)
        return -jrors.score(self.inst, S, K).objective

    def solution(self, z):
        S, K = self.decode(z[None])
        return {"station": S[0].tolist(), "units": K[0].tolist()}

    def encode_solution(self, sol):
        s = np.asarray(sol["station"], dtype=float)
        k = np.maximum(np.asarray(sol["units"], dtype=float), 1)
        return np.concatenate([(s + 1.5) / (self.s1 + 1), (k - 0.5) / self.kmax])


ENCODINGS = {"power": PowerEncoding, "offloading": OffloadingEncoding, "jrors": JrorsEncoding}


def encoding_for(inst) -> Encoding:
    enc = inst._cache.get("encoding")
    if enc is None:
        enc = inst._cache["encoding"] = ENCODINGS[inst.problem](inst)
    return enc


class BinaryCoding:
    """``bits`` bits per coordinate of an encoding's box."""

    def __init__(self, enc: Encoding, bits: int | None = None):
        self.enc = enc
        if bits is None:  # enough bits to reach every discrete choice; 8 for a power level
            choices = {"offloading": lambda: enc.m + 1,
                       "jrors": lambda: max(enc.s1 + 1, enc.kmax)}.get(enc.problem, lambda: 256)()
            bits = max(1, math.ceil(math.log2(choices)))
        self.bits = bits
        self.dim = enc.dim * bits
        self._w = 2.0 ** np.arange(bits - 1, -1, -1)

    def to_box(self, B: np.ndarray) -> np.ndarray:
        B = np.atleast_2d(B).reshape(len(np.atleast_2d(B)), self.enc.dim, self.bits)
        v = B @ self._w
        return self.enc.lb + (v + 0.5) / 2**self.bits * (self.enc.ub - self.enc.lb)

    def fitness(self, B: np.ndarray) -> np.ndarray:
        return self.enc.fitness(self.to_box(B))


def converged_iteration(history: list[float], tol: float = CONVERGENCE_TOL,
                        run: int = CONVERGENCE_RUN) -> int | None:
    """First iteration i after which the best objective changes by less than ``tol`` (relative,
    so the paper's 0.005 reads the same in joules and in welfare) for ``run`` iterations."""
    h = np.asarray(history, dtype=float)
    if len(h) <= run:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(np.diff(h)) / np.maximum(np.abs(h[:-1]), 1e-12)
    small = rel < tol
    for i in range(len(small) - run + 1):
        if small[i:i + run].all():
            return i
    return None


@dataclass
class Tracker:
    """Counts evaluations, keeps the best point, the per-iteration history and the limits."""

    enc: Encoding
    clock: Clock
    max_evals: int | None
    max_iter: int
    callback: object = None
    evals: int = 0
    iterations: int = 0
    best_z: np.ndarray | None = None
    best_f: float = math.inf
    history: list = field(default_factory=list)
    termination: Termination = Termination.ITERATION_LIMIT

    def room(self, n: int) -> bool:
        """Whether a batch of ``n`` evaluations still fits the budget."""
        return self.max_evals is None or self.evals + n <= self.max_evals

    def evaluate(self, Z: np.ndarray, fit_fn=None) -> np.ndarray:
        f = (fit_fn or self.enc.fitness)(Z)
        self.evals += len(Z)
        k = int(np.argmin(f))
        if f[k] < self.best_f:
            self.best_f, self.best_z = float(f[k]), np.array(Z[k], copy=True)
        return f

    def next_iteration(self, pop: int) -> bool:
        """Close an iteration; False when a limit says stop before the next one."""
        self.iterations += 1
        self.history.append(self.enc.objective_of_fitness(self.best_f))
        if self.callback:
            self.callback({"iteration": self.iterations, "objective": self.history[-1],
                           "evaluations": self.evals})
        if self.iterations >= self.max_iter:
            self.termination = Termination.ITERATION_LIMIT
            return False
        if not self.room(pop):
            self.termination = Termination.EVALUATION_LIMIT
            return False
        if self.clock.up():
            self.termination = Termination.TIME_LIMIT
            return False
        return True

    def proposal(self, solution: dict, **extra) -> Proposal:
        conv = converged_iteration(self.history)
        return Proposal(solution, self.termination, evaluations=self.evals,
                        iterations=self.iterations, history=list(self.history),
                        extra={"converged_iteration": conv, **extra})


def greedy_start(inst) -> tuple[np.ndarray, int]:
    """The paper's greedy initialisation as a position, and the evaluations it spent.

    power: the greedy baseline (pmax, then best-response sweeps until feasible); jrors: the
    priority-first knapsack; offloading: Algorithm 3's rule, every device to the server it
    reaches with the cheapest upload (local where none is eligible).
    """
    from .greedy import _greedy_jrors, _greedy_power

    enc = encoding_for(inst)
    if inst.problem == "power":
        prop = _greedy_power(inst)
        return enc.encode_solution(prop.solution), prop.evaluations
    if inst.problem == "jrors":
        return enc.encode_solution(_greedy_jrors(inst).solution), 0
    a = inst.arrays
    cost = np.where(a.eligible, a.tx_cost, np.inf)
    X = np.where(np.isfinite(cost.min(axis=1)), np.argmin(cost, axis=1), -1)
    return enc.encode_solution({"assignment": X}), 0


def seeded_population(enc: Encoding, rng, pop: int, start: np.ndarray, redraw: float = 0.2) -> np.ndarray:
    """Agent 0 is ``start``; each other agent copies it and redraws each coordinate with
    probability ``redraw`` uniformly in the box."""
    Z = np.repeat(start[None], pop, axis=0)
    fresh = enc.random(rng, pop)
    mask = rng.random((pop, enc.dim)) < redraw
    mask[0] = False
    return enc.clip(np.where(mask, fresh, Z))


def greedy_population(tr: Tracker, rng, pop: int, redraw: float = 0.2) -> np.ndarray:
    """The greedy start seeded into a population, its evaluations charged to ``tr``."""
    start, spent = greedy_start(tr.enc.inst)
    tr.evals += spent
    return seeded_population(tr.enc, rng, pop, start, redraw)
