"""Run several solvers on one instance and summarise them against the proven optimum."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .formulations import PROBLEMS
from .solvers.base import Result, Status, get_solver, relative_gap, solve


@dataclass
class SolverSummary:
    solver: str
    runs: int
    feasible_rate: float
    median_objective: float | None
    median_gap: float | None
    worst_gap: float | None
    median_runtime_s: float
    median_evaluations: float
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class Comparison:
    problem: str
    sense: str
    optimum: float | None  # the proven optimum, when an exact solver proved one
    optimum_by: str | None
    results: list[Result]
    summaries: list[SolverSummary]


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


DETERMINISTIC = {"greedy", "fedmeta2ag", "fedmetar2ag"}  # one run whatever the seed


def compare(instance, solvers: list[str], seeds: int = 1, time_limit: float | None = None,
            max_evals: int | None = None, progress=None, options: dict[str, dict] | None = None) -> Comparison:
    """Each solver once per seed (exact and deterministic solvers once), gaps to the optimum.

    ``options`` maps a solver's name to its options (a learned solver's ``model``, say).
    """
    options = options or {}
    sense = PROBLEMS[instance.problem].SENSE
    infos = [get_solver(name) for name in solvers]
    results: list[Result] = []
    for info in infos:
        runs = 1 if info.exact or info.name in DETERMINISTIC else seeds
        for seed in range(runs):
            results.append(solve(instance, info.name, seed=seed, time_limit=time_limit,
                                 max_evals=max_evals, **options.get(info.name, {})))
            if progress:
                progress(info.name, seed)
    proven = [r for r in results if r.status == Status.OPTIMAL]
    optimum, by = None, None
    if proven:
        best = min(proven, key=lambda r: r.objective) if sense == "min" else max(proven, key=lambda r: r.objective)
        optimum, by = best.objective, best.solver
    summaries = []
    for info in infos:
        rs = [r for r in results if r.solver == info.name]
        gaps = [relative_gap(r.objective, optimum, sense) for r in rs if r.feasible]
        statuses: dict[str, int] = {}
        for r in rs:
            statuses[r.status.value] = statuses.get(r.status.value, 0) + 1
        summaries.append(SolverSummary(
            solver=info.name, runs=len(rs),
            feasible_rate=sum(r.feasible for r in rs) / len(rs),
            median_objective=_median([r.objective for r in rs if r.feasible]),
            median_gap=_median(gaps),
            worst_gap=max((g for g in gaps if g is not None), default=None),
            median_runtime_s=statistics.median(r.runtime_s for r in rs),
            median_evaluations=statistics.median(r.evaluations for r in rs),
            statuses=statuses))
    return Comparison(instance.problem, sense, optimum, by, results, summaries)
