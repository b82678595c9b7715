"""Learned solvers: a trained policy decides X, KKT gives F, the referee scores it.

``fedmeta2ag`` loads the supervised policy (``mecopt train offloading-policy``), ``fedmetar2ag``
the PPO policy (``mecopt train fedmetar2ag``). Both need ``--option model=PATH`` (or ``--model``
on the command line); ``polish=true`` runs the JTORA local search from the policy's decision.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pydantic import Field

from ..errors import InputError
from ..formulations import offloading
from .base import Options, Proposal, Termination, register


class LearnedOptions(Options):
    model: str | None = Field(None, description="checkpoint written by `mecopt train ...`")
    polish: bool = Field(False, description="JTORA local search from the policy's decision")


@lru_cache(maxsize=8)
def _load(kind: str, path: str):
    if kind == "offloading-policy":
        from ..learners.policy import Policy

        return Policy.load(path)
    from ..learners.rl import RLPolicy

    return RLPolicy.load(path)


def _solve(kind: str, instance, options: LearnedOptions) -> Proposal:
    if not options.model:
        raise InputError("--model: a learned solver needs a checkpoint (mecopt train ...; then --model PATH)")
    policy = _load(kind, options.model)
    X = np.asarray(policy.decide(instance), dtype=np.int64)
    evals, hist = 1, []
    if options.polish:
        from .greedy import offloading_local_search

        X, evals, hist, _ = offloading_local_search(instance, X)
    return Proposal(offloading.solution_from_assignment(instance, X), Termination.CONVERGED,
                    evaluations=evals, history=hist, extra={"model": options.model})


@register("fedmeta2ag", problems=("offloading",), options=LearnedOptions, needs=("torch",))
def fedmeta2ag(instance, *, seed, time_limit, max_evals, callback, options: LearnedOptions) -> Proposal:
    """Learned policy (FedMeta2Ag, supervised on exact labels); F by KKT."""
    return _solve("offloading-policy", instance, options)


@register("fedmetar2ag", problems=("offloading",), options=LearnedOptions, needs=("torch",))
def fedmetar2ag(instance, *, seed, time_limit, max_evals, callback, options: LearnedOptions) -> Proposal:
    """Learned policy (FedMetaR2Ag: PPO inside MAML); F by KKT."""
    return _solve("fedmetar2ag", instance, options)
