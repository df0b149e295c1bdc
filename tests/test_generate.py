"""rnn generate: sampling from a language model."""

from __future__ import annotations

import json

import pytest

from rnncli.rundir import load_run
from rnncli.config import config_from_dict
from rnncli.evaluation.generate import generate
from rnncli.training.train import train


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lm")
    (tmp / "text.txt").write_text("to be or not to be, that is the question.\n" * 40)
    cfg = config_from_dict({"task": "lm", "data": {"train": str(tmp / "text.txt"), "tokenizer": "char",
                                                    "lowercase": False},
                            "model": {"cell": "gru", "hidden_size": 32},
                            "train": {"epochs": 15, "batch_size": 4, "bptt": 30, "lr": 0.02},
                            "run": {"dir": str(tmp / "run")}}, name="lm")
    train(cfg)
    return tmp / "run"


def test_same_seed_same_text_and_greedy_ignores_the_seed(lm_run):
    run = load_run(lm_run)
    a = "".join(generate(run, "to be", 60, 3.0, None, seed=1))
    b = "".join(generate(run, "to be", 60, 3.0, None, seed=1))
    c = "".join(generate(run, "to be", 60, 3.0, None, seed=2))
    assert a == b and a != c and len(a) == 60
    greedy = {"".join(generate(run, "to be", 40, 1.0, top_k=1, seed=s)) for s in range(3)}
    assert len(greedy) == 1
    assert next(iter(greedy)).startswith(" or not to be")  # the model learned the line


def test_never_samples_pad_or_unk(lm_run):
    run = load_run(lm_run)
    text = list(generate(run, "q", 300, 5.0, None, seed=0))  # a hot temperature reaches rare tokens
    assert "<pad>" not in text and "<unk>" not in text


def test_cli_streams_prime_and_sample(cli, lm_run):
    r = cli("generate", "--model", lm_run, "--prime", "that is", "--length", "20", "--seed", "4")
    assert r.code == 0, r.err
    assert r.out.startswith("that is") and len(r.out) == len("that is") + 20 + 1  # + final newline
    r = cli("generate", "--model", lm_run, "--prime", "that is", "--length", "20", "--seed", "4", "--json")
    out = json.loads(r.out)
    assert out["prime"] == "that is" and out["tokens"] == 20 and len(out["text"]) == 20


@pytest.mark.parametrize("args,message", [
    (["--temperature", "0"], "the temperature must be > 0"),
    (["--prime", ""], "the prime has no tokens"),
    (["--seed", "-5"], "the seed must be a non-negative integer; got -5"),
])
def test_cli_bad_arguments(cli, lm_run, args, message):
    r = cli("generate", "--model", lm_run, *args)
    assert r.code == 2 and message in r.err and r.out == ""


def test_cli_refuses_a_classifier(cli, toy_run):
    r = cli("generate", "--model", toy_run)
    assert r.code == 2 and "generate needs a language model (task lm)" in r.err and r.out == ""
