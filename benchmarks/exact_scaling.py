"""Exact solve time against instance size, for each problem, on this machine.

    python benchmarks/exact_scaling.py [--seeds 3] [--limit 60] [--out benchmarks/results/exact_scaling.md]

For offloading it also reports the largest size proven optimal within the limit for every seed,
and the speed-up of the persistent outer-approximation loop over the naive rebuild-and-resolve
loop on 50 x 5 (the same instances, in the same process).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import mecopt
from mecopt.formulations import jrors, offloading, power
from mecopt.solvers import Status
from _output import finish  # benchmarks/ is on sys.path when run as a script

OFFLOADING_SIZES = [(10, 2), (25, 3), (50, 5), (75, 5), (100, 5), (100, 10), (150, 10), (200, 10)]
JRORS_PRESETS = ["table2-12", "table2-40", "table2-72", "table2-100"]
POWER_SIZES = [(12, 3), (100, 25), (400, 100), (1000, 250)]


def run(gen, seeds, limit, **options):
    rs = [mecopt.solve(gen(s), "exact", time_limit=limit, **options) for s in range(seeds)]
    # Proven: an optimum with its bound, or a proof that no feasible point exists.
    proven = sum(r.status in (Status.OPTIMAL, Status.INFEASIBLE) for r in rs)
    times = [r.runtime_s for r in rs]
    return proven, statistics.median(times), max(times), rs


def main(argv=None) -> str:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args(argv)
    lines = [f"Exact solver (`mecopt solve --solver exact`), {args.seeds} generator seeds per size, "
             f"time limit {args.limit:g} s, {os.cpu_count()} cores, {platform.processor() or platform.machine()}",
             "", "| problem | size | proven (optimal or infeasible) | median time (s) | max time (s) |", "|---|---|---:|---:|---:|"]
    largest = None
    for n, m in OFFLOADING_SIZES:
        proven, med, mx, _ = run(lambda s: offloading.generate(devices=n, servers=m, seed=s), args.seeds, args.limit)
        lines.append(f"| offloading | {n} devices x {m} servers | {proven}/{args.seeds} | {med:.2f} | {mx:.2f} |")
        print(lines[-1], flush=True)
        if proven == args.seeds:
            largest = (n, m)
        else:
            break  # larger sizes only take longer
    for preset in JRORS_PRESETS:
        proven, med, mx, rs = run(lambda s: jrors.generate(preset=preset, seed=s), args.seeds, args.limit)
        size = f"{rs[0].solution and len(rs[0].solution['station'])} requests ({preset})"
        lines.append(f"| jrors | {size} | {proven}/{args.seeds} | {med:.2f} | {mx:.2f} |")
        print(lines[-1], flush=True)
    for u, n in POWER_SIZES:
        proven, med, mx, _ = run(lambda s: power.generate(users=u, micro=n, seed=s), args.seeds, args.limit)
        lines.append(f"| power | {u} users x {n + 1} stations | {proven}/{args.seeds} | {med:.3f} | {mx:.3f} |")
        print(lines[-1], flush=True)
    lines.append("")
    if largest:
        lines.append(f"Largest offloading size proven optimal within {args.limit:g} s for every seed: "
                     f"{largest[0]} devices x {largest[1]} servers.")
    if not args.skip_naive:
        gen = lambda s: offloading.generate(devices=50, servers=5, seed=s)  # noqa: E731
        _, ours, _, _ = run(gen, args.seeds, None)
        _, naive, _, _ = run(gen, args.seeds, None, naive=True)
        lines.append(f"Offloading 50 x 5, median over {args.seeds} seeds: persistent OA loop {ours:.2f} s, "
                     f"naive rebuild-and-resolve loop {naive:.2f} s: {naive / ours:.1f}x faster.")
    return finish(lines, args.out)


if __name__ == "__main__":
    print(main())
