"""Tables of the learned offloading policies' gaps, from the summaries their training wrote.

    mecopt train offloading-policy -o benchmarks/results/offloading-policy
    mecopt train fedmetar2ag -o benchmarks/results/fedmetar2ag
    python benchmarks/learned_summary.py [--out benchmarks/results/learned.md]
"""

from __future__ import annotations

import argparse
import json
import os

from _output import finish  # benchmarks/ is on sys.path when run as a script

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(RESULTS, "learned.md"))
    args = ap.parse_args()
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    lines = []
    sup = json.load(open(os.path.join(RESULTS, "offloading-policy", "summary.json")))
    lines += [f"Supervised policy (`fedmeta2ag`): {sup['servers']} servers, trained on {sup['devices']}-device "
              f"instances of {len(sup['regions'])} regions ({sup['clients']} clients, {sup['rows']} labelled "
              f"decisions); mean (max) gap to the exact optimum on held-out instances:", "",
              "| devices | instances | policy | policy + local search | greedy (JTORA) | all local | decision (ms) |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for g in sup["gaps"]:
        lines.append(f"| {g['devices']} | {g['instances']} | {pct(g['mean_gap'])} ({pct(g['max_gap'])}) | "
                     f"{pct(g.get('mean_gap_polished'))} | {pct(g['mean_gap_greedy'])} | {pct(g['mean_gap_all_local'])} | "
                     f"{g['mean_decision_ms']:.1f} |")
    rl = json.load(open(os.path.join(RESULTS, "fedmetar2ag", "summary.json")))
    cfg = rl["config"]
    lines += ["", f"FedMetaR2Ag (`fedmetar2ag`, PPO inside MAML): {cfg['servers']} servers, trained on "
              f"{cfg['devices']}-device episodes of {len(rl['regions'])} regions, {cfg['rounds']} rounds; "
              "mean (max) gap to the exact optimum:", "",
              "| devices | fedmetar2ag | greedy (JTORA) | all remote | all local | decision (ms) |",
              "|---:|---:|---:|---:|---:|---:|"]
    for g in rl["gaps"]:
        f = lambda k: f"{pct(g[k]['mean_gap'])} ({pct(g[k]['max_gap'])})"  # noqa: E731
        lines.append(f"| {g['devices']} | {f('fedmetar2ag')} | {f('greedy')} | {f('all_remote')} | {f('all_local')} | "
                     f"{g['fedmetar2ag']['decision_ms']:.1f} |")
    ad = rl["adaptation"]
    lines += ["", f"Adaptation to a region not seen in training (`{ad['region']}`): mean gap after k policy-gradient "
              "steps (eq. 32), from the meta-policy and from a fresh network:", "",
              "| k | meta-policy | from scratch |", "|---:|---:|---:|"]
    for m, s in zip(ad["meta"], ad["scratch"]):
        lines.append(f"| {m['steps']} | {pct(m['mean_gap'])} | {pct(s['mean_gap'])} |")
    print(finish(lines, args.out))


if __name__ == "__main__":
    main()
