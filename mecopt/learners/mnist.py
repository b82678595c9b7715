"""FedMeta2Ag on MNIST: the paper's experiment (section 3) and its baselines, end to end."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from ..io import write_text_atomic
from .data import mnist_federation
from .fedmeta import FedConfig, method_config, train
from .models import build
from .outputs import ACC_LOSS, plot_curves, save_checkpoint, write_csv


def run(out_dir: str | Path, method: str = "fedmeta2ag", clients: int = 50, partition: str = "dirichlet",
        dirichlet_alpha: float = 0.5, data_dir: str | None = None, arch: str = "mlp",
        limit: int | None = None, on_round: Callable[[dict], None] | None = None,
        **overrides) -> dict:
    """Train one method on a federated MNIST split; write history.csv, model.pt, curves.png, summary.json."""
    cfg: FedConfig = method_config(method, **overrides)
    fed = mnist_federation(clients, partition, dirichlet_alpha, data_dir, seed=cfg.seed, limit=limit)
    torch.manual_seed(cfg.seed)
    model = build(arch, 784, 10)
    params, hist = train(model, fed, cfg, on_round)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    last = hist.last()
    summary = {
        "method": method, "clients": clients, "partition": partition, "dirichlet_alpha": dirichlet_alpha,
        "data": fed.source, "arch": arch, "config": asdict(cfg),
        "train_acc": last.get("train_acc"), "test_acc": last.get("test_acc"),
        "train_loss": last.get("train_loss"), "test_loss": last.get("test_loss"),
        "best_test_acc": max((r["test_acc"] for r in hist.rows if "test_acc" in r), default=None),
        "train_time_s": last.get("elapsed_s"),
    }
    write_csv(out / "history.csv", hist.rows)
    save_checkpoint(out / "model.pt", {"kind": "mnist", "arch": arch, "method": method,
                                       "params": {k: v.detach().cpu() for k, v in params.items()},
                                       "summary": summary})
    plot_curves(out / "curves.png", hist.rows, f"{method}, {clients} clients, {cfg.epochs} epochs ({fed.source})",
                ACC_LOSS)
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary
