"""rnn runs (the runs of a folder) and rnn plot (their learning curves)."""

from __future__ import annotations

import pytest

from rnncli.errors import ExitCode


@pytest.fixture
def two_runs(cli, workspace):
    assert cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "train.epochs=3", "--set", "run.dir=runs/a",
               "--json").code == 0
    assert cli("train", "--config", "configs/tagging-toy.yaml", "--set", "train.epochs=2", "--set", "run.dir=runs/b",
               "--json").code == 0
    (workspace / "runs/broken").mkdir()
    (workspace / "runs/broken/run.json").write_text("{")
    (workspace / "runs/empty").mkdir()
    return workspace


def test_runs_lists_every_run_newest_first(cli, two_runs):
    r = cli("runs", "--json")
    assert r.code == 0, r.err
    found = {x["path"]: x for x in r.json()}
    assert set(found) == {"runs/a", "runs/b", "runs/broken"}
    a, b = found["runs/a"], found["runs/b"]
    assert (a["task"], a["cell"], a["epochs"], a["status"]) == ("classify", "rnn", 3, "ok")
    assert a["best"]["monitor"] == "dev_loss" and a["last"]["epoch"] == 3 and a["bytes"] > 0
    assert b["task"] == "tag" and b["latest"] and not a["latest"]  # b was written last: predict's pick
    assert found["runs/broken"]["status"] == "damaged"
    table = cli("runs").out
    assert "* runs/b" in table and "damaged" in table


def test_plot_table_json_and_png(cli, two_runs):
    r = cli("plot", "runs/a", "runs/b", "--metric", "dev_accuracy")
    assert r.code == 0, r.err
    assert "runs/a" in r.out and "dev_accuracy" in r.out
    curves = cli("plot", "runs/a", "--json").json()
    assert [(c["metric"], c["epochs"]) for c in curves] == [("train_loss", [1, 2, 3]), ("dev_loss", [1, 2, 3])]
    pytest.importorskip("matplotlib")
    assert cli("plot", "runs/a", "runs/b", "--out", "curves.png").code == 0
    assert (two_runs / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,code,needle", [
    (["plot", "runs/a", "--metric", "bleu"], ExitCode.RUN, "runs/a has no metric 'bleu'"),
    (["plot", "runs/none"], ExitCode.RUN, "runs/none has no metrics.jsonl"),
    (["runs", "nowhere"], ExitCode.RUN, "nowhere is not a folder of runs"),
])
def test_errors(cli, two_runs, args, code, needle):
    r = cli(*args)
    assert r.code == code and needle in r.err
