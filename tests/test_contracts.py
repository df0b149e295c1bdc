"""Interface contracts: every exit code is reachable and tested, every command's --json output parses
and has the shape the table of docs/json-output.md documents, --quiet silences everything but results
and errors, and progress bars appear only on a terminal."""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path

import pytest
import typer.main

from rnncli.cli import load_commands, render
from rnncli.errors import ExitCode

REPO = Path(__file__).resolve().parent.parent
JSON_DOC = REPO / "docs/json-output.md"  # the JSON output table
TOY = "configs/sentiment-toy.yaml"
DEV = "datasets/toy/sentiment-dev.tsv"


# --- exit codes ---------------------------------------------------------------------------------


def _signal_at_once(signum):
    """Ctrl-C or SIGTERM as if it came during the first step (the real signals are tested in test_resume.py)."""

    def setup(monkeypatch):
        from rnncli.training.signals import InterruptGuard

        real_enter = InterruptGuard.__enter__

        def enter(self):
            real_enter(self)
            self.requested = signum
            return self

        monkeypatch.setattr(InterruptGuard, "__enter__", enter)

    return setup


def _crash(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("rnncli.training.train.train", broken)


# code -> (setup, argv, first stderr line starts with)
EXIT_CODES = {
    ExitCode.OK: (None, ["config", "show", TOY], ""),
    ExitCode.UNEXPECTED: (_crash, ["train", "--config", TOY], "Error: unexpected RuntimeError: boom"),
    ExitCode.USAGE: (None, ["train", "--config", TOY, "--set", "train.lr"], "Error: --set expects KEY=VALUE"),
    ExitCode.CONFIG: (None, ["train", "--config", "nope.yaml"], "Error: config file nope.yaml not found"),
    ExitCode.DATA: (None, ["train", "--config", TOY, "--set", "data.train=nope.tsv"], "Error: nope.tsv: no such file."),
    ExitCode.RUN: (None, ["predict", "--model", "runs/nope", "x"], "Error: runs/nope is not a usable run directory"),
    ExitCode.DIVERGED: (None, ["train", "--config", TOY, "--set", "train.lr=1e30", "--set", "train.optimizer=sgd"],
                        "Error: training diverged at epoch 1, step "),
    ExitCode.INTERRUPTED: (_signal_at_once(signal.SIGINT), ["train", "--config", TOY],
                           "Interrupted: training stopped in epoch 1 (batch 1 of 23), step 1; runs/sentiment-toy holds"),
    ExitCode.TERMINATED: (_signal_at_once(signal.SIGTERM), ["train", "--config", TOY],
                          "Terminated: training stopped in epoch 1 (batch 1 of 23), step 1; runs/sentiment-toy holds"),
}


def test_every_exit_code_has_a_case():
    assert set(EXIT_CODES) == set(ExitCode)


@pytest.mark.parametrize("code", list(EXIT_CODES), ids=[c.name for c in EXIT_CODES])
def test_exit_code(cli, workspace, monkeypatch, code):
    setup, args, first = EXIT_CODES[code]
    if setup:
        setup(monkeypatch)
    r = cli(*args)
    assert r.code == code, r.err
    assert "Traceback" not in r.err
    if code == ExitCode.OK:
        assert r.err == "" and r.out
    else:
        assert r.err_lines[0].startswith(first), r.err
        assert r.err_lines[1].startswith("hint: ")
    if code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
        assert r.err_lines[1] == "hint: continue exactly where it stopped with: rnn train --resume runs/sentiment-toy"
        assert (workspace / "runs/sentiment-toy/checkpoint.npz").is_file()


def test_gradcheck_failure_is_exit_1(cli, workspace):
    r = cli("gradcheck", "--config", "configs/seed-params.yaml", "--tolerance", "1e-300", "--json")
    assert r.code == ExitCode.UNEXPECTED
    assert r.json()["passed"] is False


# --- --json shapes -------------------------------------------------------------------------------


def _readme_rows() -> dict[str, str]:
    """docs/json-output.md's table: `rnn COMMAND` -> the row's text."""
    section = JSON_DOC.read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(rnn [a-z -]+)` \| (.*) \|$", section, re.M)}


def _json_commands() -> list[str]:
    """Every command that has a --json option."""
    def walk(cmd, path):
        subs = getattr(cmd, "commands", {})
        if not subs and any("--json" in p.opts for p in cmd.params):
            yield " ".join(path)
        for name, sub in sorted(subs.items()):
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(load_commands()), ["rnn"]))


def test_every_json_command_is_documented():
    rows = _readme_rows()
    assert sorted(_json_commands()) == sorted(rows), "add the command's --json shape to the table of docs/json-output.md"


def assert_documented(command: str, obj, keys: set[str]) -> None:
    """The object's keys are exactly ``keys``, and the docs' row names every one of them."""
    assert isinstance(obj, dict) and set(obj) == keys, (command, sorted(obj) if isinstance(obj, dict) else obj)
    row = _readme_rows()[command]
    missing = [k for k in keys if f'"{k}"' not in row]
    assert not missing, f"docs/json-output.md's row for {command} does not name {missing}"


EPOCH = {"event", "epoch", "step", "lr", "train_loss", "train_accuracy", "grad_norm", "dev_loss", "dev_accuracy", "seconds"}
DONE = {"event", "run_dir", "num_params", "final", "test", "dev", "best", "stopped_early", "resumed_from", "seconds"}


def test_json_train(trained_toy):
    *epochs, done = trained_toy.result.jsonl()
    for e in epochs:
        assert_documented("rnn train", e, EPOCH)
    assert_documented("rnn train", done, DONE)
    assert_documented("rnn train", done["best"], {"epoch", "monitor", "value"})


def test_json_train_resumed(cli, workspace):
    assert cli("train", "--config", TOY, "--set", "train.epochs=1").code == 0
    r = cli("train", "--resume", "runs/sentiment-toy", "--set", "train.epochs=2", "--json")
    *epochs, done = r.jsonl()
    assert_documented("rnn train", done["resumed_from"], {"epoch", "step"})


@pytest.fixture(scope="module")
def task_runs(tmp_path_factory) -> dict[str, Path]:
    """One tiny trained run per task (one epoch each)."""
    from rnncli.config import config_from_dict
    from rnncli.training.train import train

    ws = tmp_path_factory.mktemp("tasks")
    (ws / "count.tsv").write_text("text\tlabel\na a b\t0.4\nb\t0\na\t0.2\nb b a\t0.2\n", encoding="utf-8")
    (ws / "lm.txt").write_text("the cat sat on the mat. " * 20, encoding="utf-8")
    data = {"classify": {"train": str(REPO / "datasets/toy/sentiment.tsv"), "dev": str(REPO / DEV)},
            "regress": {"train": str(ws / "count.tsv"), "dev": str(ws / "count.tsv")},
            "tag": {"train": str(REPO / "datasets/toy/tagging.conll"), "dev": str(REPO / "datasets/toy/tagging-dev.conll")},
            "lm": {"train": str(ws / "lm.txt"), "dev_split": 0.2, "tokenizer": "char"}}
    runs = {}
    for task, d in data.items():
        runs[task] = ws / task
        train(config_from_dict({"task": task, "data": d, "model": {"hidden_size": 4, "embedding_dim": 4},
                                "train": {"epochs": 1}, "run": {"dir": str(runs[task])}}))
    (ws / "lm-eval.txt").write_text("the cat sat on the mat.\n", encoding="utf-8")
    return runs


BASE_EVAL = {"model", "weights", "epoch", "data", "task", "n", "tokens", "loss", "labels"}
EVAL_KEYS = {"classify": BASE_EVAL | {"accuracy", "macro_f1", "per_class", "confusion"},
             "tag": BASE_EVAL | {"accuracy", "macro_f1", "per_class", "confusion"},
             "regress": BASE_EVAL | {"mae"},
             "lm": BASE_EVAL | {"perplexity", "bits_per_token"}}
PREDICT_KEYS = {"classify": {"text", "tokens", "ids", "unknown", "label", "scores"}, "regress": {"text", "tokens", "ids", "unknown", "value"},
                "tag": {"text", "tokens", "ids", "unknown", "tags", "scores"}, "lm": {"text", "tokens", "ids", "unknown", "next"}}


@pytest.mark.parametrize("task", list(EVAL_KEYS))
def test_json_evaluate_and_predict(cli, task_runs, task):
    run = task_runs[task]
    data = {"classify": REPO / DEV, "regress": run.parent / "count.tsv", "tag": REPO / "datasets/toy/tagging-dev.conll",
            "lm": run.parent / "lm-eval.txt"}[task]
    r = cli("evaluate", "--model", run, "--data", data, "--json")
    assert r.code == 0, r.err
    ev = r.json()
    assert_documented("rnn evaluate", ev, EVAL_KEYS[task])
    if "per_class" in ev:
        assert_documented("rnn evaluate", ev["per_class"][0], {"label", "precision", "recall", "f1", "support"})
    r = cli("predict", "--model", run, "--json", "the cat sat", "a b")
    assert r.code == 0, r.err
    for p in r.jsonl():
        assert_documented("rnn predict", p, PREDICT_KEYS[task])
    if task == "lm":
        assert_documented("rnn predict", r.jsonl()[0]["next"][0], {"token", "probability"})
        g = cli("generate", "--model", run, "--length", "5", "--seed", "1", "--json")
        assert g.code == 0, g.err
        assert_documented("rnn generate", g.json(), {"prime", "text", "tokens", "before_prime"})


def test_json_other_commands(cli, workspace, toy_run):
    def run(*args):
        r = cli(*args, "--json")
        assert r.code == 0, r.err
        return json.loads(r.out)

    s = run("summary", "--model", toy_run)
    assert_documented("rnn summary", s, {"model", "parameters", "total"})
    assert_documented("rnn summary", s["parameters"][0], {"name", "shape", "count"})
    e = run("export", toy_run, "--format", "torch", "--out", "t.npz")
    assert_documented("rnn export", e, {"out", "format", "tensors"})
    assert_documented("rnn export", e["tensors"][0], {"name", "shape"})
    g = run("gradcheck", "--config", "configs/seed-params.yaml")
    assert_documented("rnn gradcheck", g, {"tolerance", "passed", "cases"})
    assert_documented("rnn gradcheck", g["cases"][0], {"case", "max_rel_error", "worst_param", "checked", "passed"})
    v = run("vocab", "build", DEV, "--out", "v.json")
    assert_documented("rnn vocab build", v, {"out", "size", "texts", "tokens", "coverage", "top"})
    d = run("data", "make", "parity", "--length", "4", "--n", "10", "--out", "p.tsv")
    assert_documented("rnn data make", d, {"out", "task", "length", "n", "seed", "kind", "config_task", "baseline"})
    assert_documented("rnn data make", d["baseline"], {"what", "metric", "value", "expected"})
    st = run("data", "stats", "datasets/toy/tagging.conll")
    assert_documented("rnn data stats", st, {"file", "task", "examples", "tokens", "lengths", "labels",
                                             "distinct_tokens", "coverage", "coverage_of", "chars"})
    assert_documented("rnn data stats", st["lengths"], {"p50", "p90", "p99", "max"})
    n = run("grad-norms", "--config", TOY)
    assert_documented("rnn grad-norms", n, {"source", "data", "task", "cell", "batches", "examples", "steps", "loss",
                                            "ratio", "rate", "verdict", "summary_layer", "thresholds", "layers", "params"})
    assert_documented("rnn grad-norms", n["layers"][0], {"layer", "direction", "ratio", "rate", "verdict", "h", "examples"})
    assert_documented("rnn grad-norms", n["params"][0], {"name", "grad_norm", "param_norm", "ratio"})
    runs_list = run("runs", str(Path(toy_run).parent))
    assert_documented("rnn runs", runs_list[0], {"path", "status", "task", "cell", "hidden", "epochs", "best", "last",
                                                 "bytes", "written", "latest"})
    curve = run("plot", runs_list[0]["path"])[0]
    assert_documented("rnn plot", curve, {"run", "metric", "epochs", "values"})
    j = run("jacobian", "--config", TOY)
    assert_documented("rnn jacobian", j, {"source", "data", "task", "cell", "layer", "direction", "state", "state_size",
                                          "examples", "steps", "lyapunov", "lyapunov_std", "lyapunov_examples",
                                          "jacobian_norms", "spans", "log_singular_values", "product_examples",
                                          "grad_norm_rate", "grad_norm_slope", "predicted_rate", "verdict"})
    c = run("config", "show", TOY)
    assert_documented("rnn config show", c, {"task", "data", "vocab", "model", "train", "run"})
    (workspace / "bad.yaml").write_text("model:\n  cell: lstn\n")
    r = cli("config", "validate", TOY, "bad.yaml", "--json")
    ok, bad = r.json()
    assert_documented("rnn config validate", ok, {"config", "valid", "problems"})
    assert_documented("rnn config validate", bad["problems"][0], {"key", "problem"})
    k = run("config", "keys")
    assert_documented("rnn config keys", k[0], {"key", "type", "default", "help", "choices", "range"})


# --- --quiet and progress bars -------------------------------------------------------------------


def test_quiet_prints_only_results_and_errors(cli, workspace):
    r = cli("-q", "train", "--config", TOY, "--set", "train.epochs=1")
    assert r.code == 0 and r.err == "" and "Saved runs/sentiment-toy" in r.out
    r = cli("train", "--resume", "runs/sentiment-toy", "--set", "train.epochs=2", "--quiet")
    assert r.code == 0 and r.err == "" and r.out
    r = cli("-q", "predict", "movie was good")  # would note "using the newest run" without -q
    assert r.code == 0 and r.err == "" and "movie was good" in r.out
    r = cli("-q", "evaluate", "--data", "nope.tsv")
    assert r.code == ExitCode.DATA and r.err.startswith("Error: nope.tsv") and r.out == ""


def test_progress_bar_only_on_a_terminal(monkeypatch):
    calls = []
    with render.progress_bar("x") as update:  # under pytest stderr is not a terminal
        assert update(total=3, completed=1) is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(render, "QUIET", False)
    with render.progress_bar("x") as update:
        update(total=3, completed=1, text="t")
        calls.append(update)
    assert calls and calls[0].__name__ == "update"  # the real bar
    monkeypatch.setattr(render, "QUIET", True)
    with render.progress_bar("x") as update:
        assert update.__name__ == "<lambda>"


def test_train_writes_nothing_to_stderr_without_a_terminal(trained_toy):
    assert trained_toy.result.err == ""
