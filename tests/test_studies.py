"""Studies: local and Dask execution, resume after SIGKILL, the report."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from mecopt import InputError
from mecopt.cli.app import app
from mecopt.studies import load_study, make_report, run_study
from mecopt.studies.store import Store

STUDY = """
[study]
name = "t"
problem = "jrors"
store = "t.db"
instance_seeds = [0, 1]
solver_seeds = [0, 1]

[generator]
preset = ["tiny"]
users = [3, 4]

[[solvers]]
name = "exact"

[[solvers]]
name = "greedy"

[[solvers]]
name = "bssa"
max_evals = 300
"""


def write_study(tmp_path, text=STUDY, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_grid_expands_and_deterministic_solvers_run_once(tmp_path):
    s = load_study(write_study(tmp_path))
    # 2 sizes x 2 instance seeds x (exact 1 + greedy 1 + bssa 2) = 16
    assert len(s.runs) == 16
    assert len({r.run_id for r in s.runs}) == 16


def test_zip_pairs_keys(tmp_path):
    text = STUDY.replace('preset = ["tiny"]\nusers = [3, 4]', 'users = [3, 4]\nmicro = [0, 1]\nzip = ["users", "micro"]')
    s = load_study(write_study(tmp_path, text))
    assert {(r.generator["users"], r.generator["micro"]) for r in s.runs} == {(3, 0), (4, 1)}


@pytest.mark.parametrize("bad,needle", [
    ('problem = "jrors"', 'problem = "routing"'),
    ('name = "bssa"', 'name = "ncgg"'),
    ('max_evals = 300', 'max_evals = 300\noptions = { colour = 1 }'),
    ('preset = ["tiny"]', 'preset = ["nope"]'),
])
def test_bad_study_files(tmp_path, bad, needle):
    with pytest.raises(InputError):
        load_study(write_study(tmp_path, STUDY.replace(bad, needle)))


def test_local_pool_runs_every_cell_once_and_resumes(tmp_path):
    s = load_study(write_study(tmp_path))
    prog = run_study(s, workers=2)
    assert prog.done == 16 and prog.failed == 0
    rows = Store(s.store).rows()
    assert len(rows) == 16
    for r in rows:
        assert r["gap_to_exact"] is not None and r["gap_to_exact"] >= 0
        assert r["versions"]["mecopt"]
    again = run_study(s, workers=2)
    assert again.done == 0 and again.skipped == 16


def test_a_crashing_run_is_recorded_and_the_study_goes_on(tmp_path):
    text = STUDY + '\n[[solvers]]\nname = "enumerate"\noptions = { max_points = 1 }\n'
    s = load_study(write_study(tmp_path, text))
    prog = run_study(s, workers=1)
    rows = Store(s.store).rows()
    errors = [r for r in rows if r["status"] == "error"]
    assert len(rows) == len(s.runs) and prog.failed == len(errors) == 4
    assert all("max_points" in r["error"] for r in errors)


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    s = load_study(write_study(tmp_path))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        prog = run_study(s, scheduler=cluster.scheduler_address)
    assert prog.done == 16
    assert len(Store(s.store).rows()) == 16


SLOW_STUDY = """
[study]
name = "kill"
problem = "offloading"
store = "kill.db"
instance_seeds = [0, 1, 2, 3, 4, 5]
solver_seeds = [0, 1, 2]

[generator]
devices = [12, 16]
servers = [3]

[[solvers]]
name = "exact"

[[solvers]]
name = "doa"
max_evals = 3000
"""


def test_sigkill_mid_study_loses_and_repeats_nothing(tmp_path):
    path = write_study(tmp_path, SLOW_STUDY)
    s = load_study(path)
    db = s.store
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mecopt", "study", "run", str(path), "--workers", "1",
                             "--quiet"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    count = 0
    while time.time() < deadline:
        time.sleep(0.2)
        if db.exists():
            try:
                count = sqlite3.connect(db).execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            if count >= 5:
                break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 5 <= count < len(s.runs), "the kill must land mid-study"
    first = {r["run_id"]: r["finished_at"] for r in Store(db).rows()}
    assert len(first) < len(s.runs)
    prog = run_study(s, workers=2)
    rows = Store(db).rows()
    assert len(rows) == len(s.runs) == len({r["run_id"] for r in rows})
    assert prog.skipped == len(first) and prog.done == len(s.runs) - len(first)
    for r in rows:  # no finished run was repeated
        if r["run_id"] in first:
            assert r["finished_at"] == first[r["run_id"]]


def test_report_renders(tmp_path):
    s = load_study(write_study(tmp_path))
    run_study(s, workers=1)
    out = make_report(s.store, tmp_path / "rep")
    for f in ("gap_by_size.png", "time_by_size.png", "convergence.png", "summary.csv", "summary.md"):
        assert (tmp_path / "rep" / f).stat().st_size > 0
    text = out.read_text()
    assert "bssa" in text and "![gap by size]" in text


def test_cli_study_and_report(tmp_path):
    runner = CliRunner()
    p = write_study(tmp_path)
    r = runner.invoke(app, ["study", "run", str(p), "--workers", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "16 runs now" in r.output
    r = runner.invoke(app, ["report", str(tmp_path / "t.db"), "-o", str(tmp_path / "rep")])
    assert r.exit_code == 0 and (tmp_path / "rep" / "report.md").exists()
    r = runner.invoke(app, ["report", str(tmp_path / "missing.db")])
    assert r.exit_code == 2
    r = runner.invoke(app, ["study", "run", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2
