"""The Python API, through its public names only: rnncli.train, rnncli.load, rnncli.Run and its methods."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import rnncli
from rnncli.errors import RnncliError

REPO = Path(__file__).resolve().parent.parent


def test_train_load_predict_evaluate(workspace):
    events = []
    run = rnncli.train("configs/sentiment-toy.yaml", overrides={"train.epochs": 3, "run.dir": "runs/api"},
                       progress=lambda event, info: events.append((event, info)))
    assert isinstance(run, rnncli.Run) and run.task == "classify" and run.labels == ["0", "1"]
    assert [info["epoch"] for event, info in events if event == "epoch_end"] == [1, 2, 3]
    assert run.config["train"]["epochs"] == 3 and "embedding.weight" in run.params
    (prediction,) = run.predict("movie was good")
    assert {"text", "tokens", "ids", "unknown", "label", "scores"} == set(prediction)
    again = rnncli.load("runs/api")
    assert again.predict(["movie was good"])[0]["scores"] == prediction["scores"]
    result = again.evaluate("datasets/toy/sentiment-dev.tsv")
    assert result["n"] == 36 and 0 <= result["accuracy"] <= 1 and result["model"] == "runs/api"


def test_a_dict_config_and_generation(workspace):
    run = rnncli.train({"task": "lm", "data": {"train": "datasets/toy/shakespeare-tiny.txt", "tokenizer": "char"},
                        "model": {"cell": "gru", "hidden_size": 16}, "train": {"epochs": 1}},
                       overrides={"run.dir": "runs/lm"})
    out = run.generate(prime="ROMEO:", length=20, seed=3)
    assert out["prime"] == "ROMEO:" and out["tokens"] == 20 and out == run.generate(prime="ROMEO:", length=20, seed=3)
    gen = rnncli.train("configs/sentiment-toy-generate.yaml", overrides={"train.epochs": 1, "run.dir": "runs/gen"})
    texts = gen.generate(condition="1", num=2, seed=0)
    assert [t["condition"] for t in texts] == ["1", "1"]


def test_errors_are_rnncli_errors(workspace):
    with pytest.raises(RnncliError) as err:
        rnncli.load("runs/none")
    assert err.value.exit_code == 5 and err.value.hint
    with pytest.raises(RnncliError, match="unknown key 'train.epoch'"):
        rnncli.train("configs/sentiment-toy.yaml", overrides={"train.epoch": 3})


def test_bad_arguments_are_usage_errors_and_leave_nothing(workspace):
    """Arguments of the wrong type are UsageErrors (exit 2) before anything is written; a progress callback that
    raises before the first checkpoint leaves no run directory."""
    for call, needle in [(lambda: rnncli.train(None), "config must be a path"),
                         (lambda: rnncli.train("configs/sentiment-toy.yaml", overrides=["train.epochs=1"]),
                          "overrides must be a mapping"),
                         (lambda: rnncli.train("configs/sentiment-toy.yaml", {"run.dir": "runs/p"}, progress=5),
                          "progress must be a function"),
                         (lambda: rnncli.train("configs/sentiment-toy.yaml", {"run.dir": "runs/p"}, force="no"),
                          "force must be True or False"),
                         (lambda: rnncli.train({"task": "classify"}, overrides={1: 2}), "overrides must be a mapping"),
                         (lambda: rnncli.load(3), "run_dir must be a path"),
                         (lambda: rnncli.load("runs/x", last="yes"), "last must be True or False")]:
        with pytest.raises(RnncliError, match=needle) as err:
            call()
        assert err.value.exit_code == 2
    assert not (workspace / "runs/p").exists()

    def fails(event, info):
        if event == "batch":
            raise ZeroDivisionError("a tracker's bug")

    with pytest.raises(ZeroDivisionError):
        rnncli.train("configs/sentiment-toy.yaml", {"train.epochs": 1, "run.dir": "runs/p"}, progress=fails)
    assert not (workspace / "runs/p").exists()
    run = rnncli.train("configs/sentiment-toy.yaml", {"train.epochs": 1, "run.dir": "runs/ok"})
    for call, needle in [(lambda: run.predict(None), "texts must be a str or a list of str"),
                         (lambda: run.predict([1, 2]), "texts must be a str or a list of str"),
                         (lambda: run.predict(["good"], beam=0), "beam must be an integer of at least 1"),
                         (lambda: run.predict(["good"], beam="2"), "beam must be an integer"),
                         (lambda: run.predict(["good"], max_length=-1), "max_length must be None or an integer"),
                         (lambda: run.evaluate(None), "data must be a path")]:
        with pytest.raises(RnncliError, match=needle):
            call()
    import numpy as np

    assert run.predict(["good"], beam=np.int64(1))[0]["label"]  # NumPy's integers are integers


def test_the_docs_example_runs(workspace):
    page = (REPO / "docs/python-api.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "rnncli.Run('runs/api-toy', task='classify')" and lines[1].startswith("[(10, ")


def test_rnn_does_not_import_the_api():
    proc = subprocess.run([sys.executable, "-c", "import sys, rnncli.cli; print('rnncli.api' in sys.modules)"],
                          capture_output=True, text=True)
    assert proc.stdout.strip() == "False"
