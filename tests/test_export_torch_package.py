"""rnn export --format torch writes model.py beside the weights: PyTorch alone (no rnncli) predicts what
`rnn predict` prints."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

CASES = {  # name: (config, extra --set, texts)
    "classify-binary": ("configs/sentiment-toy.yaml", [], ["movie was good", "a dull , bad film", "zzz"]),
    "classify-bigru": ("configs/sentiment-toy-bigru.yaml", [], ["movie was good", "not good at all"]),
    "classify-lstm-mean-onehot": ("configs/sentiment-toy-lstm.yaml",
                                  ["model.pooling=mean", "model.input=onehot", "model.num_layers=2"],
                                  ["movie was good", "the plot was bad"]),
    "regress": ("configs/sentiment-toy.yaml", ["task=regress"], ["movie was good", "bad"]),
    "tag": ("configs/tagging-toy.yaml", [], ["i like the film", "the cat is like a rat"]),
    "lm": ("configs/char-lm-toy.yaml", ["model.hidden_size=32"], ["ROMEO:", "To be or not to b"]),
    "lm-reverse": ("configs/char-lm-toy.yaml", ["model.hidden_size=32", "data.reverse=true"], ["ROMEO:", "or not to be"]),
}

RUN_ALONE = """
import json, sys
sys.modules["rnncli"] = None  # the export must not need rnncli
from model import load
print(json.dumps(load(".").predict(json.loads(sys.argv[1]))))
"""


@pytest.mark.parametrize("name", sorted(CASES))
def test_model_py_predicts_what_rnn_predict_prints(cli, workspace, name):
    config, sets, texts = CASES[name]
    args = ["train", "--config", config, "--set", "train.epochs=1", "--set", f"run.dir=runs/{name}", "-q"]
    for s in sets:
        args += ["--set", s]
    assert cli(*args).code == 0
    out = workspace / "export" / f"{name}.npz"
    out.parent.mkdir()
    r = cli("export", f"runs/{name}", "--format", "torch", "--out", str(out))
    assert r.code == 0, r.err
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(["model.py", f"{name}.npz", f"{name}.json"])
    ours = cli("predict", "--model", f"runs/{name}", *texts, "--json").jsonl()
    proc = subprocess.run([sys.executable, "-c", RUN_ALONE, json.dumps(texts)], cwd=out.parent,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)
    assert len(theirs) == len(ours)
    for a, b in zip(theirs, ours):
        assert set(a) == set(b), (sorted(a), sorted(b))
        for key in ("text", "tokens", "ids", "unknown", "label", "tags"):
            assert a.get(key) == b.get(key), key
        if "value" in b:
            assert a["value"] == pytest.approx(b["value"], abs=1e-5)
        if isinstance(b.get("scores"), dict):
            assert list(a["scores"]) == list(b["scores"])
            np.testing.assert_allclose(list(a["scores"].values()), list(b["scores"].values()), atol=1e-5)
        elif "scores" in b:
            np.testing.assert_allclose(a["scores"], b["scores"], atol=1e-5)
        if "next" in b:
            assert [n["token"] for n in a["next"]] == [n["token"] for n in b["next"]]
            np.testing.assert_allclose([n["probability"] for n in a["next"]], [n["probability"] for n in b["next"]],
                                       atol=1e-5)


def test_safetensors(cli, workspace):
    pytest.importorskip("safetensors")
    assert cli("train", "--config", "configs/sentiment-toy-lstm.yaml", "--set", "train.epochs=1",
               "--set", "run.dir=runs/toy", "-q").code == 0
    out = workspace / "st" / "toy.safetensors"
    out.parent.mkdir()
    r = cli("export", "runs/toy", "--format", "safetensors", "--out", str(out), "--json")
    assert r.code == 0, r.err
    from safetensors.numpy import load_file

    tensors = load_file(str(out))
    assert sorted(tensors) == sorted(t["name"] for t in json.loads(r.out)["tensors"])
    ours = cli("predict", "--model", "runs/toy", "movie was good", "--json").jsonl()[0]
    proc = subprocess.run([sys.executable, "-c", RUN_ALONE, json.dumps(["movie was good"])], cwd=out.parent,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)[0]
    np.testing.assert_allclose(list(theirs["scores"].values()), list(ours["scores"].values()), atol=1e-5)


def test_load_tells_exports_apart(cli, workspace):
    assert cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "train.epochs=1",
               "--set", "run.dir=runs/toy", "-q").code == 0
    folder = workspace / "both"
    folder.mkdir()
    for name in ("a", "b"):
        assert cli("export", "runs/toy", "--format", "torch", "--out", str(folder / f"{name}.npz")).code == 0
    code = ("import sys; sys.modules['rnncli'] = None\nfrom model import load\n"
            "try:\n    load('.')\nexcept FileNotFoundError as e:\n    print('refused:', e)\n"
            "print(load('.', name='b').predict(['good'])[0]['label'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("refused: . holds 2 rnncli exports; pass name=")


def test_a_model_py_of_someone_else_is_never_replaced(cli, workspace):
    assert cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "train.epochs=1",
               "--set", "run.dir=runs/toy", "-q").code == 0
    (workspace / "model.py").write_text("print('my own code')\n")
    r = cli("export", "runs/toy", "--format", "torch", "--out", "toy.npz")
    assert r.code == 2 and "model.py exists and rnncli did not write it" in r.err
    assert (workspace / "model.py").read_text() == "print('my own code')\n" and not (workspace / "toy.npz").exists()
