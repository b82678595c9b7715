"""Atomic writers for what training leaves behind: per-round CSV, checkpoint, curves."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..io import write_atomic, write_text_atomic


def write_csv(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def save_checkpoint(path: Path, payload: dict) -> None:
    import torch

    write_atomic(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | os.PathLike, kind: str) -> dict:
    import torch

    from ..errors import InputError

    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise InputError(f"--model: no checkpoint at {path}") from None
    except Exception as err:
        raise InputError(f"--model: {path} is not a mecopt checkpoint ({type(err).__name__})") from None
    if not isinstance(ck, dict) or ck.get("kind") != kind:
        found = ck.get("kind") if isinstance(ck, dict) else type(ck).__name__
        raise InputError(f"--model: {path} holds a {found!r} checkpoint, not {kind!r}")
    return ck


def plot_curves(path: Path, rows: list[dict], title: str, panels: list[tuple[str, list[tuple[str, str]]]]) -> None:
    """One PNG, a panel per (y label, [(column, legend label), ...]) of ``rows`` against the round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    for ax, (ylabel, series) in zip(axes[0], panels):
        for col, label in series:
            pts = [(r["round"], r[col]) for r in rows if r.get(col) is not None]
            if pts:
                ax.plot(*zip(*pts), label=label)
        ax.set_xlabel("round")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


ACC_LOSS = [("accuracy", [("train_acc", "train"), ("test_acc", "test")]),
            ("loss", [("train_loss", "train"), ("test_loss", "test")])]
