"""Ground truth for all three problems, through Pyomo and HiGHS (SPEC.md 3, `exact`).

- offloading: min_X Q(X, F*(X)) with the KKT allocation substituted (a convex quadratic in
  binary X), solved as a MILP whose server terms theta_j are bounded below by outer-approximation
  tangents of (sum_i sqrt(lambda_T F_i) x_ij)^2 / F_j. The persistent HiGHS model is re-solved,
  warm-started from the incumbent, with a tangent added at each server whose cut is loose,
  until the MILP's dual bound meets the best referee-scored Q within ``rel_gap``.
- jrors: the multiple-choice knapsack MILP (dominated options pruned), HiGHS.
- power: the least power vector in closed form; optionally cross-checked by the LP in Pyomo.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from ..formulations import jrors, offloading, power
from .base import Clock, Options, Proposal, Termination, register
from .greedy import offloading_local_search


class ExactOptions(Options):
    rel_gap: float = Field(1e-9, ge=0, le=1e-2, description="relative gap that counts as proven")
    initial_tangents: int = Field(4, ge=0, le=64, description="tangents per server before the first solve")
    max_rounds: int = Field(10_000, ge=1, description="outer-approximation rounds at most")
    naive: bool = Field(False, description="offloading: rebuild and re-solve the MILP from scratch "
                        "each round, no incumbent, no warm start (the baseline the benchmark beats)")
    threads: int | None = Field(None, ge=1)
    power_method: str = Field("closed_form", pattern="^(closed_form|lp)$")


def _highs(options: ExactOptions):
    from pyomo.contrib.solver.common.factory import SolverFactory

    opt = SolverFactory("highs")
    opt.config.load_solutions = False
    opt.config.raise_exception_on_nonoptimal_result = False
    if options.threads:
        opt.config.threads = options.threads
    return opt


def _warm_start(opt, variables, values) -> None:
    """Hand HiGHS a known feasible point (the persistent interface has no warm-start hook)."""
    highs = getattr(opt, "_solver_model", None)
    vmap = getattr(opt, "_pyomo_var_to_solver_var_map", None)
    if highs is None or vmap is None:
        return
    try:
        import highspy

        sol = highspy.HighsSolution()
        ncol = highs.getNumCol()
        col = [0.0] * ncol
        for v, val in zip(variables, values):
            idx = vmap.get(id(v))
            if idx is not None:
                col[int(idx)] = float(val)
        sol.col_value = col
        sol.value_valid = True
        highs.setSolution(sol)
    except Exception:  # a warm start is an optimisation, never a requirement
        pass


@register("exact", problems=("offloading", "jrors", "power"), options=ExactOptions, exact=True,
          needs=("pyomo", "highspy"))
def exact(instance, *, seed, time_limit, max_evals, callback, options: ExactOptions) -> Proposal:
    """Proven optimum: KKT + outer approximation MILP, knapsack MILP, least-power system (HiGHS)."""
    if instance.problem == "offloading":
        return _exact_offloading(instance, time_limit, callback, options)
    if instance.problem == "jrors":
        return _exact_jrors(instance, time_limit, options)
    return _exact_power(instance, options)


# ----------------------------------------------------------------------------- offloading


def _exact_offloading(inst, time_limit, callback, options: ExactOptions) -> Proposal:
    from pyomo.contrib.solver.common.results import TerminationCondition as TC

    clock = Clock(time_limit)
    n, m = inst.n_devices, inst.n_servers
    cut_at: list[set] = [set() for _ in range(m)]

    def make():
        """The MILP with every tangent so far, and a persistent HiGHS on it."""
        mdl = offloading.build_reduced_model(
            inst, tangents_per_server=0 if options.naive else options.initial_tangents)
        if not options.naive:
            _break_symmetry(mdl, inst)
        for j in range(m):
            for y0 in sorted(cut_at[j]):
                offloading.add_tangent(mdl, j, y0)
        opt = _highs(options)
        opt.config.rel_gap = 0.0
        opt.config.abs_gap = 0.0
        # Tolerances well under rel_gap, or theta may undercut its cuts by more than we prove.
        opt.config.solver_options = {"mip_feasibility_tolerance": 1e-10,
                                     "primal_feasibility_tolerance": 1e-10}
        return mdl, opt

    scale = 1.0 / math.sqrt(offloading.GHZ)

    def load_of(X):  # in the MILP's scaled units
        return offloading.server_load(inst, X[None])[0] * scale

    if options.naive:
        X_best, evals, ub = -np.ones(n, dtype=np.int64), 1, math.inf
    else:
        # Incumbent from the local search; its server loads are the first tangent points.
        X_best, evals, _, _ = offloading_local_search(inst, -np.ones(n, dtype=np.int64))
        ub = float(offloading.score(inst, X_best[None]).objective[0])
        for j, y in enumerate(load_of(X_best)):
            if y > 0:
                cut_at[j].add(float(y))
    mdl, opt = make()
    pairs = list(mdl.P)
    lb, rounds, history = -math.inf, 0, [ub]
    termination = Termination.ITERATION_LIMIT
    while True:
        if clock.up():
            termination = Termination.TIME_LIMIT
            break
        if rounds >= options.max_rounds:
            termination = Termination.ITERATION_LIMIT
            break
        rounds += 1
        left = clock.left()
        opt.config.time_limit = None if left is None else max(left, 0.01)
        res = opt.solve(mdl)
        tc = res.termination_condition
        if res.objective_bound is not None:
            lb = max(lb, float(res.objective_bound))
        if res.incumbent_objective is None:
            termination = Termination.TIME_LIMIT if tc == TC.maxTimeLimit else Termination.ERROR
            break
        res.solution_loader.load_vars()
        X = -np.ones(n, dtype=np.int64)
        for (i, j) in pairs:
            if mdl.x[i, j].value > 0.5:
                X[i] = j
        q = float(offloading.score(inst, X[None]).objective[0])
        evals += 1
        if q < ub:
            ub, X_best = q, X
        history.append(ub)
        if callback:
            callback({"iteration": rounds, "objective": ub, "bound": lb})
        if ub - lb <= options.rel_gap * max(abs(ub), 1e-12):
            termination = Termination.PROVEN_OPTIMAL
            break
        if tc == TC.maxTimeLimit:
            termination = Termination.TIME_LIMIT
            break
        y = load_of(X)
        added = loose = 0
        for j in range(m):
            true = y[j] ** 2 / mdl.cap_ghz[j]
            if mdl.theta[j].value < true * (1 - options.rel_gap / 4) - 1e-15:
                loose += 1
                key = float(y[j])
                if key not in cut_at[j]:  # a repeated tangent would cut nothing new
                    cut_at[j].add(key)
                    if not options.naive:
                        offloading.add_tangent(mdl, j, key)
                    added += 1
        if loose == 0:
            # Cuts are tight at the MILP optimum: its value is Q(X), so X is optimal.
            lb = max(lb, q)
            termination = Termination.PROVEN_OPTIMAL
            break
        if added == 0:
            # Loose only by the MILP's tolerances: the bound is what it is, no better proof.
            termination = Termination.CONVERGED
            break
        if options.naive:
            mdl, opt = make()
        else:
            _warm_start(opt, [mdl.x[p] for p in pairs],
                        [1.0 if X_best[p[0]] == p[1] else 0.0 for p in pairs])
    proven = termination == Termination.PROVEN_OPTIMAL
    return Proposal(offloading.solution_from_assignment(inst, X_best), termination,
                    proven_optimal=proven, bound=lb if math.isfinite(lb) else None,
                    evaluations=evals, iterations=rounds, history=history,
                    extra={"oa_cuts": sum(len(c) for c in cut_at)
                           + (0 if options.naive else m * options.initial_tangents)})


def _break_symmetry(mdl, inst) -> None:
    """Identical servers (same capacity, same costs to every device) are ordered by load."""
    import pyomo.environ as pyo

    a = inst.arrays
    sig = {}
    for j in range(inst.n_servers):
        key = (a.cpu_max[j], a.tx_cost[:, j].tobytes(), a.eligible[:, j].tobytes())
        sig.setdefault(key, []).append(j)
    mdl.symmetry = pyo.ConstraintList()
    for group in sig.values():
        for j, k in zip(group, group[1:]):
            mdl.symmetry.add(mdl.server_load[j] >= mdl.server_load[k])


# ----------------------------------------------------------------------------- jrors


def _exact_jrors(inst, time_limit, options: ExactOptions) -> Proposal:
    from pyomo.contrib.solver.common.results import TerminationCondition as TC

    mdl = jrors.build_model(inst, prune=True)
    opt = _highs(options)
    opt.config.rel_gap = options.rel_gap
    opt.config.abs_gap = 0.0
    opt.config.time_limit = time_limit
    res = opt.solve(mdl)
    tc = res.termination_condition
    bound = None if res.objective_bound is None else float(res.objective_bound)
    if res.incumbent_objective is None:
        term = Termination.TIME_LIMIT if tc == TC.maxTimeLimit else Termination.ERROR
        return Proposal(None, term, bound=bound, message=f"HiGHS: {tc.name}")
    res.solution_loader.load_vars()
    sol = jrors.solution_from_model(inst, mdl)
    proven = tc == TC.convergenceCriteriaSatisfied
    term = Termination.PROVEN_OPTIMAL if proven else (
        Termination.TIME_LIMIT if tc == TC.maxTimeLimit else Termination.ERROR)
    return Proposal(sol, term, proven_optimal=proven, bound=bound, evaluations=1, iterations=1,
                    extra={"options_in_model": len(mdl._options)})


# ----------------------------------------------------------------------------- power


def _exact_power(inst, options: ExactOptions) -> Proposal:
    p = power.least_power(inst)
    if p is None:
        bad = power.infeasible_users(inst)
        who = ", ".join(map(str, bad[:20])) + (" ..." if len(bad) > 20 else "")
        msg = (f"infeasible: users {who} cannot meet their upload deadline within max_power_w"
               if bad else "infeasible: no power vector meets every deadline (interference too strong)")
        return Proposal(None, Termination.PROVEN_INFEASIBLE, message=msg,
                        extra={"infeasible_users": bad})
    a = inst.arrays
    extra = {"method": options.power_method}
    if options.power_method == "lp":
        # The LP's answer agrees with the closed form only to HiGHS's feasibility tolerance,
        # which would miss deadlines by ~1e-7; it is reported as a check, not returned.
        p_lp = _power_lp(inst, options)
        extra["lp_max_rel_diff"] = None if p_lp is None else float(np.max(np.abs(p_lp - p) / p))
    # Theorem (SPEC.md 1.3): any feasible p is >= p* componentwise and each user's energy
    # (I_u / g_u)(S_u / B) x / log2(1 + x) grows with its SINR x and interference I_u, so
    # E(p) >= E* = sum p*_u tau_u.
    bound = float(np.sum(p * a.deadline_s))
    return Proposal({"power_w": p.tolist()}, Termination.PROVEN_OPTIMAL, proven_optimal=True,
                    bound=bound, evaluations=1, iterations=1, extra=extra)


def _power_lp(inst, options: ExactOptions) -> np.ndarray | None:
    mdl = power.build_model(inst)
    opt = _highs(options)
    res = opt.solve(mdl)
    if res.incumbent_objective is None:
        return None
    res.solution_loader.load_vars()
    return np.array([mdl.p[u].value for u in range(inst.n_users)])
