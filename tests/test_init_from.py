"""rnn train --init-from RUN (train.init_from): a new run that starts from a trained run's weights and vocabulary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnncli.config import load_config
from rnncli.errors import ExitCode
from rnncli.rundir import load_run
from rnncli.training.prepare import prepare, warm_params, warm_start, warm_vocabularies


@pytest.fixture
def base(cli, workspace):
    assert cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "run.dir=runs/base", "--json").code == 0
    return workspace / "runs/base"


def test_it_starts_from_the_runs_weights_and_vocabulary(cli, workspace, base):
    cfg = load_config("configs/sentiment-toy.yaml", [f"train.init_from={base}", "data.train=datasets/toy/sentiment-dev.tsv"])
    [run] = warm_start(cfg)
    prepared = prepare(cfg, *warm_vocabularies(cfg, run))
    assert prepared.vocab.itos == run.vocab.itos  # not the dev file's own words
    params = warm_params(cfg, prepared.spec, run)
    for name, value in run.params.items():
        np.testing.assert_array_equal(params[name], value)
        assert params[name] is not value  # a copy: training must not change the run it started from
    r = cli("train", "--config", "configs/sentiment-toy.yaml", "--init-from", str(base), "--set", "train.epochs=1",
            "--set", "train.lr=0.0001", "--set", "run.dir=runs/ft", "--json")
    assert r.code == 0, r.err
    first = r.jsonl()[0]
    scratch = cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "train.epochs=1", "--set", "run.dir=runs/s",
                  "--json").jsonl()[0]
    assert first["train_loss"] < 0.05 < scratch["train_loss"]  # it already knows the task
    assert json.loads((workspace / "runs/ft/vocab.json").read_text()) == json.loads((base / "vocab.json").read_text())
    assert load_run(workspace / "runs/ft").config.train.init_from == str(base)


def test_the_config_key_does_the_same(cli, workspace, base):
    r = cli("train", "--config", "configs/sentiment-toy.yaml", "--set", f"train.init_from={base}",
            "--set", "train.epochs=1", "--set", "train.lr=0.0001", "--set", "run.dir=runs/ft", "--json")
    assert r.code == 0 and r.jsonl()[0]["train_loss"] < 0.05


@pytest.mark.parametrize("args,code,needle", [
    (["--set", "model.hidden_size=8"], ExitCode.CONFIG,
     "does not have the shapes of runs/base: rnn.l0.W_ih is 16×16 in the run but 8×16 here; rnn.l0.W_hh is"),
    (["--set", "model.cell=gru"], ExitCode.CONFIG, "rnn.l0.b_ih is missing from the run; rnn.l0.b_hh is missing"),
    (["--config", "configs/sentiment-toy-generate.yaml"], ExitCode.CONFIG, "this config's model is a generate model; a transfer"),
    (["--set", "model.embeddings.path=v.txt"], ExitCode.CONFIG, "and train.init_from both set the starting weights"),
])
def test_mismatches_are_reported_before_anything_is_written(cli, workspace, base, args, code, needle):
    config = args[1] if args[0] == "--config" else "configs/sentiment-toy.yaml"
    extra = [] if args[0] == "--config" else args
    r = cli("train", "--config", config, "--init-from", "runs/base", "--set", "run.dir=runs/ft", *extra)
    assert r.code == code, r.err
    assert needle in r.err and "Traceback" not in r.err
    assert not (workspace / "runs/ft").exists()


def test_resume_and_init_from_exclude_each_other(cli, workspace, base):
    r = cli("train", "--resume", "runs/base", "--init-from", "runs/base")
    assert r.code == ExitCode.USAGE and "--resume continues a run; --init-from starts a new one" in r.err


def test_a_missing_run(cli, workspace):
    r = cli("train", "--config", "configs/sentiment-toy.yaml", "--init-from", "runs/none", "--set", "run.dir=runs/ft")
    assert r.code == ExitCode.RUN and "runs/none" in r.err
