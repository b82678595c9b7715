"""Longer checks: `python -m pytest -m slow` (not in the default run)."""

import numpy as np
import pytest
from hypothesis import given, settings

import mecopt
from mecopt.formulations import offloading
from mecopt.solvers import Status
from strategies import jrors_instances, offloading_instances

pytestmark = pytest.mark.slow


@settings(max_examples=150)
@given(offloading_instances(max_devices=8, max_servers=3))
def test_offloading_exact_equals_enumerate_larger(inst):
    ex = mecopt.solve(inst, "exact")
    en = mecopt.solve(inst, "enumerate")
    assert ex.status == Status.OPTIMAL
    assert np.isclose(ex.objective, en.objective, rtol=1e-8)


@settings(max_examples=150)
@given(jrors_instances(max_requests=4))
def test_jrors_exact_equals_enumerate_larger(inst):
    ex = mecopt.solve(inst, "exact")
    en = mecopt.solve(inst, "enumerate", max_points=5_000_000)
    assert np.isclose(ex.objective, en.objective, rtol=1e-9, atol=1e-9)


@settings(max_examples=40)
@given(offloading_instances(max_devices=6, max_servers=3))
def test_minlp_agrees_larger(inst):
    pytest.importorskip("pyscipopt")
    ex = mecopt.solve(inst, "exact")
    mi = mecopt.solve(inst, "minlp", time_limit=120)
    assert mi.status == Status.OPTIMAL
    assert np.isclose(mi.objective, ex.objective, rtol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_fifty_by_five_is_proven(seed):
    inst = offloading.generate(devices=50, servers=5, seed=seed)
    r = mecopt.solve(inst, "exact", time_limit=120)
    assert r.status == Status.OPTIMAL and r.gap <= 1e-9
