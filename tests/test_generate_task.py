"""task generate: a conditional sequence generator (one-to-many), as one new task module.

The toy sentiment file read the other way round: from a label, a review. Gradients are checked with
every other task's (`rnn gradcheck`'s default cases include the generator), and resuming it bit for
bit is in test_resume.py."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_contracts import assert_documented

from rnncli.errors import ExitCode
from rnncli.models import generator, init_params
from rnncli.rundir import load_run
from rnncli.tasks import task_of
from rnncli.tools import gradcheck as gc

CONFIG = "configs/sentiment-toy-generate.yaml"
RUN = "runs/sentiment-toy-generate"
DEV = "datasets/toy/sentiment-dev.tsv"


@pytest.fixture
def generator_run(cli, workspace):
    r = cli("train", "--config", CONFIG)
    assert r.code == 0, r.err
    assert r.out.rstrip().endswith(f"Next: rnn generate --model {RUN} --condition LABEL --num 5")
    return workspace / RUN


def test_generate_samples_per_condition_and_repeats_with_a_seed(cli, generator_run):
    r = cli("generate", "--model", RUN, "--condition", "1", "--num", "4", "--seed", "7", "--json")
    assert r.code == 0, r.err
    texts = r.jsonl()
    assert len(texts) == 4 and all(t["condition"] == "1" and t["text"] and t["tokens"] >= 1 for t in texts)
    assert all(t["tokens"] == len(t["text"].split()) for t in texts)
    for t in texts:
        assert_documented("rnn generate", t, {"condition", "text", "tokens"})
    again = cli("generate", "--model", RUN, "--condition", "1", "--num", "4", "--seed", "7", "--json")
    assert again.jsonl() == texts
    vocab = set(json.loads((generator_run / "vocab.json").read_text())["tokens"])
    assert all(set(t["text"].split()) <= vocab - {"<pad>", "<unk>", "<bos>", "<eos>"} for t in texts)
    plain = cli("generate", "--model", RUN, "--condition", "0", "--num", "3", "--seed", "1")
    assert plain.code == 0 and len(plain.out.splitlines()) == 3
    short = cli("generate", "--model", RUN, "--condition", "0", "--num", "5", "--length", "2", "--seed", "1", "--json")
    assert all(t["tokens"] <= 2 for t in short.jsonl())


def test_the_condition_changes_what_the_model_expects(generator_run):
    """The dev texts are likelier under their own label than under the other one."""
    run = load_run(generator_run)
    task = task_of("generate")
    data = run.encode(task.read(run.config, DEV), DEV)
    own = task.score(run.params, run.spec, data).loss
    data.targets = 1 - data.targets
    assert task.score(run.params, run.spec, data).loss > own + 0.05


def test_evaluate_reports_loss_and_perplexity(cli, generator_run):
    r = cli("evaluate", "--model", RUN, "--data", DEV, "--json")
    assert r.code == 0, r.err
    m = r.json()
    assert m["task"] == "generate" and m["n"] == 36
    assert m["perplexity"] == pytest.approx(math.exp(m["loss"]))
    text = cli("evaluate", "--model", RUN, "--data", DEV)
    assert "36 texts" in text.out and "perplexity" in text.out


@pytest.mark.parametrize("args,needle", [
    (["--condition", "maybe"], "knows no condition 'maybe'"),
    ([], "generates text from a label: pass --condition LABEL"),
    (["--condition", "1", "--prime", "movie"], "--prime starts a language model"),
    (["--condition", "1", "--temperature", "0"], "the temperature must be > 0"),
])
def test_generate_usage_errors(cli, generator_run, args, needle):
    r = cli("generate", "--model", RUN, *args)
    assert r.code == ExitCode.USAGE and needle in r.err and "hint: " in r.err


def test_predict_on_a_generator_says_what_to_use(cli, generator_run):
    r = cli("predict", "--model", RUN, "movie was good")
    assert r.code == ExitCode.USAGE and "rnn generate --model" in r.err


def test_a_condition_needs_a_generator(cli, toy_run):
    r = cli("generate", "--model", toy_run, "--condition", "1")
    assert r.code == ExitCode.USAGE and "--condition needs a conditional generator" in r.err


def test_config_checks(cli, workspace):
    r = cli("config", "show", CONFIG, "--set", "model.bidirectional=true", "--set", "model.learn_h0=true")
    assert r.code == ExitCode.CONFIG
    assert "model.bidirectional" in r.err and "model.learn_h0" in r.err
    r = cli("config", "show", "configs/sentiment-toy.yaml", "--set", "model.feed_condition=true")
    assert r.code == ExitCode.CONFIG and "applies to task generate only" in r.err
    assert cli("gradcheck", "--config", CONFIG).code == 0


def test_summary_lists_the_generators_parameters(cli, workspace):
    r = cli("summary", "--config", CONFIG, "--json")
    assert r.code == 0, r.err
    names = [p["name"] for p in r.json()["parameters"]]
    assert names[:2] == ["condition_embedding.weight", "embedding.weight"]
    assert {"start.l0.W_h", "start.l0.b_h", "rnn.l0.W_hh", "head.W"} <= set(names)


def test_padded_batch_equals_each_sequence_alone():
    spec = task_of("generate").gradcheck_spec("lstm", "tanh", False, 2, False, feed_condition=True)
    rng = np.random.default_rng(0)
    params = init_params(spec, rng, np.float64)
    ids, mask, targets = gc.random_batch(spec, rng, N=3, T=5, padded=True)
    loss, grads, logits, _ = generator.loss_and_grads(params, spec, ids, mask, targets)
    total = {k: np.zeros_like(g) for k, g in grads.items()}
    n = mask.sum()
    for i in range(3):
        T = int(mask[i].sum())
        li, gi, zi, _ = generator.loss_and_grads(params, spec, ids[i : i + 1, :T], mask[i : i + 1, :T],
                                                 targets[i : i + 1, :T])
        np.testing.assert_allclose(zi[0], logits[i, :T], rtol=1e-12, atol=1e-12)
        for k in total:
            total[k] += gi[k] * T / n  # each alone is a mean over its own T tokens
    for k in grads:
        np.testing.assert_allclose(grads[k], total[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_sampling_never_draws_specials_and_stops_at_eos():
    spec = task_of("generate").gradcheck_spec("gru", "tanh", False, 1, False)
    params = init_params(spec, np.random.default_rng(0), np.float64)
    sequences = generator.sample(params, spec, 1, num=20, max_length=6, rng=np.random.default_rng(0))
    assert len(sequences) == 20 and all(1 <= len(s) <= 6 for s in sequences)  # never empty
    assert all(t not in generator.NEVER_SAMPLED and t != 3 for s in sequences for t in s)  # 3: <eos> ends, unseen
    assert any(len(s) < 6 for s in sequences)  # some ended with <eos>
