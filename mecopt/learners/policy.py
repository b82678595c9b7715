"""The learned offloading policy: FedMeta2Ag on offloading decisions labelled by the exact solver.

Devices are the clients and MEC-L regions the task distributions: each region draws its
instances from its own generator parameters (heavier tasks, bigger uploads, weaker servers...).
A client holds the solved instances of its region; its rows are the devices of those instances,
each a feature vector (its task, its channel to each server, its local CPU, its weights and the
load context of the servers) labelled with the exact solver's choice (0 = local, j + 1 = server
j). Training is the same federated, double-aggregation meta-learning as on MNIST.

At decision time the policy scores every choice of every device at once, ineligible servers
(upload past the deadline) masked, and takes the best; F follows by KKT. Every choice the mask
leaves is feasible, so masking is the repair. ``polish`` runs the JTORA local search from the
policy's decision.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from ..formulations import offloading
from ..io import write_text_atomic
from .data import ClientSplit, Federation
from .fedmeta import method_config, train
from .models import MLP
from .outputs import plot_curves, save_checkpoint, write_csv

# Task distributions, one per MEC-L region: overrides of the offloading generator's defaults.
REGIONS: dict[str, dict] = {
    "urban": {},
    "compute-heavy": dict(cycles=(1e9, 3e9)),
    "video": dict(data_bits=(4e6, 8e6), deadline_s=(0.1, 1.0)),
    "weak-edge": dict(server_cpu_hz=(5e9, 1.5e10)),
    "latency-critical": dict(weight_time=(0.6, 1.0), cycles=(1e9, 2e9)),  # held out by default
}
TRAIN_REGIONS = ("urban", "compute-heavy", "video", "weak-edge")


def region_params(region: str) -> dict:
    if region not in REGIONS:
        raise InputError(f"--regions: unknown region {region!r}; known: {', '.join(REGIONS)}")
    return REGIONS[region]


def n_features(servers: int) -> int:
    return 6 + 6 * servers


def features(inst) -> np.ndarray:
    """(N, 6 + 6M) features of every device of an instance, in O(1) units.

    Per device: lambda_T, cycles (Gcycles), upload size (4 Mbit), deadline (s), local CPU (GHz),
    local cost. Per server j: CPU (10 GHz), upload cost, eligibility, upload time over deadline,
    compute cost alone on j, and the marginal KKT compute cost on j if all devices spread over
    the servers in proportion to their CPU (the load context).
    """
    a = inst.arrays
    n, m = inst.n_devices, inst.n_servers
    dev = inst.devices
    lam_t = np.array([d.weight_time for d in dev])
    bits = np.array([d.data_bits for d in dev])
    f_loc = np.array([d.cpu_hz for d in dev])
    cpu = a.cpu_max
    load = a.sqrt_w.sum() * cpu / cpu.sum()  # expected sum of sqrt(lambda_T F) on each server
    alone = a.w_time[:, None] / cpu[None, :]
    marginal = (2 * load[None, :] * a.sqrt_w[:, None] + a.w_time[:, None]) / cpu[None, :]
    tx_cost = np.where(np.isfinite(a.tx_cost), a.tx_cost, 10.0)
    ratio = np.where(np.isfinite(a.tx_time_s), a.tx_time_s / a.deadline_s[:, None], 2.0)
    per_dev = np.stack([lam_t, a.cycles / 1e9, bits / 4e6, a.deadline_s, f_loc / 1e9, a.local_cost], axis=1)
    per_srv = np.stack([np.broadcast_to(cpu / 1e10, (n, m)), np.minimum(tx_cost, 10.0), a.eligible.astype(float),
                        np.minimum(ratio, 2.0), alone, marginal], axis=2).reshape(n, 6 * m)
    return np.concatenate([per_dev, per_srv], axis=1).astype(np.float32)


def labels(inst, assignment) -> np.ndarray:
    return np.asarray(assignment, dtype=np.int64) + 1


def solve_exact(inst, time_limit: float | None = 60.0) -> np.ndarray:
    from ..solvers.base import solve

    r = solve(inst, "exact", time_limit=time_limit)
    if not r.feasible:
        raise InputError(f"exact solver found no feasible point on {inst.name}")
    return np.asarray(r.solution["assignment"], dtype=np.int64)


def labelled_instances(region: str, count: int, devices: int, servers: int, seed: int,
                       time_limit: float | None = 60.0):
    """``count`` instances of a region with their exact assignments."""
    out = []
    for k in range(count):
        inst = offloading.generate(devices, servers, seed=seed + k, **region_params(region))
        out.append((inst, solve_exact(inst, time_limit)))
    return out


def build_federation(regions: tuple[str, ...], clients_per_region: int, instances_per_client: int,
                     devices: int, servers: int, seed: int = 0,
                     on_instance: Callable[[], None] | None = None) -> tuple[Federation, dict]:
    """Clients hold solved instances of their region; half of each client's instances are its test split."""
    xs, ys, train, test, region_of = [], [], [], [], []
    row = 0
    for r_i, region in enumerate(regions):
        for c in range(clients_per_region):
            base = seed * 1_000_003 + (r_i * 1000 + c) * instances_per_client
            split_at = max(1, instances_per_client // 2)
            tr, te = [], []
            for k in range(instances_per_client):
                inst = offloading.generate(devices, servers, seed=base + k, **region_params(region))
                X = solve_exact(inst)
                f = features(inst)
                xs.append(f)
                ys.append(labels(inst, X))
                (tr if k < split_at else te).append(np.arange(row, row + len(f)))
                row += len(f)
                if on_instance:
                    on_instance()
            train.append(ClientSplit(np.concatenate(tr)))
            test.append(ClientSplit(np.concatenate(te if te else tr)))
            region_of.append(region)
    x = np.concatenate(xs)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    fed = Federation(((x - mean) / std).astype(np.float32), np.concatenate(ys), train, test,
                     n_classes=servers + 1, source=f"{row} labelled devices")
    return fed, {"mean": mean.tolist(), "std": std.tolist(), "region_of": region_of}


class Policy:
    """A trained offloading policy: features -> masked choice, for instances with ``servers`` servers."""

    def __init__(self, ckpt: dict):
        self.servers = int(ckpt["servers"])
        self.hidden = tuple(ckpt["hidden"])
        self.model = MLP(n_features(self.servers), self.servers + 1, self.hidden)
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.eval()
        self.mean = np.asarray(ckpt["mean"], dtype=np.float32)
        self.std = np.asarray(ckpt["std"], dtype=np.float32)
        self.meta = ckpt.get("summary", {})

    @classmethod
    def load(cls, path) -> "Policy":
        from .outputs import load_checkpoint

        return cls(load_checkpoint(path, "offloading-policy"))

    def check(self, inst) -> None:
        if inst.problem != "offloading":
            raise InputError(f"--model: an offloading policy cannot solve {inst.problem}")
        if inst.n_servers != self.servers:
            raise InputError(f"--model: the policy was trained for {self.servers} servers; "
                             f"the instance has {inst.n_servers}")

    def logits(self, inst) -> np.ndarray:
        x = (features(inst) - self.mean) / self.std
        with torch.no_grad():
            return self.model(torch.as_tensor(x)).numpy()

    def decide(self, inst) -> np.ndarray:
        self.check(inst)
        z = self.logits(inst)
        allowed = np.ones_like(z, dtype=bool)
        allowed[:, 1:] = inst.arrays.eligible
        z = np.where(allowed, z, -np.inf)
        return z.argmax(axis=1).astype(np.int64) - 1


def gap_report(decide: Callable, sizes: list[int], servers: int, regions: tuple[str, ...],
               per_size: int, seed: int, polish: bool = False) -> list[dict]:
    """Gap to the exact optimum and decision time on held-out instances of each size."""
    from ..solvers.base import relative_gap
    from ..solvers.greedy import offloading_local_search

    rows = []
    for n in sizes:
        for k in range(per_size):
            region = regions[k % len(regions)]
            inst = offloading.generate(n, servers, seed=seed + 7919 * n + k, **region_params(region))
            t0 = time.perf_counter()
            X = decide(inst)
            dt = time.perf_counter() - t0
            obj = float(offloading.score(inst, X[None]).objective[0])
            if polish:
                X, _, _, _ = offloading_local_search(inst, X)
            best = offloading.score(inst, solve_exact(inst)[None]).objective[0]
            local = offloading.score(inst, -np.ones((1, n), dtype=np.int64)).objective[0]
            greedy, _, _, _ = offloading_local_search(inst, -np.ones(n, dtype=np.int64))
            rows.append({"devices": n, "region": region, "seed": k, "decision_ms": dt * 1e3,
                         "gap": relative_gap(obj, float(best), "min"),
                         "gap_polished": relative_gap(float(offloading.score(inst, X[None]).objective[0]),
                                                      float(best), "min") if polish else None,
                         "gap_greedy": relative_gap(float(offloading.score(inst, greedy[None]).objective[0]),
                                                    float(best), "min"),
                         "gap_all_local": relative_gap(float(local), float(best), "min")})
    return rows


def summarise_gaps(rows: list[dict]) -> list[dict]:
    out = []
    for n in sorted({r["devices"] for r in rows}):
        sel = [r for r in rows if r["devices"] == n]
        row = {"devices": n, "instances": len(sel)}
        for key in ("gap", "gap_polished", "gap_greedy", "gap_all_local"):
            vals = [r[key] for r in sel if r[key] is not None]
            if vals:
                row[f"mean_{key}"] = float(np.mean(vals))
                row[f"max_{key}"] = float(np.max(vals))
        row["mean_decision_ms"] = float(np.mean([r["decision_ms"] for r in sel]))
        out.append(row)
    return out


def run(out_dir: str | Path, devices: int = 20, servers: int = 5, regions: tuple[str, ...] = TRAIN_REGIONS,
        clients_per_region: int = 5, instances_per_client: int = 8, hidden: tuple[int, ...] = (128, 128),
        method: str = "fedmeta2ag", eval_per_size: int = 6, eval_scales: tuple[int, ...] = (1, 2, 4),
        on_round: Callable[[dict], None] | None = None, on_instance: Callable[[], None] | None = None,
        **overrides) -> dict:
    """Label, train, checkpoint, and report gaps on held-out instances of 1x, 2x, 4x the size."""
    overrides.setdefault("support", devices)
    overrides.setdefault("query_size", 2 * devices)
    overrides.setdefault("edges", len(regions))
    overrides.setdefault("finetune_steps", 0)
    cfg = method_config(method, **overrides)
    fed, norm = build_federation(tuple(regions), clients_per_region, instances_per_client, devices, servers,
                                 seed=cfg.seed, on_instance=on_instance)
    # Client c belongs to edge c mod edges; with one edge per region, order clients so that
    # each MEC-L serves one region (the region is the task distribution of its edge).
    order = np.argsort([regions.index(r) for r in norm["region_of"]], kind="stable")
    fed.train = [fed.train[i] for i in order]
    fed.test = [fed.test[i] for i in order]
    if cfg.edges == len(regions):
        n = fed.n_clients
        perm = np.empty(n, dtype=int)
        per = clients_per_region
        for c in range(n):  # place region r's k-th client at position k * R + r
            perm[(c % per) * len(regions) + c // per] = c
        fed.train = [fed.train[i] for i in perm]
        fed.test = [fed.test[i] for i in perm]
    torch.manual_seed(cfg.seed)
    model = MLP(n_features(servers), servers + 1, tuple(hidden))
    params, hist = train(model, fed, cfg, on_round)
    model.load_state_dict({**model.state_dict(), **{k: v.detach().cpu() for k, v in params.items()}})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = {"kind": "offloading-policy", "servers": servers, "hidden": list(hidden),
            "state_dict": model.state_dict(), "mean": norm["mean"], "std": norm["std"],
            "trained_on": {"devices": devices, "regions": list(regions), "method": method}}
    policy = Policy(ckpt)
    sizes = [devices * s for s in eval_scales]
    gaps = gap_report(policy.decide, sizes, servers, tuple(regions), eval_per_size, seed=cfg.seed + 99,
                      polish=True)
    summary = {"method": method, "devices": devices, "servers": servers, "regions": list(regions),
               "clients": fed.n_clients, "rows": int(len(fed.y)), "config": asdict(cfg),
               "final": hist.last(), "gaps": summarise_gaps(gaps)}
    ckpt["summary"] = summary
    save_checkpoint(out / "policy.pt", ckpt)
    write_csv(out / "history.csv", hist.rows)
    write_csv(out / "gaps.csv", gaps)
    plot_curves(out / "curves.png", hist.rows, f"offloading policy ({method}), {devices}x{servers}",
                [("train_acc", "train"), ("test_acc", "test"), ("train_loss", "train"), ("test_loss", "test")])
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary
