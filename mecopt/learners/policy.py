"""The learned offloading policy: FedMeta2Ag on offloading decisions labelled by the exact solver.

Devices are the clients and MEC-L regions the task distributions: each region draws its
instances from its own generator parameters (heavier tasks, bigger uploads, weaker servers...).
A client holds the solved instances of its region. The policy decides devices one at a time, as
in the environment of :mod:`mecopt.learners.env`: a row is the observation at step t (the
device's task, its channel to each server, its local CPU, its weights, and the load context:
each server's load so far and the marginal KKT cost of joining it) with the exact solver's choice
for device t as its label (0 = local, j + 1 = server j), the exact solution replayed to build
the loads (behaviour cloning with teacher forcing). Training is the same federated,
double-aggregation meta-learning as on MNIST.

At decision time the policy walks the devices, ineligible servers (upload past the deadline)
masked, and takes its best choice; F follows by KKT. Every choice the mask leaves is feasible,
so masking is the repair. ``polish`` runs the JTORA local search from the policy's decision.
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
from .env import Batch, obs_size
from .features import TRAIN_REGIONS, region_params
from .fedmeta import method_config, train
from .models import MLP
from .outputs import ACC_LOSS, plot_curves, save_checkpoint, write_csv


def replay(inst, assignment) -> tuple[np.ndarray, np.ndarray]:
    """(observations, labels) of the exact decision walked device by device."""
    X = np.asarray(assignment, dtype=np.int64)
    b = Batch.of([inst])
    obs = []
    for t in range(inst.n_devices):
        obs.append(b.obs()[0])
        b.step(X[t:t + 1] + 1)
    return np.stack(obs), X + 1

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
                f, y = replay(inst, solve_exact(inst))
                xs.append(f)
                ys.append(y)
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
        self.model = MLP(obs_size(self.servers), self.servers + 1, self.hidden)
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

    def decide(self, inst) -> np.ndarray:
        self.check(inst)
        b = Batch.of([inst])
        with torch.no_grad():
            while not b.done:
                z = self.model(torch.as_tensor((b.obs() - self.mean) / self.std)).numpy()
                z = np.where(b.mask(), z, -np.inf)
                b.step(z.argmax(axis=1))
        return b.X[0].copy()


def objective(inst, X) -> float:
    """The referee's Q of one assignment (F by KKT)."""
    return float(offloading.score(inst, np.asarray(X)[None]).objective[0])


def baselines(inst) -> dict[str, np.ndarray]:
    """All-local, all-remote (each device to its cheapest eligible upload) and JTORA greedy."""
    from ..solvers.greedy import offloading_local_search

    a = inst.arrays
    local = -np.ones(inst.n_devices, dtype=np.int64)
    cost = np.where(a.eligible, a.tx_cost, np.inf)
    remote = np.where(np.isfinite(cost.min(1)), cost.argmin(1), -1).astype(np.int64)
    greedy, _, _, _ = offloading_local_search(inst, local)
    return {"all_local": local, "all_remote": remote, "greedy": greedy}


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
            best = objective(inst, solve_exact(inst))
            gap = lambda X: relative_gap(objective(inst, X), best, "min")  # noqa: E731
            base = baselines(inst)
            rows.append({"devices": n, "region": region, "seed": k, "decision_ms": dt * 1e3, "gap": gap(X),
                         "gap_polished": gap(offloading_local_search(inst, X)[0]) if polish else None,
                         "gap_greedy": gap(base["greedy"]), "gap_all_local": gap(base["all_local"])})
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
    model = MLP(obs_size(servers), servers + 1, tuple(hidden))
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
                ACC_LOSS)
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary
