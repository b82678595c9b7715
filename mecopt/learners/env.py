"""Offloading as a sequential decision process, batched in numpy and as a Gymnasium environment.

An episode is one offloading instance. Step t decides device t: action 0 keeps its task local,
action j + 1 offloads it to server j; an ineligible server (upload past the deadline) is
repaired to local, and ``info["action_mask"]`` says which actions are valid. The reward is the
drop in Q(X, F*) that the decision causes, with undecided devices counted local and F* by KKT:

    r_t = local_cost_t - tx_cost_{t,j} - ((L_j + s_t)^2 - L_j^2) / f_j      (0 when local)

where L_j is the sum of s_i = sqrt(lambda_T F_i) over the devices already on server j. The
rewards telescope: their sum is Q(all local) - Q(X, F*), so maximising the return minimises Q
(SPEC.md 4, reward -Q). The observation is the device's features (see
:func:`mecopt.learners.policy.features`), the marginal KKT cost of each server under the
current loads, each server's load so far, and the progress t / N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formulations import offloading
from .features import features, n_features, region_params


def obs_size(servers: int) -> int:
    return n_features(servers) + 2 * servers + 1


@dataclass
class Batch:
    """B instances of the same size N x M, stepped together."""

    feats: np.ndarray  # (B, N, F) static features
    local_cost: np.ndarray  # (B, N)
    tx_cost: np.ndarray  # (B, N, M)
    eligible: np.ndarray  # (B, N, M)
    sqrt_w: np.ndarray  # (B, N)
    w_time: np.ndarray  # (B, N)
    cpu: np.ndarray  # (B, M)
    load: np.ndarray  # (B, M) current sum of sqrt_w per server
    X: np.ndarray  # (B, N) decisions so far (-1 local)
    t: int = 0

    @staticmethod
    def of(instances) -> "Batch":
        arrs = [i.arrays for i in instances]
        m = instances[0].n_servers
        return Batch(
            feats=np.stack([features(i) for i in instances]),
            local_cost=np.stack([a.local_cost for a in arrs]),
            tx_cost=np.stack([np.where(np.isfinite(a.tx_cost), a.tx_cost, 0.0) for a in arrs]),
            eligible=np.stack([a.eligible for a in arrs]),
            sqrt_w=np.stack([a.sqrt_w for a in arrs]),
            w_time=np.stack([a.w_time for a in arrs]),
            cpu=np.stack([a.cpu_max for a in arrs]),
            load=np.zeros((len(instances), m)),
            X=-np.ones((len(instances), instances[0].n_devices), dtype=np.int64),
        )

    @property
    def n(self) -> int:
        return self.X.shape[1]

    @property
    def done(self) -> bool:
        return self.t >= self.n

    def mask(self) -> np.ndarray:
        """(B, M+1) valid actions for the current device."""
        b = self.X.shape[0]
        return np.concatenate([np.ones((b, 1), dtype=bool), self.eligible[:, self.t]], axis=1)

    def obs(self) -> np.ndarray:
        t = min(self.t, self.n - 1)
        s, w = self.sqrt_w[:, t, None], self.w_time[:, t, None]
        marginal = (2 * self.load * s + w) / self.cpu
        share = self.load / np.sqrt(self.cpu)  # sqrt(seconds): L_j^2 / f_j is server j's cost
        prog = np.full((self.X.shape[0], 1), self.t / self.n)
        return np.concatenate([self.feats[:, t], marginal, share, prog], axis=1).astype(np.float32)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply (B,) actions in 0..M; returns (rewards, repaired)."""
        b = np.arange(self.X.shape[0])
        t = self.t
        actions = np.asarray(actions, dtype=np.int64)
        ok = self.mask()[b, actions]
        actions = np.where(ok, actions, 0)
        j = np.clip(actions - 1, 0, None)
        off = actions > 0
        s = self.sqrt_w[:, t]
        L = self.load[b, j]
        delta = ((L + s) ** 2 - L**2) / self.cpu[b, j]
        reward = np.where(off, self.local_cost[:, t] - self.tx_cost[b, t, j] - delta, 0.0)
        self.load[b, j] += np.where(off, s, 0.0)
        self.X[:, t] = actions - 1
        self.t += 1
        return reward, ~ok


class OffloadingEnv:
    """Placeholder replaced below when gymnasium is importable."""


try:
    import gymnasium as gym
    from gymnasium import spaces

    class OffloadingEnv(gym.Env):  # type: ignore[no-redef]
        """Gymnasium environment: one offloading instance per episode, one device per step.

        ``instances``: a list to cycle through; otherwise each reset draws a fresh instance of
        ``devices`` x ``servers`` from the ``region``'s generator. ``info`` carries the
        ``action_mask``, whether the action was ``repaired``, and at the end the referee's
        ``objective`` and the ``assignment``.
        """

        metadata = {"render_modes": []}

        def __init__(self, devices: int = 10, servers: int = 3, region: str = "urban", instances=None):
            super().__init__()
            self.devices, self.servers, self.region = devices, servers, region
            self.instances = list(instances) if instances else None
            if self.instances:
                self.devices, self.servers = self.instances[0].n_devices, self.instances[0].n_servers
            region_params(region)
            self.observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_size(self.servers),), dtype=np.float32)
            self.action_space = spaces.Discrete(self.servers + 1)
            self._k = 0
            self.batch: Batch | None = None
            self.instance = None

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            if options and options.get("instance") is not None:
                inst = options["instance"]
            elif self.instances:
                inst = self.instances[self._k % len(self.instances)]
                self._k += 1
            else:
                inst = offloading.generate(self.devices, self.servers, seed=int(self.np_random.integers(2**31)),
                                           **region_params(self.region))
            self.instance = inst
            self.batch = Batch.of([inst])
            return self.batch.obs()[0], {"action_mask": self.batch.mask()[0]}

        def step(self, action):
            b = self.batch
            reward, repaired = b.step(np.array([int(action)]))
            done = b.done
            info = {"repaired": bool(repaired[0])}
            if done:
                X = b.X[0].copy()
                info["assignment"] = X
                info["objective"] = float(offloading.score(self.instance, X[None]).objective[0])
            else:
                info["action_mask"] = b.mask()[0]
            return b.obs()[0], float(reward[0]), done, False, info

        def action_masks(self) -> np.ndarray:  # the sb3-contrib MaskablePPO convention
            return self.batch.mask()[0]

    if "mecopt/Offloading-v0" not in gym.registry:
        gym.register(id="mecopt/Offloading-v0", entry_point="mecopt.learners.env:OffloadingEnv")

except ImportError:  # pragma: no cover - gymnasium is in the learn extra
    pass
