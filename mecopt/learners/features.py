"""Task distributions (one per MEC-L region) and the per-device features the policies see."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

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
