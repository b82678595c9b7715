"""Offloading with CPU allocation, Q(X, F) (SPEC.md 1.1; FedMeta2Ag paper, section 2).

One module holds the problem: the instance schema, the referee (batched and single), the
KKT allocation, the Pyomo models (the literal MINLP and the KKT-reduced MILP) and the generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ._schema import (InstanceBase, Model, NonNegative, Positive, Scores, Unit, check_matrix,
                      sum_by_choice)

NAME = "offloading"
GHZ = 1e9  # the Pyomo models' CPU variables are in GHz and cycles in Gcycles, for scaling
SENSE = "min"
DEADLINE_RTOL = 1e-9  # t_ij <= T_i^max up to floating error
CAPACITY_RTOL = 1e-9


class Server(Model):
    cpu_hz: Positive
    x_m: float | None = None
    y_m: float | None = None


class Device(Model):
    cpu_hz: Positive
    tx_power_w: Positive
    cycles: Positive
    data_bits: NonNegative
    deadline_s: Positive
    weight_time: Unit
    x_m: float | None = None
    y_m: float | None = None


class OffloadingInstance(InstanceBase):
    problem: Literal["offloading"]
    bandwidth_hz: Positive
    noise_w: Positive
    kappa: NonNegative
    servers: list[Server] = Field(min_length=1)
    devices: list[Device] = Field(min_length=1)
    gain: list[list[NonNegative]]

    @model_validator(mode="after")
    def _shapes(self):
        check_matrix("gain", self.gain, len(self.devices), len(self.servers), "device", "server")
        return self

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    @property
    def n_servers(self) -> int:
        return len(self.servers)

    @property
    def arrays(self) -> "OffloadingArrays":
        a = self._cache.get("arrays")
        if a is None:
            a = self._cache["arrays"] = OffloadingArrays.build(self)
        return a


class OffloadingSolution(Model):
    assignment: list[int]
    cpu_hz: list[NonNegative] | None = None


@dataclass(frozen=True)
class OffloadingArrays:
    """Every per-device / per-pair constant of Q(X, F), computed once."""

    local_cost: np.ndarray  # (N,) lambda_T F/f_loc + lambda_E kappa f_loc^2 F
    local_time_s: np.ndarray
    local_energy_j: np.ndarray
    tx_time_s: np.ndarray  # (N, M) D_i / r_ij
    tx_energy_j: np.ndarray  # (N, M)
    tx_cost: np.ndarray  # (N, M) lambda_T t + lambda_E e
    eligible: np.ndarray  # (N, M) bool, C1: t_ij <= T_i^max
    sqrt_w: np.ndarray  # (N,) sqrt(lambda_T F_i)
    w_time: np.ndarray  # (N,) lambda_T F_i, weighted remote cycles
    cycles: np.ndarray
    cpu_max: np.ndarray  # (M,)
    cost_ext: np.ndarray  # (N, M+1): column 0 local, j+1 transmission to j
    deadline_s: np.ndarray

    @staticmethod
    def build(inst: OffloadingInstance) -> "OffloadingArrays":
        dev = inst.devices
        f_loc = np.array([d.cpu_hz for d in dev])
        power = np.array([d.tx_power_w for d in dev])
        cycles = np.array([d.cycles for d in dev])
        bits = np.array([d.data_bits for d in dev])
        lam_t = np.array([d.weight_time for d in dev])
        lam_e = 1.0 - lam_t
        deadline = np.array([d.deadline_s for d in dev])
        gain = np.array(inst.gain, dtype=float)
        rate = inst.bandwidth_hz * np.log2(1.0 + power[:, None] * gain / inst.noise_w)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(bits[:, None] == 0, 0.0, bits[:, None] / rate)
        e = power[:, None] * t
        local_time = cycles / f_loc
        local_energy = inst.kappa * f_loc**2 * cycles
        local_cost = lam_t * local_time + lam_e * local_energy
        with np.errstate(invalid="ignore"):
            tx_cost = lam_t[:, None] * t + lam_e[:, None] * e
        eligible = t <= deadline[:, None] * (1 + DEADLINE_RTOL)
        cost_ext = np.concatenate([local_cost[:, None], tx_cost], axis=1)
        return OffloadingArrays(
            local_cost=local_cost,
            local_time_s=local_time,
            local_energy_j=local_energy,
            tx_time_s=t,
            tx_energy_j=e,
            tx_cost=tx_cost,
            eligible=eligible,
            sqrt_w=np.sqrt(lam_t * cycles),
            w_time=lam_t * cycles,
            cycles=cycles,
            cpu_max=np.array([s.cpu_hz for s in inst.servers]),
            cost_ext=cost_ext,
            deadline_s=deadline,
        )


# ----------------------------------------------------------------------------- referee


def kkt_cpu(inst: OffloadingInstance, assignment: np.ndarray) -> np.ndarray:
    """Optimal F for fixed X (paper eq. 25): square-root-proportional split of each server.

    ``assignment`` is (pop, N) or (N,); returns f with the same shape (0 where local).
    A device with lambda_T = 0 gets an arbitrarily small share; we give it 0 of the split and
    the referee weighs its compute time by 0, as SPEC.md 1.1 says.
    """
    a = inst.arrays
    X = np.atleast_2d(np.asarray(assignment, dtype=np.int64))
    load = server_load(inst, X)  # (pop, M)
    j = np.clip(X, 0, None)
    denom = np.take_along_axis(load, j, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(
            (X >= 0) & (denom > 0), a.cpu_max[j] * a.sqrt_w[None, :] / denom, 0.0
        )
    return f.reshape(np.shape(assignment))


def server_load(inst: OffloadingInstance, X: np.ndarray) -> np.ndarray:
    """(pop, M): sum of sqrt(lambda_T F_i) over the devices each server serves."""
    return sum_by_choice(X, inst.arrays.sqrt_w, inst.n_servers)


def score(inst: OffloadingInstance, X: np.ndarray, cpu_hz: np.ndarray | None = None) -> Scores:
    """The referee over a population: X (pop, N) ints in -1..M-1, cpu_hz (pop, N) or None (KKT).

    Objective is Q(X, F); violation is the summed relative excess of C1 (deadline) and
    C2 (capacity) plus 1 for each offloaded device given no CPU.
    """
    a = inst.arrays
    X = np.atleast_2d(np.asarray(X, dtype=np.int64))
    n = X.shape[1]
    rows = np.arange(n)
    base = a.cost_ext[rows, X + 1].sum(axis=1)
    off = X >= 0
    j = np.clip(X, 0, None)
    # C1: deadline of the upload
    t = np.where(off, a.tx_time_s[rows, j], 0.0)
    dl = np.maximum(t / a.deadline_s - 1.0 - DEADLINE_RTOL, 0.0)
    violation = np.where(np.isfinite(dl), dl, 1.0).sum(axis=1)
    if cpu_hz is None:
        load = server_load(inst, X)
        compute = (load**2 / a.cpu_max).sum(axis=1)
    else:
        f = np.atleast_2d(np.asarray(cpu_hz, dtype=float))
        # lambda_T = 0 devices: time term weighs 0 whatever f is (SPEC.md 1.1).
        needs = off & (a.w_time[None, :] > 0)
        starved = needs & (f <= 0)
        with np.errstate(divide="ignore"):
            term = np.where(needs & ~starved, a.w_time / np.where(f > 0, f, 1.0), 0.0)
        compute = term.sum(axis=1)
        compute = np.where(starved.any(axis=1), np.inf, compute)
        violation = violation + starved.sum(axis=1)
        used = sum_by_choice(X, f, inst.n_servers)
        violation = violation + np.maximum(used / a.cpu_max - 1.0 - CAPACITY_RTOL, 0.0).sum(axis=1)
    return Scores(objective=base + compute, violation=violation)


def parse_solution(inst: OffloadingInstance, sol: OffloadingSolution) -> tuple[np.ndarray, np.ndarray | None]:
    from ..errors import InputError

    n, m = inst.n_devices, inst.n_servers
    if len(sol.assignment) != n:
        raise InputError(f"solution: assignment: expected {n} entries (one per device), got {len(sol.assignment)}")
    for i, j in enumerate(sol.assignment):
        if not -1 <= j < m:
            raise InputError(f"solution: assignment[{i}]: server index {j} outside -1..{m - 1}")
    X = np.array(sol.assignment, dtype=np.int64)
    f = None
    if sol.cpu_hz is not None:
        if len(sol.cpu_hz) != n:
            raise InputError(f"solution: cpu_hz: expected {n} entries (one per device), got {len(sol.cpu_hz)}")
        f = np.array(sol.cpu_hz, dtype=float)
    return X, f


def evaluate(inst: OffloadingInstance, sol: OffloadingSolution) -> dict:
    """The referee's full verdict on one solution: objective, feasibility, named violations, metrics."""
    a = inst.arrays
    X, f = parse_solution(inst, sol)
    if f is None:
        f = kkt_cpu(inst, X)
    s = score(inst, X[None], f[None])
    off = X >= 0
    j = np.clip(X, 0, None)
    rows = np.arange(inst.n_devices)
    violations: dict[str, list] = {}
    late = [int(i) for i in np.flatnonzero(off & ~a.eligible[rows, j])]
    if late:
        violations["C1_upload_deadline"] = late
    starved = [int(i) for i in np.flatnonzero(off & (a.w_time > 0) & (f <= 0))]
    if starved:
        violations["cpu_positive"] = starved
    used = np.bincount(X[off], weights=f[off], minlength=inst.n_servers)
    over = [int(k) for k in np.flatnonzero(used > a.cpu_max * (1 + CAPACITY_RTOL))]
    if over:
        violations["C2_server_capacity"] = over
    with np.errstate(divide="ignore", invalid="ignore"):
        remote = np.where(off & (f > 0), a.cycles / np.where(f > 0, f, 1), 0.0)
    time_s = np.where(off, a.tx_time_s[rows, j] + remote, a.local_time_s)
    energy = np.where(off, a.tx_energy_j[rows, j], a.local_energy_j)
    return {
        "objective": float(s.objective[0]),
        "feasible": bool(s.violation[0] <= 0 and not violations),
        "violation": float(s.violation[0]),
        "violations": violations,
        "metrics": {
            "offloaded": int(off.sum()),
            "local": int((~off).sum()),
            "devices_per_server": np.bincount(X[off], minlength=inst.n_servers).tolist(),
            "total_time_s": float(time_s.sum()),
            "total_energy_j": float(energy.sum()),
            "mean_time_s": float(time_s.mean()),
        },
        "cpu_hz": f.tolist(),
    }


def solution_from_assignment(inst: OffloadingInstance, assignment) -> dict:
    X = np.asarray(assignment, dtype=np.int64)
    return {"assignment": X.tolist(), "cpu_hz": kkt_cpu(inst, X).tolist()}


# ----------------------------------------------------------------------------- Pyomo models


def build_model(inst: OffloadingInstance, assignment=None):
    """The literal MINLP Q(X, F) with continuous F, as a Pyomo ``ConcreteModel``.

    Variables ``x[i,j]`` (binary), ``f[i,j]`` (CPU in GHz, continuous) and ``tau[i,j]``, the
    weighted remote compute time in seconds, tied by ``lambda_T F_i x^2 <= tau f``: a rotated
    second-order cone where x = 1, vacuous where x = 0 (x^2 = x for binaries, and the square
    lets a MINLP solver see the cone). With ``assignment`` given, X is fixed to it.
    """
    import pyomo.environ as pyo

    a = inst.arrays
    n, m = inst.n_devices, inst.n_servers
    cap = a.cpu_max / GHZ
    mdl = pyo.ConcreteModel(name=inst.name or "offloading")
    mdl.I = pyo.RangeSet(0, n - 1)
    mdl.J = pyo.RangeSet(0, m - 1)
    mdl.x = pyo.Var(mdl.I, mdl.J, domain=pyo.Binary)
    mdl.f = pyo.Var(mdl.I, mdl.J, bounds=lambda _, i, j: (0, float(cap[j])))
    mdl.tau = pyo.Var(mdl.I, mdl.J, bounds=(0, None))
    mdl.one_server = pyo.Constraint(mdl.I, rule=lambda mm, i: sum(mm.x[i, j] for j in mm.J) <= 1)
    mdl.deadline = pyo.Constraint(
        mdl.I, mdl.J,
        rule=lambda mm, i, j: pyo.Constraint.Skip if a.eligible[i, j] else mm.x[i, j] == 0,
    )
    mdl.capacity = pyo.Constraint(
        mdl.J, rule=lambda mm, j: sum(mm.f[i, j] for i in mm.I) <= float(cap[j])
    )
    mdl.cpu_only_if_offloaded = pyo.Constraint(
        mdl.I, mdl.J, rule=lambda mm, i, j: mm.f[i, j] <= float(cap[j]) * mm.x[i, j]
    )
    mdl.compute_time = pyo.Constraint(
        mdl.I, mdl.J,
        rule=lambda mm, i, j: pyo.Constraint.Skip
        if a.w_time[i] == 0
        else float(a.w_time[i] / GHZ) * mm.x[i, j] ** 2 <= mm.tau[i, j] * mm.f[i, j],
    )
    tx = np.where(np.isfinite(a.tx_cost), a.tx_cost, 0.0)
    mdl.Q = pyo.Objective(
        expr=sum(
            float(a.local_cost[i]) * (1 - sum(mdl.x[i, j] for j in mdl.J))
            + sum(float(tx[i, j]) * mdl.x[i, j] + mdl.tau[i, j] for j in mdl.J)
            for i in mdl.I
        ),
        sense=pyo.minimize,
    )
    if assignment is not None:
        for i in range(n):
            for j in range(m):
                mdl.x[i, j].fix(1 if int(assignment[i]) == j else 0)
    return mdl


def set_model_point(mdl, inst: OffloadingInstance, assignment, cpu_hz) -> None:
    """Load (X, F) into ``build_model``'s variables, tau at its least value."""
    a = inst.arrays
    for i in range(inst.n_devices):
        for j in range(inst.n_servers):
            on = int(assignment[i]) == j
            f = float(cpu_hz[i]) / GHZ if on else 0.0
            mdl.x[i, j].set_value(1 if on else 0, skip_validation=True)
            mdl.f[i, j].set_value(f, skip_validation=True)
            tau = a.w_time[i] / GHZ / f if on and f > 0 and a.w_time[i] > 0 else 0.0
            mdl.tau[i, j].set_value(tau, skip_validation=True)


def build_reduced_model(inst: OffloadingInstance, tangents_per_server: int = 0):
    """The KKT-reduced problem min_X Q(X, F*(X)) as a Pyomo MILP.

    ``theta[j]`` over-estimates ``y_j^2 / F_j^max`` with ``y_j = sum_i sqrt(lambda_T F_i) x_ij``
    (``server_load[j]``) through the outer-approximation cuts in ``mdl.oa_cuts``; add tangents
    with :func:`add_tangent`. With enough tangents the MILP's optimum equals min Q. Loads are in
    sqrt(Gcycles) and capacities in GHz so that every coefficient is O(1) for the MILP solver.
    """
    import pyomo.environ as pyo

    a = inst.arrays
    n, m = inst.n_devices, inst.n_servers
    s_scaled = a.sqrt_w / math.sqrt(GHZ)
    cap = a.cpu_max / GHZ
    pairs = [(i, j) for i in range(n) for j in range(m) if a.eligible[i, j]]
    mdl = pyo.ConcreteModel(name=(inst.name or "offloading") + "-kkt")
    mdl.P = pyo.Set(initialize=pairs, dimen=2)
    mdl.J = pyo.RangeSet(0, m - 1)
    mdl.x = pyo.Var(mdl.P, domain=pyo.Binary)
    by_dev: dict[int, list] = {}
    by_srv: dict[int, list] = {j: [] for j in range(m)}
    for i, j in pairs:
        by_dev.setdefault(i, []).append(j)
        by_srv[j].append(i)
    ymax = [float(sum(s_scaled[i] for i in by_srv[j])) for j in range(m)]
    mdl.theta = pyo.Var(mdl.J, bounds=lambda _, j: (0, ymax[j] ** 2 / cap[j] + 1e-9))
    mdl.one_server = pyo.Constraint(
        list(by_dev), rule=lambda mm, i: sum(mm.x[i, j] for j in by_dev[i]) <= 1
    )
    mdl.server_load = pyo.Expression(
        mdl.J, rule=lambda mm, j: sum(float(s_scaled[i]) * mm.x[i, j] for i in by_srv[j])
    )
    mdl.oa_cuts = pyo.ConstraintList()
    # Valid for binaries: (sum s_i x_i)^2 >= sum s_i^2 x_i (cross terms are >= 0).
    mdl.diag_cut = pyo.Constraint(
        mdl.J,
        rule=lambda mm, j: mm.theta[j]
        >= sum(float(s_scaled[i] ** 2 / cap[j]) * mm.x[i, j] for i in by_srv[j]),
    )
    const = float(a.local_cost.sum())
    mdl.Q = pyo.Objective(
        expr=const
        + sum(float(a.tx_cost[i, j] - a.local_cost[i]) * mdl.x[i, j] for (i, j) in pairs)
        + sum(mdl.theta[j] for j in mdl.J),
        sense=pyo.minimize,
    )
    mdl.load_scale = 1.0 / math.sqrt(GHZ)  # server_load = load_scale * offloading.server_load
    mdl.cap_ghz = cap
    for j in range(m):
        for k in range(1, tangents_per_server + 1):
            add_tangent(mdl, j, ymax[j] * k / (tangents_per_server + 1))
    return mdl


def add_tangent(mdl, j: int, y0: float):
    """Cut theta_j >= (2 y0 y - y0^2) / F_j, the tangent of y^2/F_j at y0 (scaled units)."""
    c = float(mdl.cap_ghz[j])
    return mdl.oa_cuts.add(mdl.theta[j] >= (2.0 * y0 / c) * mdl.server_load[j] - y0 * y0 / c)


# ----------------------------------------------------------------------------- generator

PRESETS = {
    # The FedMeta2Ag scenario. The paper gives the model but few numbers; the values that it
    # leaves open are ours, chosen to sit in the range its references [24, 25] use.
    "fedmeta2ag": dict(devices=50, servers=5),
    "fedmeta2ag-100": dict(devices=100, servers=5),
    "fedmeta2ag-150": dict(devices=150, servers=10),
    "fedmeta2ag-200": dict(devices=200, servers=10),
    "tiny": dict(devices=6, servers=2),
}

DEFAULTS = dict(
    area_m=1000.0,  # devices uniform in a square, servers on a grid inside it
    bandwidth_hz=2e7,  # per offloading device (SPEC.md: each has its own channel)
    noise_w=1e-13,  # -100 dBm
    kappa=1e-27,  # the paper prints "k = 10720" (OCR); 1e-27 is the common value [Tran & Pompili]
    beta0=1e-3,  # channel power gain at 1 m (-30 dB)
    path_loss_exp=3.0,
    server_cpu_hz=(1e10, 3e10),
    device_cpu_hz=(5e8, 1.5e9),
    tx_power_w=(0.1, 0.5),
    cycles=(5e8, 1.5e9),  # ~1000 Megacycles, as [24, 25]
    data_bits=(2.4e6, 4.0e6),  # 300-500 KB
    deadline_s=(0.05, 1.0),  # upload deadline T_i^max
    weight_time=(0.0, 1.0),
)


def generate(devices: int | None = None, servers: int | None = None, seed: int = 0,
             preset: str | None = None, **overrides) -> OffloadingInstance:
    """An instance from a seed; explicit sizes win over the preset's, which win over 50 x 5."""
    params = dict(DEFAULTS)
    size = dict(devices=50, servers=5)
    if preset is not None:
        size.update(PRESETS[preset])
    if devices is not None:
        size["devices"] = devices
    if servers is not None:
        size["servers"] = servers
    params.update({k: v for k, v in overrides.items() if v is not None})
    n, m = int(size["devices"]), int(size["servers"])
    rng = np.random.default_rng(seed)
    area = params["area_m"]
    side = math.ceil(math.sqrt(m))
    grid = [((c + 0.5) * area / side, (r + 0.5) * area / side) for r in range(side) for c in range(side)][:m]
    sx = np.array([g[0] for g in grid])
    sy = np.array([g[1] for g in grid])
    dx = rng.uniform(0, area, n)
    dy = rng.uniform(0, area, n)
    dist = np.maximum(np.hypot(dx[:, None] - sx[None], dy[:, None] - sy[None]), 1.0)
    fading = rng.exponential(1.0, size=(n, m))  # Rayleigh: |h|^2 ~ Exp(1)
    gain = params["beta0"] * fading * dist ** (-params["path_loss_exp"])

    def u(key, k):
        lo, hi = params[key]
        return rng.uniform(lo, hi, k)

    srv_cpu = u("server_cpu_hz", m)
    dev = dict(cpu_hz=u("device_cpu_hz", n), tx_power_w=u("tx_power_w", n), cycles=u("cycles", n),
               data_bits=u("data_bits", n), deadline_s=u("deadline_s", n), weight_time=u("weight_time", n))
    gen = {"seed": seed, "preset": preset, "devices": n, "servers": m,
           **{k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}}
    data = {
        "schema": "mecopt/v1",
        "problem": "offloading",
        "name": f"offloading-{preset or 'custom'}-{n}x{m}-seed{seed}",
        "bandwidth_hz": params["bandwidth_hz"],
        "noise_w": params["noise_w"],
        "kappa": params["kappa"],
        "servers": [{"cpu_hz": float(srv_cpu[j]), "x_m": float(sx[j]), "y_m": float(sy[j])} for j in range(m)],
        "devices": [
            {**{k: float(v[i]) for k, v in dev.items()}, "x_m": float(dx[i]), "y_m": float(dy[i])}
            for i in range(n)
        ],
        "gain": gain.tolist(),
        "generator": gen,
    }
    return OffloadingInstance.model_validate(data)


Instance = OffloadingInstance
Solution = OffloadingSolution
