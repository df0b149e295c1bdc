"""Word features (model.prefix / suffix / shape): values, vocabularies, the model's input, and the CLI."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli.data import subwords
from rnncli.data.subwords import (WordFeatures, feature_function, feature_names, feature_size, kind_of, word_chars,
                                  word_shape)
from rnncli.data.vocab import Vocab
from rnncli.errors import DataError, ExitCode
from rnncli.models import init_params, loss_and_grads
from rnncli.tasks import model_spec
from rnncli.models.sequence import forward

TAG_CONFIG = """\
task: tag
data:
  train: datasets/toy/tagging.conll
  dev: datasets/toy/tagging-dev.conll
model:
  cell: gru
  bidirectional: true
  prefix: 1
  suffix: 2
  shape: true
  word_feature_dim: 4
train:
  epochs: 3
"""


@pytest.mark.parametrize("token,shape", [
    ("Zagreb", "Xxxxx"), ("1998", "dddd"), ("1998-03-03", "dddd-dd-dd"), ("McDonald's", "XxXxxxx'x"),
    ("U.S.", "X.X."), ("", ""), ("ÉCOLE", "XXXX"), ("x", "x"),
])
def test_word_shape(token, shape):
    assert word_shape(token) == shape


def test_feature_values_lowercase_affixes_and_keep_short_words_whole():
    assert feature_function("prefix2")("Unfriendly") == "un"
    assert feature_function("suffix3")("Unfriendly") == "dly"
    assert feature_function("suffix3")("Go") == "go"
    assert feature_function("shape")("Go") == "Xx"
    assert feature_names(2, 3, True) == ["prefix2", "suffix3", "shape"]
    assert feature_names(0, 0, False) == []


def test_vocabularies_encode_unseen_values_as_unk_and_round_trip(tmp_path):
    features = WordFeatures.build(["suffix2", "shape"], [["Walking", "talked"], ["running", "2024"]], min_freq=1)
    ids = features.encode(["Jumping", "Zzz", "2025"])
    assert ids.shape == (3, 2) and ids.dtype == np.int64
    assert ids[0, 0] == features.vocabs["suffix2"].stoi["ng"]  # seen suffix
    assert ids[1, 0] == 1  # "zz" unseen → <unk>
    assert ids[2, 1] == features.vocabs["shape"].stoi["dddd"]
    assert features.encode([]).shape == (0, 2)
    features.save(tmp_path / "wf.json")
    assert WordFeatures.load(tmp_path / "wf.json") == features


def _per_token(names, token_lists, min_freq, tokens):
    """The definition, token by token: each feature's vocabulary counts every token's value, and a token's ids
    are its values looked up (then its characters, 0-padded)."""
    def values(name, t):
        return list(word_chars(t, feature_size(name))) if kind_of(name) == "chars" else [feature_function(name)(t)]
    vocabs = {name: Vocab.build(([v for t in toks for v in values(name, t)] for toks in token_lists), min_freq)
              for name in names}
    cols = [[vocabs[name].stoi.get(feature_function(name)(t), 1) for t in tokens]
            for name in names if kind_of(name) != "chars"]
    ids = np.array(cols, dtype=np.int64).reshape(len(cols), len(tokens)).T
    chars = [name for name in names if kind_of(name) == "chars"]
    if chars:
        words = [vocabs[chars[0]].encode(values(chars[0], t)) for t in tokens]
        pad = np.zeros((len(tokens), max((len(w) for w in words), default=0)), dtype=np.int64)
        for i, w in enumerate(words):
            pad[i, : len(w)] = w
        ids = np.concatenate([ids, pad], axis=1)
    return vocabs, ids


@settings(max_examples=60, deadline=None)
@given(token_lists=st.lists(st.lists(st.text("aAbZ1-é", max_size=7), max_size=6), max_size=6),
       tokens=st.lists(st.text("aAbZ1-é", max_size=9), max_size=8),
       names=st.sampled_from([["prefix2", "suffix3", "shape"], ["suffix1", "chars4"], ["shape", "chars20"]]),
       min_freq=st.integers(1, 2))
def test_build_and_encode_match_the_per_token_definition(token_lists, tokens, names, min_freq, monkeypatch_memo):
    features = WordFeatures.build(names, token_lists, min_freq)
    vocabs, ids = _per_token(names, token_lists, min_freq, tokens)
    assert features.vocabs == vocabs
    for _ in range(2):  # the second time from the remembered types (the memo holds 3 and starts afresh)
        assert np.array_equal(features.encode(tokens), ids) and features.encode(tokens).dtype == np.int64
    assert len(features._memo) <= 3
    assert pickle.loads(pickle.dumps(features)) == features  # for worker processes


@pytest.fixture(scope="module")
def monkeypatch_memo():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subwords, "MEMO_TYPES", 3)
        yield


@pytest.mark.parametrize("doc", [[], {"format": "rnncli-word-features", "version": 1, "features": {"infix2": {}}},
                                 {"format": "other"}, {"format": "rnncli-word-features", "version": 9, "features": {}}])
def test_bad_word_feature_files_are_data_errors(doc):
    with pytest.raises(DataError):
        WordFeatures.from_dict(doc)


def _spec(cell="lstm", **kw):
    return model_spec(dict(vocab_size=9, num_classes=3, task="tag", cell=cell, embedding_dim=4, hidden_size=3,
                     bidirectional=True, word_features=(("suffix2", 6), ("shape", 5)), word_feature_dim=2, **kw))


def test_input_is_the_word_embedding_then_each_feature_embedding():
    spec = _spec()
    assert spec.stack.input_size == 4 + 2 * 2
    assert spec.param_shapes()["suffix_embedding.weight"] == (6, 2)
    assert spec.param_shapes()["shape_embedding.weight"] == (5, 2)
    assert model_spec(json.loads(json.dumps(spec.to_dict()))) == spec  # run.json round trip


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_padded_batch_with_word_features_equals_each_sentence_alone(cell):
    rng = np.random.default_rng(0)
    spec = _spec(cell)
    params = init_params(spec, rng, np.float64)
    lengths, T = [5, 2, 3], 5
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    ids = np.stack([rng.integers(1, 9, (3, T)), rng.integers(1, 6, (3, T)), rng.integers(1, 5, (3, T))], axis=-1)
    ids[~mask] = 0
    targets = rng.integers(0, 3, (3, T)) * mask
    logits, _ = forward(params, spec, ids, mask)
    _, grads, _, _ = loss_and_grads(params, spec, ids, mask, targets)
    summed = {k: np.zeros_like(v) for k, v in grads.items()}
    for n, L in enumerate(lengths):
        one, _ = forward(params, spec, ids[n : n + 1, :L], mask[n : n + 1, :L])
        np.testing.assert_allclose(one[0], logits[n, :L], rtol=1e-12, atol=1e-12)
        _, g, _, _ = loss_and_grads(params, spec, ids[n : n + 1, :L], mask[n : n + 1, :L], targets[n : n + 1, :L])
        for k in summed:  # the batch loss is the mean over its real tokens
            summed[k] += g[k] * L / sum(lengths)
    for k in grads:
        np.testing.assert_allclose(grads[k], summed[k], rtol=1e-9, atol=1e-12, err_msg=k)
    assert np.all(grads["suffix_embedding.weight"][0] == 0)  # padding ids get no gradient


def test_train_predict_evaluate_resume_with_word_features(cli, workspace):
    (workspace / "wf.yaml").write_text(TAG_CONFIG)
    result = cli("train", "--config", "wf.yaml", "--json")
    assert result.code == 0, result.err
    run = workspace / "runs" / "wf"
    saved = json.loads((run / "word-features.json").read_text())
    assert list(saved["features"]) == ["prefix1", "suffix2", "shape"]
    meta = json.loads((run / "run.json").read_text())
    assert [name for name, _ in meta["model"]["word_features"]] == ["prefix1", "suffix2", "shape"]

    out = cli("predict", "--model", run, "the Zorblat sat on the mat", "--json")
    assert out.code == 0, out.err
    assert len(json.loads(out.out)["tags"]) == 6
    ev = cli("evaluate", "--model", run, "--data", "datasets/toy/tagging-dev.conll", "--json")
    assert ev.code == 0 and json.loads(ev.out)["accuracy"] > 0
    summary = cli("summary", "--model", run)
    assert "word features prefix1, suffix2, shape" in summary.out and "shape_embedding.weight" in summary.out
    resumed = cli("train", "--resume", run, "--set", "train.epochs=4", "--json")
    assert resumed.code == 0, resumed.err
    assert json.loads((run / "run.json").read_text())["epochs_done"] == 4


def test_a_run_without_its_word_features_file_is_refused(cli, workspace):
    (workspace / "wf.yaml").write_text(TAG_CONFIG.replace("epochs: 3", "epochs: 1"))
    assert cli("train", "--config", "wf.yaml").code == 0
    run = workspace / "runs" / "wf"
    (run / "word-features.json").write_text("{}")
    result = cli("predict", "--model", run, "the cat")
    assert result.code == ExitCode.RUN
    assert "word-features.json" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("config", [
    "task: lm\nmodel:\n  suffix: 3\n",
    "task: seq2seq\nmodel:\n  suffix: 3\n",
    "data:\n  tokenizer: char\nmodel:\n  suffix: 3\n",
    "model:\n  input: onehot\n  suffix: 3\n",
])
def test_word_features_need_words_with_an_embedding(cli, workspace, config):
    (workspace / "wf.yaml").write_text(config)
    result = cli("config", "validate", "wf.yaml")
    assert result.code == ExitCode.CONFIG
    assert "model.suffix" in result.err and "word features need words" in result.err


def test_export_to_torch_refuses_word_features(cli, workspace):
    (workspace / "wf.yaml").write_text(TAG_CONFIG.replace("epochs: 3", "epochs: 1"))
    assert cli("train", "--config", "wf.yaml").code == 0
    result = cli("export", workspace / "runs" / "wf", "--format", "torch", "--out", "wf.npz")
    assert result.code == ExitCode.USAGE and "suffix_embedding.weight" in result.err
    assert not (workspace / "wf.npz").exists()
