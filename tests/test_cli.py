"""Every command through Typer's CliRunner, and every bad input's exit status."""

import json
import os

import pytest
from typer.testing import CliRunner

from mecopt.cli.app import app
from mecopt.formulations import power

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_generate_solve_evaluate_round_trip(tmp_path):
    inst = tmp_path / "inst.json"
    r = run("generate", "offloading", "--devices", 12, "--servers", 3, "--seed", 1, "-o", inst)
    assert r.exit_code == 0, r.output
    sol = tmp_path / "sol.json"
    r = run("solve", inst, "--solver", "greedy", "--json", "-o", sol)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    for key in ("solver", "problem", "status", "objective", "feasible", "bound", "gap",
                "runtime_s", "evaluations", "solution", "metrics"):
        assert key in out
    assert out["solver"] == "greedy" and out["feasible"] is True
    r = run("evaluate", inst, sol, "--json")
    assert r.exit_code == 0, r.output
    verdict = json.loads(r.stdout)
    assert verdict["objective"] == pytest.approx(out["objective"], rel=1e-12)
    r = run("solve", inst, "--solver", "exact", "--json")
    ex = json.loads(r.stdout)
    assert ex["status"] == "optimal" and ex["objective"] <= out["objective"] * (1 + 1e-12)
    assert ex["gap"] is not None and ex["gap"] >= 0


def test_solve_human_output(instances_dir):
    r = run("solve", os.path.join(instances_dir, "jrors-tiny.json"))
    assert r.exit_code == 0 and "exact: optimal" in r.output


@pytest.mark.parametrize("problem,args", [
    ("jrors", ["--preset", "table2-12"]),
    ("power", ["--users", 6, "--micro", 2, "--interference", "same_bs"]),
    ("offloading", ["--preset", "tiny"]),
])
def test_generate_each_problem(problem, args, tmp_path):
    out = tmp_path / "i.json"
    r = run("generate", problem, *args, "-o", out)
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["problem"] == problem


def test_generate_is_deterministic(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    run("generate", "jrors", "--preset", "table2-20", "--seed", 5, "-o", a)
    run("generate", "jrors", "--preset", "table2-20", "--seed", 5, "-o", b)
    assert a.read_text() == b.read_text()


def test_compare_prints_gaps(instances_dir):
    r = run("compare", os.path.join(instances_dir, "offloading-tiny.json"),
            "--solvers", "exact,greedy,enumerate", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["optimum"] is not None
    by = {s["solver"]: s for s in out["summaries"]}
    assert by["exact"]["median_gap"] == 0 and by["enumerate"]["median_gap"] == pytest.approx(0, abs=1e-9)
    assert by["greedy"]["median_gap"] >= 0
    r = run("compare", os.path.join(instances_dir, "offloading-tiny.json"))
    assert r.exit_code == 0 and "median gap" in r.output


def test_solvers_and_schema():
    r = run("solvers", "--json")
    names = {s["name"] for s in json.loads(r.stdout)}
    assert {"exact", "greedy", "enumerate", "minlp"} <= names
    r = run("schema", "power")
    assert r.exit_code == 0 and "upload_deadline_s" in r.output
    r = run("schema", "jrors", "--solution")
    assert "units" in json.loads(r.stdout)["properties"]
    r = run("presets", "jrors")
    assert "table2-100" in r.output


def one_line_error(r, code, *needles):
    assert r.exit_code == code, r.output
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in r.output
    for n in needles:
        assert n in err, err


def write(tmp_path, data, name="bad.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return p


def tiny_power():
    return power.generate(preset="tiny", seed=0).to_json_dict()


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d.pop("users"), "users"),
    (lambda d: d.update(typo=1), "typo"),
    (lambda d: d.update(noise_w="loud"), "noise_w"),
    (lambda d: d["users"][0].update(data_bits=-5.0), "users[0].data_bits"),
    (lambda d: d.update(gain=[[1.0]]), "gain"),
    (lambda d: d.update(problem="nope"), "problem"),
    (lambda d: d.update(interference="some"), "interference"),
])
def test_bad_instances_exit_2(tmp_path, mutate, needle):
    d = tiny_power()
    mutate(d)
    one_line_error(run("solve", write(tmp_path, d)), 2, needle)


def test_weight_out_of_range_exit_2(tmp_path, instances_dir):
    d = json.load(open(os.path.join(instances_dir, "offloading-tiny.json")))
    d["devices"][0]["weight_time"] = -0.1
    one_line_error(run("solve", write(tmp_path, d)), 2, "devices[0].weight_time")


def test_nan_and_unreadable_exit_2(tmp_path):
    text = json.dumps(tiny_power()).replace('"noise_w": 1e-13', '"noise_w": NaN')
    one_line_error(run("solve", write(tmp_path, text)), 2, "instance")
    one_line_error(run("solve", tmp_path / "missing.json"), 2, "cannot read")
    one_line_error(run("solve", write(tmp_path, "{oops")), 2, "not valid JSON")


def test_bad_solver_and_options_exit_2(instances_dir):
    p = os.path.join(instances_dir, "power-table2-40.json")
    one_line_error(run("solve", p, "--solver", "nosuch"), 2, "nosuch")
    one_line_error(run("solve", p, "--solver", "enumerate"), 2, "does not solve power")
    one_line_error(run("solve", p, "--option", "rel_gap"), 2, "KEY=VALUE")
    one_line_error(run("solve", p, "--option", "colour=1"), 2, "colour")


def test_bad_generate_args_exit_2(tmp_path):
    one_line_error(run("generate", "jrors", "--preset", "nope", "-o", tmp_path / "x.json"), 2, "--preset")
    one_line_error(run("generate", "jrors", "--devices", 3, "-o", tmp_path / "x.json"), 2, "--devices")
    assert run("generate", "scheduling", "-o", tmp_path / "x.json").exit_code == 2
    assert not (tmp_path / "x.json").exists()


def test_bad_solution_exit_2(tmp_path, instances_dir):
    inst = os.path.join(instances_dir, "jrors-tiny.json")
    one_line_error(run("evaluate", inst, write(tmp_path, {"station": [0]}, "s.json")), 2, "units")
    one_line_error(run("evaluate", inst, write(tmp_path, {"station": [0], "units": [1]}, "s.json")),
                   2, "station")


def test_infeasible_instance_exit_1(tmp_path):
    d = tiny_power()
    d["users"][1]["data_bits"] = 1e12
    r = run("solve", write(tmp_path, d))
    one_line_error(r, 1, "infeasible", "1")


def test_infeasible_solution_is_reported_not_an_error(tmp_path, instances_dir):
    inst = os.path.join(instances_dir, "jrors-tiny.json")
    d = json.load(open(inst))
    n = len(d["requests"])
    sol = write(tmp_path, {"station": [1] * n, "units": [d["stations"][1]["units"]] * n}, "s.json")
    r = run("evaluate", inst, sol, "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["feasible"] is False
    assert "station_capacity" in json.loads(r.stdout)["violations"]


def test_mealpy_names_listed_and_unknown_refused(instances_dir):
    pytest.importorskip("mealpy")
    r = run("solvers", "--mealpy", "--json")
    names = json.loads(r.stdout)
    assert {"GA", "PSO", "NGO", "SA", "SSO"} <= set(names)
    p = os.path.join(instances_dir, "jrors-tiny.json")
    one_line_error(run("solve", p, "--solver", "mealpy:NoSuchThing"), 2, "NoSuchThing")
    r = run("compare", p, "--solvers", "exact,bssa,mealpy:GA", "--seeds", 2, "--max-evals", 300, "--json")
    assert r.exit_code == 0, r.output
    by = {s["solver"]: s for s in json.loads(r.stdout)["summaries"]}
    assert by["mealpy:GA"]["runs"] == 2 and by["bssa"]["runs"] == 2 and by["exact"]["runs"] == 1
    assert by["bssa"]["feasible_rate"] == 1.0 and by["bssa"]["worst_gap"] >= 0
