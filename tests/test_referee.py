"""The referee against the Pyomo models, the batched form against the single one, and the
optimality facts that the exact solvers rest on."""

import numpy as np
import pytest
import pyomo.environ as pyo
from hypothesis import given
from hypothesis import strategies as st

from mecopt.formulations import jrors, offloading, power
from strategies import jrors_instances, offloading_instances, power_instances


def random_assignment(inst, rng, pop):
    a = inst.arrays
    X = rng.integers(-1, inst.n_servers, size=(pop, inst.n_devices))
    ok = np.where(X >= 0, a.eligible[np.arange(inst.n_devices), np.clip(X, 0, None)], True)
    return np.where(ok, X, -1)


@given(offloading_instances(), st.integers(0, 10**6))
def test_offloading_referee_equals_pyomo_objective(inst, seed):
    rng = np.random.default_rng(seed)
    X = random_assignment(inst, rng, 1)[0]
    # An arbitrary positive allocation inside each server's capacity.
    f = np.zeros(inst.n_devices)
    for j in range(inst.n_servers):
        on = X == j
        if on.any():
            share = rng.dirichlet(np.ones(on.sum()))
            f[on] = share * inst.arrays.cpu_max[j] * rng.uniform(0.5, 1.0)
    verdict = offloading.evaluate(inst, offloading.Solution(assignment=X.tolist(), cpu_hz=f.tolist()))
    mdl = offloading.build_model(inst, assignment=X)
    offloading.set_model_point(mdl, inst, X, f)
    assert np.isclose(pyo.value(mdl.Q), verdict["objective"], rtol=1e-9)
    assert verdict["feasible"]


@given(offloading_instances(), st.integers(0, 10**6))
def test_kkt_allocation_is_never_beaten(inst, seed):
    rng = np.random.default_rng(seed)
    X = random_assignment(inst, rng, 1)[0]
    kkt = offloading.score(inst, X[None]).objective[0]
    for _ in range(20):
        f = np.zeros(inst.n_devices)
        for j in range(inst.n_servers):
            on = X == j
            if on.any():
                f[on] = rng.dirichlet(np.ones(on.sum())) * inst.arrays.cpu_max[j]
        other = offloading.score(inst, X[None], f[None])
        if other.violation[0] <= 0:
            assert kkt <= other.objective[0] * (1 + 1e-12)


@given(offloading_instances(), st.integers(0, 10**6))
def test_offloading_batched_equals_single(inst, seed):
    rng = np.random.default_rng(seed)
    X = random_assignment(inst, rng, 16)
    batch = offloading.score(inst, X)
    f_kkt = offloading.kkt_cpu(inst, X)
    with_f = offloading.score(inst, X, f_kkt)
    for k in range(len(X)):
        v = offloading.evaluate(inst, offloading.Solution(assignment=X[k].tolist()))
        assert np.isclose(batch.objective[k], v["objective"], rtol=1e-12)
        assert np.isclose(with_f.objective[k], v["objective"], rtol=1e-9)
        assert v["feasible"] == bool(batch.violation[k] <= 0)


def test_offloading_deadline_and_capacity_violations_named():
    inst = offloading.generate(devices=4, servers=2, seed=3, deadline_s=(1e-6, 2e-6))
    v = offloading.evaluate(inst, offloading.Solution(assignment=[0, 1, -1, 0]))
    assert not v["feasible"] and v["violations"]["C1_upload_deadline"] == [0, 1, 3]
    inst = offloading.generate(devices=2, servers=1, seed=3)
    cap = inst.arrays.cpu_max[0]
    v = offloading.evaluate(inst, offloading.Solution(assignment=[0, 0], cpu_hz=[cap, cap]))
    assert v["violations"]["C2_server_capacity"] == [0]


@given(jrors_instances(), st.integers(0, 10**6))
def test_jrors_referee_equals_pyomo_objective(inst, seed):
    rng = np.random.default_rng(seed)
    t = inst.table
    s = rng.integers(-1, inst.n_stations, inst.n_requests)
    k = np.where(s >= 0, rng.integers(1, t.units[np.clip(s, 0, None)] + 1), 0)
    v = jrors.evaluate(inst, jrors.Solution(station=s.tolist(), units=k.tolist()))
    mdl = jrors.build_model(inst, prune=False)
    jrors.set_model_point(mdl, s, k)
    assert np.isclose(pyo.value(mdl.W), v["objective"], rtol=1e-9, atol=1e-12)
    batch = jrors.score(inst, s[None], k[None])
    assert np.isclose(batch.objective[0], v["objective"])
    used = np.bincount(s[s >= 0], weights=k[s >= 0], minlength=inst.n_stations)
    assert v["feasible"] == bool(np.all(used <= t.units))


def test_jrors_metrics_follow_the_spec():
    inst = jrors.generate(preset="tiny", seed=0)
    v = jrors.evaluate(inst, jrors.Solution(station=[-1] * inst.n_requests, units=[0] * inst.n_requests))
    m = v["metrics"]
    assert m["response_rate"] == 0 and m["sdd"] == 1.0 and m["rejected"] == inst.n_requests
    # Jain's index over binary completion equals the response rate (SPEC.md 1.2).
    r = np.array([1, 0, 1, 1.0])
    assert np.isclose(jrors.jain(r), r.mean())


@given(power_instances(), st.integers(0, 10**6))
def test_power_optimum_is_never_beaten(inst, seed):
    p_star = power.least_power(inst)
    if p_star is None:
        return
    e_star = power.score(inst, p_star[None])
    assert e_star.violation[0] <= 0
    rng = np.random.default_rng(seed)
    a = inst.arrays
    # Random feasible vectors: scale p* up componentwise (a feasible direction) or draw freely.
    P = np.concatenate([p_star * rng.uniform(1.0, 3.0, (50, inst.n_users)),
                        rng.uniform(0, 1, (200, inst.n_users)) * a.pmax])
    P = np.minimum(P, a.pmax)
    s = power.score(inst, P)
    feas = s.violation <= 0
    assert np.all(s.objective[feas] >= e_star.objective[0] * (1 - 1e-9))


@given(power_instances())
def test_power_deadlines_bind_at_the_optimum(inst):
    p_star = power.least_power(inst)
    if p_star is None:
        return
    t = power.upload_time(inst, p_star[None])[0]
    assert np.allclose(t, inst.arrays.deadline_s, rtol=1e-9)


@given(power_instances(max_users=4))
def test_power_lp_agrees_with_closed_form(inst):
    from pyomo.contrib.solver.common.factory import SolverFactory

    p_star = power.least_power(inst)
    mdl = power.build_model(inst)
    opt = SolverFactory("highs")
    opt.config.raise_exception_on_nonoptimal_result = False
    opt.config.load_solutions = False
    res = opt.solve(mdl)
    if p_star is None:
        assert res.incumbent_objective is None
        return
    res.solution_loader.load_vars()
    p_lp = np.array([mdl.p[u].value for u in range(inst.n_users)])
    assert np.allclose(p_lp, p_star, rtol=1e-5, atol=1e-12)
    assert np.isclose(pyo.value(mdl.E), np.sum(p_star * inst.arrays.deadline_s), rtol=1e-5)


def test_power_batched_equals_single():
    inst = power.generate(preset="table2-12", seed=2)
    rng = np.random.default_rng(0)
    P = rng.uniform(0, 5, (8, inst.n_users))
    s = power.score(inst, P)
    for k in range(8):
        v = power.evaluate(inst, power.Solution(power_w=P[k].tolist()))
        assert np.isclose(v["objective"], s.objective[k])
        assert v["feasible"] == bool(s.violation[k] <= 0)


@given(power_instances(max_users=5))
def test_power_cvxpy_agrees_with_closed_form(inst):
    cp = pytest.importorskip("cvxpy")
    p_star = power.least_power(inst)
    prob, p = power.build_cvxpy(inst)
    prob.solve(solver=cp.CLARABEL)
    if p_star is None:
        assert prob.status in ("infeasible", "infeasible_inaccurate")
        return
    assert prob.status == "optimal"
    assert np.allclose(p.value, p_star, rtol=1e-4, atol=1e-9)
