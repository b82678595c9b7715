"""FedMeta2Ag: federated MAML with double aggregation (FedMeta2Ag paper, Algorithm 1).

Three tiers. Each device runs MAML on its own data: an inner step ``alpha`` on its support set,
an outer step ``beta`` on its query set (second order by default, first order as an option).
Each local MEC server (MEC-L, an *edge*) averages the models of the devices it sampled,
weighted by their data sizes; every ``cloud_every`` edge rounds the central server (MEC-C)
averages the edge models, weighted by the edges' data, and broadcasts. Testing fine-tunes the
global model on each device's support set for ``finetune_steps`` steps and scores its query set.

The same loop, with ``local="sgd"``, is FedAvg (one edge, aggregation every round) or
HierFAVG (several edges): the baselines that explain FedMeta2Ag's numbers run through the very
code that produces them.

MAML is written with ``torch.func``: ``functional_call`` runs the network on a parameter dict,
``grad`` differentiates through the inner step, and ``vmap`` runs every sampled device of a
round in one batched call (no per-device Python loop in the training step).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from ..errors import InputError
from .data import Federation, TaskBatch, sample_tasks

METHODS: dict[str, dict] = {
    # name: overrides of FedConfig that define the method
    "fedmeta2ag": dict(local="maml", finetune_steps=5),
    "fedavg": dict(local="sgd", edges=1, cloud_every=1, finetune_steps=0),
    "fedavg-ft": dict(local="sgd", edges=1, cloud_every=1, finetune_steps=5),
    "hierfavg": dict(local="sgd", finetune_steps=0),
}


@dataclass
class FedConfig:
    local: str = "maml"  # "maml" (FedMeta2Ag) or "sgd" (FedAvg / HierFAVG)
    rounds: int = 50  # edge rounds
    epochs: int = 5  # local iterations per device per round
    edges: int = 5  # MEC-L servers; device i belongs to edge i mod edges
    cloud_every: int = 2  # the MEC-C aggregates every this many edge rounds
    sample_frac: float = 1.0  # fraction of each edge's devices sampled per round
    alpha: float = 0.1  # inner (adaptation) rate, and the fine-tuning rate at test
    beta: float = 0.1  # outer (meta) rate; the local SGD rate for FedAvg
    inner_steps: int = 1
    clip: float = 10.0  # each device's (meta-)gradient is clipped to this global norm; 0: off
    first_order: bool = False
    support: str | int = "per_class"  # one example per class (the paper), or k random rows
    query_size: int = 32
    finetune_steps: int = 5
    eval_every: int = 1
    eval_clients: int = 64  # clients per batched evaluation call
    seed: int = 0
    device: str = "cpu"

    def check(self, n_clients: int) -> None:
        if self.local not in ("maml", "sgd"):
            raise InputError(f"local: {self.local!r} is neither 'maml' nor 'sgd'")
        for name in ("rounds", "epochs", "edges", "cloud_every", "inner_steps", "query_size", "eval_every"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(self, name)}")
        if self.edges > n_clients:
            raise InputError(f"--edges: {self.edges} edges for {n_clients} clients")
        if not 0 < self.sample_frac <= 1:
            raise InputError(f"--sample-frac: must be in (0, 1], got {self.sample_frac}")
        if self.finetune_steps < 0:
            raise InputError(f"--finetune-steps: must be >= 0, got {self.finetune_steps}")
        if self.alpha <= 0 or self.beta <= 0:
            raise InputError("--alpha/--beta: learning rates must be > 0")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"--device: {self.device} asked for but torch sees no CUDA device")


def method_config(method: str, **overrides) -> FedConfig:
    if method not in METHODS:
        raise InputError(f"--method: unknown method {method!r}; known: {', '.join(METHODS)}")
    return FedConfig(**{**METHODS[method], **{k: v for k, v in overrides.items() if v is not None}})


@dataclass
class History:
    rows: list[dict] = field(default_factory=list)

    def last(self) -> dict:
        return self.rows[-1] if self.rows else {}


def _loss_fn(model):
    def loss(params, buffers, x, y, m):
        out = functional_call(model, (params, buffers), (x,))
        per = F.cross_entropy(out, y, reduction="none")
        denom = m.sum().clamp_min(1.0)
        value = (per * m).sum() / denom
        acc = ((out.argmax(-1) == y).float() * m).sum() / denom
        return value, (value.detach(), acc)

    return loss


def make_steps(model, cfg: FedConfig):
    """The batched local step (meta-gradient or plain gradient) and the batched evaluation."""
    loss = _loss_fn(model)
    g_loss = grad(loss, has_aux=True)

    def adapt(params, buffers, x, y, m, steps, lr):
        for _ in range(steps):
            g, _ = g_loss(params, buffers, x, y, m)
            params = {k: params[k] - lr * g[k] for k in params}
        return params

    def maml_objective(params, buffers, xs, ys, ms, xq, yq, mq):
        adapted = adapt(params, buffers, xs, ys, ms, cfg.inner_steps, cfg.alpha)
        return loss(adapted, buffers, xq, yq, mq)

    def first_order(params, buffers, xs, ys, ms, xq, yq, mq):
        adapted = adapt(params, buffers, xs, ys, ms, cfg.inner_steps, cfg.alpha)
        return g_loss(adapted, buffers, xq, yq, mq)  # gradient at the adapted point (FOMAML)

    def sgd(params, buffers, xs, ys, ms, xq, yq, mq):
        return g_loss(params, buffers, torch.cat([xs, xq]), torch.cat([ys, yq]), torch.cat([ms, mq]))

    if cfg.local == "sgd":
        step = sgd
    elif cfg.first_order:
        step = first_order
    else:
        step = grad(maml_objective, has_aux=True)
    batched_step = vmap(step, in_dims=(0, None, 0, 0, 0, 0, 0, 0), randomness="different")

    def evaluate(params, buffers, xs, ys, ms, xq, yq, mq):
        adapted = adapt(params, buffers, xs, ys, ms, cfg.finetune_steps, cfg.alpha)
        out = functional_call(model, (adapted, buffers), (xq,))
        per = F.cross_entropy(out, yq, reduction="none")
        return (per * mq).sum(), ((out.argmax(-1) == yq).float() * mq).sum(), mq.sum()

    batched_eval = vmap(evaluate, in_dims=(None, None, 0, 0, 0, 0, 0, 0), randomness="different")
    return batched_step, batched_eval


def _tensors(batch: TaskBatch, device: str):
    return tuple(torch.as_tensor(a, device=device) for a in
                 (batch.xs, batch.ys, batch.ms, batch.xq, batch.yq, batch.mq))


def _clip(g: dict[str, torch.Tensor], max_norm: float) -> dict[str, torch.Tensor]:
    """Scale each device's gradient (dim 0 indexes devices) to a global norm of at most max_norm."""
    sq = sum(v.reshape(v.shape[0], -1).pow(2).sum(1) for v in g.values())
    scale = (max_norm / sq.sqrt().clamp_min(1e-12)).clamp(max=1.0)
    return {k: v * scale.reshape(-1, *([1] * (v.dim() - 1))) for k, v in g.items()}


def _average(stacked: dict[str, torch.Tensor], weights: torch.Tensor) -> dict[str, torch.Tensor]:
    w = weights / weights.sum()
    return {k: torch.tensordot(w, v, dims=1) for k, v in stacked.items()}


def evaluate(model, params, fed: Federation, cfg: FedConfig, split: str, batched_eval=None,
             seed: int = 12345) -> tuple[float, float]:
    """(loss, accuracy) over every client's query rows after fine-tuning on its support set."""
    if batched_eval is None:
        _, batched_eval = make_steps(model, cfg)
    buffers = {k: v.to(cfg.device) for k, v in model.named_buffers()}
    rng = np.random.default_rng(seed)  # the same support sets at every evaluation
    tot_loss = tot_correct = tot_n = 0.0
    ids = np.arange(fed.n_clients)
    for start in range(0, len(ids), cfg.eval_clients):
        chunk = ids[start:start + cfg.eval_clients]
        batch = sample_tasks(fed, chunk, split, rng, cfg.support, query_size=None)
        with torch.set_grad_enabled(cfg.finetune_steps > 0):
            lo, co, n = batched_eval(params, buffers, *_tensors(batch, cfg.device))
        tot_loss += float(lo.sum())
        tot_correct += float(co.sum())
        tot_n += float(n.sum())
    return tot_loss / max(tot_n, 1.0), tot_correct / max(tot_n, 1.0)


def train(model: torch.nn.Module, fed: Federation, cfg: FedConfig,
          on_round: Callable[[dict], None] | None = None) -> tuple[dict, History]:
    """Run the federation; returns the global parameters and the per-round history."""
    cfg.check(fed.n_clients)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = model.to(cfg.device)
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    buffers = {k: v.to(cfg.device) for k, v in model.named_buffers()}
    batched_step, batched_eval = make_steps(model, cfg)
    n = fed.n_clients
    edge_of = np.arange(n) % cfg.edges
    sizes = torch.as_tensor(fed.sizes(), dtype=torch.float32, device=cfg.device)
    edge_sizes = torch.stack([sizes[torch.as_tensor(edge_of == e)].sum() for e in range(cfg.edges)])
    edge_models = {k: v.unsqueeze(0).repeat(cfg.edges, *([1] * v.dim())) for k, v in params.items()}
    history = History()
    t0 = time.perf_counter()
    for r in range(1, cfg.rounds + 1):
        chosen = []
        for e in range(cfg.edges):
            members = np.flatnonzero(edge_of == e)
            k = max(1, int(math.ceil(cfg.sample_frac * len(members))))
            chosen.append(np.sort(rng.choice(members, k, replace=False)))
        clients = np.concatenate(chosen)
        their_edge = torch.as_tensor(edge_of[clients], device=cfg.device)
        local = {k: v[their_edge].clone() for k, v in edge_models.items()}
        train_loss = train_acc = float("nan")
        for _ in range(cfg.epochs):
            batch = sample_tasks(fed, clients, "train", rng, cfg.support, cfg.query_size)
            g, (lo, acc) = batched_step(local, buffers, *_tensors(batch, cfg.device))
            if cfg.clip > 0:
                g = _clip(g, cfg.clip)
            local = {k: (local[k] - cfg.beta * g[k]).detach() for k in local}
            train_loss, train_acc = float(lo.mean()), float(acc.mean())
        if not all(torch.isfinite(v).all() for v in local.values()):
            raise InputError(f"--beta/--alpha: training diverged in round {r}; lower the learning rates")
        w = sizes[torch.as_tensor(clients, device=cfg.device)]
        for e in range(cfg.edges):  # MEC-L aggregation
            sel = their_edge == e
            avg = _average({k: v[sel] for k, v in local.items()}, w[sel])
            for k in edge_models:
                edge_models[k][e] = avg[k]
        global_params = _average(edge_models, edge_sizes)  # what MEC-C would broadcast now
        cloud = r % cfg.cloud_every == 0 or r == cfg.rounds
        if cloud:  # MEC-C aggregation and broadcast
            edge_models = {k: v.unsqueeze(0).repeat(cfg.edges, *([1] * v.dim()))
                           for k, v in global_params.items()}
        row = {"round": r, "cloud_aggregation": cloud, "local_loss": train_loss, "local_acc": train_acc}
        if r % cfg.eval_every == 0 or r == cfg.rounds:
            row["train_loss"], row["train_acc"] = evaluate(model, global_params, fed, cfg, "train", batched_eval)
            row["test_loss"], row["test_acc"] = evaluate(model, global_params, fed, cfg, "test", batched_eval)
        row["elapsed_s"] = time.perf_counter() - t0
        history.rows.append(row)
        if on_round:
            on_round(row)
    return global_params, history


def load_params(model: torch.nn.Module, params: dict) -> torch.nn.Module:
    model.load_state_dict({**model.state_dict(), **{k: v.detach().cpu() for k, v in params.items()}})
    return model


def config_dict(cfg: FedConfig) -> dict:
    return asdict(cfg)
