"""Rerun the AGDOA/BSSA paper's experiments on its Table 2 settings, with the proven optimum.

    python benchmarks/reproduce_agdoa_bssa.py --out benchmarks/results/agdoa_bssa [--seeds 1]
        [--users 12,20,32,40,52,60,72,80,92,100]

Writes CSVs and PNGs:
- fig3_jrors.csv / fig3_jrors.png: welfare, response rate and SDD against users for BSSA and
  mealpy's GA, PSO (integer-coded, standing in for the paper's BPSO) and NGO, with the exact
  optimum (its Figure 3);
- fig9_power.csv / fig9_power.png: energy against users for AGDOA, GPSO, NCGG and the exact
  optimum (its Figure 9);
- fig8_ablation.csv / fig8_ablation.png: best energy per iteration of DOA, GDOA, ADOA, AGDOA
  on 40 users (its Figure 8), the optimum drawn in;
- table3_converged.csv: the iteration at which each ablation converged by the paper's
  criterion, per number of users (its Table 3);
- summary.md: the tables, for the README.
Every solver runs with its defaults (population 30; 200 iterations, BSSA 600 as Algorithm 2
says) and the same seeds; every number is the referee's.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics

import mecopt
from mecopt.formulations import jrors, power
from mecopt.formulations._geometry import TABLE2_SIZES
from mecopt.io import write_text_atomic
from mecopt.solvers.base import relative_gap

JRORS_SOLVERS = ["bssa", "mealpy:GA", "mealpy:PSO", "mealpy:NGO"]
POWER_SOLVERS = ["agdoa", "gpso", "ncgg"]
ABLATION = ["doa", "gdoa", "adoa", "agdoa"]


def write_csv(path, rows):
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/results/agdoa_bssa")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--users", default=",".join(str(u) for u, _ in TABLE2_SIZES))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    users = [int(u) for u in args.users.split(",")]
    sizes = [(u, n) for u, n in TABLE2_SIZES if u in users]

    fig3, fig9, table3 = [], [], []
    for u, n in sizes:
        for seed in range(args.seeds):
            ji = jrors.generate(preset=f"table2-{u}", seed=seed)
            opt = mecopt.solve(ji, "exact")
            fig3.append(dict(users=u, seed=seed, solver="exact", welfare=opt.objective, gap=0.0,
                             response_rate=opt.metrics["response_rate"], sdd=opt.metrics["sdd"],
                             runtime_s=opt.runtime_s))
            for s in JRORS_SOLVERS:
                r = mecopt.solve(ji, s, seed=seed)
                fig3.append(dict(users=u, seed=seed, solver=s, welfare=r.objective,
                                 gap=relative_gap(r.objective, opt.objective, "max"),
                                 response_rate=r.metrics["response_rate"], sdd=r.metrics["sdd"],
                                 runtime_s=r.runtime_s))
            pi = power.generate(preset=f"table2-{u}", seed=seed)
            popt = mecopt.solve(pi, "exact")
            fig9.append(dict(users=u, seed=seed, solver="exact", energy_j=popt.objective, gap=0.0,
                             feasible=True, converged_iteration=None, runtime_s=popt.runtime_s))
            for s in POWER_SOLVERS + [a for a in ABLATION if a not in POWER_SOLVERS]:
                r = mecopt.solve(pi, s, seed=seed)
                row = dict(users=u, seed=seed, solver=s, energy_j=r.objective,
                           gap=relative_gap(r.objective, popt.objective, "min") if r.feasible else None,
                           feasible=r.feasible, converged_iteration=r.extra.get("converged_iteration"),
                           runtime_s=r.runtime_s)
                if s in POWER_SOLVERS:
                    fig9.append(row)
                if s in ABLATION:
                    table3.append(row)
            print(f"users {u} seed {seed} done", flush=True)
    write_csv(os.path.join(args.out, "fig3_jrors.csv"), fig3)
    write_csv(os.path.join(args.out, "fig9_power.csv"), fig9)
    write_csv(os.path.join(args.out, "table3_converged.csv"), table3)

    # Figure 8: convergence curves on 40 users (or the nearest size asked for).
    u8 = min((u for u, _ in sizes), key=lambda u: abs(u - 40))
    pi = power.generate(preset=f"table2-{u8}", seed=0)
    popt = mecopt.solve(pi, "exact")
    curves = {s: mecopt.solve(pi, s, seed=0).history for s in ABLATION}
    rows8 = [dict(iteration=i + 1, **{s: (curves[s][i] if i < len(curves[s]) else None) for s in ABLATION},
                  exact=popt.objective) for i in range(max(len(c) for c in curves.values()))]
    write_csv(os.path.join(args.out, "fig8_ablation.csv"), rows8)

    plots(args.out, fig3, fig9, curves, popt.objective, u8)
    text = summary(fig3, fig9, table3, sizes)
    write_text_atomic(os.path.join(args.out, "summary.md"), text)
    print(text)


def plots(out, fig3, fig9, curves, e_star, u8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    users = sorted({r["users"] for r in fig3})
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for metric, ax, label in [("welfare", axes[0], "welfare W"), ("response_rate", axes[1], "response rate"),
                              ("sdd", axes[2], "SDD = 1 - Jain(completion)")]:
        for s in ["exact"] + JRORS_SOLVERS:
            ys = [med([r[metric] for r in fig3 if r["users"] == u and r["solver"] == s]) for u in users]
            style = dict(color="black", linestyle="--", linewidth=2) if s == "exact" else dict(marker="o")
            ax.plot(users, ys, label="exact optimum" if s == "exact" else s, **style)
        ax.set_xlabel("mobile users")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("JRORS on the paper's Table 2 settings (its Figure 3), with the proven optimum")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fig3_jrors.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for s in ["exact"] + POWER_SOLVERS:
        ys = [med([r["energy_j"] for r in fig9 if r["users"] == u and r["solver"] == s and r["feasible"]])
              for u in users]
        style = dict(color="black", linestyle="--", linewidth=2) if s == "exact" else dict(marker="o")
        ax.plot(users, ys, label="exact optimum" if s == "exact" else s, **style)
    ax.set_yscale("log")
    ax.set_xlabel("mobile users")
    ax.set_ylabel("upload energy E (J), log scale")
    ax.set_title("Power allocation (the paper's Figure 9), with the proven optimum")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fig9_power.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for s, h in curves.items():
        ax.plot(range(1, len(h) + 1), h, label=s)
    ax.axhline(e_star, color="black", linestyle="--", label="exact optimum")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("best fitness (J; infeasible points are penalised)")
    ax.set_title(f"DOA ablation on {u8} users (the paper's Figure 8)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fig8_ablation.png"), dpi=110)
    plt.close(fig)


def summary(fig3, fig9, table3, sizes) -> str:
    users = [u for u, _ in sizes]

    def cell(rows, u, s, key, fmt):
        v = med([r[key] for r in rows if r["users"] == u and r["solver"] == s])
        return "n/a" if v is None else format(v, fmt)

    out = ["JRORS welfare gap to the proven optimum (median over seeds):", "",
           "| users | " + " | ".join(JRORS_SOLVERS) + " |", "|---:|" + "---:|" * len(JRORS_SOLVERS)]
    for u in users:
        out.append(f"| {u} | " + " | ".join(cell(fig3, u, s, "gap", ".1%") for s in JRORS_SOLVERS) + " |")
    out += ["", "Power allocation: energy gap to the proven optimum (median; n/a = no feasible point):", "",
            "| users | " + " | ".join(POWER_SOLVERS) + " |", "|---:|" + "---:|" * len(POWER_SOLVERS)]
    for u in users:
        out.append(f"| {u} | " + " | ".join(cell(fig9, u, s, "gap", ".1%") for s in POWER_SOLVERS) + " |")
    out += ["", "Converged iteration by the paper's criterion (relative change < 0.005 for 10 iterations; "
            "median; n/a = never):", "",
            "| users | " + " | ".join(ABLATION) + " |", "|---:|" + "---:|" * len(ABLATION)]
    for u in users:
        out.append(f"| {u} | " + " | ".join(cell(table3, u, s, "converged_iteration", ".0f") for s in ABLATION) + " |")
    out += ["", "Energy gap of the ablations to the optimum:", "",
            "| users | " + " | ".join(ABLATION) + " |", "|---:|" + "---:|" * len(ABLATION)]
    for u in users:
        out.append(f"| {u} | " + " | ".join(cell(table3, u, s, "gap", ".1%") for s in ABLATION) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
