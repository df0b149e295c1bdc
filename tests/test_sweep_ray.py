"""rnn sweep --backend ray: the same trials on Ray Tune, on a local Ray and on a two-node cluster simulated on this
machine (optional: needs Ray Tune, which CI installs)."""

from __future__ import annotations

import json

import pytest
import yaml

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'rnncli[ray]')")
pytest.importorskip("ray.tune", reason="Ray Tune is not installed (pip install 'rnncli[ray]')")

from rnncli.config.sweep import load_sweep  # noqa: E402
from rnncli.tools.sweep_ray import run_ray  # noqa: E402

SWEEP = {"base": {"data": {"train": "datasets/toy/sentiment.tsv", "dev": "datasets/toy/sentiment-dev.tsv"},
                  "train": {"epochs": 3}},
         "method": "grid", "metric": "dev_loss", "mode": "min", "max_concurrent": 2,
         "space": {"train.lr": [0.001, 0.01], "model.hidden_size": [4, 8]}}


@pytest.fixture
def sweep_file(workspace):
    path = workspace / "ray-sweep.yaml"
    path.write_text(yaml.safe_dump(SWEEP))
    return path


def test_local_ray_gives_the_local_backends_results(cli, workspace, sweep_file):
    try:
        r = cli("sweep", "--config", str(sweep_file), "--backend", "ray", "--json")
    finally:
        ray.shutdown()
    assert r.code == 0, r.err
    on_ray = {t["trial"]: t for t in r.jsonl()}
    local = {t["trial"]: t for t in cli("sweep", "--config", str(sweep_file), "--out", "runs/local", "--json").jsonl()}
    assert set(on_ray) == set(local) == {f"trial-00{i}" for i in range(4)}
    for name, t in on_ray.items():
        assert t["status"] == "done" and t["params"] == local[name]["params"]
        assert t["metric"] == pytest.approx(local[name]["metric"], rel=1e-6)  # the same training, elsewhere
    folder = workspace / "runs/ray-sweep"
    assert (folder / "best/weights.npz").is_file() and (folder / "best.yaml").is_file()
    assert cli("predict", "--model", str(folder / "best"), "movie was good").code == 0


def test_a_two_node_cluster_runs_trials_on_both_nodes_and_returns_the_best(workspace, sweep_file):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address)
        trials, best = run_ray(load_sweep(sweep_file), workspace / "runs/cluster", storage=str(workspace / "shared"))
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert all(t.status == "done" for t in trials) and best is not None
    journal = [json.loads(line) for line in (workspace / "runs/cluster/sweep.jsonl").read_text().splitlines()]
    nodes = {node for record in journal for node in record["nodes"]}
    assert len(nodes) == 2  # the trials ran on both nodes
    assert (workspace / "runs/cluster/best/weights.npz").is_file()
    assert best.metric == min(t.metric for t in trials)


def test_ray_options_need_the_ray_backend(cli, workspace, sweep_file):
    r = cli("sweep", "--config", str(sweep_file), "--address", "auto")
    assert r.code == 2 and "--address and --storage apply to --backend ray" in r.err
