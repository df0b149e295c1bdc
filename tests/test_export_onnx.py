"""rnn export --format onnx: the graph, run by ONNX Runtime, gives rnn predict's numbers (optional: needs onnx
and onnxruntime, which CI installs)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from rnncli.errors import ExitCode
from rnncli.models import init_params
from rnncli.models.sequence import forward
from rnncli.tasks import model_spec, task_of

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rnncli.tools.onnx_export import onnx_graph  # noqa: E402

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
HEADS = [  # task, pooling, classes, input
    ("classify", "last", 3, "embedding"), ("classify", "mean", 2, "embedding"), ("classify", "max", 3, "onehot"),
    ("classify", "last", 2, "onehot"), ("tag", "last", 5, "embedding"), ("regress", "mean", 1, "embedding"),
    ("lm", "last", 11, "embedding"), ("classify", "concat", 2, "embedding"),
]
LENGTHS = np.array([6, 2, 4, 1])


def _session(spec, params):
    model = onnx_graph(spec, params, {"format": "test"})
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _scores(session, ids, lengths):
    return session.run(["scores"], {"ids": ids, "lengths": lengths})[0]


def _case(task, cell, act, bidirectional, layers, input_, pooling, classes, learn_h0=False, seed=0):
    rng = np.random.default_rng(seed)
    spec = model_spec(dict(task=task, vocab_size=11, num_classes=classes, cell=cell, activation=act, input=input_,
                           embedding_dim=5, hidden_size=4, num_layers=layers, bidirectional=bidirectional,
                           pooling=pooling, learn_h0=learn_h0))
    params = init_params(spec, rng, np.float32)
    for name in params:
        if name.endswith((".h0", ".c0")):  # learned start states are 0 at initialisation: make them count
            params[name] = rng.standard_normal(params[name].shape).astype(np.float32)
    ids = np.zeros((len(LENGTHS), LENGTHS.max()), dtype=np.int64)
    for n, length in enumerate(LENGTHS):
        ids[n, :length] = rng.integers(1, 11, size=length)  # <unk> (1) included
    return spec, params, ids


MATRIX = [(task, cell, act, bi, layers, input_, pooling, classes)
          for (cell, act), bi, layers, (task, pooling, classes, input_)
          in itertools.product(CELLS, [False, True], [1, 2, 3], HEADS) if not (task == "lm" and bi)]


@pytest.mark.parametrize("task,cell,act,bi,layers,input_,pooling,classes", MATRIX,
                         ids=["-".join(map(str, case)) for case in MATRIX])
def test_onnx_runtime_gives_our_outputs_on_a_padded_batch_and_alone(task, cell, act, bi, layers, input_, pooling, classes):
    spec, params, ids = _case(task, cell, act, bi, layers, input_, pooling, classes)
    mask = np.arange(ids.shape[1])[None, :] < LENGTHS[:, None]
    logits, _ = forward(params, spec, ids, mask)
    ours = np.asarray(task_of(task).outputs(logits, spec))
    session = _session(spec, params)
    theirs = _scores(session, ids, LENGTHS)
    assert theirs.dtype == np.float32
    for n, length in enumerate(LENGTHS):
        alone = _scores(session, ids[n : n + 1, :length], LENGTHS[n : n + 1])[0]
        if spec.per_step:
            np.testing.assert_allclose(theirs[n, :length], ours[n, :length], atol=1e-5)
            np.testing.assert_allclose(alone, theirs[n, :length], atol=1e-6)
        else:
            np.testing.assert_allclose(theirs[n], ours[n].reshape(-1), atol=1e-5)
            np.testing.assert_allclose(alone, theirs[n], atol=1e-6)


@pytest.mark.parametrize("cell,act", CELLS)
def test_learned_initial_states(cell, act):
    spec, params, ids = _case("classify", cell, act, True, 2, "embedding", "last", 3, learn_h0=True)
    mask = np.arange(ids.shape[1])[None, :] < LENGTHS[:, None]
    logits, _ = forward(params, spec, ids, mask)
    np.testing.assert_allclose(_scores(_session(spec, params), ids, LENGTHS),
                               task_of("classify").outputs(logits, spec), atol=1e-5)


def test_the_gate_orders_matter():
    """A graph with our gate order (not ONNX's) gives other numbers: the remapping is what makes them equal."""
    from rnncli.tools import onnx_export

    spec, params, ids = _case("classify", "lstm", "tanh", False, 1, "embedding", "last", 3)
    right = _scores(_session(spec, params), ids, LENGTHS)
    original = dict(onnx_export.GATE_ORDER)
    try:
        onnx_export.GATE_ORDER["lstm"] = [0, 1, 2, 3]
        wrong = _scores(_session(spec, params), ids, LENGTHS)
    finally:
        onnx_export.GATE_ORDER.update(original)
    assert np.abs(wrong - right).max() > 1e-3


# ---------------------------------------------------------------------------- CLI


def test_cli_export_onnx_matches_rnn_predict(cli, trained_toy, tmp_path):
    out = tmp_path / "toy.onnx"
    r = cli("export", str(trained_toy.run_dir), "--format", "onnx", "--out", str(out))
    assert r.code == 0, r.err
    assert r.out.startswith(f"wrote {out} (onnx, ")
    assert "inputs: ids int64 (N, T), right-padded with 0; lengths int64 (N,)" in r.out
    vocab = json.loads((tmp_path / "toy.vocab.json").read_text())
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    meta = json.loads(session.get_modelmeta().custom_metadata_map["rnncli"])
    assert meta == vocab and meta["task"] == "classify" and meta["tokenizer"] == "word"
    texts = ["movie was good", "the film was not good at all", "zzz qqq", "bad"]
    p = cli("predict", "--model", str(trained_toy.run_dir), *texts, "--json")
    predictions = p.jsonl()
    ids = [pred["ids"] for pred in predictions]
    lengths = np.array([len(i) for i in ids])
    batch = np.zeros((len(ids), lengths.max()), dtype=np.int64)
    for n, row in enumerate(ids):
        batch[n, : len(row)] = row
    scores = session.run(["scores"], {"ids": batch, "lengths": lengths})[0]
    for pred, row in zip(predictions, scores):
        assert list(pred["scores"]) == meta["labels"]
        np.testing.assert_allclose(row, [pred["scores"][label] for label in meta["labels"]], atol=1e-5)
    # the metadata alone turns text into the same ids
    itos = meta["vocab"]
    stoi = {token: i for i, token in enumerate(itos)}
    from rnncli.data import tokenize

    for text, pred in zip(texts, predictions):
        assert [stoi.get(t, meta["unk_id"]) for t in tokenize(text, meta["tokenizer"], meta["lowercase"])] == pred["ids"]


def test_cli_export_onnx_json(cli, trained_toy, tmp_path):
    r = cli("export", str(trained_toy.run_dir), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["format"] == "onnx" and report["out"] == str(tmp_path / "m.onnx")
    assert {"embedding", "W0", "R0", "B0", "head_W", "head_b"} <= {t["name"] for t in report["tensors"]}


def test_cli_export_onnx_refuses_what_the_graph_cannot_compute(cli, workspace):
    assert cli("train", "--config", "configs/sentiment-toy-generate.yaml", "--set", "train.epochs=1",
               "--set", "run.dir=runs/gen", "-q").code == 0
    r = cli("export", "runs/gen", "--format", "onnx", "--out", "gen.onnx")
    assert r.code == ExitCode.USAGE
    assert "is a generate model; the ONNX export maps one recurrent stack" in r.err and "Traceback" not in r.err
    assert not (workspace / "gen.onnx").exists()


def test_cli_export_onnx_without_the_package(cli, trained_toy, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    r = cli("export", str(trained_toy.run_dir), "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert r.code == ExitCode.USAGE
    assert r.err_lines[0] == "Error: --format onnx needs the onnx package, which is not installed."
    assert "pip install 'rnncli[onnx]'" in r.err_lines[1]
    assert not (tmp_path / "m.onnx").exists()


def test_word_features_and_real_valued_inputs_are_refused():
    from rnncli.errors import UsageError
    from rnncli.tools.onnx_export import check_exportable

    tagger = model_spec(dict(task="tag", vocab_size=9, num_classes=3, word_features=(("suffix2", 6),)))
    with pytest.raises(UsageError, match="has word features \\(suffix2\\); the ONNX graph takes token ids only"):
        check_exportable(tagger, "runs/x")
    features = model_spec(dict(task="regress", vocab_size=2, num_classes=1, input="features", feature_dim=2))
    with pytest.raises(UsageError, match="reads real-valued features"):
        check_exportable(features, "runs/x")
