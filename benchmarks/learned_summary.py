"""Tables of the learned offloading policies' gaps, from the summaries their training wrote.

    mecopt train offloading-policy -o benchmarks/results/offloading-policy
    mecopt train fedmetar2ag -o benchmarks/results/fedmetar2ag
    python benchmarks/learned_summary.py [--out benchmarks/results/learned.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from mecopt.formulations import offloading

from _output import finish  # benchmarks/ is on sys.path when run as a script

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def decision_ms(policy, devices: int, servers: int, reps: int = 7) -> float:
    """Median wall time of one decision on a fresh instance, measured here (not during training)."""
    inst = offloading.generate(devices, servers, seed=424242)
    policy.decide(inst)  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        policy.decide(inst)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(RESULTS, "learned.md"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)  # one small MLP per step: threads cost more than they give
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    lines = []
    from mecopt.learners.policy import Policy
    from mecopt.learners.rl import RLPolicy

    sup = json.load(open(os.path.join(RESULTS, "offloading-policy", "summary.json")))
    sup_policy = Policy.load(os.path.join(RESULTS, "offloading-policy", "policy.pt"))
    rl_policy = RLPolicy.load(os.path.join(RESULTS, "fedmetar2ag", "policy.pt"))
    lines += [f"Supervised policy (`fedmeta2ag`): {sup['servers']} servers, trained on {sup['devices']}-device "
              f"instances of {len(sup['regions'])} regions ({sup['clients']} clients, {sup['rows']} labelled "
              f"decisions); mean (max) gap to the exact optimum on held-out instances:", "",
              "| devices | instances | policy | policy + local search | greedy (JTORA) | all local | decision (ms) |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for g in sup["gaps"]:
        lines.append(f"| {g['devices']} | {g['instances']} | {pct(g['mean_gap'])} ({pct(g['max_gap'])}) | "
                     f"{pct(g.get('mean_gap_polished'))} | {pct(g['mean_gap_greedy'])} | {pct(g['mean_gap_all_local'])} | "
                     f"{decision_ms(sup_policy, g['devices'], sup['servers']):.1f} |")
    rl = json.load(open(os.path.join(RESULTS, "fedmetar2ag", "summary.json")))
    cfg = rl["config"]
    lines += ["", f"FedMetaR2Ag (`fedmetar2ag`, PPO inside MAML): {cfg['servers']} servers, trained on "
              f"{cfg['devices']}-device episodes of {len(rl['regions'])} regions, {cfg['rounds']} rounds; "
              "mean (max) gap to the exact optimum (decision: median time of one decision, one torch thread, measured by this script):", "",
              "| devices | fedmetar2ag | greedy (JTORA) | all remote | all local | decision (ms) |",
              "|---:|---:|---:|---:|---:|---:|"]
    for g in rl["gaps"]:
        f = lambda k: f"{pct(g[k]['mean_gap'])} ({pct(g[k]['max_gap'])})"  # noqa: E731
        lines.append(f"| {g['devices']} | {f('fedmetar2ag')} | {f('greedy')} | {f('all_remote')} | {f('all_local')} | "
                     f"{decision_ms(rl_policy, g['devices'], cfg['servers']):.1f} |")
    ad = rl["adaptation"]
    lines += ["", f"Adaptation to a region not seen in training (`{ad['region']}`): mean gap after k policy-gradient "
              "steps (eq. 32), from the meta-policy and from a fresh network:", "",
              "| k | meta-policy | from scratch |", "|---:|---:|---:|"]
    for m, s in zip(ad["meta"], ad["scratch"]):
        lines.append(f"| {m['steps']} | {pct(m['mean_gap'])} | {pct(s['mean_gap'])} |")
    print(finish(lines, args.out))


if __name__ == "__main__":
    main()
