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

MEALPY = ["mealpy:GA", "mealpy:PSO"]
LEARNED = {"fedmeta2ag", "fedmetar2ag"}  # need a trained checkpoint: tests/test_learners.py
CASES = [(name, problem) for name, info in sorted(registry().items()) for problem in info.problems
         if not name.startswith("test-") and name not in LEARNED]
CASES += [(name, problem) for name in MEALPY for problem in ("offloading", "jrors", "power")]
HEURISTICS = [(n, p) for n, p in CASES if n.startswith("mealpy:") or not registry()[n].exact]


def info_of(name):
    from mecopt.solvers.base import get_solver

    try:
        return get_solver(name)
    except Exception:
        pytest.skip(f"{name} is not available")


# Tiny instances on which every heuristic must find the proven optimum within a fixed budget.
ORACLE = {
    "offloading": lambda: offloading.generate(devices=4, servers=2, seed=5),
    "jrors": lambda: jrors.generate(users=3, micro=1, seed=5, preset="tiny"),
    "power": lambda: power.generate(users=2, micro=1, seed=5),
}
BUDGET = 4000


STALLS = {("doa", "jrors"), ("adoa", "jrors")}


def _reach_cases():
    for name, problem in HEURISTICS:
        if name == "greedy":  # constructive, no budget to spend
            continue
        marks = ()
        if (name, problem) in STALLS:
            marks = pytest.mark.xfail(strict=True, reason=(
                "DOA's group attack moves towards -x*, which the box clips; from a random start "
                "it stalls one CPU unit from the optimum (a finding, kept visible)"))
        if (name, problem) == ("mealpy:GA", "power"):
            marks = pytest.mark.xfail(strict=True, reason=(
                "mealpy's BaseGA ends over 100% above the least power on a 2-user network "
                "in 4000 evaluations: most of its box is infeasible (a finding, kept visible)"))
        yield pytest.param(name, problem, marks=marks)


@pytest.mark.parametrize("name,problem", list(_reach_cases()))
def test_heuristics_reach_the_optimum_on_tiny_instances(name, problem):
    info_of(name)
    inst = ORACLE[problem]()
    best = mecopt.solve(inst, "exact")
    r = mecopt.solve(inst, name, seed=1, max_evals=BUDGET)
    assert r.feasible and r.evaluations <= BUDGET
    gap = relative_gap(r.objective, best.objective, PROBLEMS[problem].SENSE)
    # Discrete problems: the optimum itself. Power is continuous: within 5% of it.
    assert gap <= (1e-9 if problem != "power" else 5e-2), gap


@pytest.mark.parametrize("name,problem", CASES)
def test_every_solver_returns_a_rescored_feasible_solution(name, problem):
    info = info_of(name)
    if not info.available():
        pytest.skip(f"{name} needs {info.needs}")
    inst = TINY[problem]()
    r = mecopt.solve(inst, name, seed=0, time_limit=60, max_evals=None if info.exact else 3000)
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
    info = info_of(name)
    if not info.available() or name == "minlp":
        pytest.skip("deterministic by construction or unavailable")
    inst = TINY[problem]()
    a = mecopt.solve(inst, name, seed=3, max_evals=1500)
    b = mecopt.solve(inst, name, seed=3, max_evals=1500)
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


@pytest.mark.parametrize("name,problem", [c for c in HEURISTICS if c[0] != "greedy"])
def test_heuristics_stop_on_the_clock(name, problem):
    info_of(name)
    inst = {"offloading": lambda: offloading.generate(devices=60, servers=5, seed=1),
            "jrors": lambda: jrors.generate(preset="table2-40", seed=1),
            "power": lambda: power.generate(preset="table2-40", seed=1)}[problem]()
    r = mecopt.solve(inst, name, seed=0, time_limit=0.2, max_iter=100_000)
    assert r.termination.value == "time_limit"
    assert r.runtime_s < 5.0
    assert r.feasible or problem == "power"
