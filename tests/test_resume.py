"""Training that survives: checkpoints, bit-for-bit resume, Ctrl-C, kill -9, divergence, early stopping.

The oracle is always an uninterrupted run with the same config: an interrupted and resumed run must
end with exactly (np.array_equal) its weights, best weights, optimiser and generator states and
metrics. In-process tests stop training at a chosen step (a SIGINT sent to ourselves, or an
exception that plays kill -9); subprocess tests send real SIGINT and SIGKILL to `python -m rnncli`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from rnncli.training import resume

from rnncli.data import synthetic
from rnncli.config import config_from_dict
from rnncli.errors import ExitCode, TrainingInterrupted
from rnncli.training.train import train

TOY_CONFIG = "configs/sentiment-toy.yaml"

# Small configs that exercise every kind of state a resume must restore: shuffled batch order,
# dropout masks, learning-rate schedules, every optimiser's buffers, the lm's carried hidden state.
CASES = {
    "classify-gru-dropout-cosine": {
        "data": {"train": "datasets/toy/sentiment.tsv", "dev": "datasets/toy/sentiment-dev.tsv"},
        "model": {"cell": "gru", "num_layers": 2, "dropout": 0.3, "hidden_size": 8, "embedding_dim": 8},
        "train": {"epochs": 3, "batch_size": 16, "schedule": "cosine", "ema_decay": 0.9},
    },
    "lm-lstm-carry-momentum": {
        "task": "lm",
        "data": {"train": "lm.txt", "dev_split": 0.2, "tokenizer": "char", "lowercase": False},  # see `workspace`
        "model": {"cell": "lstm", "num_layers": 2, "dropout": 0.2, "hidden_size": 8, "embedding_dim": 8},
        "train": {"epochs": 2, "batch_size": 16, "bptt": 40, "optimizer": "momentum", "lr": 0.1, "nesterov": True},
    },
    "tag-bilstm-rmsprop-adversarial": {
        "task": "tag",
        "data": {"train": "datasets/toy/tagging.conll", "dev": "datasets/toy/tagging-dev.conll"},
        "model": {"cell": "lstm", "bidirectional": True, "hidden_size": 8, "embedding_dim": 8, "input_dropout": 0.2},
        "train": {"epochs": 2, "batch_size": 8, "optimizer": "rmsprop", "schedule": "step", "step_size": 1,
                  "adversarial": 1.0},
    },
    "seq2seq-gru-attention-sampled-inputs": {
        "task": "seq2seq",
        "data": {"train": "reverse.tsv", "dev_split": 0.25, "text_field": "source", "label_field": "target",
                 "tokenizer": "char"},  # see `workspace`
        "model": {"cell": "gru", "num_layers": 2, "bidirectional": True, "attention": True, "dropout": 0.2,
                  "hidden_size": 8, "embedding_dim": 8},
        "train": {"epochs": 2, "batch_size": 16, "teacher_forcing": 0.7, "optimizer": "lazy_adam",
                  "weight_decay": 0.01},
    },
    "generate-lstm-feed-bucket": {
        "task": "generate",
        "data": {"train": "datasets/toy/sentiment.tsv", "dev": "datasets/toy/sentiment-dev.tsv"},
        "model": {"cell": "lstm", "num_layers": 2, "dropout": 0.2, "feed_condition": True, "hidden_size": 8,
                  "embedding_dim": 8},
        "train": {"epochs": 2, "batch_size": 16, "bucket": True},
    },
}


@pytest.fixture(autouse=True)
def python_sigint():
    """Ctrl-C as Python sets it up in a terminal, also when the tests themselves run with SIGINT ignored
    (under nohup, or as a background job of a script, whose shell ignores SIGINT for it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # in the child, before Python starts: see python_sigint


@pytest.fixture
def workspace(workspace: Path) -> Path:
    """The shared workspace plus lm.txt, the first 6,000 characters of the tiny Shakespeare (fast), and
    reverse.tsv, 160 pairs of `rnn data make reverse`."""
    text = (workspace / "datasets/toy/shakespeare-tiny.txt").read_text(encoding="utf-8")
    (workspace / "lm.txt").write_text(text[:6000], encoding="utf-8")
    (workspace / "reverse.tsv").write_text(synthetic.make("reverse", 5, 160).text(), encoding="utf-8")
    return workspace


def config(d: dict, run_dir: str, **train_keys):
    d = json.loads(json.dumps(d))  # a deep copy
    d.setdefault("train", {}).update(train_keys)
    d["run"] = {"dir": run_dir}
    return config_from_dict(d, name=Path(run_dir).name)


def npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def without_seconds(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def assert_same_run(a: Path, b: Path) -> None:
    """Two run directories hold bit-identical training results (wall-clock seconds aside)."""
    for name in ("weights.npz", "weights-best.npz"):
        assert (a / name).exists() == (b / name).exists(), name
        if (a / name).exists():
            wa, wb = npz(a / name), npz(b / name)
            assert wa.keys() == wb.keys()
            for k in wa:
                assert wa[k].dtype == wb[k].dtype
                assert np.array_equal(wa[k], wb[k]), f"{name}:{k} differs"
    ca, cb = npz(a / "checkpoint.npz"), npz(b / "checkpoint.npz")
    ma, mb = (json.loads(c.pop("meta").tobytes()) for c in (ca, cb))
    assert ca.keys() == cb.keys()
    for k in ca:  # weights and every optimiser buffer, bit for bit
        assert np.array_equal(ca[k], cb[k]), f"checkpoint {k} differs"
    ma["records"], mb["records"] = without_seconds(ma["records"]), without_seconds(mb["records"])
    del ma["config"], mb["config"]  # the config's name labels the run; it is not training state
    assert ma == mb  # progress, generator states, best epoch, data fingerprints
    read = lambda p: [json.loads(line) for line in (p / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert without_seconds(read(a)) == without_seconds(read(b))
    ja, jb = (json.loads((p / "run.json").read_text()) for p in (a, b))
    assert ja == jb


def stop_at(step: int, how: str):
    """A progress callback that stops training right after optimiser step ``step``: ``sigint`` and
    ``sigterm`` send that signal to this process (training saves and stops), ``crash`` raises like a
    kill -9 (nothing saved)."""
    seen = {"steps": 0}

    def progress(event: str, info: dict) -> None:
        if event == "batch":
            seen["steps"] += 1
            if seen["steps"] == step:
                if how in ("sigint", "sigterm"):
                    os.kill(os.getpid(), signal.SIGINT if how == "sigint" else signal.SIGTERM)
                else:
                    raise Crash(step)

    return progress


class Crash(Exception):
    pass


def steps_per_epoch(run_dir: Path) -> int:
    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])["step"]


# --- bit for bit, in process --------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASES.keys())
def test_ctrl_c_mid_epoch_then_resume_is_bit_for_bit(workspace, case):
    full = train(config(CASES[case], "runs/full"))
    n = steps_per_epoch(full.run_dir)
    stop = n + n // 2  # the middle of epoch 2
    with pytest.raises(TrainingInterrupted) as info:
        train(config(CASES[case], "runs/cut"), progress=stop_at(stop, "sigint"))
    assert f"in epoch 2 (batch {n // 2} of {n}), step {stop}" in info.value.message
    assert info.value.hint.endswith("rnn train --resume runs/cut")
    meta = resume.load("runs/cut").meta
    assert (meta["epoch"], meta["batch"], meta["step"]) == (1, n // 2, stop)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler was put back

    resumed = train(resume.resume_config("runs/cut"), resume_dir=Path("runs/cut"))
    assert resumed.resumed_from == {"epoch": 1, "step": stop}
    assert_same_run(full.run_dir, Path("runs/cut"))
    assert without_seconds(resumed.epochs) == without_seconds(full.epochs)


@pytest.mark.parametrize("case", ["classify-gru-dropout-cosine", "lm-lstm-carry-momentum"])
def test_sigterm_mid_epoch_then_resume_is_bit_for_bit(workspace, case):
    """Job schedulers send SIGTERM before SIGKILL: it stops training as Ctrl-C does, with exit 143."""
    full = train(config(CASES[case], "runs/full"))
    n = steps_per_epoch(full.run_dir)
    stop = n + n // 2
    with pytest.raises(TrainingInterrupted) as info:
        train(config(CASES[case], "runs/cut"), progress=stop_at(stop, "sigterm"))
    assert info.value.exit_code == ExitCode.TERMINATED and info.value.label == "Terminated"
    assert f"in epoch 2 (batch {n // 2} of {n}), step {stop}" in info.value.message
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler was put back
    train(resume.resume_config("runs/cut"), resume_dir=Path("runs/cut"))
    assert_same_run(full.run_dir, Path("runs/cut"))


@pytest.mark.parametrize("case", ["classify-gru-dropout-cosine", "lm-lstm-carry-momentum"])
def test_crash_between_step_checkpoints_then_resume_is_bit_for_bit(workspace, case):
    """A kill -9 loses the steps since the last checkpoint; they are replayed identically."""
    full = train(config(CASES[case], "runs/full"))
    n = steps_per_epoch(full.run_dir)
    every = max(2, n // 3)
    crash = n + every + 1  # one step after a mid-epoch checkpoint of epoch 2
    with pytest.raises(Crash):
        train(config(CASES[case], "runs/cut", checkpoint_every=every), progress=stop_at(crash, "crash"))
    meta = resume.load("runs/cut").meta
    assert meta["step"] == (crash // every) * every and meta["batch"] > 0
    if CASES[case].get("task") == "lm":  # the hidden state carried into the next window is saved too
        assert any(k.startswith("carry/") for k in resume.load("runs/cut").arrays)
    train(resume.resume_config("runs/cut"), resume_dir=Path("runs/cut"))
    full_every = train(config(CASES[case], "runs/full-every", checkpoint_every=every))
    assert_same_run(full_every.run_dir, Path("runs/cut"))
    # checkpoint_every changes when files are written, never what is computed
    assert np.array_equal(npz(full.run_dir / "weights.npz")["head.W"], npz(Path("runs/cut/weights.npz"))["head.W"])


def test_interrupt_at_an_epoch_boundary_and_on_the_last_batch(workspace):
    d = CASES["classify-gru-dropout-cosine"]
    full = train(config(d, "runs/full"))
    n = steps_per_epoch(full.run_dir)
    for name, stop in (("end", n), ("last", 3 * n)):
        with pytest.raises(TrainingInterrupted):
            train(config(d, f"runs/{name}"), progress=stop_at(stop, "sigint"))
        train(resume.resume_config(f"runs/{name}"), resume_dir=Path(f"runs/{name}"))
        assert_same_run(full.run_dir, Path(f"runs/{name}"))


def test_extend_a_finished_run(cli, workspace):
    """--set train.epochs=N continues a finished run; the result equals training N epochs at once."""
    args = ["--config", TOY_CONFIG, "--set", "model.dropout=0.0"]
    assert cli("train", *args, "--set", "train.epochs=5", "--set", "run.dir=runs/five").code == 0
    assert cli("train", *args, "--set", "train.epochs=3", "--set", "run.dir=runs/three").code == 0
    r = cli("train", "--resume", "runs/three", "--set", "train.epochs=5", "--json")
    assert r.code == 0, r.err
    lines = r.jsonl()
    assert [x["epoch"] for x in lines[:-1]] == [4, 5]
    assert lines[-1]["resumed_from"] == {"epoch": 3, "step": 3 * steps_per_epoch(workspace / "runs/three")}
    assert r.err == "Resuming runs/three after epoch 3 (step 69), up to epoch 5.\n"
    assert yaml.safe_load((workspace / "runs/three/config.yaml").read_text())["train"]["epochs"] == 5
    w5, w3 = npz(workspace / "runs/five/weights.npz"), npz(workspace / "runs/three/weights.npz")
    assert all(np.array_equal(w5[k], w3[k]) for k in w5)
    # resuming a finished run is a no-op that succeeds (scripts may retry until done)
    again = cli("train", "--resume", "runs/three", "--json")
    assert again.code == 0 and [x["event"] for x in again.jsonl()] == ["done"]
    assert "has finished 5 of 5 epochs; nothing to train" in again.err
    assert cli("-q", "train", "--resume", "runs/three").err == ""


# --- real signals, real processes ----------------------------------------------------------


def start(workspace: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnncli", "train", *args], cwd=workspace,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"training ended before {path} appeared: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.002)


# Long enough that the signal lands well before the end (14 epochs, at least 0.3 s, remain after the first).
LONG = ["--config", TOY_CONFIG, "--set", "train.epochs=15"]
# Long enough that a test reading stdout as it comes sees the second epoch's row well before the end.
LONG_WATCHED = ["--config", TOY_CONFIG, "--set", "train.epochs=150"]


def read_rows(proc: subprocess.Popen, epochs: int) -> list[str]:
    """Lines of stdout up to the row of epoch ``epochs``; the process must still be training then."""
    lines = []
    while not lines or not lines[-1].startswith(f"{epochs} "):
        line = proc.stdout.readline()
        assert line, f"stdout ended before the row of epoch {epochs}: {lines}"
        lines.append(line)
    assert proc.poll() is None, "training had ended: its rows were not printed as the epochs ended"
    return lines


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_saves_leaves_the_rows_and_resume_matches(cli, workspace, signum):
    """Each epoch's row reaches a pipe as the epoch ends; after the signal the finished epochs' rows are on
    stdout, the exit code is 130 (Ctrl-C) or 143 (SIGTERM), and --resume ends as an uninterrupted run."""
    proc = start(workspace, *LONG_WATCHED, "--set", "run.dir=runs/int")
    head = read_rows(proc, 2)
    assert head[0] == "Training sentiment-toy\n" and head[1].startswith("epoch ┃     lr ┃ train_loss")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    expected = {signal.SIGINT: (ExitCode.INTERRUPTED, "Interrupted"), signal.SIGTERM: (ExitCode.TERMINATED, "Terminated")}
    code, label = expected[signum]
    assert proc.returncode == code, err
    lines = err.splitlines()
    assert lines[0].startswith(f"{label}: training stopped "), err
    assert "runs/int holds a checkpoint of it." in lines[0]
    assert lines[1] == "hint: continue exactly where it stopped with: rnn train --resume runs/int"
    assert "Traceback" not in err
    done = len((workspace / "runs/int/metrics.jsonl").read_text().splitlines())
    assert 2 <= done < 150
    rows = [line for line in head[3:] + out.splitlines(keepends=True)]
    assert [int(r.split()[0]) for r in rows] == list(range(1, done + 1))  # every finished epoch, nothing else
    assert "Saved" not in out

    r = cli("train", "--resume", "runs/int")
    assert r.code == 0, r.err
    assert r.out.startswith("Training sentiment-toy\n")  # the config's name, not the run folder's
    assert cli("train", *LONG_WATCHED, "--set", "run.dir=runs/ref").code == 0
    assert_same_run(workspace / "runs/ref", workspace / "runs/int")


def test_sigkill_then_resume_matches_and_corrupt_checkpoint_is_reported(cli, workspace):
    proc = start(workspace, *LONG, "--set", "train.checkpoint_every=5", "--set", "run.dir=runs/kill")
    wait_for(workspace / "runs/kill/metrics.jsonl", proc)
    time.sleep(0.05)
    proc.kill()  # SIGKILL: no handler runs, nothing is cleaned up
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    run = workspace / "runs/kill"
    kept = shutil.copytree(run, workspace / "runs/kill-copy")

    r = cli("train", "--resume", "runs/kill")
    assert r.code == 0, r.err
    assert r.err.startswith("Resuming runs/kill ")
    assert not [p for p in os.listdir(run) if p.endswith(".tmp")]  # leftovers of the kill are gone
    assert cli("train", *LONG, "--set", "train.checkpoint_every=5", "--set", "run.dir=runs/ref").code == 0
    assert_same_run(workspace / "runs/ref", run)

    # the newest checkpoint, damaged: resuming names it and changes nothing; the weights still serve
    ckpt = kept / "checkpoint.npz"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    before = {p.name: p.read_bytes() for p in kept.iterdir()}
    r = cli("train", "--resume", kept)
    assert r.code == ExitCode.RUN
    assert r.err_lines[0] == (f"Error: cannot resume {kept}: checkpoint.npz is corrupt or truncated "
                              "(File is not a zip file).")
    assert r.err_lines[1].startswith("hint: ") and "Traceback" not in r.err
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == before
    assert cli("predict", "--model", kept, "movie was good").code == 0


# --- divergence keeps the last good checkpoint -------------------------------------------------


def test_divergence_keeps_the_last_good_checkpoint(cli, workspace, monkeypatch):
    assert cli("train", "--config", TOY_CONFIG, "--set", "train.epochs=1", "--set", "run.dir=runs/one").code == 0
    import rnncli.training.train as train_module

    real, calls = train_module.loss_and_grads, {"n": 0}

    def poisoned(*args, **kwargs):
        loss, grads, logits, cache = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 30:  # epoch 2, step 30 of 23 per epoch
            grads["rnn.l0.W_hh"][0, 0] = np.nan
        return loss, grads, logits, cache

    monkeypatch.setattr(train_module, "loss_and_grads", poisoned)
    r = cli("train", "--config", TOY_CONFIG, "--set", "train.epochs=3", "--set", "run.dir=runs/div")
    assert r.code == ExitCode.DIVERGED
    first = r.err_lines[0]
    assert first.startswith("Error: training diverged at epoch 2, step 30: the loss is ")
    assert "the gradient of rnn.l0.W_hh is not finite (the gradient norm was " in first
    assert " at step 29). runs/div keeps its last good checkpoint (step 23) and the weights of epoch 1." in first
    assert r.err_lines[1].startswith("hint: lower train.lr, or clip the gradients")
    # what stayed is exactly the end of epoch 1, and it resumes
    a, b = workspace / "runs/one", workspace / "runs/div"
    for name in ("weights.npz", "weights-best.npz"):
        wa, wb = npz(a / name), npz(b / name)
        assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert resume.load(b).meta["step"] == 23
    monkeypatch.setattr(train_module, "loss_and_grads", real)
    assert cli("train", "--resume", "runs/div", "--set", "train.epochs=1").code == 0


# --- early stopping and the best weights --------------------------------------------------------


def test_early_stopping_keeps_the_best_weights_and_evaluate_uses_them(cli, workspace):
    args = ["--config", TOY_CONFIG, "--set", "train.monitor=dev_accuracy", "--set", "train.patience=2"]
    r = cli("train", *args, "--set", "run.dir=runs/es", "--json")
    assert r.code == 0, r.err
    *epochs, done = r.jsonl()
    accuracy = [e["dev_accuracy"] for e in epochs]
    best = accuracy.index(max(accuracy)) + 1  # the first epoch with the highest accuracy (maximised)
    assert done["stopped_early"] is True and len(epochs) == best + 2 < 30
    assert done["best"] == {"epoch": best, "monitor": "dev_accuracy", "value": max(accuracy)}
    meta = json.loads((workspace / "runs/es/run.json").read_text())
    assert meta["best"] == done["best"] and meta["stopped_early"] is True and meta["epochs_done"] == best + 2

    # weights-best.npz is the weights after epoch `best`; weights.npz those of the last epoch
    assert cli("train", "--config", TOY_CONFIG, "--set", f"train.epochs={best}", "--set", "run.dir=runs/ref").code == 0
    kept, ref = npz(workspace / "runs/es/weights-best.npz"), npz(workspace / "runs/ref/weights.npz")
    assert all(np.array_equal(kept[k], ref[k]) for k in ref)
    ev = cli("evaluate", "--model", "runs/es", "--data", "datasets/toy/sentiment-dev.tsv", "--json").json()
    assert (ev["weights"], ev["epoch"], ev["accuracy"]) == ("weights-best.npz", best, max(accuracy))
    last = cli("evaluate", "--model", "runs/es", "--data", "datasets/toy/sentiment-dev.tsv", "--json", "--last").json()
    assert (last["weights"], last["epoch"]) == ("weights.npz", best + 2)
    table = cli("train", "--config", TOY_CONFIG, "--set", "train.monitor=dev_accuracy", "--set", "train.patience=2",
                "--set", "run.dir=runs/es2")
    assert f"Stopped early after epoch {best + 2}: dev_accuracy has not improved for 2 epochs." in table.out
    assert f"Best epoch {best} (dev_accuracy 1.0000), kept as runs/es2/weights-best.npz" in table.out

    # an early-stopped run is finished; a larger patience lets it go on, exactly as if it had been set at first
    again = cli("train", "--resume", "runs/es", "--json")
    assert again.code == 0 and len(again.jsonl()) == 1
    r = cli("train", "--resume", "runs/es", "--set", "train.patience=100", "--set", "train.epochs=12", "--json")
    assert r.code == 0, r.err
    assert cli("train", *args, "--set", "train.patience=100", "--set", "train.epochs=12",
               "--set", "run.dir=runs/patient").code == 0
    assert_same_run(workspace / "runs/patient", workspace / "runs/es")


def test_loss_is_minimised(workspace):
    result = train(config(CASES["classify-gru-dropout-cosine"], "runs/min", epochs=4))
    losses = [e["dev_loss"] for e in result.epochs]
    assert result.best["value"] == min(losses) and result.best["epoch"] == losses.index(min(losses)) + 1
    assert not result.stopped_early


def test_no_dev_set_no_best_weights(cli, workspace):
    r = cli("train", "--config", "configs/seed-params.yaml", "--set", "train.epochs=2", "--json")
    assert r.code == 0, r.err
    assert r.jsonl()[-1]["best"] is None
    assert not (workspace / "runs/seed-params/weights-best.npz").exists()
    ev = cli("evaluate", "--model", "runs/seed-params", "--data", "datasets/toy/lecture.tsv", "--json").json()
    assert (ev["weights"], ev["epoch"]) == ("weights.npz", 2)


# --- what --resume accepts ------------------------------------------------------------------


@pytest.fixture
def small_run(cli, workspace) -> Path:
    r = cli("train", "--config", TOY_CONFIG, "--set", "train.epochs=2", "--set", "run.dir=runs/small")
    assert r.code == 0, r.err
    return workspace / "runs/small"


RESUME_ERRORS = {
    "with-force": (["--resume", "runs/small", "--force"], ExitCode.USAGE,
                   "Error: --resume continues a run and --force replaces it; pass one of them."),
    "set-model-key": (["--resume", "runs/small", "--set", "model.cell=lstm"], ExitCode.USAGE,
                      "Error: --set model.cell cannot change when a run is resumed; only train.epochs, "
                      "train.patience, train.checkpoint_every can."),
    "set-unknown-key": (["--resume", "runs/small", "--set", "train.epoch=3"], ExitCode.CONFIG,
                        "Error: --set train.epoch=3: unknown key 'train.epoch' (did you mean 'train.epochs'?)"),
    "other-config": (["--resume", "runs/small", "--config", "configs/sentiment-toy-lstm.yaml"], ExitCode.USAGE,
                     "Error: --config configs/sentiment-toy-lstm.yaml describes another run than "
                     "runs/small/config.yaml (model.cell is 'lstm' there, 'rnn' in the run;"),
    "missing-run": (["--resume", "runs/nope"], ExitCode.RUN, "Error: cannot resume runs/nope: it does not exist."),
    "no-checkpoint": (["--resume", "runs/small"], ExitCode.RUN,
                      "Error: cannot resume runs/small: it has no checkpoint.npz"),
    "old-version": (["--resume", "runs/small"], ExitCode.RUN,
                    "Error: cannot resume runs/small: its checkpoint.npz was written in run format version 1;"),
    "data-changed": (["--resume", "runs/small"], ExitCode.RUN,
                     "Error: cannot resume runs/small: the training data changed since the run started"),
}


@pytest.mark.parametrize("args,code,first", RESUME_ERRORS.values(), ids=RESUME_ERRORS.keys())
def test_resume_errors(cli, small_run, request, args, code, first):
    case = request.node.callspec.id
    if case == "no-checkpoint":
        (small_run / "checkpoint.npz").unlink()
    elif case == "old-version":
        arrays = npz(small_run / "checkpoint.npz")
        meta = json.loads(arrays["meta"].tobytes())
        meta["version"] = 1
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(small_run / "checkpoint.npz", **arrays)
    elif case == "data-changed":
        cfg = yaml.safe_load((small_run / "config.yaml").read_text())
        cfg["data"]["train"] = "datasets/toy/sentiment-dev.tsv"
        (small_run / "config.yaml").write_text(yaml.safe_dump(cfg))
    before = {p.name: p.read_bytes() for p in small_run.iterdir()}
    r = cli("train", *args)
    assert r.code == code, r.err
    assert r.err_lines[0].startswith(first), r.err
    assert r.err_lines[1].startswith("hint: ") and "Traceback" not in r.err and r.out == ""
    assert {p.name: p.read_bytes() for p in small_run.iterdir()} == before  # nothing touched


def test_resume_with_the_same_config_is_allowed(cli, small_run):
    r = cli("train", "--resume", "runs/small", "--config", TOY_CONFIG, "--set", "train.epochs=3", "--json")
    assert r.code == 0, r.err
    assert [x["epoch"] for x in r.jsonl()[:-1]] == [3]


def test_existing_run_dir_suggests_resume(cli, small_run):
    r = cli("train", "--config", TOY_CONFIG, "--set", "train.epochs=2", "--set", "run.dir=runs/small")
    assert r.code == ExitCode.RUN
    assert r.err_lines == ["Error: the run directory runs/small already exists.",
                           "hint: continue it with `rnn train --resume runs/small`, replace it with --force, "
                           "or choose another directory with --set run.dir=PATH."]


def test_paths_inside_a_run_are_never_taken_from_its_files(cli, small_run, workspace):
    """A run's config.yaml naming another run.dir or vocab.path changes nothing: a resume writes only
    into RUN and uses RUN/vocab.json."""
    cfg = yaml.safe_load((small_run / "config.yaml").read_text())
    cfg["run"]["dir"] = "../escaped"
    cfg["vocab"]["path"] = "/nonexistent/vocab.json"
    (small_run / "config.yaml").write_text(yaml.safe_dump(cfg))
    r = cli("train", "--resume", small_run, "--set", "train.epochs=3")
    assert r.code == 0, r.err
    assert not (workspace.parent / "escaped").exists() and not (workspace / "escaped").exists()
    assert json.loads((small_run / "run.json").read_text())["epochs_done"] == 3
    assert cli("evaluate", "--model", small_run, "--data", "datasets/toy/sentiment-dev.tsv").code == 0
