"""Referee throughput: solutions scored per second, one at a time vs one batched call.

    python benchmarks/referee_speed.py [--devices 100] [--pop 1000]

Reports the ratio batched / single measured in the same process (a ratio, not a timed test).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mecopt.formulations import jrors, offloading, power
from _output import finish  # benchmarks/ is on sys.path when run as a script


def rate(fn, reps: int, per_call: int) -> float:
    fn()  # warm
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return reps * per_call / (time.perf_counter() - t0)


def main(argv=None) -> str:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--pop", type=int, default=1000)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []

    inst = offloading.generate(devices=args.devices, servers=10, seed=0)
    X = rng.integers(-1, inst.n_servers, (args.pop, inst.n_devices))
    single = rate(lambda: [offloading.score(inst, X[k:k + 1]) for k in range(100)], 5, 100)
    full = rate(lambda: [offloading.evaluate(inst, offloading.Solution(assignment=X[k].tolist()))
                         for k in range(100)], 3, 100)
    batched = rate(lambda: offloading.score(inst, X), 10, args.pop)
    rows.append(("offloading", f"{args.devices} devices x 10 servers", full, single, batched))

    ji = jrors.generate(users=args.devices, micro=25, seed=0)
    S = rng.integers(-1, ji.n_stations, (args.pop, ji.n_requests))
    K = rng.integers(1, 11, (args.pop, ji.n_requests))
    single = rate(lambda: [jrors.score(ji, S[k:k + 1], K[k:k + 1]) for k in range(100)], 5, 100)
    batched = rate(lambda: jrors.score(ji, S, K), 10, args.pop)
    rows.append(("jrors", f"{args.devices} requests x 26 stations", None, single, batched))

    pi = power.generate(users=args.devices, micro=25, seed=0)
    P = rng.uniform(0, 5, (args.pop, pi.n_users))
    single = rate(lambda: [power.score(pi, P[k:k + 1]) for k in range(100)], 5, 100)
    batched = rate(lambda: power.score(pi, P), 10, args.pop)
    rows.append(("power", f"{args.devices} users x 26 stations", None, single, batched))

    lines = [f"Referee throughput, population {args.pop} (solutions scored per second)", "",
             "| problem | size | full verdict, one at a time | score(), one at a time | score(), batched | batched / one at a time |",
             "|---|---|---:|---:|---:|---:|"]
    for prob, size, full, single, batched in rows:
        f = "" if full is None else f"{full:,.0f}"
        lines.append(f"| {prob} | {size} | {f} | {single:,.0f} | {batched:,.0f} | {batched / single:.0f}x |")
    return finish(lines, args.out)


if __name__ == "__main__":
    print(main())
