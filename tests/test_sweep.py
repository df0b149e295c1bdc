"""rnn sweep (local backend): trials, ranking, best.yaml and best/, resume, failing trials, ASHA, validation."""

from __future__ import annotations

import json

import pytest
import yaml

from rnncli.config.sweep import load_sweep
from rnncli.errors import ConfigError, ExitCode

SWEEP = {
    "base": "configs/sentiment-toy.yaml",
    "method": "grid",
    "metric": "dev_accuracy",
    "mode": "max",
    "max_concurrent": 2,
    "space": {"train.lr": [0.001, 0.01], "model.hidden_size": [4, 16]},
}


def _write(workspace, name="toy-sweep", **changes):
    path = workspace / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**SWEEP, **changes}, sort_keys=False))
    return path


def test_four_trials_ranked_with_the_best_kept(cli, workspace):
    path = _write(workspace, base={"data": {"train": "datasets/toy/sentiment.tsv", "dev": "datasets/toy/sentiment-dev.tsv"},
                                   "train": {"epochs": 4}})
    r = cli("sweep", "--config", str(path), "--json")
    assert r.code == 0, r.err
    trials = r.jsonl()
    assert sorted(t["trial"] for t in trials) == ["trial-000", "trial-001", "trial-002", "trial-003"]
    assert {json.dumps(t["params"], sort_keys=True) for t in trials} == {
        json.dumps({"train.lr": lr, "model.hidden_size": h}, sort_keys=True) for lr in (0.001, 0.01) for h in (4, 16)}
    metrics = [t["metric"] for t in trials]
    assert metrics == sorted(metrics, reverse=True) and all(t["status"] == "done" for t in trials)
    folder = workspace / "runs/toy-sweep"
    best = yaml.safe_load((folder / "best.yaml").read_text())
    assert best["train"]["lr"] == trials[0]["params"]["train.lr"] and best["run"]["dir"] == "runs/toy-sweep/" + trials[0]["trial"]
    assert cli("predict", "--model", str(folder / "best"), "movie was good").code == 0
    journal = [json.loads(x) for x in (folder / "sweep.jsonl").read_text().splitlines()]
    assert len(journal) == 4
    assert cli("sweep", "--config", str(path)).code == ExitCode.CONFIG  # a second sweep in the same folder


def test_a_failing_trial_and_resume(cli, workspace):
    path = _write(workspace, space={"train.epochs": [1, 2], "data.train": ["datasets/toy/sentiment.tsv", "missing.tsv"]})
    r = cli("sweep", "--config", str(path), "--json")
    assert r.code == 0, r.err
    trials = {t["trial"]: t for t in r.jsonl()}
    failed = [t for t in trials.values() if t["status"] == "failed"]
    assert len(failed) == 2 and all("missing.tsv: no such file" in t["error"] for t in failed)
    assert "failed: Error: missing.tsv" in r.err
    folder = workspace / "runs/toy-sweep"
    journal = (folder / "sweep.jsonl").read_text().splitlines()
    (folder / "sweep.jsonl").write_text("\n".join(journal[:2]) + "\n")  # as if stopped after two trials
    again = cli("sweep", "--resume", str(folder), "--json")
    assert again.code == 0, again.err
    assert len((folder / "sweep.jsonl").read_text().splitlines()) == 4
    assert sorted(t["trial"] for t in again.jsonl()) == sorted(trials)


def test_a_torn_last_record_runs_its_trial_again_and_other_damage_is_named(cli, workspace):
    path = _write(workspace, space={"train.epochs": [1], "train.lr": [0.01, 0.02]})
    assert cli("sweep", "--config", str(path)).code == 0
    journal = workspace / "runs/toy-sweep/sweep.jsonl"
    first, second = journal.read_text().splitlines()
    journal.write_text(first + "\n" + second[:40])  # stopped while appending the second record
    again = cli("sweep", "--resume", "runs/toy-sweep", "--json")
    assert again.code == 0, again.err
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    assert sorted(r["trial"] for r in records) == ["trial-000", "trial-001"]
    for damaged in ('{"trial": "trial-001", "status": 5}', "not json"):
        journal.write_text(damaged + "\n" + first + "\n")
        r = cli("sweep", "--resume", "runs/toy-sweep")
        assert r.code == ExitCode.RUN and "sweep.jsonl, line 1, is damaged" in r.err and "Traceback" not in r.err, r.err


def test_resume_needs_only_the_folder(cli, workspace):
    """sweep.yaml keeps the base config itself: a base given relative to the sweep file, then changed, still
    resumes with the settings the sweep started with."""
    (workspace / "sweeps").mkdir()
    base = yaml.safe_load((workspace / "configs/sentiment-toy.yaml").read_text())
    base["train"]["epochs"] = 1
    (workspace / "sweeps/base.yaml").write_text(yaml.safe_dump(base))
    path = workspace / "sweeps/s.yaml"
    path.write_text(yaml.safe_dump({**SWEEP, "base": "base.yaml", "space": {"train.lr": [0.01, 0.02]}}))
    assert cli("sweep", "--config", str(path), "--json").code == 0
    folder = workspace / "runs/s"
    (folder / "sweep.jsonl").write_text((folder / "sweep.jsonl").read_text().splitlines()[0] + "\n")
    (workspace / "sweeps/base.yaml").write_text("task: [broken\n")  # the base file changed since
    again = cli("sweep", "--resume", str(folder), "--json")
    assert again.code == 0, again.err
    assert all(t["epochs"] == 1 for t in again.jsonl())


def test_random_search_is_the_same_for_the_same_seed(workspace):
    path = _write(workspace, method="random", num_trials=5, seed=3,
                  space={"train.lr": {"loguniform": [0.001, 0.1]}, "model.dropout": {"uniform": [0.0, 0.5]},
                         "train.batch_size": {"randint": [4, 16]}, "model.cell": {"choice": ["rnn", "gru"]}})
    first, second = load_sweep(path).trials(), load_sweep(path).trials()
    assert first == second and len(first) == 5
    assert all(0.001 <= t["train.lr"] <= 0.1 and 4 <= t["train.batch_size"] <= 16 for t in first)
    other = _write(workspace, name="other", method="random", num_trials=5, seed=4, space=yaml.safe_load(path.read_text())["space"])
    assert load_sweep(other).trials() != first


def test_asha_stops_trailing_trials(cli, workspace):
    path = _write(workspace, scheduler="asha", max_concurrent=1, metric="dev_loss", mode="min",
                  space={"train.lr": [0.01, 0.0001, 0.00001, 0.000001]},
                  base={"data": {"train": "datasets/toy/sentiment.tsv", "dev": "datasets/toy/sentiment-dev.tsv"},
                        "train": {"epochs": 9}})
    r = cli("sweep", "--config", str(path), "--json")
    assert r.code == 0, r.err
    trials = {t["params"]["train.lr"]: t for t in r.jsonl()}
    assert trials[0.01]["status"] == "done" and trials[0.01]["epochs"] == 9
    assert any(t["status"] == "stopped" and t["epochs"] < 9 for t in trials.values())


def test_validation_reports_every_problem(workspace, cli):
    path = _write(workspace, method="randm", metrc="dev_loss", space={"train.lrr": [1], "model.hidden_size": {"uniform": [1, 2]},
                                                                     "model.cell": {"choise": ["rnn"]}})
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    problems = dict(err.value.problems)
    assert problems["metrc"] == "unknown sweep key (did you mean 'metric'?)"
    assert problems["method"] == "must be 'grid' or 'random'; got 'randm'"
    assert problems["space.train.lrr"] == "unknown config key (did you mean 'train.lr'?)"
    assert "unknown distribution 'choise' (did you mean 'choice'?)" == problems["space.model.cell"]
    r = cli("config", "validate", str(path))
    assert r.code == ExitCode.CONFIG
    good = _write(workspace, name="good")
    assert cli("config", "validate", str(good), "configs/sentiment-toy.yaml").code == 0


def test_trial_values_and_the_metric_are_checked_before_anything_is_written(workspace, cli):
    path = _write(workspace, space={"train.lr": [0.01, -1]})
    r = cli("sweep", "--config", str(path))
    assert r.code == ExitCode.CONFIG and "space.train.lr   must be > 0; got -1 (in the trial train.lr=-1)" in r.err, r.err
    assert not (workspace / "runs/toy-sweep").exists()
    with pytest.raises(ConfigError, match="has no per-epoch 'dev_acc'; choose one of dev_loss, dev_accuracy"):
        load_sweep(_write(workspace, metric="dev_acc"))
    data = {k: v for k, v in SWEEP.items() if k != "mode"}
    (workspace / "nomode.yaml").write_text(yaml.safe_dump(data))
    assert load_sweep(workspace / "nomode.yaml").mode == "max"  # an accuracy is maximised, as train.monitor's
    (workspace / "loss.yaml").write_text(yaml.safe_dump({**data, "metric": "dev_loss"}))
    assert load_sweep(workspace / "loss.yaml").mode == "min"


def test_force_starts_over_and_out_takes_no_folder_of_runs(cli, workspace):
    path = _write(workspace, space={"train.epochs": [1], "train.lr": [0.01, 0.02]})
    assert cli("sweep", "--config", str(path)).code == 0
    smaller = _write(workspace, space={"train.epochs": [1], "train.lr": [0.01]})
    assert cli("sweep", "--config", str(smaller), "--force").code == 0
    assert not (workspace / "runs/toy-sweep/trial-001").exists()  # nothing of the earlier sweep stays
    assert cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "train.epochs=1", "-q").code == 0
    for out in ("runs/sentiment-toy", "runs"):
        r = cli("sweep", "--config", str(smaller), "--out", out)
        assert r.code == ExitCode.USAGE and "already holds files that are not a sweep's" in r.err, r.err
    (workspace / "afile").write_text("x")
    r = cli("sweep", "--config", str(smaller), "--out", "afile")
    assert r.code == ExitCode.USAGE and "is a file" in r.err
    (workspace / "exp").mkdir()  # a folder of the user's own, holding a sweep file named like the sweep's copy
    (workspace / "exp/notes.txt").write_text("mine")
    (workspace / "exp/sweep.yaml").write_text(smaller.read_text())
    for args in (["--out", "exp"], ["--out", "exp", "--force"]):
        r = cli("sweep", "--config", "exp/sweep.yaml", *args)
        assert r.code == ExitCode.USAGE and "inside --out exp" in r.err, r.err
    r = cli("sweep", "--config", str(smaller), "--out", "exp", "--force")
    assert r.code == ExitCode.USAGE and "not a sweep's (notes.txt" in r.err, r.err
    assert (workspace / "exp/notes.txt").read_text() == "mine" and (workspace / "exp/sweep.yaml").exists()
    (workspace / "runs2/best").mkdir(parents=True)  # a run named like a sweep's copy, in no sweep's folder
    (workspace / "runs2/best/run.json").write_text("{}")
    for extra in ([], ["--force"]):
        r = cli("sweep", "--config", str(smaller), "--out", "runs2", *extra)
        assert r.code == ExitCode.USAGE and "but no sweep.yaml" in r.err, r.err
    assert (workspace / "runs2/best/run.json").exists()


def test_resume_from_another_directory(cli, workspace, monkeypatch):
    """sweep.jsonl keeps each trial's run directory as the sweep named it (relative to where it started); a resume
    from elsewhere finds the finished trials' runs in the sweep's folder all the same."""
    path = _write(workspace, space={"train.epochs": [1], "train.lr": [0.01, 0.02]})
    assert cli("sweep", "--config", str(path)).code == 0
    (workspace / "elsewhere").mkdir()
    monkeypatch.chdir(workspace / "elsewhere")
    r = cli("sweep", "--resume", str(workspace / "runs/toy-sweep"), "--json")
    assert r.code == 0, r.err
    assert all(t["status"] == "done" and t["run_dir"].startswith(str(workspace)) for t in r.jsonl())


def test_usage(cli, workspace):
    assert cli("sweep").code == ExitCode.USAGE
    r = cli("sweep", "--config", "s.yaml", "--resume", "runs/s")
    assert r.code == ExitCode.USAGE and "pass one of them" in r.err
    r = cli("sweep", "--resume", "runs/none")
    assert r.code == ExitCode.USAGE and "is not a sweep folder" in r.err


def _default_sigint():
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background job's SIGINT may be ignored: ask for the default


@pytest.mark.parametrize("signum,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_stops_the_running_trials_and_keeps_the_finished(workspace, signum, code):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    path = _write(workspace, name="slow", max_concurrent=1,
                  space={"train.lr": [0.001, 0.002, 0.003, 0.004, 0.005, 0.006], "train.epochs": [200]})
    rnn = Path(sys.executable).parent / "rnn"
    proc = subprocess.Popen([str(rnn), "sweep", "--config", str(path)], cwd=workspace, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    journal = workspace / "runs/slow/sweep.jsonl"
    deadline = time.monotonic() + 120
    while not (journal.is_file() and journal.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(getattr(signal, signum))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    finished = journal.read_text().splitlines()
    assert 1 <= len(finished) < 6 and "Traceback" not in err
    assert all(json.loads(line)["status"] == "done" for line in finished)
    label = "Interrupted" if signum == "SIGINT" else "Terminated"
    assert f"{label}: the sweep stopped with" in err and "hint: run the others with: rnn sweep --resume" in err, err
    assert "failed" not in err  # the stopped trials did not fail: they run again with --resume
    time.sleep(0.5)
    running = subprocess.run(["pgrep", "-f", str(workspace / "runs/slow")], capture_output=True, text=True).stdout
    assert running.strip() == ""  # no trial left running
