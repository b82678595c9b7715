"""JRORS: joint request offloading and resource scheduling for welfare (SPEC.md 1.2).

Every welfare term is a constant per (request, station, units) option, so the problem is a
multiple-choice knapsack; the referee and the MILP both read one option table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from . import _geometry as geo
from ._schema import InstanceBase, Model, NonNegative, Positive, Scores, check_matrix, sum_by_choice

NAME = "jrors"
SENSE = "max"


class Station(Model):
    kind: Literal["macro", "micro"]
    cpu_hz: Positive
    units: int = Field(ge=1)
    power_w: NonNegative
    price_per_unit: NonNegative
    backhaul_s: NonNegative = 0.0
    x_m: float | None = None
    y_m: float | None = None


class Request(Model):
    workload_cycles: Positive
    data_bits: NonNegative
    priority: NonNegative
    ideal_delay_s: Positive
    tolerable_delay_s: Positive
    x_m: float | None = None
    y_m: float | None = None

    @model_validator(mode="after")
    def _delays(self):
        if self.tolerable_delay_s <= self.ideal_delay_s:
            raise ValueError("tolerable_delay_s: must exceed ideal_delay_s")
        return self


class JrorsInstance(InstanceBase):
    problem: Literal["jrors"]
    lambda_completion: NonNegative
    lambda_cost: NonNegative
    energy_price_per_j: NonNegative
    stations: list[Station] = Field(min_length=1)
    requests: list[Request] = Field(min_length=1)
    uplink_bps: list[list[NonNegative]]

    @model_validator(mode="after")
    def _shapes(self):
        if self.stations[0].kind != "macro":
            raise ValueError("stations[0].kind: station 0 must be the macro station (the cloud)")
        if any(s.kind == "macro" for s in self.stations[1:]):
            raise ValueError("stations: exactly one macro station, at index 0")
        check_matrix("uplink_bps", self.uplink_bps, len(self.requests), len(self.stations),
                     "request", "station")
        return self

    @property
    def n_requests(self) -> int:
        return len(self.requests)

    @property
    def n_stations(self) -> int:
        return len(self.stations)

    @property
    def table(self) -> "OptionTable":
        t = self._cache.get("table")
        if t is None:
            t = self._cache["table"] = OptionTable.build(self)
        return t


class JrorsSolution(Model):
    station: list[int]
    units: list[int]


@dataclass(frozen=True)
class OptionTable:
    """All (request, station, k) options: response time, satisfaction and welfare value."""

    time_s: np.ndarray  # (Q, S+1, K) response time, inf where k > units_s
    satisfaction: np.ndarray  # (Q, S+1, K)
    completed: np.ndarray  # (Q, S+1, K) bool, T <= Tb
    value: np.ndarray  # (Q, S+1, K) welfare contribution, -inf where k > units_s
    reject_value: np.ndarray  # (Q,)
    units: np.ndarray  # (S+1,)
    k_max: int

    @staticmethod
    def build(inst: JrorsInstance) -> "OptionTable":
        st, rq = inst.stations, inst.requests
        Q = len(rq)
        units = np.array([s.units for s in st])
        K = int(units.max())
        k = np.arange(1, K + 1)
        cpu = np.array([s.cpu_hz for s in st])
        W = np.array([r.workload_cycles for r in rq])
        bits = np.array([r.data_bits for r in rq])
        rate = np.array(inst.uplink_bps, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            tx = np.where(bits[:, None] == 0, 0.0, bits[:, None] / rate)
        tx = tx + np.array([s.backhaul_s for s in st])[None, :]
        unit_hz = cpu / units
        T = tx[:, :, None] + W[:, None, None] / (k[None, None, :] * unit_hz[None, :, None])
        valid = k[None, :] <= units[:, None]  # (S+1, K)
        T = np.where(valid[None], T, np.inf)
        tg = np.array([r.ideal_delay_s for r in rq])[:, None, None]
        tb = np.array([r.tolerable_delay_s for r in rq])[:, None, None]
        U = np.clip((tb - T) / (tb - tg), 0.0, 1.0)
        U = np.where(T <= tg, 1.0, U)
        done = T <= tb
        power = np.array([s.power_w for s in st])
        energy_cost = inst.energy_price_per_j * power[None, :] * W[:, None] / cpu[None, :]  # (Q,S+1)
        prio = np.array([r.priority for r in rq])
        micro = np.array([s.kind == "micro" for s in st])
        term = np.where(micro[None, :, None], prio[:, None, None] * U, 0.0) - energy_cost[:, :, None]
        price = np.array([s.price_per_unit for s in st])[:, None] * k[None, :]  # (S+1, K)
        value = term + inst.lambda_completion * done / Q - inst.lambda_cost * price[None]
        value = np.where(valid[None], value, -np.inf)
        return OptionTable(time_s=T, satisfaction=U, completed=done, value=value,
                           reject_value=-energy_cost[:, 0], units=units, k_max=K)


# ----------------------------------------------------------------------------- referee


def score(inst: JrorsInstance, station: np.ndarray, units: np.ndarray) -> Scores:
    """Welfare W and constraint violation over a population: station, units (pop, Q)."""
    t = inst.table
    s = np.atleast_2d(np.asarray(station, dtype=np.int64))
    k = np.atleast_2d(np.asarray(units, dtype=np.int64))
    Q = s.shape[1]
    served = s >= 0
    sc = np.clip(s, 0, inst.n_stations - 1)
    cap = t.units[sc]
    bad_k = served & ((k < 1) | (k > cap))
    kc = np.clip(k, 1, cap) - 1
    q = np.arange(Q)
    val = np.where(served, t.value[q, sc, kc], t.reject_value[None, :]).sum(axis=1)
    used = sum_by_choice(s, k, inst.n_stations)
    violation = np.maximum(used - t.units, 0).sum(axis=1) + bad_k.sum(axis=1)
    return Scores(objective=val, violation=violation.astype(float))


def jain(x: np.ndarray) -> float:
    """Jain's fairness index (sum x)^2 / (n sum x^2); 0 when every x is 0."""
    x = np.asarray(x, dtype=float)
    den = len(x) * float((x**2).sum())
    return float(x.sum() ** 2 / den) if den > 0 else 0.0


def parse_solution(inst: JrorsInstance, sol: JrorsSolution):
    from ..errors import InputError

    Q, S1 = inst.n_requests, inst.n_stations
    for name in ("station", "units"):
        v = getattr(sol, name)
        if len(v) != Q:
            raise InputError(f"solution: {name}: expected {Q} entries (one per request), got {len(v)}")
    for q, s in enumerate(sol.station):
        if not -1 <= s < S1:
            raise InputError(f"solution: station[{q}]: station index {s} outside -1..{S1 - 1}")
    return np.array(sol.station, dtype=np.int64), np.array(sol.units, dtype=np.int64)


def evaluate(inst: JrorsInstance, sol: JrorsSolution) -> dict:
    t = inst.table
    s, k = parse_solution(inst, sol)
    sc = score(inst, s[None], k[None])
    served = s >= 0
    q = np.arange(inst.n_requests)
    si = np.clip(s, 0, None)
    ki = np.clip(k, 1, t.units[si]) - 1
    T = np.where(served, t.time_s[q, si, ki], np.inf)
    U = np.where(served, t.satisfaction[q, si, ki], 0.0)
    done = served & t.completed[q, si, ki]
    violations: dict[str, list] = {}
    bad = [int(i) for i in np.flatnonzero(served & ((k < 1) | (k > t.units[si])))]
    if bad:
        violations["units_range"] = bad
    rejected_units = [int(i) for i in np.flatnonzero(~served & (k != 0))]
    if rejected_units:
        violations["units_of_rejected"] = rejected_units
    used = np.bincount(s[served], weights=k[served], minlength=inst.n_stations)
    over = [int(j) for j in np.flatnonzero(used > t.units)]
    if over:
        violations["station_capacity"] = over
    r = done.astype(float)
    price = sum(inst.stations[int(s[i])].price_per_unit * int(k[i]) for i in np.flatnonzero(served))
    return {
        "objective": float(sc.objective[0]),
        "feasible": bool(sc.violation[0] <= 0 and not violations),
        "violation": float(sc.violation[0] + len(rejected_units)),
        "violations": violations,
        "metrics": {
            "response_rate": float(r.mean()),
            "completion_rate": float(r.mean()),
            "jain_completion": jain(r),
            "sdd": 1.0 - jain(r),
            "jain_satisfaction": jain(U),
            "sdd_satisfaction": 1.0 - jain(U),
            "mean_satisfaction": float(U.mean()),
            "served_edge": int((s >= 1).sum()),
            "served_cloud": int((s == 0).sum()),
            "rejected": int((~served).sum()),
            "server_price": float(price),
            "units_used": used.astype(int).tolist(),
            "response_time_s": [None if not np.isfinite(x) else float(x) for x in T],
        },
    }


# ----------------------------------------------------------------------------- Pyomo model


def options(inst: JrorsInstance, prune: bool = True) -> list[tuple[int, int, int, float]]:
    """(request, station, k, value) for every option, or only the non-dominated ones.

    Pruning keeps optimality: an option no better than rejecting is dominated by rejecting
    (rejecting uses no capacity), and (s, k) is dominated by (s, k') with k' < k and a value
    at least as high (it uses less capacity).
    """
    t = inst.table
    out = []
    for q in range(inst.n_requests):
        for s in range(inst.n_stations):
            best = t.reject_value[q] if prune else -np.inf
            for k in range(1, int(t.units[s]) + 1):
                v = float(t.value[q, s, k - 1])
                if not prune or v > best + 1e-12:
                    out.append((q, s, k, v))
                    best = max(best, v)
    return out


def build_model(inst: JrorsInstance, prune: bool = False):
    """The multiple-choice knapsack as a Pyomo MILP: ``z[o]`` = 1 when option o is chosen."""
    import pyomo.environ as pyo

    t = inst.table
    opts = options(inst, prune=prune)
    mdl = pyo.ConcreteModel(name=inst.name or "jrors")
    mdl.O = pyo.RangeSet(0, len(opts) - 1) if opts else pyo.Set(initialize=[])
    mdl.z = pyo.Var(mdl.O, domain=pyo.Binary)
    by_q: dict[int, list[int]] = {q: [] for q in range(inst.n_requests)}
    by_s: dict[int, list[int]] = {s: [] for s in range(inst.n_stations)}
    for o, (q, s, k, v) in enumerate(opts):
        by_q[q].append(o)
        by_s[s].append(o)
    mdl.one_option = pyo.Constraint(
        list(by_q), rule=lambda m, q: sum(m.z[o] for o in by_q[q]) <= 1 if by_q[q] else pyo.Constraint.Skip
    )
    mdl.capacity = pyo.Constraint(
        list(by_s),
        rule=lambda m, s: sum(opts[o][2] * m.z[o] for o in by_s[s]) <= int(t.units[s])
        if by_s[s] else pyo.Constraint.Skip,
    )
    mdl.W = pyo.Objective(
        expr=float(t.reject_value.sum())
        + sum((opts[o][3] - float(t.reject_value[opts[o][0]])) * mdl.z[o] for o in mdl.O),
        sense=pyo.maximize,
    )
    mdl._options = opts
    return mdl


def set_model_point(mdl, station, units) -> None:
    chosen = {(q, int(s), int(k)) for q, (s, k) in enumerate(zip(station, units)) if s >= 0}
    for o, (q, s, k, _) in enumerate(mdl._options):
        mdl.z[o].set_value(1 if (q, s, k) in chosen else 0)


def solution_from_model(inst: JrorsInstance, mdl) -> dict:
    station = [-1] * inst.n_requests
    units = [0] * inst.n_requests
    for o, (q, s, k, _) in enumerate(mdl._options):
        if mdl.z[o].value is not None and mdl.z[o].value > 0.5:
            station[q], units[q] = s, k
    return {"station": station, "units": units}


# ----------------------------------------------------------------------------- generator

PRESETS = {
    **{name: dict(size) for name, size in geo.table2_presets().items()},
    # Section 6.1.1: equal requests, 1500 Megacycles, 700 KB, Tg 0.5 s, Tb 0.65 s.
    **{f"sec611-{u}": dict(users=u, micro=n, workload_cycles=(1.5e9, 1.5e9),
                           data_bits=(5.6e6, 5.6e6), ideal_delay_s=(0.5, 0.5),
                           extra_delay_s=(0.15, 0.15)) for u, n in geo.TABLE2_SIZES},
    "tiny": dict(users=4, micro=1, macro_units=3, micro_units=2),
}

DEFAULTS = dict(
    users=40, micro=10,
    **geo.NETWORK,
    workload_cycles=(6e8, 1e9),  # Table 2: 600-1000 Megacycles
    data_bits=(300 * 8e3, 1500 * 8e3),  # Table 2: 300-1500 KB
    ideal_delay_s=(0.4, 0.6),  # Table 2: 0.5 +- 0.1 s
    extra_delay_s=(0.1, 0.15),  # Table 2: Tb = Tg + [0.1, 0.15] s
    priority=(1, 3),  # not in the paper: integers 1..3, uniform
    macro_cpu_hz=1.4e11, micro_cpu_hz=7e10,  # Table 2
    macro_power_w=15000.0, micro_power_w=7500.0,  # Table 2
    macro_units=20, micro_units=10,  # ours: whole units of capacity
    macro_price=0.02, micro_price=0.01,  # ours
    macro_backhaul_s=0.05,  # ours: the cloud sits behind a backhaul
    lambda_completion=1.0, lambda_cost=0.01, energy_price_per_j=1e-4,  # ours
)


def generate(users: int | None = None, micro: int | None = None, seed: int = 0,
             preset: str | None = None, **overrides) -> JrorsInstance:
    p = dict(DEFAULTS)
    if preset is not None:
        p.update(PRESETS[preset])
    if users is not None:
        p["users"] = users
    if micro is not None:
        p["micro"] = micro
    p.update({k: v for k, v in overrides.items() if v is not None})
    rng = np.random.default_rng(seed)
    Qn, n = int(p["users"]), int(p["micro"])
    (sx, sy), (ux, uy), _, gain = geo.draw_network(rng, Qn, n, p["area_m"], p["height_m"])
    rate = p["bandwidth_hz"] * np.log2(1.0 + p["max_power_w"] * gain / p["noise_w"])

    def u(key):
        lo, hi = p[key]
        return rng.uniform(lo, hi, Qn)

    W, bits, tg, extra = u("workload_cycles"), u("data_bits"), u("ideal_delay_s"), u("extra_delay_s")
    prio = rng.integers(p["priority"][0], p["priority"][1] + 1, Qn)
    stations = [dict(kind="macro", cpu_hz=p["macro_cpu_hz"], units=int(p["macro_units"]),
                     power_w=p["macro_power_w"], price_per_unit=p["macro_price"],
                     backhaul_s=p["macro_backhaul_s"], x_m=float(sx[0]), y_m=float(sy[0]))]
    stations += [dict(kind="micro", cpu_hz=p["micro_cpu_hz"], units=int(p["micro_units"]),
                      power_w=p["micro_power_w"], price_per_unit=p["micro_price"], backhaul_s=0.0,
                      x_m=float(sx[s]), y_m=float(sy[s])) for s in range(1, n + 1)]
    requests = [dict(workload_cycles=float(W[q]), data_bits=float(bits[q]), priority=float(prio[q]),
                     ideal_delay_s=float(tg[q]), tolerable_delay_s=float(tg[q] + extra[q]),
                     x_m=float(ux[q]), y_m=float(uy[q])) for q in range(Qn)]
    gen = {"seed": seed, "preset": preset,
           **{k: (list(v) if isinstance(v, tuple) else v) for k, v in p.items()}}
    data = {"schema": "mecopt/v1", "problem": "jrors",
            "name": f"jrors-{preset or 'custom'}-{Qn}x{n}-seed{seed}",
            "lambda_completion": p["lambda_completion"], "lambda_cost": p["lambda_cost"],
            "energy_price_per_j": p["energy_price_per_j"], "stations": stations,
            "requests": requests, "uplink_bps": rate.tolist(), "generator": gen}
    return JrorsInstance.model_validate(data)


Instance = JrorsInstance
Solution = JrorsSolution
