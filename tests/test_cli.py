"""End-to-end tests of the ``rnn`` command line: exit codes, stdout formats, error text.

Most tests call ``rnncli.cli.main`` in-process (fast); a few run ``python -m rnncli`` in a
subprocess to check the real entry point, real stdin and that no traceback escapes.
Fixtures (``cli``, ``workspace``, ``trained_toy``, ``toy_run``, ``run_copy``) live in conftest.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import select
import signal
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import rnncli
from rnncli.cli import main
from rnncli.errors import ExitCode

REPO = Path(__file__).resolve().parent.parent
TOY_CONFIG = "configs/sentiment-toy.yaml"  # relative to a workspace (see conftest.py)
TOY_RUN = Path("runs") / "sentiment-toy"  # where TOY_CONFIG trains to (its run.dir is null)

RUN_FILES = {"run.json", "config.yaml", "vocab.json", "weights.npz", "weights-best.npz", "checkpoint.npz", "metrics.jsonl"}
EPOCH_KEYS = {"epoch", "train_loss", "train_accuracy", "dev_loss", "dev_accuracy"}
PREDICT_KEYS = {"text", "tokens", "ids", "unknown", "label", "scores"}

# Usage errors (typer/click) are printed by click's own `exc.show()`: "Usage: …", "Try 'rnn … -h' for
# help.", blank line, "Error: …". The first stderr line is not `Error: ` and there is no `hint: ` line.


def assert_user_error(r, code: int, *needles: str, stdout_empty: bool = True) -> None:
    """Exit code, `Error: ` first line, a `hint: ` line, no traceback, and each needle in stderr."""
    assert r.code == code, f"exit {r.code}, expected {code}; stderr:\n{r.err}"
    assert "Traceback" not in r.err
    lines = r.err_lines
    assert lines and lines[0].startswith("Error: "), r.err
    assert any(line.startswith("hint: ") for line in lines[1:]), r.err
    for needle in needles:
        assert needle in r.err, f"{needle!r} not in stderr:\n{r.err}"
    if stdout_empty:
        assert r.out == "", r.out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def data_rows(path: Path) -> list[tuple[str, str]]:
    """(text, label) rows of a TSV file with a header row."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [tuple(f.strip() for f in line.split("\t")[:2]) for line in lines[1:]]


def toy_epochs() -> int:
    return yaml.safe_load((REPO / TOY_CONFIG).read_text(encoding="utf-8"))["train"]["epochs"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def quick_train(cli, run_dir: str, *extra: str, epochs: int = 2):
    r = cli("train", "--config", TOY_CONFIG, "--set", f"train.epochs={epochs}", "--set", f"run.dir={run_dir}", *extra)
    assert r.code == 0, r.err
    return r


def losses(run_dir: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock field."""
    return [{k: v for k, v in rec.items() if k != "seconds"} for rec in read_jsonl(run_dir / "metrics.jsonl")]


def npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


# --- version and help -------------------------------------------------------------------


def test_version(cli):
    r = cli("--version")
    assert (r.code, r.out, r.err) == (0, f"rnncli {rnncli.__version__}\n", "")


# The commands the CLI must have, plus any others registered on the app (so new ones get checked too).
REQUIRED_COMMANDS = [[], ["train"], ["evaluate"], ["predict"], ["summary"], ["vocab"], ["vocab", "build"],
                     ["config"], ["config", "show"], ["config", "validate"], ["config", "keys"]]


def all_commands() -> list[list[str]]:
    import typer.main

    from rnncli.cli import load_commands

    def walk(cmd, path):
        yield path
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    found = list(walk(typer.main.get_command(load_commands()), []))
    return REQUIRED_COMMANDS + [c for c in found if c not in REQUIRED_COMMANDS]


@pytest.mark.parametrize("command", all_commands(), ids=lambda c: " ".join(c) or "rnn")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_of_every_command(cli, command, flag):
    r = cli(*command, flag)
    assert r.code == 0, r.err
    assert r.err == ""
    assert r.out.startswith(f"Usage: rnn {' '.join(command)}".rstrip()), r.out
    assert "Options:" in r.out and "--help" in r.out


@pytest.mark.parametrize("command", [["train"], ["evaluate"], ["predict"], ["summary"], ["vocab", "build"],
                                     ["config", "show"], ["config", "validate"]])
def test_help_has_an_example(cli, command):
    r = cli(*command, "--help")
    assert r.code == 0
    assert "Example" in r.out


# --- train -------------------------------------------------------------------------------

@pytest.mark.parametrize("group", [[], ["vocab"], ["config"], ["data"]])
def test_no_command_prints_the_help_on_stderr(cli, group):
    r = cli(*group)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith(f"Usage: rnn {' '.join(group)}".rstrip()) and "Commands:" in r.err
    assert "Error" not in r.err and "hint" not in r.err


def test_command_modules_name_every_command():
    from rnncli.cli import COMMAND_MODULES

    assert {c[0] for c in all_commands() if c} == set(COMMAND_MODULES)


@pytest.mark.parametrize("args, loaded", [
    (["-q", "predict", "--help"], ["predict_cmd"]),
    (["vocab", "build", "--help"], ["vocab_cmd"]),
    (["--help"], None),  # every command, for the list
    (["predct"], None),  # a typo: every command, so that Typer can suggest the right one
])
def test_a_command_loads_only_its_module(args, loaded):
    """`rnn NAME` imports NAME's command module alone (start-up time), in a fresh interpreter."""
    from rnncli.cli import COMMAND_MODULES

    code = ("import sys\nfrom rnncli.cli import run\nrun(sys.argv[1:])\n"
            "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.endswith('_cmd')), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    expected = sorted(COMMAND_MODULES.values()) if loaded is None else loaded
    assert proc.stderr.strip().splitlines()[-1] == repr(expected)



def test_train_json_lines(trained_toy):
    r = trained_toy.result
    records = r.jsonl()  # every stdout line is one JSON object
    assert len(records) == len(r.out.splitlines())
    epochs, done = records[:-1], records[-1]
    n = toy_epochs()
    assert [e["event"] for e in epochs] == ["epoch"] * n
    assert [e["epoch"] for e in epochs] == list(range(1, n + 1))
    for e in epochs:
        assert EPOCH_KEYS <= e.keys()
        assert math.isfinite(e["train_loss"]) and math.isfinite(e["dev_loss"])
        assert 0.0 <= e["train_accuracy"] <= 1.0 and 0.0 <= e["dev_accuracy"] <= 1.0
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert epochs[-1]["dev_accuracy"] >= 0.9
    assert done["event"] == "done"
    assert done["run_dir"] == str(TOY_RUN)
    assert isinstance(done["num_params"], int) and done["num_params"] > 0
    assert "Traceback" not in r.err


def test_train_json_matches_metrics_file(trained_toy):
    epochs = [{k: v for k, v in rec.items() if k != "event"} for rec in trained_toy.result.jsonl()[:-1]]
    assert read_jsonl(trained_toy.run_dir / "metrics.jsonl") == epochs


def test_train_num_params_matches_summary(cli, trained_toy):
    done = trained_toy.result.jsonl()[-1]
    r = cli("summary", "--model", trained_toy.run_dir, "--json")
    assert r.code == 0, r.err
    assert r.json()["total"] == done["num_params"]


def test_run_directory_contents(cli, trained_toy):
    run = trained_toy.run_dir
    names = set(os.listdir(run))  # os.listdir also lists hidden temp files (.weights.npz.xyz.tmp)
    assert names == RUN_FILES
    assert not [n for n in names if n.endswith(".tmp")]
    assert not list(trained_toy.workspace.rglob("*.tmp"))
    meta = json.loads((run / "run.json").read_text())
    assert meta["format"] == "rnncli-run" and meta["version"] == 2
    assert meta["epochs_done"] == toy_epochs()
    assert meta["labels"] == ["0", "1"]
    assert len((run / "metrics.jsonl").read_text().splitlines()) == toy_epochs()
    # config.yaml is the resolved config, exactly what `config show --json` prints.
    shown = cli("config", "show", REPO / TOY_CONFIG, "--json")
    assert shown.code == 0
    assert yaml.safe_load((run / "config.yaml").read_text()) == shown.json()
    # weights.npz holds exactly the tensors `summary --model` lists, with their shapes.
    summary = cli("summary", "--model", run, "--json").json()
    weights = npz(run / "weights.npz")
    assert {p["name"]: p["shape"] for p in summary["parameters"]} == {k: list(v.shape) for k, v in weights.items()}
    vocab = json.loads((run / "vocab.json").read_text())
    assert vocab["tokens"][:2] == ["<pad>", "<unk>"]
    assert len(vocab["tokens"]) == meta["model"]["vocab_size"]


def test_train_table_output(cli, workspace):
    r = quick_train(cli, "runs/table", epochs=1)
    assert "Training sentiment-toy" in r.out
    assert "Saved runs/table" in r.out
    assert "train_loss" in r.out
    assert not r.out.lstrip().startswith("{")
    assert "Traceback" not in r.err


def test_set_overrides_epochs(cli, workspace):
    r = cli("train", "--config", TOY_CONFIG, "--json", "--set", "train.epochs=2", "--set", "run.dir=runs/two")
    assert r.code == 0, r.err
    records = r.jsonl()
    assert [rec["event"] for rec in records] == ["epoch", "epoch", "done"]
    assert records[-1]["run_dir"] == "runs/two"
    run = workspace / "runs" / "two"
    assert json.loads((run / "run.json").read_text())["epochs_done"] == 2
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 2
    assert len(read_jsonl(run / "metrics.jsonl")) == 2
    assert not (workspace / TOY_RUN).exists()  # run.dir override honoured


def test_set_unknown_key(cli, workspace):
    r = cli("train", "--config", TOY_CONFIG, "--set", "train.epoch=2")
    assert_user_error(r, ExitCode.CONFIG, "unknown key 'train.epoch'", "did you mean 'train.epochs'?")
    assert not (workspace / "runs").exists()


def test_set_without_equals(cli, workspace):
    r = cli("train", "--config", TOY_CONFIG, "--set", "train.epochs")
    assert_user_error(r, ExitCode.USAGE, "--set expects KEY=VALUE", "'train.epochs'")
    assert not (workspace / "runs").exists()


def test_set_invalid_value_points_at_command_line(cli, workspace):
    r = cli("train", "--config", TOY_CONFIG, "--set", "model.cell=lstn")
    assert_user_error(r, ExitCode.CONFIG, "model.cell", "did you mean 'lstm'?", "(from --set)")


def test_set_accepts_exponent_floats(cli, workspace):
    r = cli("config", "show", TOY_CONFIG, "--json", "--set", "train.lr=1e-3")
    assert r.code == 0, r.err
    assert r.json()["train"]["lr"] == pytest.approx(1e-3)


def test_run_dir_exists_needs_force(cli, workspace):
    quick_train(cli, "runs/x", epochs=1)
    sentinel = workspace / "runs" / "x" / "sentinel.txt"
    sentinel.write_text("keep me")
    r = cli("train", "--config", TOY_CONFIG, "--set", "train.epochs=2", "--set", "run.dir=runs/x")
    assert_user_error(r, ExitCode.RUN, "runs/x already exists", "--force")
    assert sentinel.exists()  # nothing was touched
    assert len(read_jsonl(workspace / "runs" / "x" / "metrics.jsonl")) == 1

    r = cli("train", "--config", TOY_CONFIG, "--set", "train.epochs=2", "--set", "run.dir=runs/x", "--force")
    assert r.code == 0, r.err
    assert not sentinel.exists()  # replaced, not merged
    assert set(os.listdir(workspace / "runs" / "x")) == RUN_FILES
    assert len(read_jsonl(workspace / "runs" / "x" / "metrics.jsonl")) == 2


def test_same_seed_same_run_other_seed_differs(cli, workspace):
    quick_train(cli, "runs/a", epochs=3)
    quick_train(cli, "runs/b", epochs=3)
    quick_train(cli, "runs/c", "--set", "train.seed=1", epochs=3)
    a, b, c = (workspace / "runs" / n for n in "abc")
    assert losses(a) == losses(b)
    assert len(losses(a)) == 3
    wa, wb, wc = npz(a / "weights.npz"), npz(b / "weights.npz"), npz(c / "weights.npz")
    assert wa.keys() == wb.keys() == wc.keys()
    for k in wa:
        assert wa[k].dtype == np.float32
        np.testing.assert_array_equal(wa[k], wb[k])
    oa, ob = npz(a / "checkpoint.npz"), npz(b / "checkpoint.npz")
    oa.pop("meta"), ob.pop("meta")  # holds wall-clock seconds
    assert oa.keys() == ob.keys()
    for k in oa:
        np.testing.assert_array_equal(oa[k], ob[k])
    assert [e["train_loss"] for e in losses(a)] != [e["train_loss"] for e in losses(c)]
    assert any(not np.array_equal(wa[k], wc[k]) for k in wa)


def test_train_diverged(cli, workspace):
    r = cli("train", "--config", TOY_CONFIG, "--set", "train.lr=1.0e+30", "--set", "train.optimizer=sgd",
            "--set", "train.epochs=2", "--set", "run.dir=runs/div")
    assert_user_error(r, ExitCode.DIVERGED, "training diverged at epoch 1, step", "train.lr")
    # Which rule fires first (an overflow, a NaN, the loss bound) depends on the CPU's kernels; that one does not.
    assert "No epoch finished, so runs/div was removed." in r.err
    assert "Warning" not in r.err and "Traceback" not in r.err
    assert not (workspace / "runs" / "div").exists()


def test_a_loss_that_grows_a_millionfold_is_divergence_while_every_float_is_finite(cli, workspace, monkeypatch):
    """Rule 3 of rnncli.training.divergence, with no inf or NaN anywhere: the loss itself is the evidence."""
    import rnncli.training.train as train_module

    real, calls = train_module.loss_and_grads, {"n": 0}

    def growing(*args, **kwargs):
        loss, grads, logits, cache = real(*args, **kwargs)
        calls["n"] += 1
        return loss * (1e6 if calls["n"] >= 5 else 1.0), grads, logits, cache

    monkeypatch.setattr(train_module, "loss_and_grads", growing)
    r = cli("train", "--config", TOY_CONFIG, "--set", "train.epochs=2", "--set", "run.dir=runs/grow")
    # steps 5 … 14 are above the bound: the tenth of them in a row is divergence
    assert_user_error(r, ExitCode.DIVERGED, "training diverged at epoch 1, step 14: the loss is ", "train.lr")
    assert "above the bound of " in r.err and "(10000 × max(1, the first step's loss " in r.err
    assert ") for 10 steps in a row" in r.err
    assert not (workspace / "runs" / "grow").exists()


def test_one_batch_far_above_the_bound_is_a_spike_not_divergence(cli, workspace, monkeypatch):
    """The IRNN of the adding experiment meets one batch whose loss is 10^7 times its first, and recovers."""
    import rnncli.training.train as train_module

    real, calls = train_module.loss_and_grads, {"n": 0}

    def spiking(*args, **kwargs):
        loss, grads, logits, cache = real(*args, **kwargs)
        calls["n"] += 1
        return loss * (1e7 if calls["n"] in (5, 7, 8) else 1.0), grads, logits, cache

    monkeypatch.setattr(train_module, "loss_and_grads", spiking)
    r = cli("train", "--config", TOY_CONFIG, "--set", "train.epochs=1", "--set", "run.dir=runs/spike")
    assert r.code == 0, r.err
    assert (workspace / "runs" / "spike" / "weights.npz").exists()


def test_the_loss_bound_is_relative_to_the_first_step():
    from rnncli.training import divergence

    grads = {"w": np.ones(3)}
    last = divergence.HIGH_STEPS - 1  # steps in a row above the bound before this one
    assert divergence.check_step(5.0, 1.0, grads, None, last) is None  # the first step sets the scale
    assert divergence.check_step(9_999.0, 1.0, grads, 0.5, last) is None  # floor of 1
    assert divergence.check_step(10_001.0, 1.0, grads, 0.5, last).startswith("the loss is 1e+04, above the bound of 1e+04")
    assert divergence.check_step(10_001.0, 1.0, grads, 0.5, last - 1) is None  # not yet HIGH_STEPS in a row
    assert divergence.check_step(1e9, 1.0, grads, 2e5, last) is None  # a large first loss (exploding ReLU) scales it
    assert divergence.check_step(3e9, 1.0, grads, 2e5, last) is not None
    assert divergence.check_step(float("nan"), 1.0, {"w": np.array([np.inf])}, 0.5) == \
        "the loss is nan and the gradient of w is not finite"


def test_train_missing_data_file(cli, workspace):
    r = cli("train", "--config", TOY_CONFIG, "--set", "data.train=datasets/toy/nope.tsv")
    assert_user_error(r, ExitCode.DATA, "datasets/toy/nope.tsv: no such file")
    assert not (workspace / "runs").exists()


def test_train_wrong_column_name(cli, workspace):
    cfg = write(workspace / "col.yaml", "data:\n  train: datasets/toy/sentiment.tsv\n  text_field: review\n")
    r = cli("train", "--config", cfg)
    assert_user_error(r, ExitCode.DATA, "no column named 'review'", "the file has columns: 'text', 'label'")
    assert not (workspace / "runs").exists()


def test_train_interrupted(cli, workspace, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("rnncli.training.train.train", interrupted)
    r = cli("train", "--config", TOY_CONFIG)
    assert r.code == ExitCode.INTERRUPTED
    assert "Traceback" not in r.err
    assert r.out == ""
    assert not (workspace / "runs").exists()


def test_broken_pipe_is_not_an_error(toy_run, tmp_path):
    """`rnn predict - --json < big.txt | head -1`: the reader leaves early; rnn ends quietly with 0."""
    big = tmp_path / "big.txt"
    big.write_bytes(b"movie was good\n" * 20000)
    with big.open("rb") as stdin:  # predict streams: a test writing all its input first would wait on our output
        proc = subprocess.Popen([sys.executable, "-m", "rnncli", "predict", "-", "--json", "--model", str(toy_run)],
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # like `head -1` exiting
    err = proc.stderr.read().decode()
    assert json.loads(first)["label"] == "1"
    assert proc.wait(timeout=60) == ExitCode.OK, err
    assert "Traceback" not in err and "Error" not in err


def test_unexpected_error_is_exit_1_without_traceback(cli, workspace, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("rnncli.training.train.train", broken)
    r = cli("train", "--config", TOY_CONFIG)
    assert_user_error(r, ExitCode.UNEXPECTED, "unexpected RuntimeError: boom", "--verbose")
    with pytest.raises(RuntimeError, match="boom"):
        cli("--verbose", "train", "--config", TOY_CONFIG)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_written_files_respect_umask(cli, workspace):
    old = os.umask(0o022)
    try:
        quick_train(cli, "runs/perm", epochs=1)
        assert cli("vocab", "build", "datasets/toy/sentiment.tsv", "--out", "v.json").code == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in [*(workspace / "runs" / "perm").iterdir(), workspace / "v.json"]}
    assert modes == {name: 0o644 for name in modes}


# --- predict -----------------------------------------------------------------------------


def test_predict_lecture_sentences(cli, toy_run):
    r = cli("predict", "--model", toy_run, "--json", "movie was good", "movie was not good")
    assert r.code == 0, r.err
    good, not_good = r.jsonl()
    assert len(r.out.splitlines()) == 2
    assert set(good) == PREDICT_KEYS and set(not_good) == PREDICT_KEYS
    assert (good["text"], good["label"]) == ("movie was good", "1")
    assert (not_good["text"], not_good["label"]) == ("movie was not good", "0")
    assert good["tokens"] == ["movie", "was", "good"]
    assert not_good["tokens"] == ["movie", "was", "not", "good"]
    itos = json.loads((toy_run / "vocab.json").read_text())["tokens"]
    for p in (good, not_good):
        assert p["ids"] == [itos.index(t) for t in p["tokens"]]
        assert set(p["scores"]) == {"0", "1"}
        assert sum(p["scores"].values()) == pytest.approx(1.0)
        assert p["label"] == max(p["scores"], key=p["scores"].get)
        assert p["scores"][p["label"]] > 0.5


def test_predict_unknown_word_has_id_1(cli, toy_run):
    r = cli("predict", "--model", toy_run, "--json", "Movie was ZZQXW")
    assert r.code == 0, r.err
    (p,) = r.jsonl()
    assert p["text"] == "Movie was ZZQXW"  # as given
    assert p["tokens"] == ["movie", "was", "zzqxw"]  # lowercased, as in training
    assert p["ids"][2] == 1
    assert p["ids"][0] > 1 and p["ids"][1] > 1


def test_predict_table(cli, toy_run):
    r = cli("predict", "--model", toy_run, "movie was good", "movie was not good")
    assert r.code == 0, r.err
    rows = {line.split("│")[0].strip(): line for line in r.out.splitlines() if "│" in line}
    assert rows.keys() == {"movie was good", "movie was not good"}
    assert rows["movie was good"].split("│")[1].strip() == "1"
    assert rows["movie was not good"].split("│")[1].strip() == "0"
    assert "label" in r.out and "probability" in r.out


def test_table_cells_are_plain_text_not_markup(cli, toy_run):
    r = cli("predict", "--model", toy_run, "[b]movie[/b] was good")
    assert r.code == 0, r.err
    assert "[b]movie[/b] was good" in r.out


def test_predict_stdin_lines(cli, toy_run):
    stdin = "movie was good\n\n   \nmovie was not good\r\nZZQXW\n"
    r = cli("predict", "--model", toy_run, "--json", "-", stdin=stdin)
    assert r.code == 0, r.err
    preds = r.jsonl()
    assert [p["text"] for p in preds] == ["movie was good", "movie was not good", "ZZQXW"]
    assert [p["label"] for p in preds[:2]] == ["1", "0"]
    assert preds[2]["ids"] == [1]


@pytest.mark.parametrize("stdin", ["", "\n\n  \n"], ids=["empty", "blank-lines"])
def test_predict_empty_stdin(cli, toy_run, stdin):
    r = cli("predict", "--model", toy_run, "-", stdin=stdin)
    assert_user_error(r, ExitCode.USAGE, "no input", "stdin was empty")


def test_predict_text_without_tokens(cli, toy_run):
    r = cli("predict", "--model", toy_run, "   ")
    assert_user_error(r, ExitCode.USAGE, "has no tokens")  # empty input, as docs/exit-codes.md says


def test_predict_uses_newest_run(cli, workspace):
    quick_train(cli, "runs/older", epochs=1)
    quick_train(cli, "runs/newer", epochs=1)
    os.utime(workspace / "runs/older/weights.npz", ns=(1_000_000_000, 1_000_000_000))  # make the order explicit
    r = cli("predict", "--json", "movie was good")
    assert r.code == 0, r.err
    assert r.err.strip() == f"using the newest run: {Path('runs') / 'newer'}"
    assert r.jsonl()[0]["text"] == "movie was good"
    q = cli("--quiet", "predict", "--json", "movie was good")
    assert q.code == 0 and q.err == ""
    assert q.out == r.out


def test_predict_without_runs(cli, workspace):
    r = cli("predict", "movie was good")
    assert_user_error(r, ExitCode.RUN, "no trained model found under runs/", "rnn train")
    (workspace / "runs").mkdir()
    r = cli("predict", "movie was good")
    assert_user_error(r, ExitCode.RUN, "no trained model found under runs/")


# --- evaluate ----------------------------------------------------------------------------


def test_evaluate_json(cli, toy_run):
    dev = REPO / "datasets/toy/sentiment-dev.tsv"
    r = cli("evaluate", "--model", toy_run, "--data", dev, "--json")
    assert r.code == 0, r.err
    ev = r.json()
    assert {"loss", "accuracy", "per_class", "confusion", "labels", "n"} <= ev.keys()
    rows = data_rows(dev)
    assert ev["n"] == len(rows)
    assert ev["labels"] == ["0", "1"]
    support = {lab: sum(1 for _, y in rows if y == lab) for lab in ev["labels"]}
    assert [c["label"] for c in ev["per_class"]] == ev["labels"]
    assert {c["label"]: c["support"] for c in ev["per_class"]} == support
    for c in ev["per_class"]:
        assert set(c) == {"label", "precision", "recall", "f1", "support"}
    cm = np.array(ev["confusion"])
    assert cm.shape == (2, 2) and cm.sum() == ev["n"]
    assert cm.sum(axis=1).tolist() == [support["0"], support["1"]]
    assert ev["accuracy"] == pytest.approx(np.trace(cm) / ev["n"])
    assert ev["accuracy"] >= 0.9
    assert 0.0 <= ev["loss"] < 0.5


def test_evaluate_exact_metrics(cli, toy_run, tmp_path):
    # Predictions are known (the lecture facts): "movie was good" → 1, "movie was not good" → 0.
    data = write(tmp_path / "eval.tsv", "text\tlabel\nmovie was good\t1\nmovie was not good\t0\nmovie was good\t0\n")
    r = cli("evaluate", "--model", toy_run, "--data", data, "--json")
    assert r.code == 0, r.err
    ev = r.json()
    assert ev["n"] == 3
    assert ev["confusion"] == [[1, 1], [0, 1]]
    assert ev["accuracy"] == pytest.approx(2 / 3)
    c0, c1 = ev["per_class"]
    assert (c0["precision"], c0["recall"], c0["f1"], c0["support"]) == pytest.approx((1.0, 0.5, 2 / 3, 2))
    assert (c1["precision"], c1["recall"], c1["f1"], c1["support"]) == pytest.approx((0.5, 1.0, 2 / 3, 1))
    assert ev["macro_f1"] == pytest.approx(2 / 3)


def test_evaluate_table(cli, toy_run):
    r = cli("evaluate", "--model", toy_run, "--data", REPO / "datasets/toy/sentiment-dev.tsv")
    assert r.code == 0, r.err
    for word in ("loss", "accuracy", "macro F1", "precision", "recall", "support", "true \\ predicted"):
        assert word in r.out


def test_evaluate_missing_data(cli, toy_run, workspace):
    r = cli("evaluate", "--model", toy_run, "--data", "nope.tsv")
    assert_user_error(r, ExitCode.DATA, "nope.tsv: no such file")


def test_evaluate_wrong_column(cli, toy_run, tmp_path):
    data = write(tmp_path / "cols.tsv", "sentence\tlabel\nmovie was good\t1\n")
    r = cli("evaluate", "--model", toy_run, "--data", data)
    assert_user_error(r, ExitCode.DATA, "no column named 'text'", "'sentence', 'label'")


def test_evaluate_unknown_label(cli, toy_run, tmp_path):
    data = write(tmp_path / "labels.tsv", "text\tlabel\nmovie was good\tpos\n")
    r = cli("evaluate", "--model", toy_run, "--data", data)
    assert_user_error(r, ExitCode.DATA, "unknown label 'pos'", "'0', '1'")


# --- broken run directories ------------------------------------------------------------


def test_missing_run_dir(cli, workspace):
    r = cli("predict", "--model", "runs/nope", "movie was good")
    assert_user_error(r, ExitCode.RUN, "runs/nope is not a usable run directory: it does not exist")


def test_run_dir_is_a_file(cli, workspace):
    write(workspace / "file", "x")
    r = cli("evaluate", "--model", "file", "--data", "datasets/toy/sentiment-dev.tsv")
    assert_user_error(r, ExitCode.RUN, "it is a file, not a directory")


@pytest.mark.parametrize("missing", ["weights.npz", "run.json", "vocab.json", "config.yaml"])
def test_incomplete_run_dir(cli, run_copy, missing):
    (run_copy / missing).unlink()
    r = cli("predict", "--model", run_copy, "movie was good")
    assert_user_error(r, ExitCode.RUN, f"it is incomplete (missing {missing})", "rnn train")


@pytest.mark.parametrize("file", ["weights.npz", "weights-best.npz"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "wrong-shape"])
def test_corrupt_weights(cli, run_copy, damage, file):
    weights = run_copy / file
    last = ["--last"] if file == "weights.npz" else []  # the best weights are used unless --last
    raw = weights.read_bytes()
    if damage == "truncated":
        weights.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        weights.write_bytes(b"this is not a zip file\n")
    elif damage == "empty":
        weights.write_bytes(b"")
    else:
        arrays = npz(weights)
        arrays["head.W"] = arrays["head.W"][:, :2]
        with open(weights, "wb") as f:
            np.savez(f, **arrays)
    r = cli("predict", "--model", run_copy, *last, "movie was good")
    problem = "does not match the model in run.json" if damage == "wrong-shape" else f"{file} is corrupt or truncated"
    assert_user_error(r, ExitCode.RUN, "is not a usable run directory", problem)
    r = cli("evaluate", "--model", run_copy, *last, "--data", REPO / "datasets/toy/sentiment-dev.tsv")
    assert_user_error(r, ExitCode.RUN, problem)


def test_run_json_other_version(cli, run_copy):
    meta = json.loads((run_copy / "run.json").read_text())
    meta["version"] = 1
    (run_copy / "run.json").write_text(json.dumps(meta))
    r = cli("predict", "--model", run_copy, "movie was good")
    assert_user_error(r, ExitCode.RUN, "run format version 1", "reads version 2", "retrain")


def test_run_json_corrupt(cli, run_copy):
    (run_copy / "run.json").write_text("{not json")
    r = cli("summary", "--model", run_copy)
    assert_user_error(r, ExitCode.RUN, "run.json is corrupt")


@pytest.mark.parametrize("file", ["run.json", "weights.npz"])
def test_a_damaged_run_file_is_named_and_resume_writes_it_again(cli, run_copy, file):
    (run_copy / file).write_text("{not json")
    r = cli("predict", "--model", run_copy, "--last", "movie was good")
    assert_user_error(r, ExitCode.RUN, f"{file} is corrupt", f"hint: `rnn train --resume {run_copy}` writes {file} "
                      "again from checkpoint.npz; or retrain with `rnn train --config")
    assert "train a model first" not in r.err
    assert cli("train", "--resume", run_copy).code == 0
    assert cli("predict", "--model", run_copy, "--last", "movie was good").code == 0


def test_a_damaged_vocabulary_names_the_file_and_the_fix(cli, run_copy):
    (run_copy / "vocab.json").write_text("[]")
    r = cli("predict", "--model", run_copy, "movie was good")
    assert_user_error(r, ExitCode.RUN, "vocab.json is unreadable", "hint: restore it from a copy, or retrain with "
                      f"`rnn train --config {run_copy}/config.yaml --set run.dir={run_copy} --force`.")


def test_missing_best_weights_are_an_error_not_a_silent_switch(cli, run_copy):
    """A run that recorded a best epoch never quietly predicts with other weights."""
    best = json.loads((run_copy / "run.json").read_text())["best"]
    (run_copy / "weights-best.npz").unlink()
    for command in (["predict", "movie was good"], ["evaluate", "--data", REPO / "datasets/toy/sentiment-dev.tsv"]):
        r = cli(command[0], "--model", run_copy, *command[1:])
        assert_user_error(r, ExitCode.RUN, f"run.json records epoch {best['epoch']} as its best",
                          "but weights-best.npz is missing", "with --last")
        r = cli(command[0], "--model", run_copy, "--last", *command[1:])
        assert r.code == 0, r.err
        assert "weights-best.npz is missing; using weights.npz (--last)" in r.err
    assert cli("summary", "--model", run_copy).code == 0  # shapes only: no weights needed


# --- output that ends early, and as it comes ------------------------------------------------------------


class ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("args", [["grad-norms", "--config", TOY_CONFIG], ["config", "show", TOY_CONFIG],
                                  ["summary", "--config", TOY_CONFIG]], ids=["grad-norms", "config-show", "summary"])
def test_a_reader_that_leaves_early_is_not_an_error(workspace, args):
    """`rnn grad-norms … | head`: a broken pipe ends the command quietly with 0, in rich tables too."""
    err = io.StringIO()
    with contextlib.redirect_stdout(ClosedPipe()), contextlib.redirect_stderr(err):
        code = main(args)
    assert code == ExitCode.OK, err.getvalue()
    assert err.getvalue() == ""


def test_predict_answers_each_line_as_it_arrives(toy_run, tmp_path):
    """`tail -f log | rnn predict - --json`: a line is answered before stdin closes."""
    proc = subprocess.Popen([sys.executable, "-m", "rnncli", "predict", "-", "--json", "--model", str(toy_run)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        for text, label in (("movie was good", "1"), ("movie was not good", "0")):
            proc.stdin.write(f"{text}\n".encode())
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, f"no answer to {text!r} while stdin stays open"
            answer = json.loads(proc.stdout.readline())
            assert (answer["text"], answer["label"]) == (text, label)
        assert proc.poll() is None  # still waiting for input
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        assert proc.stdout.read() == b""
    finally:
        proc.kill()


def test_with_a_progress_bar_on_the_terminal_the_rows_still_go_to_stdout(workspace):
    """stderr a terminal (the bar), stdout a file or pipe: every epoch's row reaches stdout, none the terminal."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "rnncli", "train", "--config", TOY_CONFIG, "--set", "train.epochs=3"],
                              cwd=workspace, stdout=subprocess.PIPE, stderr=follower, timeout=120)
        os.close(follower)
        screen = b""
        while select.select([leader], [], [], 0.5)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(leader)
    assert proc.returncode == 0
    rows = [line for line in proc.stdout.decode().splitlines() if line[:1].isdigit()]
    assert [r.split()[0] for r in rows] == ["1", "2", "3"]
    assert "0.7315" not in screen.decode(errors="replace")  # epoch 1's train_loss is not on the terminal


def test_sigterm_ends_any_command_with_143(toy_run, tmp_path):
    """Outside training there is nothing to save: SIGTERM ends the command as Ctrl-C does, exit 143."""
    proc = subprocess.Popen([sys.executable, "-m", "rnncli", "predict", "-", "--json", "--model", str(toy_run)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        proc.stdin.write(b"movie was good\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready and json.loads(proc.stdout.readline())["label"] == "1"  # started, and waiting for more input
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == ExitCode.TERMINATED
        err = proc.stderr.read().decode()
        assert err == "Terminated.\n"
    finally:
        proc.kill()


def test_an_input_with_no_known_token_is_flagged(cli, toy_run):
    r = cli("predict", "--model", toy_run, "--json", "-", stdin="zzq xxw\nmovie was zzq\n")
    assert r.code == 0, r.err
    unknown, partly = r.jsonl()
    assert (unknown["unknown"], partly["unknown"]) == (2, 1)
    assert r.err == "input 1 ('zzq xxw') has no token the model knows (all <unk>): its prediction says nothing " \
                    "about the text.\n"
    table = cli("predict", "--model", toy_run, "zzq")
    assert table.code == 0 and "has no token the model knows" in table.err


def test_predict_streams_a_table_from_stdin(cli, toy_run):
    r = cli("predict", "--model", toy_run, "-", stdin="movie was good\nmovie was not good\n")
    assert r.code == 0, r.err
    head, rule, good, not_good = r.out.splitlines()
    assert head.split() == ["text", "┃", "label", "┃", "probability"] and set(rule) <= {"━", "╇"}
    assert good.startswith("movie was good │     1 │ ") and not_good.startswith("movie was not good │     0 │ ")


def test_numpy_warnings_become_one_note(cli, run_copy):
    """Weights of 1e30 overflow float32 in predict: the user sees a note, never a raw RuntimeWarning."""
    arrays = npz(run_copy / "weights-best.npz")
    with open(run_copy / "weights-best.npz", "wb") as f:
        np.savez(f, **{k: v * np.float32(1e30) for k, v in arrays.items()})
    r = cli("predict", "--model", run_copy, "--json", "movie was good")
    assert r.code == 0, r.err
    assert "RuntimeWarning" not in r.err and "Traceback" not in r.err
    assert r.err.startswith("NumPy reported ") and "encountered in" in r.err
    assert r.err.endswith(": some of the numbers above may be inf or NaN.\n")


def test_shell_completion(workspace):
    shown = subprocess.run([sys.executable, "-m", "rnncli", "--show-completion", "bash"], capture_output=True, text=True,
                           env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})  # Typer's
    # own switch: the shell is named on the command line instead of detected from the parent processes
    assert shown.returncode == 0, shown.stderr
    assert "_RNN_COMPLETE=complete_bash" in shown.stdout
    env = {**os.environ, "_RNN_COMPLETE": "complete_bash", "COMP_WORDS": "rnn pre", "COMP_CWORD": "1"}
    done = subprocess.run([sys.executable, "-m", "rnncli"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.split() == ["predict"], done
    env.update(COMP_WORDS="rnn train --re", COMP_CWORD="2")
    done = subprocess.run([sys.executable, "-m", "rnncli"], capture_output=True, text=True, env=env)
    assert done.stdout.split() == ["--resume"], done


# --- summary -----------------------------------------------------------------------------

LECTURE_PARAMS = [
    {"name": "rnn.l0.W_ih", "shape": [3, 5], "count": 15},
    {"name": "rnn.l0.W_hh", "shape": [3, 3], "count": 9},
    {"name": "rnn.l0.b", "shape": [3], "count": 3},
    {"name": "head.W", "shape": [1, 3], "count": 3},
    {"name": "head.b", "shape": [1], "count": 1},
]


def test_summary_seed_params_is_31(cli, workspace):
    r = cli("summary", "--config", "configs/seed-params.yaml", "--json")
    assert r.code == 0, r.err
    s = r.json()
    assert s["total"] == 31
    assert s["parameters"] == LECTURE_PARAMS


def test_summary_lecture_model_from_its_three_sentences(cli, workspace):
    data = write(workspace / "lecture.tsv", "text\tlabel\nmovie was good\t1\nmovie was bad\t0\nmovie was not good\t0\n")
    r = cli("summary", "--config", "configs/seed-params.yaml", "--set", f"data.train={data}", "--json")
    assert r.code == 0, r.err
    s = r.json()
    assert s["total"] == 31
    assert s["parameters"] == LECTURE_PARAMS
    assert s["model"]["vocab_size"] == 7 and s["model"]["input"] == "onehot"
    t = cli("summary", "--config", "configs/seed-params.yaml", "--set", f"data.train={data}")
    assert t.code == 0
    assert "31" in t.out.splitlines()[-1] and "rnn.l0.W_ih" in t.out and "3×5" in t.out


def test_summary_of_trained_run(cli, toy_run):
    r = cli("summary", "--model", toy_run, "--json")
    assert r.code == 0, r.err
    s = r.json()
    assert s["total"] == sum(p["count"] for p in s["parameters"])
    assert all(p["count"] == math.prod(p["shape"]) for p in s["parameters"])
    meta = json.loads((toy_run / "run.json").read_text())
    assert s["model"] == meta["model"]


@pytest.mark.parametrize("args", [[], ["--config", "configs/sentiment-toy.yaml", "--model", "runs/x"]],
                         ids=["neither", "both"])
def test_summary_needs_one_source(cli, workspace, args):
    r = cli("summary", *args)
    assert_user_error(r, ExitCode.USAGE, "exactly one of --config FILE or --model RUN_DIR")


def test_summary_config_without_training_data(cli, workspace):
    cfg = write(workspace / "nodata.yaml", "model:\n  hidden_size: 3\n")
    r = cli("summary", "--config", cfg)
    assert_user_error(r, ExitCode.CONFIG, "sets no training data (data.train)")


# --- vocab build ------------------------------------------------------------------------


def test_vocab_build_matches_training_vocab(cli, workspace, toy_run):
    r = cli("vocab", "build", "datasets/toy/sentiment.tsv", "--out", "v.json", "--json")
    assert r.code == 0, r.err
    info = r.json()
    built = json.loads((workspace / "v.json").read_text())
    trained = json.loads((toy_run / "vocab.json").read_text())
    assert built["tokens"] == trained["tokens"]
    assert built["format"] == "rnncli-vocab"
    assert info["out"] == "v.json"
    assert info["size"] == len(built["tokens"])
    assert info["texts"] == len(data_rows(REPO / "datasets/toy/sentiment.tsv"))
    assert info["tokens"] == sum(built["counts"].values())
    assert info["coverage"] == 1.0
    assert info["top"] == built["tokens"][2:12]
    counts = [built["counts"][t] for t in built["tokens"][2:]]
    assert counts == sorted(counts, reverse=True)


def test_vocab_build_min_freq_and_max_size(cli, workspace):
    assert cli("vocab", "build", "datasets/toy/sentiment.tsv", "--out", "full.json").code == 0
    full = json.loads((workspace / "full.json").read_text())
    r = cli("vocab", "build", "datasets/toy/sentiment.tsv", "--out", "min2.json", "--min-freq", "2", "--json")
    assert r.code == 0, r.err
    kept = [t for t in full["tokens"][2:] if full["counts"][t] >= 2]
    assert json.loads((workspace / "min2.json").read_text())["tokens"] == ["<pad>", "<unk>", *kept]
    assert r.json()["size"] == 2 + len(kept)
    r = cli("vocab", "build", "datasets/toy/sentiment.tsv", "--out", "top3.json", "--max-size", "3", "--json")
    assert r.code == 0
    assert json.loads((workspace / "top3.json").read_text())["tokens"] == full["tokens"][:5]
    info = r.json()
    assert info["size"] == 5
    covered = sum(full["counts"][t] for t in full["tokens"][2:5])
    assert info["coverage"] == pytest.approx(covered / info["tokens"])


def test_vocab_build_table(cli, workspace):
    r = cli("vocab", "build", "datasets/toy/sentiment.tsv", "--out", "v.json")
    assert r.code == 0, r.err
    assert "size (incl. <pad>, <unk>)" in r.out and "v.json" in r.out
    assert (workspace / "v.json").is_file()


def test_vocab_build_missing_file(cli, workspace):
    r = cli("vocab", "build", "nope.tsv", "--out", "v.json")
    assert_user_error(r, ExitCode.DATA, "nope.tsv: no such file")
    assert not (workspace / "v.json").exists()


def test_vocab_build_unknown_tokenizer(cli, workspace):
    r = cli("vocab", "build", "datasets/toy/sentiment.tsv", "--out", "v.json", "--tokenizer", "bpe")
    assert_user_error(r, ExitCode.USAGE, "unknown tokenizer 'bpe'", "whitespace, word, char")


# --- config show | validate | keys ---------------------------------------------------------


def test_config_show_json_and_yaml_agree(cli, workspace):
    j = cli("config", "show", TOY_CONFIG, "--json")
    y = cli("config", "show", TOY_CONFIG)
    assert j.code == 0 and y.code == 0
    cfg = j.json()
    assert yaml.safe_load(y.out) == cfg
    # resolved = every schema default, overlaid with what the file sets
    rows = cli("config", "keys", "--json").json()
    expected: dict = {}
    for row in rows:
        *sections, leaf = row["key"].split(".")  # model.embeddings.path: a section within a section
        target = expected
        for section in sections:
            target = target.setdefault(section, {})
        target[leaf] = row["default"]
    for section, values in yaml.safe_load((REPO / TOY_CONFIG).read_text()).items():
        if isinstance(values, dict):
            expected[section].update(values)
        else:
            expected[section] = values
    assert cfg == expected
    assert cfg["data"]["train"] == "datasets/toy/sentiment.tsv"
    assert cfg["data"]["test"] is None and cfg["run"]["dir"] is None


def test_config_show_with_set(cli, workspace):
    r = cli("config", "show", TOY_CONFIG, "--set", "model.cell=gru", "--set", "train.lr=0.5", "--json")
    assert r.code == 0, r.err
    cfg = r.json()
    assert cfg["model"]["cell"] == "gru" and cfg["train"]["lr"] == 0.5
    assert cfg["model"]["hidden_size"] == 16  # untouched keys keep the file's values


def test_config_validate_repo_configs(cli):
    configs = sorted((REPO / "configs").glob("*.yaml"))
    assert configs
    r = cli("config", "validate", *configs, "--json")
    assert r.code == 0, r.out + r.err
    assert r.json() == [{"config": str(c), "valid": True, "problems": []} for c in configs]
    t = cli("config", "validate", *configs)
    assert t.code == 0 and t.err == ""
    assert t.out.count(" ok") == len(configs)


INVALID = "model:\n  cell: lstn\n  hidden_size: -1\ntrain:\n  batchsize: 4\n"


def test_config_validate_reports_every_problem(cli, workspace):
    bad = write(workspace / "inv.yaml", INVALID)
    r = cli("config", "validate", bad, TOY_CONFIG)
    assert_user_error(r, ExitCode.CONFIG, "inv.yaml is invalid (3 problems)", stdout_empty=False)
    lines = r.err_lines
    assert lines[1].split()[:1] == ["model.cell"] and "did you mean 'lstm'?" in lines[1]
    assert lines[2].split()[:1] == ["model.hidden_size"] and "must be >= 1; got -1" in lines[2]
    assert lines[3].split()[:1] == ["train.batchsize"] and "did you mean 'batch_size'?" in lines[3]
    assert "3 problem(s)" in r.out and " ok" in r.out

    j = cli("config", "validate", bad, TOY_CONFIG, "--json")
    assert j.code == ExitCode.CONFIG
    first, second = j.json()
    assert first["valid"] is False and second == {"config": TOY_CONFIG, "valid": True, "problems": []}
    assert [p["key"] for p in first["problems"]] == ["model.cell", "model.hidden_size", "train.batchsize"]


def test_train_invalid_config(cli, workspace):
    bad = write(workspace / "inv.yaml", INVALID)
    r = cli("train", "--config", bad)
    assert_user_error(r, ExitCode.CONFIG, "inv.yaml is invalid (3 problems)", "model.cell", "model.hidden_size",
                      "train.batchsize", "rnn config keys")


def test_config_keys(cli):
    r = cli("config", "keys", "--json")
    assert r.code == 0, r.err
    rows = {row["key"]: row for row in r.json()}
    assert rows["train.lr"]["default"] == 0.01 and rows["train.lr"]["range"] == "> 0"
    assert rows["model.cell"]["choices"] == ["rnn", "lstm", "gru"]
    assert rows["train.epochs"]["type"] == "int"
    assert all(row["help"] for row in rows.values())
    t = cli("config", "keys")
    assert t.code == 0
    assert all(key in t.out for key in rows)


# --- config errors -------------------------------------------------------------------------


def test_missing_config(cli, workspace):
    r = cli("train", "--config", "nope.yaml")
    assert_user_error(r, ExitCode.CONFIG, "config file nope.yaml not found")


def test_missing_config_did_you_mean(cli, workspace):
    r = cli("config", "show", "configs/sentiment-toy.yml")
    assert_user_error(r, ExitCode.CONFIG, "not found", "did you mean configs/sentiment-toy.yaml?")


def test_yaml_syntax_error(cli, workspace):
    bad = write(workspace / "bad.yaml", "data:\n  train: [a, b\nmodel: x\n")
    for command in (["train", "--config", bad], ["config", "show", bad], ["summary", "--config", bad]):
        r = cli(*command)
        assert_user_error(r, ExitCode.CONFIG, "bad.yaml is not valid YAML at line 3, column 6")


# --- usage errors (typer/click exceptions) ---------------------------------------------------


USAGE_ERRORS = {
    "unknown-option": (["train", "--config", TOY_CONFIG, "--bogus"], "No such option: --bogus"),
    "missing-option": (["evaluate"], "Missing option '--data'"),
    "train-without-config": (["train"], "rnn train needs --config FILE to start a run, or --resume RUN"),
    "missing-argument": (["export", "--format", "torch", "--out", "m.npz"], "Missing argument 'RUN'"),
    "predict-without-input": (["predict"], "rnn predict needs TEXT arguments, '-' for stdin, or --data FILE"),
    "unknown-command": (["trian"], "No such command 'trian'"),
    "bad-int": (["vocab", "build", "x.tsv", "--out", "v.json", "--min-freq", "zero"], "--min-freq"),
}


@pytest.mark.parametrize("args,message", USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_exit_2(cli, workspace, args, message):
    r = cli(*args)
    assert r.code == ExitCode.USAGE, r.err
    assert message in r.err
    assert "Traceback" not in r.err and "Error: unexpected" not in r.err and "this is a bug" not in r.err
    assert r.out == ""
    assert not (workspace / "runs").exists()


@pytest.mark.parametrize("args,message", USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_use_error_and_hint_lines(cli, workspace, args, message):
    assert_user_error(cli(*args), ExitCode.USAGE, message)


@pytest.mark.parametrize("command", [[], ["config"], ["vocab"]], ids=["rnn", "config", "vocab"])
def test_group_without_command_shows_help(cli, command):
    r = cli(*command)
    assert r.code in (ExitCode.OK, ExitCode.USAGE)
    assert f"Usage: rnn {' '.join(command)}".rstrip() in r.out + r.err
    assert "Commands:" in r.out + r.err
    assert "Error: unexpected" not in r.err and "this is a bug" not in r.err and "Traceback" not in r.err


# --- the real entry point, in a subprocess ------------------------------------------------


def run_module(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnncli", *map(str, args)], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_subprocess_version(tmp_path):
    p = run_module("--version", cwd=tmp_path)
    assert (p.returncode, p.stdout, p.stderr) == (0, f"rnncli {rnncli.__version__}\n", "")


def test_subprocess_predict_stdin_and_errors(toy_run, tmp_path):
    p = run_module("predict", "-", "--json", "--model", toy_run, cwd=tmp_path,
                   stdin="movie was good\n\nmovie was not good\n")
    assert p.returncode == 0, p.stderr
    preds = [json.loads(line) for line in p.stdout.splitlines()]
    assert [(x["text"], x["label"]) for x in preds] == [("movie was good", "1"), ("movie was not good", "0")]
    assert p.stderr == ""

    p = run_module("predict", "-", "--model", toy_run, cwd=tmp_path, stdin="")
    assert p.returncode == ExitCode.USAGE
    assert p.stderr.startswith("Error: ") and "Traceback" not in p.stderr

    p = run_module("evaluate", "--model", tmp_path / "nope", "--data", "x.tsv", cwd=tmp_path)
    assert p.returncode == ExitCode.RUN
    assert p.stderr.startswith("Error: ") and "\nhint: " in p.stderr and "Traceback" not in p.stderr
    assert p.stdout == ""


def test_console_script(tmp_path):
    script = shutil.which("rnn") or shutil.which("rnn", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the `rnn` console script is not installed on PATH")
    p = subprocess.run([script, "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, f"rnncli {rnncli.__version__}\n")
