"""Dingo optimisation and the AGDOA/BSSA paper's variants: `doa`, `gdoa`, `adoa`, `agdoa`.

DOA (Peraza-Vazquez et al. 2021; SPEC.md appendix), one batched referee call per iteration:
group attack  x' = beta1 (1/na) sum_{k in A} (x_k - x_i) - x*
persecution   x' = x* + beta1 e^{beta2} (x_r1 - x_i)
scavenging    x' = (e^{beta2} x_r1 - (-1)^sigma x_i) / 2
survival      where s_i <= 0.3: x' = x* + (x_r1 - (-1)^sigma x_r2) / 2
then clip to the box and keep x' only if it is no worse (greedy replacement).

`gdoa` starts from the greedy solution (Algorithm 3: agent 0 is the greedy baseline's answer,
the others copy it and redraw each coordinate with probability 0.2); `adoa` adapts na by
Algorithm 4 (x0.9 after ``max_counter`` near-still iterations, x1.1 otherwise, within
[na_min, na_max]); `agdoa` does both (Algorithm 5).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from .base import Clock, Options, register
from .population import Tracker, encoding_for, greedy_population


class DoaOptions(Options):
    pop_size: int = Field(30, ge=4)
    max_iter: int = Field(200, ge=1)
    P: float = Field(0.5, ge=0, le=1, description="probability of hunting (else scavenging)")
    Q: float = Field(0.7, ge=0, le=1, description="probability of group attack (else persecution)")
    survival_threshold: float = Field(0.3, ge=0, le=1)
    na_min: int = Field(2, ge=1)
    na_max: int | None = Field(None, ge=1, description="default pop_size / 2")
    tol: float = Field(1e-3, ge=0, description="Algorithm 4: relative change counted as still")
    max_counter: int = Field(5, ge=1, description="Algorithm 4: still iterations before na shrinks")
    redraw: float = Field(0.2, ge=0, le=1, description="greedy start: share of coordinates redrawn")


def run_doa(instance, *, seed, time_limit, max_evals, callback, options: DoaOptions,
            greedy: bool, adaptive: bool, name: str):
    enc = encoding_for(instance)
    rng = np.random.default_rng(seed)
    N = options.pop_size
    na_min = min(options.na_min, N - 1)
    na_max = max(na_min, min(options.na_max or N // 2, N - 1))
    tr = Tracker(enc, Clock(time_limit), max_evals, options.max_iter, callback)
    X = greedy_population(tr, rng, N, options.redraw) if greedy else enc.random(rng, N)
    if not tr.room(N):
        X = X[: max(1, max_evals)]
        N = len(X)
    fit = tr.evaluate(X)
    na = float(round(na_min + (na_max - na_min) * rng.random()))
    counter, prev = 0, tr.best_f
    rows = np.arange(N)
    while tr.next_iteration(N):
        best = tr.best_z
        if not adaptive:  # the original: na drawn afresh, round(2 + (N/2 - 2) rand)
            na = float(round(na_min + (na_max - na_min) * rng.random()))
        k = max(1, min(int(round(na)), N - 1))
        hunt = rng.random(N) < options.P
        group = rng.random(N) < options.Q
        beta1 = rng.uniform(-2, 2, (N, 1))
        beta2 = rng.uniform(-1, 1, (N, 1))
        sign = np.where(rng.random((N, 1)) < 0.5, 1.0, -1.0)
        # na distinct attackers per agent, other than itself.
        keys = rng.random((N, N))
        keys[rows, rows] = np.inf
        A = np.argsort(keys, axis=1)[:, :k]
        attack = (X[A] - X[:, None, :]).mean(axis=1)
        r1 = (rows + rng.integers(1, N, N)) % N
        r2 = (r1 + rng.integers(1, N - 1, N) if N > 2 else r1) % N
        r2 = np.where(r2 == rows, (r2 + 1) % N, r2)
        x_group = beta1 * attack - best
        x_pers = best + beta1 * np.exp(beta2) * (X[r1] - X)
        x_scav = (np.exp(beta2) * X[r1] - sign * X) / 2
        new = np.where((hunt & group)[:, None], x_group, np.where(hunt[:, None], x_pers, x_scav))
        fmax, fmin = fit.max(), fit.min()
        surv = (fmax - fit) / (fmax - fmin) if fmax > fmin else np.ones(N)
        low = surv <= options.survival_threshold
        x_surv = best + (X[r1] - sign * X[r2]) / 2
        new = enc.clip(np.where(low[:, None], x_surv, new))
        fnew = tr.evaluate(new)
        better = fnew <= fit
        X[better], fit[better] = new[better], fnew[better]
        if adaptive:  # Algorithm 4
            still = abs(tr.best_f - prev) <= options.tol * max(abs(prev), 1e-12)
            counter = counter + 1 if still else 0
            na = max(na_min, na * 0.9) if counter >= options.max_counter else min(na_max, na * 1.1)
        prev = tr.best_f
    return tr.proposal(enc.solution(tr.best_z), final_na=na)


def _make(name: str, greedy: bool, adaptive: bool, doc: str):
    def solver(instance, *, seed, time_limit, max_evals, callback, options: DoaOptions):
        return run_doa(instance, seed=seed, time_limit=time_limit, max_evals=max_evals,
                       callback=callback, options=options, greedy=greedy, adaptive=adaptive,
                       name=name)

    solver.__doc__ = doc
    solver.__name__ = name
    return register(name, problems=("power", "offloading", "jrors"), options=DoaOptions)(solver)


doa = _make("doa", False, False, "Dingo optimisation (Peraza-Vazquez et al. 2021), random start.")
gdoa = _make("gdoa", True, False, "DOA with the paper's greedy initialisation (Algorithm 3).")
adoa = _make("adoa", False, True, "DOA with the paper's adaptive na (Algorithm 4).")
agdoa = _make("agdoa", True, True, "Adaptive greedy DOA (Algorithm 5): greedy start and adaptive na.")
