"""The AGDOA/BSSA paper's network (its section 3.1 and Table 2), shared by `jrors` and `power`.

One macro base station (index 0) at the centre of a square area, n micro stations placed
uniformly at random, users uniformly at random; every station 10 m high. The paper names no
path-loss model; we use the 3GPP macro-cell law PL(dB) = 128.1 + 37.6 log10(d / km) with
Rayleigh fading (|h|^2 ~ Exp(1)), which is the common choice in this literature.
"""

from __future__ import annotations

import numpy as np

# Table 2 of the AGDOA/BSSA paper: (users, micro stations) pairs.
TABLE2_SIZES = [(12, 3), (20, 5), (32, 8), (40, 10), (52, 13), (60, 15), (72, 18), (80, 20),
                (92, 23), (100, 25)]

NETWORK = dict(
    area_m=1000.0,
    height_m=10.0,  # Table 2: fixed height of the stations
    bandwidth_hz=2e7,  # Table 2: B = 20 MHz
    noise_w=1e-13,  # Table 2: -100 dBm
    max_power_w=5.0,  # Table 2: Pmax = 5 W
)


def draw_network(rng: np.random.Generator, users: int, micro: int, area_m: float, height_m: float):
    """Positions and the channel power gain matrix users x (1 + micro)."""
    sx = np.concatenate([[area_m / 2], rng.uniform(0, area_m, micro)])
    sy = np.concatenate([[area_m / 2], rng.uniform(0, area_m, micro)])
    ux = rng.uniform(0, area_m, users)
    uy = rng.uniform(0, area_m, users)
    d = np.sqrt((ux[:, None] - sx[None]) ** 2 + (uy[:, None] - sy[None]) ** 2 + height_m**2)
    path_loss_db = 128.1 + 37.6 * np.log10(d / 1000.0)
    fading = rng.exponential(1.0, size=d.shape)
    gain = fading * 10.0 ** (-path_loss_db / 10.0)
    return (sx, sy), (ux, uy), d, gain


def table2_presets() -> dict[str, dict]:
    return {f"table2-{u}": dict(users=u, micro=n) for u, n in TABLE2_SIZES}
