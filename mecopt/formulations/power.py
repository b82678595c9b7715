"""Uplink power allocation with upload deadlines (SPEC.md 1.3; AGDOA/BSSA paper, section 3.3).

The optimum is the least power vector meeting every deadline: target SINRs
gamma_u = 2^{S_u/(B tau_u)} - 1 and the linear system (I - D G) p = D sigma^2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from . import _geometry as geo
from ._schema import InstanceBase, Model, NonNegative, Positive, Scores, check_matrix

NAME = "power"
SENSE = "min"
RATE_RTOL = 1e-9  # a deadline is met when the rate reaches the required one up to this


class User(Model):
    bs: int = Field(ge=0)
    data_bits: Positive
    upload_deadline_s: Positive
    max_power_w: Positive
    x_m: float | None = None
    y_m: float | None = None


class PowerInstance(InstanceBase):
    problem: Literal["power"]
    bandwidth_hz: Positive
    noise_w: Positive
    interference: Literal["all", "same_bs", "none"] = "all"
    users: list[User] = Field(min_length=1)
    gain: list[list[NonNegative]]

    @model_validator(mode="after")
    def _shapes(self):
        if not self.gain or not self.gain[0]:
            raise ValueError("gain: expected one row per user and one column per station")
        n = len(self.gain[0])
        check_matrix("gain", self.gain, len(self.users), n, "user", "station")
        for u, usr in enumerate(self.users):
            if usr.bs >= n:
                raise ValueError(f"users[{u}].bs: station {usr.bs} but gain has {n} stations")
            if self.gain[u][usr.bs] <= 0:
                raise ValueError(f"gain[{u}][{usr.bs}]: a user's gain to its own station must be > 0")
        return self

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def arrays(self) -> "PowerArrays":
        a = self._cache.get("arrays")
        if a is None:
            a = self._cache["arrays"] = PowerArrays.build(self)
        return a


class PowerSolution(Model):
    power_w: list[NonNegative]


@dataclass(frozen=True)
class PowerArrays:
    own_gain: np.ndarray  # (U,) g_{u, b(u)}
    cross: np.ndarray  # (U, U): cross[v, u] = g_{v, b(u)} if v interferes with u, else 0
    bits: np.ndarray
    deadline_s: np.ndarray
    pmax: np.ndarray
    gamma: np.ndarray  # target SINR meeting the deadline exactly
    rate_req: np.ndarray  # bits / deadline

    @staticmethod
    def build(inst: PowerInstance) -> "PowerArrays":
        g = np.array(inst.gain, dtype=float)
        bs = np.array([u.bs for u in inst.users])
        U = len(bs)
        own = g[np.arange(U), bs]
        cross = g[:, bs]  # g_{v, b(u)}
        if inst.interference == "none":
            cross = np.zeros_like(cross)
        elif inst.interference == "same_bs":
            cross = np.where(bs[:, None] == bs[None, :], cross, 0.0)
        np.fill_diagonal(cross, 0.0)
        bits = np.array([u.data_bits for u in inst.users])
        dl = np.array([u.upload_deadline_s for u in inst.users])
        rate_req = bits / dl
        with np.errstate(over="ignore"):  # an unreachable rate gives gamma = inf: infeasible
            gamma = np.expm1(rate_req / inst.bandwidth_hz * np.log(2.0))
        return PowerArrays(own_gain=own, cross=cross, bits=bits, deadline_s=dl,
                           pmax=np.array([u.max_power_w for u in inst.users]), gamma=gamma,
                           rate_req=rate_req)


# ----------------------------------------------------------------------------- referee


def sinr(inst: PowerInstance, P: np.ndarray) -> np.ndarray:
    a = inst.arrays
    P = np.atleast_2d(np.asarray(P, dtype=float))
    interference = P @ a.cross  # (pop, U): sum_v p_v g_{v, b(u)}
    return P * a.own_gain / (inst.noise_w + interference)


def rate_bps(inst: PowerInstance, P: np.ndarray) -> np.ndarray:
    """Shannon rate B log2(1 + SINR) of every user, (pop, U)."""
    return inst.bandwidth_hz * np.log2(1.0 + sinr(inst, P))


def _time_of_rate(inst: PowerInstance, rate: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(rate > 0, inst.arrays.bits / np.where(rate > 0, rate, 1.0), np.inf)


def upload_time(inst: PowerInstance, P: np.ndarray) -> np.ndarray:
    return _time_of_rate(inst, rate_bps(inst, P))


def score(inst: PowerInstance, P: np.ndarray) -> Scores:
    """Energy E = sum p_u t_u and violation over a population P (pop, U).

    Violation: relative rate shortfall per user, sum max(0, 1 - r_u / r_req_u), plus relative
    excess over [0, pmax]. A user with p = 0 spends no energy and misses its deadline.
    """
    a = inst.arrays
    P = np.atleast_2d(np.asarray(P, dtype=float))
    rate = rate_bps(inst, P)
    with np.errstate(divide="ignore", invalid="ignore"):
        energy = np.where(P > 0, P * a.bits / rate, 0.0)
    short = np.maximum(1.0 - rate / a.rate_req - RATE_RTOL, 0.0)
    bounds = np.maximum(P / a.pmax - 1.0 - RATE_RTOL, 0.0) + np.maximum(-P / a.pmax, 0.0)
    return Scores(objective=energy.sum(axis=1), violation=(short + bounds).sum(axis=1))


def parse_solution(inst: PowerInstance, sol: PowerSolution) -> np.ndarray:
    from ..errors import InputError

    if len(sol.power_w) != inst.n_users:
        raise InputError(f"solution: power_w: expected {inst.n_users} entries (one per user), "
                         f"got {len(sol.power_w)}")
    return np.array(sol.power_w, dtype=float)


def evaluate(inst: PowerInstance, sol: PowerSolution) -> dict:
    a = inst.arrays
    p = parse_solution(inst, sol)
    s = score(inst, p[None])
    gamma = sinr(inst, p[None])[0]
    rate = inst.bandwidth_hz * np.log2(1.0 + gamma)
    t = _time_of_rate(inst, rate)
    violations: dict[str, list] = {}
    late = [int(u) for u in np.flatnonzero(rate < a.rate_req * (1 - RATE_RTOL))]
    if late:
        violations["upload_deadline"] = late
    over = [int(u) for u in np.flatnonzero(p > a.pmax * (1 + RATE_RTOL))]
    if over:
        violations["max_power"] = over
    return {
        "objective": float(s.objective[0]),
        "feasible": bool(s.violation[0] <= 0 and not violations),
        "violation": float(s.violation[0]),
        "violations": violations,
        "metrics": {
            "energy_j": float(s.objective[0]),
            "total_power_w": float(p.sum()),
            "upload_time_s": [float(x) if np.isfinite(x) else None for x in t],
            "max_upload_time_s": float(t.max()) if np.all(np.isfinite(t)) else None,
            "sinr": gamma.tolist(),
        },
    }


# ----------------------------------------------------------------------------- exact forms


def least_power(inst: PowerInstance) -> np.ndarray | None:
    """Closed form: solve (I - D G) p = D sigma^2; None unless p >= 0 and within pmax."""
    a = inst.arrays
    if not np.all(np.isfinite(a.gamma)):
        return None
    D = a.gamma / a.own_gain
    M = np.eye(inst.n_users) - D[:, None] * a.cross.T
    try:
        p = np.linalg.solve(M, D * inst.noise_w)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > a.pmax * (1 + 1e-9)):
        return None
    # The system has a non-negative solution iff the spectral radius of DG is < 1; then it is
    # the least one. A non-negative solution with radius >= 1 cannot occur (Perron-Frobenius).
    return np.minimum(p, a.pmax)


def infeasible_users(inst: PowerInstance, iters: int = 100_000) -> list[int]:
    """Users who miss their deadline at the least fixed point of p <- min(pmax, D(sigma^2 + G p)).

    Starting from 0 the capped iteration increases monotonically to the least fixed point;
    a user whose requirement there exceeds pmax cannot meet the deadline in any allocation
    where the others meet theirs.
    """
    a = inst.arrays
    D = a.gamma / a.own_gain
    p = np.zeros(inst.n_users)
    for _ in range(iters):
        need = D * (inst.noise_w + p @ a.cross)
        nxt = np.minimum(a.pmax, need)
        if np.allclose(nxt, p, rtol=1e-13, atol=0):
            break
        p = nxt
    need = D * (inst.noise_w + p @ a.cross)
    return [int(u) for u in np.flatnonzero(need > a.pmax * (1 + 1e-9))]


def build_model(inst: PowerInstance):
    """The least-power LP in Pyomo: min sum p_u tau_u s.t. SINR_u >= gamma_u (linearised).

    Any positive weights give the same least vector; tau_u makes the objective read as the
    optimal energy, since each deadline binds at the optimum.
    """
    import pyomo.environ as pyo

    a = inst.arrays
    U = inst.n_users
    mdl = pyo.ConcreteModel(name=inst.name or "power")
    mdl.U = pyo.RangeSet(0, U - 1)
    mdl.p = pyo.Var(mdl.U, bounds=lambda _, u: (0.0, float(a.pmax[u])))
    # Scaled by 1/sigma^2 so the coefficients are O(1) for the LP solver.
    s2 = inst.noise_w
    mdl.sinr = pyo.Constraint(
        mdl.U,
        rule=lambda m, u: float(a.own_gain[u] / s2) * m.p[u]
        - float(a.gamma[u]) * sum(float(a.cross[v, u] / s2) * m.p[v] for v in range(U) if a.cross[v, u] > 0)
        >= float(a.gamma[u]),
    )
    mdl.E = pyo.Objective(expr=sum(float(a.deadline_s[u]) * mdl.p[u] for u in mdl.U), sense=pyo.minimize)
    return mdl


# ----------------------------------------------------------------------------- generator

PRESETS = {**geo.table2_presets(), "tiny": dict(users=4, micro=1)}

DEFAULTS = dict(
    users=40, micro=10, **geo.NETWORK,
    data_bits=(300 * 8e3, 1500 * 8e3),  # Table 2: 300-1500 KB
    upload_deadline_s=(3.0, 5.0),  # ours: the paper has no deadline (SPEC.md 1.3); shorter
    # deadlines on one shared 20 MHz band make the Table 2 networks infeasible
    interference="all",
)


def generate(users: int | None = None, micro: int | None = None, seed: int = 0,
             preset: str | None = None, **overrides) -> PowerInstance:
    p = dict(DEFAULTS)
    if preset is not None:
        p.update(PRESETS[preset])
    if users is not None:
        p["users"] = users
    if micro is not None:
        p["micro"] = micro
    p.update({k: v for k, v in overrides.items() if v is not None})
    rng = np.random.default_rng(seed)
    Un, n = int(p["users"]), int(p["micro"])
    _, (ux, uy), dist, gain = geo.draw_network(rng, Un, n, p["area_m"], p["height_m"])
    bs = np.argmax(gain, axis=1)  # Algorithm 3: each user to its nearest station, by channel gain
    bits = rng.uniform(*p["data_bits"], Un)
    dl = rng.uniform(*p["upload_deadline_s"], Un)
    users = [dict(bs=int(bs[u]), data_bits=float(bits[u]), upload_deadline_s=float(dl[u]),
                  max_power_w=float(p["max_power_w"]), x_m=float(ux[u]), y_m=float(uy[u]))
             for u in range(Un)]
    gen = {"seed": seed, "preset": preset,
           **{k: (list(v) if isinstance(v, tuple) else v) for k, v in p.items()}}
    data = {"schema": "mecopt/v1", "problem": "power",
            "name": f"power-{preset or 'custom'}-{Un}x{n}-seed{seed}",
            "bandwidth_hz": p["bandwidth_hz"], "noise_w": p["noise_w"],
            "interference": p["interference"], "users": users, "gain": gain.tolist(),
            "generator": gen}
    return PowerInstance.model_validate(data)


Instance = PowerInstance
Solution = PowerSolution


def build_cvxpy(inst: PowerInstance):
    """The same least-power LP in CVXPY (the problem is convex): returns (problem, p variable).

    An independent formulation for users who work in CVXPY, and a cross-check in the tests.
    """
    import cvxpy as cp

    a = inst.arrays
    s2 = inst.noise_w
    # Powers are solved in units of the largest interference-free need, so that they are O(1)
    # for the conic solver's tolerances; ``p`` is returned in watts.
    unit = float(np.max(a.gamma * s2 / a.own_gain)) or 1.0
    x = cp.Variable(inst.n_users, nonneg=True)
    cons = [x <= a.pmax / unit,
            cp.multiply(a.own_gain * unit / s2, x) - cp.multiply(a.gamma, (a.cross.T * unit / s2) @ x)
            >= a.gamma]
    prob = cp.Problem(cp.Minimize((a.deadline_s * unit) @ x), cons)
    return prob, x * unit
