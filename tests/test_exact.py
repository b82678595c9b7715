"""The exact solvers against brute force and against each other."""

import numpy as np
import pytest
from hypothesis import given, settings

import mecopt
from mecopt.formulations import offloading, power
from mecopt.solvers import Status
from strategies import jrors_instances, offloading_instances, power_instances


@given(offloading_instances())
def test_offloading_exact_equals_enumerate(inst):
    ex = mecopt.solve(inst, "exact")
    en = mecopt.solve(inst, "enumerate")
    assert ex.status == Status.OPTIMAL and en.status == Status.OPTIMAL
    assert np.isclose(ex.objective, en.objective, rtol=1e-8)
    assert ex.gap <= 1e-6


@given(jrors_instances())
def test_jrors_exact_equals_enumerate(inst):
    ex = mecopt.solve(inst, "exact")
    en = mecopt.solve(inst, "enumerate")
    assert ex.status == Status.OPTIMAL and en.status == Status.OPTIMAL
    assert np.isclose(ex.objective, en.objective, rtol=1e-9, atol=1e-9)


@settings(max_examples=6)
@given(offloading_instances(max_devices=4, max_servers=2))
def test_minlp_agrees_with_the_kkt_reduction(inst):
    pytest.importorskip("pyscipopt")
    ex = mecopt.solve(inst, "exact")
    mi = mecopt.solve(inst, "minlp", time_limit=60)
    assert mi.status == Status.OPTIMAL, mi.message
    # SCIP's answer, with its own continuous F, re-scored by the referee.
    assert np.isclose(mi.objective, ex.objective, rtol=1e-6)


def test_offloading_exact_medium_instance_is_proven():
    inst = offloading.generate(devices=30, servers=4, seed=7)
    r = mecopt.solve(inst, "exact")
    g = mecopt.solve(inst, "greedy")
    assert r.status == Status.OPTIMAL and r.gap <= 1e-9
    assert r.bound <= r.objective * (1 + 1e-9)
    assert r.objective <= g.objective * (1 + 1e-12)


def test_exact_reports_time_limit_honestly():
    inst = offloading.generate(devices=120, servers=8, seed=1)
    r = mecopt.solve(inst, "exact", time_limit=0.5)
    # Either it proved optimality in time, or it says it ran out: never a false "optimal".
    assert r.status in (Status.OPTIMAL, Status.TIME_LIMIT, Status.FEASIBLE)
    if r.status != Status.OPTIMAL:
        assert r.feasible and (r.bound is None or r.bound <= r.objective)


@given(power_instances())
def test_power_exact_is_optimal_or_proves_infeasibility(inst):
    r = mecopt.solve(inst, "exact")
    if power.least_power(inst) is None:
        assert r.status == Status.INFEASIBLE and r.solution is None
        assert "infeasible" in r.message
    else:
        assert r.status == Status.OPTIMAL and r.feasible


def test_power_infeasible_names_the_users():
    inst = power.generate(users=5, micro=1, seed=0, interference="none",
                          upload_deadline_s=(1.0, 1.0))
    d = inst.to_json_dict()
    d["users"][3]["data_bits"] = 1e12  # cannot be sent in 1 s on 20 MHz at 5 W
    inst = power.Instance.model_validate(d)
    r = mecopt.solve(inst, "exact")
    assert r.status == Status.INFEASIBLE
    assert r.extra["infeasible_users"] == [3]
    assert "3" in r.message


def test_power_lp_method_matches_closed_form():
    inst = power.generate(preset="table2-12", seed=1)
    r = mecopt.solve(inst, "exact", power_method="lp")
    assert r.status == Status.OPTIMAL
    assert r.extra["lp_max_rel_diff"] < 1e-5
