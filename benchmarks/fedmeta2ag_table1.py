"""The FedMeta2Ag paper's Table 1 grid on MNIST, and the baselines that explain its numbers.

    python benchmarks/fedmeta2ag_table1.py [--clients 50,100,150,200] [--epochs 5,10,15,20]
        [--rounds 50] [--data-dir MNIST_ROOT] [--out-dir benchmarks/results/fedmeta2ag]

Every cell is ``mecopt train fedmeta2ag`` with the same data, the same Dirichlet(0.5) split
and the same rounds. By default it runs Table 1's column (the largest epoch count at every client count) and the
epoch sweep at the first client count; ``--full-grid`` runs all 16 cells. The baselines (FedAvg, FedAvg + fine-tuning, HierFAVG, FedMeta2Ag) run at
``--baseline-clients`` clients and the largest epoch count. Writes table1.csv, table1.md and
each run's folder (history.csv, curves.png, summary.json) under ``--out-dir``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform

import torch

from mecopt.io import write_text_atomic
from mecopt.learners import mnist
from _output import finish  # benchmarks/ is on sys.path when run as a script

PAPER = {50: (91.5, 92.0, 30.4, 29.1), 100: (89.6, 90.1, 39.0, 37.3), 150: (88.5, 89.3, 45.4, 43.6),
         200: (87.5, 88.4, 51.9, 49.5)}  # Table 1: 20 epochs, 50 rounds (%)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="50,100,150,200")
    ap.add_argument("--epochs", default="5,10,15,20")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--baseline-clients", type=int, default=50)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--out-dir", default="benchmarks/results/fedmeta2ag")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--full-grid", action="store_true", help="every clients x epochs cell (16 runs; hours on 2 cores)")
    ap.add_argument("--only", choices=["grid", "baselines"], default=None, help="run only this part")
    ap.add_argument("--collect", action="store_true",
                    help="train nothing: build the tables from the summaries already under --out-dir")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clients = [int(c) for c in args.clients.split(",")]
    epochs = [int(e) for e in args.epochs.split(",")]
    os.makedirs(args.out_dir, exist_ok=True)
    rows = []

    def cell(method, c, e):
        folder = os.path.join(args.out_dir, f"{method}-c{c}-e{e}")
        if args.collect:
            path = os.path.join(folder, "summary.json")
            if not os.path.exists(path):
                return
            with open(path) as fh:
                s = json.load(fh)
        else:
            s = mnist.run(folder, method=method, clients=c, data_dir=args.data_dir, epochs=e,
                          rounds=args.rounds, eval_every=args.eval_every)
        row = {"method": method, "clients": c, "epochs": e, "train_acc": s["train_acc"], "test_acc": s["test_acc"],
               "train_loss": s["train_loss"], "test_loss": s["test_loss"], "time_s": s["train_time_s"],
               "data": s["data"]}
        rows.append(row)
        print(row, flush=True)

    if args.full_grid:
        cells = [(c, e) for c in clients for e in epochs]
    else:  # Table 1's column (the largest epoch count at every client count) and the epoch sweep at the first
        cells = [(c, max(epochs)) for c in clients] + [(clients[0], e) for e in epochs if e != max(epochs)]
    if args.only != "baselines":
        for c, e in sorted(cells):
            cell("fedmeta2ag", c, e)
    if args.only != "grid":
        for method in ("fedavg", "fedavg-ft", "hierfavg"):
            cell(method, args.baseline_clients, max(epochs))
    if args.only is not None and not args.collect:
        return  # a part of the run: --collect builds the tables once every part is done
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(os.path.join(args.out_dir, "table1.csv"), buf.getvalue())

    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    lines = [f"Data: {rows[0]['data']}; Dirichlet(0.5) label skew; each device 50% train / 50% test, "
             f"support = one example per class; {args.rounds} rounds; 5 MEC-L, MEC-C every 2 rounds; "
             f"MLP 784-200-200-10, alpha = beta = 0.1, 5 fine-tuning steps at test. "
             f"Measured on {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}.", "",
             "FedMeta2Ag, ours beside the paper's Table 1 (paper: 20 epochs):", "",
             "| clients | epochs | train acc % | test acc % | train loss | test loss | paper train / test acc % |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["epochs"] != max(epochs), r["clients"], r["epochs"])):
        if r["method"] != "fedmeta2ag":
            continue
        paper = PAPER.get(r["clients"]) if r["epochs"] == 20 else None
        ref = f"{paper[0]} / {paper[1]}" if paper else ""
        lines.append(f"| {r['clients']} | {r['epochs']} | {pct(r['train_acc'])} | {pct(r['test_acc'])} | "
                     f"{r['train_loss']:.3f} | {r['test_loss']:.3f} | {ref} |")
    lines += ["", f"Baselines, same data, split and rounds ({args.baseline_clients} clients, {max(epochs)} epochs):", "",
              "| method | what it is | train acc % | test acc % | test loss |", "|---|---|---:|---:|---:|"]
    what = {"fedavg": "one server, SGD, no fine-tuning", "fedavg-ft": "FedAvg + 5 fine-tuning steps at test",
            "hierfavg": "5 edges, cloud every 2 rounds, SGD", "fedmeta2ag": "5 edges, cloud every 2, MAML + fine-tuning"}
    order = ["fedavg", "fedavg-ft", "hierfavg", "fedmeta2ag"]
    for r in sorted(rows, key=lambda r: order.index(r["method"])):
        if r["clients"] == args.baseline_clients and r["epochs"] == max(epochs):
            lines.append(f"| {r['method']} | {what[r['method']]} | {pct(r['train_acc'])} | {pct(r['test_acc'])} | "
                         f"{r['test_loss']:.3f} |")
    print(finish(lines, os.path.join(args.out_dir, "table1.md")))


if __name__ == "__main__":
    main()
