"""Language-model pretraining: task lm reading a table's texts (data.holdout_by, data.drop_contained,
data.reverse) and train.init_from transferring a run of another task (embedding rows by word, the
recurrent layers into the directions they read in, the rest fresh)."""

from __future__ import annotations

import numpy as np
import pytest

from rnncli.config import load_config
from rnncli.data.vocab import EOS
from rnncli.errors import ConfigError, ExitCode
from rnncli.evaluation.generate import _sample, generate
from rnncli.models.sequence import forward
from rnncli.rundir import load_run
from rnncli.tasks import task_of
from rnncli.training.prepare import initial_params, prepare
from rnncli.training.transfer import transfer

TABLE = "text\tlabel\na good movie\t1\ngood movie\t0\na bad film\t0\nthe plot was good\t1\nbad\t0\n"

LM = """task: lm
data:
  train: {train}
  tokenizer: whitespace
  text_field: text
vocab:
  min_freq: 1
model:
  cell: lstm
  embedding_dim: 8
  hidden_size: 6
  num_layers: {layers}
train:
  epochs: 1
  batch_size: 2
  bptt: 5
run:
  dir: {dir}
"""

CLASSIFY = """task: classify
data:
  train: datasets/toy/sentiment.tsv
  dev: datasets/toy/sentiment-dev.tsv
  tokenizer: whitespace
model:
  cell: lstm
  embedding_dim: 8
  hidden_size: 6
  num_layers: {layers}
  bidirectional: {bi}
  prefix: 2
train:
  epochs: 1
run:
  dir: runs/cls
"""


def lm_config(workspace, train="datasets/toy/sentiment.tsv", layers=1, run_dir="runs/lm", name="lm.yaml"):
    path = workspace / name
    path.write_text(LM.format(train=train, layers=layers, dir=run_dir))
    return path


def stream_words(cfg, sets=()):
    data = prepare(load_config(cfg, list(sets)))
    return [data.vocab.itos[i] for i in data.train.stream], data


def test_lm_reads_a_tables_texts_each_followed_by_eos(workspace):
    (workspace / "t.tsv").write_text(TABLE)
    cfg = lm_config(workspace, "t.tsv")
    words, _ = stream_words(cfg)
    assert words == "a good movie <eos> good movie <eos> a bad film <eos> the plot was good <eos> bad <eos>".split()
    contained, _ = stream_words(cfg, ["data.drop_contained=true"])  # "good movie" and "bad" are inside others
    assert contained == "a good movie <eos> a bad film <eos> the plot was good <eos>".split()
    backwards, _ = stream_words(cfg, ["data.reverse=true"])
    assert backwards[:8] == "movie good a <eos> movie good <eos> film".split() and backwards[-1] == EOS


def test_plain_text_reads_as_before_and_reverse_reads_it_backwards(workspace):
    (workspace / "t.txt").write_text("one two three\nfour five\n")
    cfg = lm_config(workspace, "t.txt")
    assert stream_words(cfg)[0] == "one two three four five".split()
    assert stream_words(cfg, ["data.reverse=true"])[0] == "five four three two one".split()


def test_lm_holds_out_the_texts_the_classifier_holds_out(workspace):
    """With the classifier's holdout keys the language model never reads the classifier's holdout texts."""
    (workspace / "t.tsv").write_text(TABLE)
    sets = ["data.holdout_split=0.5", "data.holdout_by=container", "train.monitor=holdout_loss"]
    words, lm = stream_words(lm_config(workspace, "t.tsv"), sets)
    clf = prepare(load_config("configs/sentiment-toy.yaml", ["data.train=t.tsv", *sets[:2],
                                                             "train.monitor=holdout_accuracy"]))
    assert lm.split == clf.split == {"by": "container", "train": 2, "holdout": 2, "dropped": 1}
    # held out: "a bad film", "the plot was good"; "bad" is found only inside them
    assert " ".join(words) == "a good movie <eos> good movie <eos>"
    assert len(lm.holdout.stream) == len("a bad film <eos> the plot was good <eos>".split())


@pytest.mark.parametrize("config", ["lm", "configs/sentiment-toy.yaml"])
@pytest.mark.parametrize("fraction,needle", [("0.99", "leaves 0 texts to train on"), ("0.2", "holds out 0 of 4")])
def test_a_container_split_that_empties_a_side_is_refused_before_anything_is_written(cli, workspace, config, fraction,
                                                                                      needle):
    """Texts found inside held-out ones leave training too, so the cut can empty either side: an error (exit 4)."""
    (workspace / "t.tsv").write_text("text\tlabel\nmovie was good\t1\nmovie\t0\nwas\t1\nbad film\t0\n")
    path = lm_config(workspace, "t.tsv") if config == "lm" else config
    r = cli("train", "--config", path, "--set", "data.train=t.tsv", "--set", f"data.holdout_split={fraction}",
            "--set", "data.holdout_by=container", "--set", "train.monitor=holdout_loss", "--set", "run.dir=runs/cut")
    assert r.code == ExitCode.DATA and needle in r.err and "Traceback" not in r.err, r.err
    assert not (workspace / "runs/cut").exists()


def test_a_language_model_with_fewer_than_two_tokens_is_refused_before_anything_is_written(cli, workspace):
    (workspace / "one.txt").write_text("word\n")
    r = cli("train", "--config", lm_config(workspace, "one.txt"), "--set", "run.dir=runs/one")
    assert r.code == ExitCode.DATA and "one.txt gives a language model 1 token to read" in r.err, r.err
    assert not (workspace / "runs/one").exists()


@pytest.mark.parametrize("sets,key", [
    (["data.reverse=true"], "data.reverse"),
    (["data.drop_contained=true"], "data.drop_contained"),
])
def test_lm_keys_elsewhere_are_config_errors(workspace, sets, key):
    with pytest.raises(ConfigError) as err:
        load_config("configs/sentiment-toy.yaml", sets)
    assert err.value.problems[0][0] == key and "applies to task lm only" in err.value.problems[0][1]


def test_a_container_split_of_plain_text_is_a_config_error(workspace):
    (workspace / "t.txt").write_text("one two three\n")
    with pytest.raises(ConfigError) as err:
        load_config(lm_config(workspace, "t.txt"), ["data.drop_contained=true"])
    assert "compares the texts of a table" in str(err.value)


@pytest.fixture
def lms(cli, workspace):
    """A forward and a backward language model of the toy sentiment texts, both 2 layers; the backward one
    starts from the forward one with its embedding frozen, so both read the same table."""
    fwd = lm_config(workspace, layers=2)
    r = cli("train", "--config", fwd, "--json")
    assert r.code == 0 and "reading 180 texts of datasets/toy/sentiment.tsv as one stream of" in r.err, r.err
    r = cli("train", "--config", fwd, "--init-from", "runs/lm", "--set", "data.reverse=true",
            "--set", "model.embeddings.freeze=true", "--set", "run.dir=runs/lm-back", "--json")
    assert r.code == 0, r.err
    assert "starting from runs/lm (train.init_from): the embedding rows of 36 of the vocabulary's 36 words; the " \
           "rest starts fresh" in r.err  # a forward model's layers do not read as a backward one
    forward_run, backward_run = load_run(workspace / "runs/lm"), load_run(workspace / "runs/lm-back")
    for word, i in backward_run.vocab.stoi.items():
        if i >= 2:
            np.testing.assert_array_equal(backward_run.params["embedding.weight"][i],
                                          forward_run.params["embedding.weight"][forward_run.vocab.stoi[word]])
    assert backward_run.reverse and not forward_run.reverse
    return forward_run, backward_run


def test_a_backward_model_takes_only_the_embedding_of_a_forward_one(workspace, lms):
    fwd, _ = lms
    cfg = load_config(workspace / "lm.yaml", ["data.reverse=true", "train.init_from=runs/lm"])
    data = prepare(cfg)
    params = initial_params(cfg, data.spec, data)
    before = {k: v.copy() for k, v in params.items()}
    [report] = transfer(params, data.spec, data.vocab, [fwd], reverse=True)
    assert report["layers"] == [] and report["words"] == len(data.vocab) - 2
    for name in params:
        if name != "embedding.weight":
            np.testing.assert_array_equal(params[name], before[name])
    with pytest.raises(ConfigError, match="fills no layer of this model"):
        transfer(params, data.spec, data.vocab, [fwd, fwd], reverse=True)


def fresh(workspace, layers=2, bi=True):
    path = workspace / "cls.yaml"
    path.write_text(CLASSIFY.format(layers=layers, bi=str(bi).lower()))
    cfg = load_config(path)
    data = prepare(cfg)
    return cfg, data, initial_params(cfg, data.spec, data)


def test_transfer_moves_words_by_token_and_layers_by_direction(workspace, lms):
    fwd, bwd = lms
    cfg, data, params = fresh(workspace)
    before = {k: v.copy() for k, v in params.items()}
    reports = transfer(params, data.spec, data.vocab, [fwd, bwd])
    table = params["embedding.weight"]
    words = [w for w in data.vocab.itos[2:] if w in fwd.vocab.stoi]
    assert reports[0]["words"] == len(words) > 0 and reports[1]["words"] is None
    for w in words:
        np.testing.assert_array_equal(table[data.vocab.stoi[w]], fwd.params["embedding.weight"][fwd.vocab.stoi[w]])
    np.testing.assert_array_equal(table[:2], before["embedding.weight"][:2])  # <pad>, <unk> keep theirs
    assert reports[0]["layers"] == ["rnn.l0", "rnn.l1"] and reports[1]["layers"] == ["rnn.l0_reverse", "rnn.l1_reverse"]
    E, H = 8, 6
    for run, ours in ((fwd, ""), (bwd, "_reverse")):
        for k in range(2):
            for part in ("W_hh", "b"):
                np.testing.assert_array_equal(params[f"rnn.l{k}{ours}.{part}"], run.params[f"rnn.l{k}.{part}"])
        np.testing.assert_array_equal(params[f"rnn.l0{ours}.W_ih"][:, :E], run.params["rnn.l0.W_ih"])
        # the prefix columns after the embedding start fresh
        np.testing.assert_array_equal(params[f"rnn.l0{ours}.W_ih"][:, E:], before[f"rnn.l0{ours}.W_ih"][:, E:])
    # layer 1 reads [forward h, backward h]: each run's layer 1 reads its own direction's block
    np.testing.assert_array_equal(params["rnn.l1.W_ih"][:, :H], fwd.params["rnn.l1.W_ih"])
    np.testing.assert_array_equal(params["rnn.l1.W_ih"][:, H:], before["rnn.l1.W_ih"][:, H:])
    np.testing.assert_array_equal(params["rnn.l1_reverse.W_ih"][:, H:], bwd.params["rnn.l1.W_ih"])
    np.testing.assert_array_equal(params["rnn.l1_reverse.W_ih"][:, :H], before["rnn.l1_reverse.W_ih"][:, :H])
    for name in ("head.W", "head.b", *(k for k in params if k.startswith("feature."))):
        np.testing.assert_array_equal(params[name], before[name])


def test_fewer_layers_take_the_first(workspace, lms):
    cfg, data, params = fresh(workspace, layers=1, bi=False)
    [report] = transfer(params, data.spec, data.vocab, lms[:1])
    assert report["layers"] == ["rnn.l0"]


def test_a_backward_run_needs_a_bidirectional_model(workspace, lms):
    cfg, data, params = fresh(workspace, bi=False)
    with pytest.raises(ConfigError) as err:
        transfer(params, data.spec, data.vocab, list(lms))
    assert "lm-back read its text backwards (data.reverse), so its layers fill the reverse directions" in str(err.value)


def test_two_forward_runs_clash(workspace, lms):
    cfg, data, params = fresh(workspace)
    with pytest.raises(ConfigError, match="both fill rnn.l0"):
        transfer(params, data.spec, data.vocab, [lms[0], lms[0]])


def test_a_damaged_start_run_names_no_option_that_train_lacks(cli, workspace, lms):
    """rnn train has no --last: a run of train.init_from with damaged best weights is to be restored or retrained."""
    (workspace / "runs/lm/weights-best.npz").write_bytes(b"not a zip")
    (workspace / "cls.yaml").write_text(CLASSIFY.format(layers=2, bi="true"))
    r = cli("train", "--config", "cls.yaml", "--init-from", "runs/lm", "--set", "run.dir=runs/damaged")
    assert r.code == ExitCode.RUN and "weights-best.npz is corrupt or truncated" in r.err, r.err
    assert "--last" not in r.err and "restore it from a copy, or retrain" in r.err
    assert not (workspace / "runs/damaged").exists()


def test_cli_transfer_trains_and_reports(cli, workspace, lms):
    (workspace / "cls.yaml").write_text(CLASSIFY.format(layers=2, bi="true"))
    r = cli("train", "--config", "cls.yaml", "--init-from", "runs/lm", "--init-from", "runs/lm-back")
    assert r.code == 0, r.err
    assert "starting from runs/lm (train.init_from): the embedding rows of" in r.err
    assert "starting from runs/lm-back (train.init_from): rnn.l0_reverse, rnn.l1_reverse; the rest starts fresh" in r.err
    assert load_run(workspace / "runs/cls").config.train.init_from == ["runs/lm", "runs/lm-back"]


@pytest.mark.parametrize("sets,needle", [
    (["model.hidden_size=4"], "has model.hidden_size 6; this config has 4"),
    (["model.cell=gru"], "has model.cell lstm; this config has gru"),
    (["data.lowercase=false", "data.train=upper.tsv"], "none of this config's"),
])
def test_mismatched_runs_are_config_errors_before_anything_is_written(cli, workspace, lms, sets, needle):
    (workspace / "upper.tsv").write_text("text\tlabel\nGOOD FILM\t1\nBAD FILM\t0\n")
    (workspace / "cls.yaml").write_text(CLASSIFY.format(layers=2, bi="true"))
    args = [a for s in sets for a in ("--set", s)]
    r = cli("train", "--config", "cls.yaml", "--init-from", "runs/lm", *args)
    assert r.code == ExitCode.CONFIG and needle in r.err and "Traceback" not in r.err, r.err
    assert not (workspace / "runs/cls").exists()


def test_a_backward_model_predicts_the_word_before(cli, workspace, lms):
    """It reads the text backwards: its next token is the one before the text."""
    _, bwd = lms
    [p] = task_of("lm").predict(bwd, ["good movie"])
    ids = np.asarray([[bwd.vocab.stoi["movie"], bwd.vocab.stoi["good"]]])
    logits, _ = forward(bwd.params, bwd.spec, ids, np.ones_like(ids, dtype=bool), keep_cache=False)
    assert p["next"][0]["token"] == bwd.vocab.itos[int(np.argmax(logits[0, -1]))]


def test_a_backward_model_generates_leftwards_from_the_prime_read_backwards(workspace, lms):
    _, bwd = lms
    ours = list(generate(bwd, "good movie", 3, seed=0))
    tokens = "movie good".split()  # the prime as the backward model reads it
    assert ours == list(_sample(bwd, bwd.vocab.encode(tokens), 3, 1.0, None, np.random.default_rng(0)))


def test_a_backward_models_text_reads_left_to_right_before_the_prime(cli, workspace, lms):
    """The tokens are sampled right to left; every output gives them in reading order, then the prime."""
    _, bwd = lms
    sampled = list(generate(bwd, "good movie", 4, seed=0))
    before = " ".join(sampled[::-1])
    r = cli("generate", "--model", "runs/lm-back", "--prime", "good movie", "--length", "4", "--seed", "0")
    assert r.code == 0 and r.out == f"{before} good movie\n", r.err
    r = cli("generate", "--model", "runs/lm-back", "--prime", "good movie", "--length", "4", "--seed", "0", "--json")
    assert r.json() == {"prime": "good movie", "text": before, "tokens": 4, "before_prime": True}
    from rnncli import api

    assert api.load(workspace / "runs/lm-back").generate("good movie", length=4, seed=0) == r.json()
    r = cli("generate", "--model", "runs/lm", "--prime", "good movie", "--length", "4", "--seed", "0", "--json")
    assert r.json()["before_prime"] is False


@pytest.mark.parametrize("value", ["[1, 2]", "[]", "{a: 1}"])
def test_init_from_is_a_run_or_a_list_of_runs(workspace, value):
    with pytest.raises(ConfigError) as err:
        load_config("configs/sentiment-toy.yaml", [f"train.init_from={value}"])
    assert "must be a string or a non-empty list of strings or null" in str(err.value)


@pytest.mark.parametrize("config,sets", [
    ("lm.yaml", ["data.holdout_split=0.5", "data.holdout_by=container", "data.drop_contained=true",
                 "train.monitor=holdout_loss"]),
    ("configs/sentiment-toy.yaml", ["data.holdout_split=0.3", "train.monitor=holdout_accuracy"]),
    ("configs/sentiment-toy.yaml", ["data.dev=null", "data.dev_split=0.3"]),
])
def test_the_model_a_config_describes_is_the_one_training_builds(workspace, config, sets):
    """rnn summary --config and rnn gradcheck --config count the vocabulary without the held-out parts, as
    training does."""
    from rnncli.training.prepare import spec_from_config

    (workspace / "t.tsv").write_text(TABLE)
    path = lm_config(workspace, "t.tsv") if config == "lm.yaml" else config
    cfg = load_config(path, sets)
    assert spec_from_config(cfg) == prepare(cfg).spec
