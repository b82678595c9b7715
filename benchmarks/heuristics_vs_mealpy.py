"""Our batched population solvers against mealpy's closest optimisers, same instance, same
evaluation budget, one process: wall time per evaluation (a ratio) and both gaps.

    python benchmarks/heuristics_vs_mealpy.py [--n 100] [--evals 6000] [--seeds 3]

Pairs: bssa vs mealpy's salp swarm (OriginalSSA) on JRORS with N requests; agdoa vs mealpy's
SSA and PSO on power allocation with N users; agdoa vs mealpy's GA on offloading with N devices.
"""

from __future__ import annotations

import argparse
import statistics

import mecopt
from mecopt.formulations import PROBLEMS, jrors, offloading, power
from mecopt.solvers.base import relative_gap
from _output import finish  # benchmarks/ is on sys.path when run as a script


def main(argv=None) -> str:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--evals", type=int, default=6000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    n = args.n
    cases = [
        ("jrors", jrors.generate(users=n, micro=25, seed=1), ["bssa", "mealpy:SSA"]),
        ("power", power.generate(users=n, micro=25, seed=1), ["agdoa", "mealpy:SSA", "mealpy:PSO"]),
        ("offloading", offloading.generate(devices=n, servers=5, seed=1), ["agdoa", "mealpy:GA"]),
    ]
    lines = [f"Same instance, {args.evals} evaluations each, median of {args.seeds} seeds "
             f"(N = {n}); time per evaluation relative to ours", "",
             "| problem | solver | median gap to the proven optimum | median time (s) | us per evaluation | slower than ours |",
             "|---|---|---:|---:|---:|---:|"]
    for prob, inst, names in cases:
        opt = mecopt.solve(inst, "exact", time_limit=300)
        base = None
        for name in names:
            rs = [mecopt.solve(inst, name, seed=s, max_evals=args.evals) for s in range(args.seeds)]
            gaps = [relative_gap(r.objective, opt.objective, PROBLEMS[prob].SENSE) if r.feasible else None
                    for r in rs]
            per_eval = statistics.median(r.runtime_s / max(r.evaluations, 1) for r in rs)
            base = base or per_eval
            ok = [g for g in gaps if g is not None]
            gap = f"{statistics.median(ok):.2%}" if ok else "infeasible"
            if ok and len(ok) < len(gaps):
                gap += f" ({len(ok)}/{len(gaps)} feasible)"
            lines.append(f"| {prob} | {name} | {gap} | {statistics.median(r.runtime_s for r in rs):.2f} "
                         f"| {per_eval * 1e6:.1f} | {per_eval / base:.1f}x |")
            print(lines[-1], flush=True)
    return finish(lines, args.out)


if __name__ == "__main__":
    print(main())
