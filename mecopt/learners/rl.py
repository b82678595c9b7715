"""FedMetaR2Ag: PPO inside MAML, federated with two aggregation levels (paper, Algorithm 2).

Each client serves one region (its task distribution P(T)). A local meta-iteration samples K
episodes (offloading instances of the region) with the policy theta, takes the inner step
theta' = theta - alpha grad L(theta) on them (eq. 29), samples fresh episodes with theta' and
takes ``ppo_epochs`` clipped-PPO steps there, applying each step's gradient, taken at the
adapted point, to theta as well (eq. 31, first order: the meta-gradient is the gradient at
theta'). MEC-L servers average their clients' policies, the MEC-C every ``cloud_every`` rounds.
A new region is met with a few gradient steps from the meta-policy (eq. 32), which
:func:`adaptation_curve` measures against a policy trained from scratch.

The reward is -Q through its telescoping decomposition (see :mod:`mecopt.learners.env`); the
CPU split F* is KKT's. Rollouts are batched over episodes in numpy and torch.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from ..errors import InputError
from ..formulations import offloading
from ..io import write_text_atomic
from .env import Batch, obs_size
from .outputs import plot_curves, save_checkpoint, write_csv
from .features import TRAIN_REGIONS, region_params
from .policy import baselines, objective, solve_exact


class ActorCritic(nn.Module):
    def __init__(self, obs: int, actions: int, hidden: tuple[int, ...] = (128, 128)):
        super().__init__()
        layers: list[nn.Module] = []
        width = obs
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.trunk = nn.Sequential(*layers)
        self.pi = nn.Linear(width, actions)
        self.v = nn.Linear(width, 1)
        with torch.no_grad():
            self.pi.weight.mul_(0.01)

    def forward(self, x):
        h = self.trunk(x)
        return self.pi(h), self.v(h).squeeze(-1)


@dataclass
class RLConfig:
    devices: int = 10
    servers: int = 3
    rounds: int = 60
    epochs: int = 2  # local meta-iterations per client per round
    clients_per_region: int = 2
    cloud_every: int = 2
    episodes: int = 16  # K trajectories per task sample
    alpha: float = 0.1  # inner rate (eq. 29)
    beta: float = 0.3  # meta-policy rate (eq. 31)
    eta: float = 0.05  # adaptation rate on a new region (eq. 32)
    ppo_epochs: int = 4
    clip_eps: float = 0.2
    gamma: float = 0.2  # short: each reward already charges its marginal KKT cost (tuned: 0.99 -> 0.5 -> 0.2)
    lam: float = 0.9
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    device: str = "cpu"

    def check(self) -> None:
        for name in ("devices", "servers", "rounds", "epochs", "clients_per_region", "cloud_every",
                     "episodes", "ppo_epochs"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(self, name)}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"--device: {self.device} asked for but torch sees no CUDA device")


@dataclass
class Trajectories:
    obs: torch.Tensor  # (T*B, d)
    act: torch.Tensor
    logp: torch.Tensor
    mask: torch.Tensor
    adv: torch.Tensor
    ret: torch.Tensor
    X: np.ndarray  # (B, N) final decisions
    total_reward: float


def rollout(model, params, instances, greedy: bool = False, gamma: float = 0.99,
            lam: float = 0.95) -> Trajectories:
    """Run the policy over a batch of instances (same size), on the parameters' device; GAE advantages."""
    device = next(iter(params.values())).device
    batch = Batch.of(instances)
    obs, acts, logps, vals, rews, masks = [], [], [], [], [], []
    with torch.no_grad():
        while not batch.done:
            o = torch.as_tensor(batch.obs(), device=device)
            m = torch.as_tensor(batch.mask(), device=device)
            logits, v = functional_call(model, params, (o,))
            logits = logits.masked_fill(~m, -1e9)
            if greedy:
                a = logits.argmax(-1)
            else:
                a = torch.distributions.Categorical(logits=logits).sample()
            lp = torch.log_softmax(logits, -1).gather(1, a[:, None]).squeeze(1)
            r, _ = batch.step(a.cpu().numpy())
            obs.append(o), acts.append(a), logps.append(lp), vals.append(v), masks.append(m)
            rews.append(torch.as_tensor(r, dtype=torch.float32, device=device))
    V = torch.stack(vals)
    R = torch.stack(rews)
    T = len(rews)
    adv = torch.zeros_like(R)
    last = torch.zeros_like(R[0])
    for t in reversed(range(T)):
        nxt = V[t + 1] if t + 1 < T else torch.zeros_like(V[0])
        delta = R[t] + gamma * nxt - V[t]
        last = delta + gamma * lam * last
        adv[t] = last
    ret = adv + V
    flat = lambda z: z.reshape(T * z.shape[1], *z.shape[2:])  # noqa: E731
    return Trajectories(flat(torch.stack(obs)), flat(torch.stack(acts)), flat(torch.stack(logps)),
                        flat(torch.stack(masks)), flat(adv), flat(ret), batch.X.copy(), float(R.sum(0).mean()))


def ppo_loss(model, params, tr: Trajectories, cfg: RLConfig) -> torch.Tensor:
    logits, v = functional_call(model, params, (tr.obs,))
    logits = logits.masked_fill(~tr.mask, -1e9)
    logp_all = torch.log_softmax(logits, -1)
    logp = logp_all.gather(1, tr.act[:, None]).squeeze(1)
    adv = (tr.adv - tr.adv.mean()) / (tr.adv.std() + 1e-8)
    ratio = torch.exp(logp - tr.logp)
    surr = torch.minimum(ratio * adv, ratio.clamp(1 - cfg.clip_eps, 1 + cfg.clip_eps) * adv)
    entropy = -(logp_all.exp() * logp_all.masked_fill(~tr.mask, 0.0)).sum(-1)
    return -surr.mean() + cfg.vf_coef * (v - tr.ret).pow(2).mean() - cfg.ent_coef * entropy.mean()


def _grad(model, params, tr, cfg):
    p = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    loss = ppo_loss(model, p, tr, cfg)
    g = torch.autograd.grad(loss, list(p.values()))
    norm = torch.sqrt(sum(x.pow(2).sum() for x in g))
    scale = min(1.0, cfg.max_grad_norm / (float(norm) + 1e-12)) if cfg.max_grad_norm > 0 else 1.0
    return {k: x * scale for k, x in zip(p, g)}


def sample_instances(region: str, cfg: RLConfig, rng: np.random.Generator, k: int, devices: int | None = None):
    return [offloading.generate(devices or cfg.devices, cfg.servers, seed=int(rng.integers(2**31)),
                                **region_params(region)) for _ in range(k)]


def meta_iteration(model, params, region: str, cfg: RLConfig, rng) -> tuple[dict, float]:
    """One ModelTrainedMAML step of Algorithm 2 on a client of ``region`` (first-order)."""
    tr = rollout(model, params, sample_instances(region, cfg, rng, cfg.episodes), gamma=cfg.gamma, lam=cfg.lam)
    g = _grad(model, params, tr, cfg)
    adapted = {k: params[k] - cfg.alpha * g[k] for k in params}  # eq. 29
    tr2 = rollout(model, adapted, sample_instances(region, cfg, rng, cfg.episodes), gamma=cfg.gamma, lam=cfg.lam)
    theta = dict(params)
    for _ in range(cfg.ppo_epochs):  # eq. 31, the gradient taken at the adapted policy
        g2 = _grad(model, adapted, tr2, cfg)
        adapted = {k: adapted[k] - cfg.beta * g2[k] for k in adapted}
        theta = {k: theta[k] - cfg.beta * g2[k] for k in theta}
    return theta, tr2.total_reward


def _avg(models: list[dict], weights: list[float] | None = None) -> dict:
    w = np.ones(len(models)) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    return {k: sum(float(wi) * m[k] for wi, m in zip(w, models)) for k in models[0]}


def train(cfg: RLConfig, regions: tuple[str, ...] = TRAIN_REGIONS,
          on_round: Callable[[dict], None] | None = None) -> tuple[ActorCritic, dict, list[dict]]:
    cfg.check()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = ActorCritic(obs_size(cfg.servers), cfg.servers + 1).to(cfg.device)
    theta = {k: v.detach().clone() for k, v in model.named_parameters()}
    edges = [dict(theta) for _ in regions]  # one MEC-L per region
    rows = []
    t0 = time.perf_counter()
    for r in range(1, cfg.rounds + 1):
        rewards = []
        for e, region in enumerate(regions):
            local = []
            for _ in range(cfg.clients_per_region):
                p = dict(edges[e])
                for _ in range(cfg.epochs):
                    p, rew = meta_iteration(model, p, region, cfg, rng)
                    rewards.append(rew)
                local.append(p)
            edges[e] = _avg(local)  # MEC-L aggregation (equal data per client)
        global_params = _avg(edges)
        if r % cfg.cloud_every == 0 or r == cfg.rounds:  # MEC-C aggregation and broadcast
            edges = [dict(global_params) for _ in regions]
        row = {"round": r, "mean_reward": float(np.mean(rewards)), "elapsed_s": time.perf_counter() - t0}
        rows.append(row)
        if on_round:
            on_round(row)
    return model, global_params, rows


class RLPolicy:
    def __init__(self, ckpt: dict):
        self.servers = int(ckpt["servers"])
        self.model = ActorCritic(obs_size(self.servers), self.servers + 1, tuple(ckpt["hidden"]))
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.eval()
        self.params = dict(self.model.named_parameters())
        self.meta = ckpt.get("summary", {})

    @classmethod
    def load(cls, path) -> "RLPolicy":
        from .outputs import load_checkpoint

        return cls(load_checkpoint(path, "fedmetar2ag"))

    def decide(self, inst) -> np.ndarray:
        if inst.problem != "offloading":
            raise InputError(f"--model: an offloading policy cannot solve {inst.problem}")
        if inst.n_servers != self.servers:
            raise InputError(f"--model: the policy was trained for {self.servers} servers; "
                             f"the instance has {inst.n_servers}")
        return rollout(self.model, self.params, [inst], greedy=True).X[0]


def evaluate_policy(decide: Callable, instances, optima: list[float]) -> dict:
    from ..solvers.base import relative_gap

    gaps, times = [], []
    for inst, best in zip(instances, optima):
        t0 = time.perf_counter()
        X = decide(inst)
        times.append(time.perf_counter() - t0)
        gaps.append(relative_gap(objective(inst, X), best, "min"))
    return {"mean_gap": float(np.mean(gaps)), "max_gap": float(np.max(gaps)),
            "decision_ms": float(np.mean(times) * 1e3)}


def adaptation_curve(model, theta: dict, region: str, cfg: RLConfig, instances, optima,
                     steps: tuple[int, ...] = (0, 1, 2, 5, 10), seed: int = 0) -> list[dict]:
    """Gap to exact on a new region after k gradient steps from ``theta`` (eq. 32)."""
    rng = np.random.default_rng(seed)
    p = {k: v.detach().clone() for k, v in theta.items()}
    out, done = [], 0
    for k in sorted(steps):
        while done < k:
            tr = rollout(model, p, sample_instances(region, cfg, rng, cfg.episodes), gamma=cfg.gamma, lam=cfg.lam)
            g = _grad(model, p, tr, cfg)
            p = {n: p[n] - cfg.eta * g[n] for n in p}
            done += 1
        res = evaluate_policy(lambda inst: rollout(model, p, [inst], greedy=True).X[0], instances, optima)
        out.append({"steps": k, **res})
    return out


def run(out_dir: str | Path, cfg: RLConfig, regions: tuple[str, ...] = TRAIN_REGIONS,
        new_region: str = "latency-critical", eval_per_size: int = 6, eval_scales: tuple[int, ...] = (1, 2, 4),
        on_round: Callable[[dict], None] | None = None) -> dict:
    """Train, checkpoint, and report gaps (1x, 2x, 4x), baselines and adaptation to a new region."""
    region_params(new_region)
    model, theta, rows = train(cfg, regions, on_round)
    model.load_state_dict({**model.state_dict(), **{k: v.detach().cpu() for k, v in theta.items()}})
    ckpt = {"kind": "fedmetar2ag", "servers": cfg.servers, "hidden": [128, 128], "state_dict": model.state_dict(),
            "trained_on": {"devices": cfg.devices, "regions": list(regions)}}
    pol = RLPolicy(ckpt)
    rng = np.random.default_rng(cfg.seed + 991)
    gaps = []
    for scale in eval_scales:
        n = cfg.devices * scale
        insts = [offloading.generate(n, cfg.servers, seed=int(rng.integers(2**31)),
                                     **region_params(regions[k % len(regions)])) for k in range(eval_per_size)]
        optima = [objective(i, solve_exact(i)) for i in insts]
        row = {"devices": n, "fedmetar2ag": evaluate_policy(pol.decide, insts, optima)}
        for name in ("greedy", "all_local", "all_remote"):
            row[name] = evaluate_policy(lambda inst, name=name: baselines(inst)[name], insts, optima)
        gaps.append(row)
    new = [offloading.generate(cfg.devices, cfg.servers, seed=int(rng.integers(2**31)), **region_params(new_region))
           for _ in range(eval_per_size)]
    new_opt = [objective(i, solve_exact(i)) for i in new]
    meta_curve = adaptation_curve(model, theta, new_region, cfg, new, new_opt, seed=cfg.seed)
    torch.manual_seed(cfg.seed + 1)
    scratch = ActorCritic(obs_size(cfg.servers), cfg.servers + 1).to(cfg.device)
    scratch_curve = adaptation_curve(scratch, dict(scratch.named_parameters()), new_region, cfg, new, new_opt,
                                     seed=cfg.seed)
    summary = {"config": asdict(cfg), "regions": list(regions), "final": rows[-1], "gaps": gaps,
               "adaptation": {"region": new_region, "meta": meta_curve, "scratch": scratch_curve}}
    ckpt["summary"] = summary
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / "policy.pt", ckpt)
    write_csv(out / "history.csv", rows)
    flat = [{"devices": g["devices"], "method": k, **v} for g in gaps for k, v in g.items() if k != "devices"]
    write_csv(out / "gaps.csv", flat)
    write_csv(out / "adaptation.csv", [{"init": "meta", **c} for c in meta_curve]
              + [{"init": "scratch", **c} for c in scratch_curve])
    plot_curves(out / "curves.png", rows, "FedMetaR2Ag training",
                [("mean return = Q(all local) - Q", [("mean_reward", "adapted policy")])])
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary
