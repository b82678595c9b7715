"""Conformance over the whole registry: every solver on every problem it claims."""

import numpy as np
import pytest

import mecopt
from mecopt.formulations import PROBLEMS, jrors, offloading, power
from mecopt.solvers import Status, registry
from mecopt.solvers.base import Proposal, Termination, register, relative_gap

TINY = {
    "offloading": lambda: offloading.generate(devices=5, servers=2, seed=11),
    "jrors": lambda: jrors.generate(preset="tiny", seed=11),
    "power": lambda: power.generate(users=5, micro=1, seed=11),
}

CASES = [(name, problem) for name, info in sorted(registry().items()) for problem in info.problems]


@pytest.mark.parametrize("name,problem", CASES)
def test_every_solver_returns_a_rescored_feasible_solution(name, problem):
    info = registry()[name]
    if not info.available():
        pytest.skip(f"{name} needs {info.needs}")
    inst = TINY[problem]()
    r = mecopt.solve(inst, name, seed=0, time_limit=60)
    assert r.feasible, (r.status, r.violations)
    verdict = PROBLEMS[problem].evaluate(inst, PROBLEMS[problem].Solution.model_validate(
        {k: v for k, v in r.solution.items()}))
    assert verdict["objective"] == pytest.approx(r.objective, rel=1e-12)
    opt = mecopt.solve(inst, "exact")
    gap = relative_gap(r.objective, opt.objective, PROBLEMS[problem].SENSE)
    assert gap is not None and gap >= 0
    if info.exact:
        assert r.status == Status.OPTIMAL and gap <= 1e-6


@pytest.mark.parametrize("name,problem", CASES)
def test_same_seed_same_answer(name, problem):
    info = registry()[name]
    if not info.available() or name == "minlp":
        pytest.skip("deterministic by construction or unavailable")
    inst = TINY[problem]()
    a = mecopt.solve(inst, name, seed=3)
    b = mecopt.solve(inst, name, seed=3)
    assert a.solution == b.solution and a.objective == b.objective


def test_registry_refuses_duplicates_and_unknown_problems():
    with pytest.raises(ValueError, match="already registered"):
        register("exact", problems=("power",))(lambda *a, **k: None)
    with pytest.raises(ValueError, match="unknown problems"):
        register("x-new", problems=("routing",))(lambda *a, **k: None)


def test_a_false_optimality_claim_is_caught_by_the_referee():
    """A solver that claims `optimal` with a bound its solution does not meet is demoted."""
    name = "test-liar"
    if name not in registry():
        @register(name, problems=("offloading",))
        def liar(instance, **kw):
            """Claims the all-local assignment is optimal."""
            sol = offloading.solution_from_assignment(instance, [-1] * instance.n_devices)
            return Proposal(sol, Termination.PROVEN_OPTIMAL, proven_optimal=True, bound=0.0)
    inst = offloading.generate(devices=4, servers=2, seed=1)
    r = mecopt.solve(inst, name)
    assert r.status == Status.FEASIBLE and "claimed optimal" in r.message
    true = offloading.score(inst, -np.ones((1, 4), dtype=int)).objective[0]
    assert r.objective == pytest.approx(true)


def test_greedy_offloading_is_never_worse_than_all_local():
    inst = offloading.generate(devices=40, servers=4, seed=2)
    r = mecopt.solve(inst, "greedy")
    local = offloading.score(inst, -np.ones((1, 40), dtype=int)).objective[0]
    assert r.objective <= local
