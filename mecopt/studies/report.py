"""`mecopt report`: figures and tables from a study's store, with the exact optimum as reference.

Writes gap_by_size.png (box plots of the gap to the proven optimum per solver and size),
time_by_size.png (median run time against size, log axes), convergence.png (best objective per
iteration on the largest instance, the optimum as a dashed line), summary.csv, summary.md and
report.md that shows them all.
"""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

from ..errors import InputError
from ..io import write_text_atomic
from .store import Store


def _summary(rows: list[dict]) -> list[dict]:
    out = []
    keys = sorted({(r["size"] or 0, r["size_label"] or "?", r["solver"]) for r in rows})
    for size, label, solver in keys:
        rs = [r for r in rows if (r["size"] or 0) == size and r["solver"] == solver]
        gaps = [r["gap_to_exact"] for r in rs if r["gap_to_exact"] is not None]
        out.append({
            "size": size, "size_label": label, "solver": solver, "runs": len(rs),
            "errors": sum(r["status"] == "error" for r in rs),
            "feasible_rate": round(sum(bool(r["feasible"]) for r in rs) / len(rs), 4),
            "median_gap": statistics.median(gaps) if gaps else None,
            "worst_gap": max(gaps) if gaps else None,
            "median_runtime_s": statistics.median(r["runtime_s"] for r in rs if r["runtime_s"] is not None)
            if any(r["runtime_s"] is not None for r in rs) else None,
            "median_evaluations": statistics.median(r["evaluations"] or 0 for r in rs),
            "median_converged_iteration": statistics.median(
                [r["converged_iteration"] for r in rs if r["converged_iteration"] is not None])
            if any(r["converged_iteration"] is not None for r in rs) else None,
        })
    return out


def _fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def make_report(db: str | Path, out: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    db = Path(db)
    if not db.exists():
        raise InputError(f"report: {db} does not exist")
    store = Store(db)
    rows = store.rows()
    store.close()
    if not rows:
        raise InputError(f"report: {db} holds no runs")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = _summary(rows)
    solvers = sorted({r["solver"] for r in rows}, key=lambda s: (s != "exact", s))
    sizes = sorted({r["size"] for r in rows if r["size"] is not None})
    heur = [s for s in solvers if s not in ("exact", "enumerate", "minlp")]

    # Gap box plots: one group of boxes per size, one box per solver.
    fig, ax = plt.subplots(figsize=(min(14, max(6, 0.5 * len(sizes) * max(len(heur), 1) + 2)), 4.5))
    width = 0.8 / max(len(heur), 1)
    for k, s in enumerate(heur):
        data = [[100 * r["gap_to_exact"] for r in rows
                 if r["solver"] == s and r["size"] == z and r["gap_to_exact"] is not None] for z in sizes]
        pos = [i + (k - (len(heur) - 1) / 2) * width for i in range(len(sizes))]
        keep = [(p, d) for p, d in zip(pos, data) if d]
        if keep:
            bp = ax.boxplot([d for _, d in keep], positions=[p for p, _ in keep], widths=width * 0.9,
                            patch_artist=True, manage_ticks=False)
            for patch in bp["boxes"]:
                patch.set_facecolor(f"C{k}")
            ax.plot([], [], color=f"C{k}", linewidth=8, label=s)
    ax.axhline(0, color="black", linestyle="--", linewidth=1, label="exact optimum")
    gaps = [r["gap_to_exact"] for r in rows if r["gap_to_exact"] is not None]
    if gaps and max(gaps) > 1.0:  # gaps over 100%: orders of magnitude apart, so a log scale
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=-0.5)
    ax.set_xticks(range(len(sizes)), [str(z) for z in sizes])
    ax.set_xlabel("instance size (devices / requests / users)")
    ax.set_ylabel("gap to the proven optimum (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "gap_by_size.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k, s in enumerate(solvers):
        pts = [(z, statistics.median([r["runtime_s"] for r in rows if r["solver"] == s and r["size"] == z
                                      and r["runtime_s"] is not None] or [float("nan")])) for z in sizes]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=s,
                color="black" if s == "exact" else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("instance size")
    ax.set_ylabel("median run time (s)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "time_by_size.png", dpi=110)
    plt.close(fig)

    big = max(sizes) if sizes else None
    inst = next((r["instance_hash"] for r in rows if r["size"] == big), None)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    opt = next((r["objective"] for r in rows if r["instance_hash"] == inst and r["solver"] == "exact"
                and r["status"] == "optimal"), None)
    for k, s in enumerate(heur):
        for j, r in enumerate(r for r in rows if r["instance_hash"] == inst and r["solver"] == s and r["history"]):
            h = r["history"]
            ax.plot(range(1, len(h) + 1), h, color=f"C{k}", alpha=0.7, label=s if j == 0 else None)
    if opt is not None:
        ax.axhline(opt, color="black", linestyle="--", label="exact optimum")
    ax.set_xlabel("iteration")
    ax.set_ylabel("best objective")
    ax.set_title(f"convergence on one instance of size {big}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "convergence.png", dpi=110)
    plt.close(fig)

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(summary[0]))
    w.writeheader()
    w.writerows(summary)
    write_text_atomic(out / "summary.csv", buf.getvalue())
    md = ["| size | solver | runs | errors | feasible | median gap | worst gap | median time (s) | median evals | converged iteration |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        md.append(f"| {s['size_label']} | {s['solver']} | {s['runs']} | {s['errors']} | {s['feasible_rate']:.0%} | "
                  f"{_fmt(s['median_gap'], '.3%')} | {_fmt(s['worst_gap'], '.3%')} | "
                  f"{_fmt(s['median_runtime_s'], '.3f')} | {s['median_evaluations']:.0f} | "
                  f"{_fmt(s['median_converged_iteration'], '.0f')} |")
    table = "\n".join(md)
    write_text_atomic(out / "summary.md", table + "\n")
    study = rows[0]["study"] or db.stem
    report = [f"# Study `{study}`: {rows[0]['problem']}", "",
              f"{len(rows)} runs from `{db.name}`; gaps are relative to the proven optimum of the same "
              "instance (the `exact` solver).", "", table, "",
              "![gap by size](gap_by_size.png)", "", "![time by size](time_by_size.png)", "",
              "![convergence](convergence.png)", ""]
    errors = [r for r in rows if r["status"] == "error"]
    if errors:
        report += ["## Failed runs", ""] + [f"- {r['solver']} seed {r['solver_seed']} on {r['instance_name']}: "
                                            f"{(r['error'] or '').splitlines()[0]}" for r in errors[:20]]
    write_text_atomic(out / "report.md", "\n".join(report) + "\n")
    return out / "report.md"
