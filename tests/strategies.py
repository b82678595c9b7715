"""Hypothesis strategies: small random instances of each problem, edge cases included."""

from hypothesis import strategies as st

from mecopt.formulations import jrors, offloading, power


@st.composite
def offloading_instances(draw, max_devices=5, max_servers=3):
    n = draw(st.integers(1, max_devices))
    m = draw(st.integers(1, max_servers))
    seed = draw(st.integers(0, 2**31 - 1))
    # Tighter deadlines make some uploads ineligible (C1); a time weight of 0 or 1 is allowed.
    deadline = draw(st.sampled_from([(0.05, 1.0), (0.001, 0.05)]))
    inst = offloading.generate(devices=n, servers=m, seed=seed, deadline_s=deadline)
    d = inst.to_json_dict()
    for i in range(n):
        w = draw(st.sampled_from([None, 0.0, 1.0]))
        if w is not None:
            d["devices"][i]["weight_time"] = w
    return offloading.Instance.model_validate(d)


@st.composite
def jrors_instances(draw, max_requests=3):
    q = draw(st.integers(1, max_requests))
    micro = draw(st.integers(0, 2))
    seed = draw(st.integers(0, 2**31 - 1))
    heavy = draw(st.booleans())  # heavy requests make capacity bind
    return jrors.generate(users=q, micro=micro, seed=seed, preset="tiny",
                          workload_cycles=(2e9, 2e10) if heavy else None)


@st.composite
def power_instances(draw, max_users=6):
    u = draw(st.integers(1, max_users))
    micro = draw(st.integers(0, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    interference = draw(st.sampled_from(["all", "same_bs", "none"]))
    return power.generate(users=u, micro=micro, seed=seed, interference=interference)
