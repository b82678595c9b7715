"""Binary salp swarm, `bssa` (Algorithm 2 of the AGDOA/BSSA paper; Faris et al. 2018).

Positions live in [0, 1]^bits; the decision is their binary image under a transfer rule, read
through the problem's binary coding (``population.BinaryCoding``). Each iteration, in one
batched referee call:
leaders (first half)  x_j = F_j + c1 c2 if c3 >= 0.5 else F_j - c1 c2, c1 = 2 exp(-(4 l / L)^2)
followers             x_i = (x_i + x_{i-1}) / 2 (the chain, computed in closed form)
transfer              `threshold` (the paper: bit = x > 0.5, default), `s` (bit = 1 with
                      probability 1 / (1 + e^{-2 v})) or `v` (move the bit towards sign(v) with
                      probability |2 / (1 + e^{-4 v}) - 1|), with v = x - 0.5, centred on the
                      threshold because the positions live in [0, 1].
F, the food source, is the best binary vector found so far.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from .base import Clock, Options, register
from .population import BinaryCoding, Tracker, encoding_for


class BssaOptions(Options):
    pop_size: int = Field(30, ge=2)
    max_iter: int = Field(600, ge=1, description="Algorithm 2: max_Iter = 600")
    transfer: str = Field("threshold", pattern="^(threshold|s|v)$")
    threshold: float = Field(0.5, gt=0, lt=1)
    bits: int | None = Field(None, ge=1, le=16, description="bits per coordinate (default: enough for every choice)")


def _chain_weights(n_lead: int, n: int) -> np.ndarray:
    """Followers' closed form: y_i = sum_k x_{i-k} / 2^{k+1} + y_{h-1} / 2^{i-h+1}.

    Returns W (n_follow x (n_follow + 1)): column 0 weighs the last leader's new position.
    """
    nf = n - n_lead
    W = np.zeros((nf, nf + 1))
    for i in range(nf):
        W[i, 0] = 0.5 ** (i + 1)
        for k in range(i + 1):
            W[i, 1 + i - k] = 0.5 ** (k + 1)
    return W


@register("bssa", problems=("jrors", "offloading"), options=BssaOptions)
def bssa(instance, *, seed, time_limit, max_evals, callback, options: BssaOptions):
    """Binary salp swarm (Algorithm 2), threshold 0.5 or S/V transfer functions."""
    enc = encoding_for(instance)
    code = BinaryCoding(enc, options.bits)
    rng = np.random.default_rng(seed)
    N, D, L = options.pop_size, code.dim, options.max_iter
    tr = Tracker(enc, Clock(time_limit), max_evals, L, callback)
    X = rng.random((N, D))
    B = binarise(X, X > options.threshold, rng, options)
    fit = tr.evaluate(B, code.fitness)
    food = B[int(np.argmin(fit))].copy()
    food_f = float(fit.min())
    n_lead = max(1, N // 2)
    W = _chain_weights(n_lead, N)
    while tr.next_iteration(N):
        c1 = 2.0 * np.exp(-((4.0 * tr.iterations / L) ** 2))
        c2 = rng.random((n_lead, D))
        c3 = rng.random((n_lead, D))
        lead = np.where(c3 >= 0.5, food + c1 * c2, food - c1 * c2)
        follow = W @ np.vstack([lead[-1:], X[n_lead:]])
        X = np.clip(np.vstack([lead, follow]), 0.0, 1.0)
        B = binarise(X, B, rng, options)
        fit = tr.evaluate(B, code.fitness)
        k = int(np.argmin(fit))
        if fit[k] <= food_f:
            food, food_f = B[k].copy(), float(fit[k])
    return tr.proposal(enc.solution(code.to_box(tr.best_z)[0]), bits=code.bits,
                       transfer=options.transfer)


def binarise(X: np.ndarray, B_prev: np.ndarray, rng, options: BssaOptions) -> np.ndarray:
    if options.transfer == "threshold":
        return (X > options.threshold).astype(float)
    v = X - options.threshold
    if options.transfer == "s":
        return (rng.random(X.shape) < 1.0 / (1.0 + np.exp(-2.0 * v))).astype(float)
    V = np.abs(2.0 / (1.0 + np.exp(-4.0 * v)) - 1.0)
    move = rng.random(X.shape) <= V
    return np.where(move, (v > 0).astype(float), B_prev)
