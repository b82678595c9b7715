"""Run every cell of a study: a local process pool by default, or an existing Dask cluster.

Workers only compute; the driving process alone writes the store, so there is one writer.
A run that raises is recorded with status `error` and its message; the study goes on.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import socket
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from .spec import Run, Study
from .store import Store


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for pkg in ("mecopt", "numpy", "pyomo", "highspy", "mealpy", "pyscipopt"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def instance_of(run: Run):
    from ..formulations import PROBLEMS

    gen = dict(run.generator)
    return PROBLEMS[run.problem].generate(seed=run.instance_seed, **gen)


def _size(inst) -> tuple[int, str]:
    if inst.problem == "offloading":
        return inst.n_devices, f"{inst.n_devices}x{inst.n_servers}"
    if inst.problem == "jrors":
        return inst.n_requests, f"{inst.n_requests}x{inst.n_stations}"
    return inst.n_users, f"{inst.n_users}x{len(inst.gain[0])}"


def execute(run: Run, study_name: str = "") -> dict:
    """Generate the instance, solve it, and return the store's row (never raises)."""
    import mecopt

    row = {**{k: v for k, v in run.key().items() if k not in ("generator", "options")},
           "run_id": run.run_id, "study": study_name,
           "generator": json.dumps(run.generator, sort_keys=True),
           "options": json.dumps(run.options, sort_keys=True), "versions": json.dumps(_versions()),
           "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        inst = instance_of(run)
        text = json.dumps(inst.to_json_dict(), sort_keys=True)
        row["instance_hash"] = hashlib.sha256(text.encode()).hexdigest()[:32]
        row["instance_name"] = inst.name
        row["size"], row["size_label"] = _size(inst)
        r = mecopt.solve(inst, run.solver, seed=run.solver_seed, time_limit=run.time_limit,
                         max_evals=run.max_evals, **run.options)
        row.update(status=r.status.value, termination=r.termination.value, objective=r.objective,
                   feasible=int(r.feasible), bound=r.bound, runtime_s=r.runtime_s,
                   evaluations=r.evaluations, iterations=r.iterations,
                   converged_iteration=r.extra.get("converged_iteration"),
                   history=json.dumps([h if h == h and abs(h) != float("inf") else None for h in r.history]),
                   error=r.message or None)
    except Exception as err:  # recorded, never fatal to the study
        row.update(status="error", termination="error", feasible=0,
                   error=f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}")
        row.setdefault("instance_hash", "unknown")
    row["finished_at"] = datetime.now(timezone.utc).isoformat()
    return row


@dataclass
class StudyProgress:
    total: int
    skipped: int
    done: int = 0
    failed: int = 0
    running: int = 0


def run_study(study: Study, workers: int | None = None, scheduler: str | None = None,
              on_progress: Callable[[StudyProgress], None] | None = None) -> StudyProgress:
    """Run every run of ``study`` not yet in its store; resumable after any kill."""
    store = Store(study.store)
    try:
        finished = store.finished_ids()
        todo = [r for r in study.runs if r.run_id not in finished]
        # Exact runs first, so that gaps appear as soon as heuristics finish.
        todo.sort(key=lambda r: r.solver not in ("exact", "enumerate", "minlp"))
        prog = StudyProgress(total=len(study.runs), skipped=len(study.runs) - len(todo))
        if on_progress:
            on_progress(prog)

        def record(row):
            store.insert(row)
            prog.done += 1
            prog.running = max(prog.running - 1, 0)
            if row["status"] == "error":
                prog.failed += 1
            if on_progress:
                on_progress(prog)

        if not todo:
            return prog
        if scheduler:
            _run_dask(todo, study.name, scheduler, record, prog, on_progress)
        else:
            _run_local(todo, study.name, workers or os.cpu_count() or 1, record, prog, on_progress)
        return prog
    finally:
        store.close()


def _run_local(todo, name, workers, record, prog, on_progress):
    # Spawned, not forked: a fork of a process that has run HiGHS inherits its thread pool's
    # state without its threads, and HiGHS then spins for ever in the child.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending = set()
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < 2 * workers:  # bounded queue: a kill loses little
                pending.add(pool.submit(execute, queue.pop(0), name))
            prog.running = min(len(pending), workers)
            if on_progress:
                on_progress(prog)
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                record(fut.result())


def _run_dask(todo, name, scheduler, record, prog, on_progress):
    from distributed import Client, as_completed

    with Client(scheduler) as client:
        futures = [client.submit(execute, run, name, pure=False) for run in todo]
        prog.running = min(len(futures), sum(client.nthreads().values()))
        if on_progress:
            on_progress(prog)
        for fut in as_completed(futures):
            record(fut.result())
