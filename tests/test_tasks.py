"""Every task end to end (train → evaluate → predict), and the model options that go with them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnncli import tasks
from rnncli.config import config_from_dict
from rnncli.models import ModelSpec, init_params
from rnncli.models.sequence import forward
from rnncli.training.train import train

REPO = Path(__file__).resolve().parents[1]
SENTIMENT = str(REPO / "datasets/toy/sentiment.tsv")

TAGGED = """the\tDET
cat\tNOUN
runs\tVERB

a\tDET
dog\tNOUN
runs\tVERB
fast\tADV

the\tDET
run\tNOUN
was\tAUX
fun\tADJ

i\tPRON
run\tVERB
fast\tADV
"""


def _train(tmp_path, d, epochs=30):
    d = {**d, "run": {"dir": str(tmp_path / "run")}}
    d.setdefault("train", {})["epochs"] = epochs
    return train(config_from_dict(d, source="test.yaml", name="t"))


def test_tag_learns_context_dependent_tags(tmp_path, cli):
    (tmp_path / "tags.conll").write_text(TAGGED * 5)
    result = _train(tmp_path, {"task": "tag", "data": {"train": str(tmp_path / "tags.conll")},
                               "model": {"cell": "gru", "bidirectional": True, "hidden_size": 16},
                               "train": {"lr": 0.05}}, epochs=40)
    assert result.epochs[-1]["train_accuracy"] == 1.0
    r = cli("predict", "--model", tmp_path / "run", "--json", "the run was fun", "i run fast")
    assert r.code == 0, r.err
    first, second = (json.loads(line) for line in r.out.splitlines())
    assert first["tags"] == ["DET", "NOUN", "AUX", "ADJ"]
    assert second["tags"] == ["PRON", "VERB", "ADV"]  # "run" tagged by its context
    r = cli("evaluate", "--model", tmp_path / "run", "--data", tmp_path / "tags.conll", "--json")
    report = json.loads(r.out)
    assert report["task"] == "tag" and report["accuracy"] == 1.0 and report["tokens"] == 14 * 5
    assert {c["label"] for c in report["per_class"]} == {"ADJ", "ADV", "AUX", "DET", "NOUN", "PRON", "VERB"}


def test_lm_learns_a_repeating_text_and_reports_perplexity(tmp_path, cli):
    (tmp_path / "text.txt").write_text("abcabcabd\n" * 60)
    result = _train(tmp_path, {"task": "lm", "data": {"train": str(tmp_path / "text.txt"), "tokenizer": "char",
                                                      "dev_split": 0.1},
                               "model": {"cell": "lstm", "hidden_size": 24},
                               "train": {"batch_size": 4, "bptt": 20, "lr": 0.02}}, epochs=40)
    first, last = result.epochs[0], result.epochs[-1]
    assert last["train_loss"] < 0.35 * first["train_loss"]
    assert last["dev_perplexity"] < 3.0  # a unigram model scores 4.5 on this text
    assert last["dev_bits_per_token"] == pytest.approx(last["dev_loss"] / np.log(2))
    r = cli("predict", "--model", tmp_path / "run", "--json", "abcab")
    top = json.loads(r.out)["next"][0]
    assert top["token"] in ("c", "d") and top["probability"] > 0.3
    r = cli("evaluate", "--model", tmp_path / "run", "--data", tmp_path / "text.txt", "--json")
    out = json.loads(r.out)
    assert out["perplexity"] == pytest.approx(np.exp(out["loss"]))


def test_regress_fits_a_count(tmp_path, cli):
    rng = np.random.default_rng(0)
    rows = ["text\tlabel"]
    for _ in range(200):
        words = rng.choice(["a", "b"], size=rng.integers(1, 6))
        rows.append(f"{' '.join(words)}\t{np.sum(words == 'a') / 5}")
    (tmp_path / "count.tsv").write_text("\n".join(rows) + "\n")
    result = _train(tmp_path, {"task": "regress", "data": {"train": str(tmp_path / "count.tsv"), "dev_split": 0.2},
                               "model": {"cell": "gru", "hidden_size": 8}, "train": {"lr": 0.02}}, epochs=30)
    assert result.epochs[-1]["dev_loss"] < 0.005
    r = cli("predict", "--model", tmp_path / "run", "--json", "a a b a")
    assert json.loads(r.out)["value"] == pytest.approx(0.6, abs=0.08)


def test_regress_rejects_non_numeric_targets(tmp_path, cli):
    (tmp_path / "bad.tsv").write_text("text\tlabel\nfine\t0.5\nnot a number\tbig\n")
    (tmp_path / "c.yaml").write_text(f"task: regress\ndata:\n  train: {tmp_path / 'bad.tsv'}\n")
    r = cli("train", "--config", tmp_path / "c.yaml")
    assert r.code == 4 and "example 2 has the target 'big', which is not a finite number" in r.err


def test_mean_max_and_concat_pooling_train(tmp_path):
    for pooling in ("mean", "max", "concat"):
        result = _train(tmp_path, {"data": {"train": SENTIMENT},
                                   "model": {"cell": "lstm", "pooling": pooling}}, epochs=15)
        assert result.epochs[-1]["train_accuracy"] > 0.9, pooling
        (tmp_path / "run").rename(tmp_path / f"run-{pooling}")


def test_dropout_only_in_training():
    rng = np.random.default_rng(0)
    spec = ModelSpec(vocab_size=9, num_classes=2, cell="gru", hidden_size=4, embedding_dim=3, num_layers=2,
                     dropout=0.5)
    params = init_params(spec, rng, np.float64)
    ids, mask = np.array([[2, 3, 4, 5]]), np.ones((1, 4), dtype=bool)
    eval1, _ = forward(params, spec, ids, mask)
    eval2, _ = forward(params, spec, ids, mask)
    train1, _ = forward(params, spec, ids, mask, dropout_rng=np.random.default_rng(1))
    train2, _ = forward(params, spec, ids, mask, dropout_rng=np.random.default_rng(2))
    np.testing.assert_array_equal(eval1, eval2)
    assert not np.allclose(train1, eval1) and not np.allclose(train1, train2)
    no_dropout = ModelSpec(**{**spec.to_dict(), "dropout": 0.0})
    np.testing.assert_array_equal(forward(params, no_dropout, ids, mask)[0], eval1)


def test_initialisations():
    H = 4
    spec = ModelSpec(vocab_size=9, num_classes=2, cell="lstm", hidden_size=H, embedding_dim=3)
    rng = np.random.default_rng(0)
    p = init_params(spec, rng, np.float64, init="orthogonal", forget_bias=1.0)
    for g in range(4):
        block = p["rnn.l0.W_hh"][g * H : (g + 1) * H]
        np.testing.assert_allclose(block @ block.T, np.eye(H), atol=1e-12)
    np.testing.assert_array_equal(p["rnn.l0.b"][H : 2 * H], 1.0)
    np.testing.assert_array_equal(p["rnn.l0.b"][:H], 0.0)
    irnn = ModelSpec(vocab_size=9, num_classes=2, cell="rnn", activation="relu", hidden_size=H, embedding_dim=3)
    p = init_params(irnn, rng, np.float64, init="identity")
    np.testing.assert_array_equal(p["rnn.l0.W_hh"], np.eye(H))
    bound = 1 / np.sqrt(H)
    p = init_params(irnn, rng, np.float64)
    assert np.abs(p["rnn.l0.W_hh"]).max() <= bound and np.abs(p["rnn.l0.b"]).max() > 0
    p = init_params(irnn, rng, np.float64, init="xavier")
    assert np.abs(p["rnn.l0.W_ih"]).max() <= np.sqrt(6 / (3 + H))


def test_learned_initial_state_is_trained(tmp_path):
    _train(tmp_path, {"data": {"train": SENTIMENT}, "model": {"cell": "lstm", "learn_h0": True}},
           epochs=3)
    with np.load(tmp_path / "run" / "weights.npz") as w:
        assert np.abs(w["rnn.l0.h0"]).max() > 0 and np.abs(w["rnn.l0.c0"]).max() > 0


def test_schedule_sets_the_learning_rate_per_epoch(tmp_path):
    result = _train(tmp_path, {"data": {"train": str(REPO / "datasets/toy/lecture.tsv")},
                               "train": {"schedule": "step", "step_size": 2, "gamma": 0.1, "lr": 1.0,
                                         "optimizer": "sgd"}}, epochs=5)
    assert [e["lr"] for e in result.epochs] == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])


def test_lm_windows_cover_the_stream_and_carry_state():
    stream = np.arange(103)
    batches = list(tasks.lm_batches(stream, num_streams=4, bptt=10))
    rows = tasks.lm_streams(stream, 4)
    assert rows.shape == (4, 26)  # (103 - 1) // 4 = 25 steps per stream, plus the last target
    assert [b.carry for b in batches] == [False, True, True]
    np.testing.assert_array_equal(np.concatenate([b.ids for b in batches], axis=1), rows[:, :-1])
    np.testing.assert_array_equal(np.concatenate([b.targets for b in batches], axis=1), rows[:, 1:])


def test_test_split_is_scored_after_training_and_read_before_it(tmp_path, cli):
    dev = str(REPO / "datasets/toy/sentiment-dev.tsv")
    result = _train(tmp_path, {"data": {"train": SENTIMENT, "test": dev}}, epochs=2)
    assert set(result.test) == {"loss", "accuracy"} and 0 <= result.test["accuracy"] <= 1
    (tmp_path / "c.yaml").write_text(f"data:\n  train: {SENTIMENT}\n  test: {tmp_path / 'missing.tsv'}\n"
                                     f"run:\n  dir: {tmp_path / 'run2'}\n")
    r = cli("train", "--config", tmp_path / "c.yaml")
    assert r.code == 4 and "missing.tsv" in r.err
    assert not (tmp_path / "run2").exists()


def test_on_error_skip_trains_on_the_good_rows_and_says_so(tmp_path, cli):
    rows = (REPO / "datasets/toy/sentiment.tsv").read_text() + "a row without a label\n\t1\n"
    (tmp_path / "d.tsv").write_text(rows)
    (tmp_path / "c.yaml").write_text(f"data:\n  train: {tmp_path / 'd.tsv'}\nrun:\n  dir: {tmp_path / 'run'}\n"
                                     "train:\n  epochs: 1\n")
    r = cli("train", "--config", tmp_path / "c.yaml")
    assert r.code == 4 and "d.tsv:182:" in r.err
    r = cli("train", "--config", tmp_path / "c.yaml", "--set", "data.on_error=skip")
    assert r.code == 0, r.err
    assert f"skipped 2 malformed row(s) of {tmp_path / 'd.tsv'}" in r.err and "d.tsv:182:" in r.err


FAKE_SCORES = {  # targets and a Scored of each task's shapes (see tasks.base.Scored)
    "classify": ([0, 1], np.array([[0.9, 0.1], [0.2, 0.8]])),
    "tag": ([np.array([0, 1])], [np.array([[0.9, 0.1], [0.2, 0.8]])]),
    "regress": (np.array([1.0, 2.0]), np.array([1.5, 2.5])),
    "lm": (None, None),
    "generate": (None, None),
    "seq2seq": ([[4, 5, 3]], [[4, 5]]),
}


@pytest.mark.parametrize("name", sorted(tasks.TASKS))
def test_epoch_metrics_name_what_each_epoch_scores(name):
    """A sweep's metric is checked against epoch_metrics: they must be what metrics() returns."""
    from rnncli.tasks.base import Scored

    targets, outputs = FAKE_SCORES[name]
    task = tasks.task_of(name)
    assert tuple(task.metrics(targets, Scored(0.5, 2, outputs), ["a", "b"])) == task.epoch_metrics


def test_which_metrics_are_better_higher():
    """One rule for train.monitor, a sweep's default mode and rnn plot's best value."""
    from rnncli.tasks.metrics import higher_is_better

    assert [m for m in ("dev_accuracy", "holdout_bleu", "dev_exact_match", "dev_loss", "dev_perplexity",
                        "dev_bits_per_token", "dev_mae") if higher_is_better(m)] == \
        ["dev_accuracy", "holdout_bleu", "dev_exact_match"]
