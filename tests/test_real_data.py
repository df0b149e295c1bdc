"""Reduced versions of the real-data configs, trained for a bounded time: a regression in the
engine or the data path shows up as a metric no better than chance. (The full configs and
their results are in the README.)"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _head(src: Path, dst: Path, lines: int) -> Path:
    with gzip.open(src, "rt", encoding="utf-8") as f:
        dst.write_text("".join(line for _, line in zip(range(lines), f)), encoding="utf-8")
    return dst


def _done(cli, config: str, *sets: str) -> dict:
    r = cli("train", "--config", REPO / "configs" / config, "--json", *[a for s in sets for a in ("--set", s)])
    assert r.code == 0, r.err
    return json.loads(r.out.splitlines()[-1])


def _final(cli, config: str, *sets: str) -> dict:
    return _done(cli, config, *sets)["final"]


def test_sst2_bilstm_reduced(cli, tmp_path):
    train = _head(REPO / "datasets/sst2/train.tsv.gz", tmp_path / "train.tsv", 6001)  # header + 6,000 phrases
    done = _done(cli, "sst2-bilstm.yaml", f"data.train={train}", f"data.dev={REPO / 'datasets/sst2/dev.tsv.gz'}",
                 "train.epochs=2", f"run.dir={tmp_path / 'run'}")
    assert done["dev"]["accuracy"] > 0.62  # chance: 0.51; dev is scored once, with the epoch chosen on the holdout


def test_sst2_pretraining_reduced(cli, tmp_path):
    """configs/sst2-lm.yaml, sst2-lm-reverse.yaml and sst2-bilstm-lm.yaml chained on the first 6,000 phrases."""
    train = _head(REPO / "datasets/sst2/train.tsv.gz", tmp_path / "train.tsv", 6001)
    forward, backward = tmp_path / "lm", tmp_path / "lm-reverse"
    lm = _done(cli, "sst2-lm.yaml", f"data.train={train}", "train.epochs=2", f"run.dir={forward}")
    assert lm["best"]["value"] < 7.0  # holdout nats per token; uniform over the words: ln |V| > 8
    _done(cli, "sst2-lm-reverse.yaml", f"data.train={train}", "train.epochs=1", f"train.init_from={forward}",
          f"run.dir={backward}")
    r = cli("train", "--config", REPO / "configs/sst2-bilstm-lm.yaml", "--json", "--set", f"data.train={train}",
            "--set", f"data.dev={REPO / 'datasets/sst2/dev.tsv.gz'}", "--set", "train.epochs=4",
            "--set", f"train.init_from=[{forward}, {backward}]", "--set", f"run.dir={tmp_path / 'run'}")
    assert r.code == 0, r.err
    assert f"starting from {backward} (train.init_from): rnn.l0_reverse" in r.err
    assert json.loads(r.out.splitlines()[-1])["dev"]["accuracy"] > 0.62


def test_ewt_upos_bilstm_reduced(cli, tmp_path):
    train = _head(REPO / "datasets/ud_english_ewt/en_ewt-ud-train.conllu.gz", tmp_path / "train.conllu", 20000)
    done = _done(cli, "ewt-upos-bilstm.yaml", f"data.train={train}",
                 f"data.dev={REPO / 'datasets/ud_english_ewt/en_ewt-ud-dev.conllu.gz'}", "train.epochs=4", "train.lr=0.01",
                 f"run.dir={tmp_path / 'run'}")
    assert done["dev"]["accuracy"] > 0.75  # always NOUN: 0.17


def test_shakespeare_char_lstm_reduced(cli, tmp_path):
    final = _final(cli, "shakespeare-char-lstm.yaml", f"data.train={REPO / 'datasets/toy/shakespeare-tiny.txt'}",
                   "train.epochs=4", "model.hidden_size=96", "train.lr=0.01", "train.bptt=50", f"run.dir={tmp_path / 'run'}")
    assert final["dev_loss"] < 2.6  # uniform over the characters: ln 57 ≈ 4.0; unigram ≈ 3.3


def test_adding_lstm_reduced(cli, tmp_path):
    for n, seed, name in ((2000, 0, "train"), (300, 1, "dev")):
        r = cli("data", "make", "adding", "--length", "20", "--n", str(n), "--seed", str(seed),
                "--out", tmp_path / f"{name}.tsv")
        assert r.code == 0, r.err
    final = _final(cli, "adding-lstm.yaml", f"data.train={tmp_path / 'train.tsv'}",
                   f"data.dev={tmp_path / 'dev.tsv'}", "train.epochs=12", f"run.dir={tmp_path / 'run'}")
    assert final["dev_loss"] < 0.08  # predicting 1: 0.167
