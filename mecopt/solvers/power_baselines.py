"""The power-allocation baselines of the AGDOA/BSSA paper, and simulated annealing.

- `gpso`: particle swarm started from the greedy solution (the paper's GPSO); inertia 0.729,
  c1 = c2 = 1.494 (Clerc's constriction values), velocity clamped to 20% of the box.
- `ncgg`: the non-cooperative power game (Hu & Li 2020, as far as the paper describes it; we
  could not recover its pricing). Our reading: each user minimises its own energy subject to
  its own deadline, the others' powers fixed; its best response is the least power that meets
  the deadline against the current interference. From full power, all users move a damped,
  diminishing step alpha_k = step / sqrt(k) towards their best responses (the subgradient-style
  step). The game's equilibrium is the least power vector, so NCGG's gap falls to zero with
  enough iterations: on this problem it is a strong baseline, not a weak one. A population of one; each iteration is one referee evaluation.
- `sa`: simulated annealing, ``chains`` independent chains scored in one batched call per step,
  Gaussian moves scaled by the temperature, geometric cooling, Metropolis acceptance on the
  feasibility-first fitness of ``population.PowerEncoding``.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from ..formulations import power
from .base import Clock, Options, register
from .population import Tracker, encoding_for, greedy_population


class PsoOptions(Options):
    pop_size: int = Field(30, ge=2)
    max_iter: int = Field(200, ge=1)
    inertia: float = Field(0.729, ge=0)
    c1: float = Field(1.494, ge=0)
    c2: float = Field(1.494, ge=0)
    vmax: float = Field(0.2, gt=0, le=1, description="velocity clamp as a share of the box")
    redraw: float = Field(0.2, ge=0, le=1)


@register("gpso", problems=("power",), options=PsoOptions)
def gpso(instance, *, seed, time_limit, max_evals, callback, options: PsoOptions):
    """Greedy-initialised particle swarm (the paper's GPSO baseline)."""
    enc = encoding_for(instance)
    rng = np.random.default_rng(seed)
    N = options.pop_size
    tr = Tracker(enc, Clock(time_limit), max_evals, options.max_iter, callback)
    X = greedy_population(tr, rng, N, options.redraw)
    span = enc.ub - enc.lb
    V = rng.uniform(-1, 1, X.shape) * span * options.vmax
    fit = tr.evaluate(X)
    P, pf = X.copy(), fit.copy()
    while tr.next_iteration(N):
        g = tr.best_z
        r1, r2 = rng.random(X.shape), rng.random(X.shape)
        V = options.inertia * V + options.c1 * r1 * (P - X) + options.c2 * r2 * (g - X)
        V = np.clip(V, -options.vmax * span, options.vmax * span)
        X = enc.clip(X + V)
        fit = tr.evaluate(X)
        better = fit < pf
        P[better], pf[better] = X[better], fit[better]
    return tr.proposal(enc.solution(tr.best_z))


class NcggOptions(Options):
    max_iter: int = Field(500, ge=1)
    step: float = Field(1.0, gt=0, le=1, description="first damping step; step k is step / sqrt(k)")


@register("ncgg", problems=("power",), options=NcggOptions)
def ncgg(instance, *, seed, time_limit, max_evals, callback, options: NcggOptions):
    """Non-cooperative power game, damped best responses (the paper's NCGG baseline)."""
    enc = encoding_for(instance)
    a = instance.arrays
    tr = Tracker(enc, Clock(time_limit), max_evals, options.max_iter, callback)
    p = a.pmax.copy()  # every user starts at full power
    tr.evaluate(p[None])
    while tr.next_iteration(1):
        # Each player's best response: the least power meeting its own deadline against the
        # interference it sees now (capped at pmax); players move part way, all at once.
        br = np.minimum(a.pmax, a.gamma * (instance.noise_w + p @ a.cross) / a.own_gain)
        alpha = options.step / math.sqrt(tr.iterations)
        p = (1.0 - alpha) * p + alpha * br
        tr.evaluate(p[None])
    return tr.proposal(enc.solution(tr.best_z))


class SaOptions(Options):
    chains: int = Field(16, ge=1)
    max_iter: int = Field(500, ge=1)
    t0: float = Field(0.1, gt=0, description="initial move scale, as a share of the box")
    cooling: float = Field(0.98, gt=0, lt=1)
    greedy_start: bool = True


@register("sa", problems=("power",), options=SaOptions)
def sa(instance, *, seed, time_limit, max_evals, callback, options: SaOptions):
    """Simulated annealing: parallel chains, one batched referee call per step."""
    enc = encoding_for(instance)
    rng = np.random.default_rng(seed)
    C = options.chains
    tr = Tracker(enc, Clock(time_limit), max_evals, options.max_iter, callback)
    X = greedy_population(tr, rng, C) if options.greedy_start else enc.random(rng, C)
    fit = tr.evaluate(X)
    scale = options.t0
    temp = max(float(np.median(np.abs(fit))), 1e-12) * options.t0
    span = enc.ub - enc.lb
    while tr.next_iteration(C):
        cand = enc.clip(X + rng.normal(0, scale, X.shape) * span)
        fc = tr.evaluate(cand)
        accept = (fc <= fit) | (rng.random(C) < np.exp(np.minimum(0.0, -(fc - fit) / temp)))
        X[accept], fit[accept] = cand[accept], fc[accept]
        scale *= options.cooling
        temp *= options.cooling
    return tr.proposal(enc.solution(tr.best_z))


__all__ = ["gpso", "ncgg", "sa", "power"]
