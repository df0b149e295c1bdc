"""rnn data make: seeded synthetic tasks, their baselines, and the files the tasks read."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnncli.data import synthetic
from rnncli.data import read_examples, read_tagged
from rnncli.data.features import parse_all


@pytest.mark.parametrize("task", list(synthetic.GENERATORS))
def test_same_seed_same_data_other_seed_differs(task):
    a = synthetic.make(task, 12, 50, seed=3).text()
    assert a == synthetic.make(task, 12, 50, seed=3).text()
    assert a != synthetic.make(task, 12, 50, seed=4).text()


def test_adding_problem():
    d = synthetic.make("adding", 20, 2000, seed=0)
    assert d.header == ["text", "label"] and d.config_task == "regress"
    x = parse_all([row[0] for row in d.rows])
    assert all(a.shape == (20, 2) for a in x)
    for a, (_, label) in zip(x, d.rows):
        marked = np.flatnonzero(a[:, 1])
        assert len(marked) == 2 and marked[0] < 10 <= marked[1]  # one marker in each half
        assert float(label) == pytest.approx(a[marked, 0].sum(), abs=1e-9)
        assert np.all((0 <= a[:, 0]) & (a[:, 0] <= 1))
    targets = np.array([float(label) for _, label in d.rows])
    assert d.baseline["value"] == pytest.approx(np.mean((targets - 1) ** 2))
    assert d.baseline["value"] == pytest.approx(1 / 6, abs=0.01)  # Var of the sum of two U[0, 1]
    assert d.baseline["expected"] == pytest.approx(1 / 6)


def test_copy_task():
    d = synthetic.make("copy", 5, 3, seed=1)
    assert d.header is None and d.config_task == "tag"
    for seq in d.rows:
        tokens, tags = zip(*seq)
        assert len(seq) == 5 + 2 * synthetic.COPY_K
        assert tokens[14] == ":" and set(tokens[10:]) <= {"-", ":"}
        assert tags[-10:] == tokens[:10] and set(tags[:15]) == {"-"}
    assert d.baseline["value"] == pytest.approx(10 * math.log(8) / 25)


def test_parity_and_sentiment_labels():
    p = synthetic.make("parity", 9, 200, seed=0)
    for text, label in p.rows:
        assert int(label) == text.split().count("1") % 2 and len(text.split()) == 9
    s = synthetic.make("sentiment", 7, 200, seed=0)
    labels = [int(label) for _, label in s.rows]
    assert labels.count(1) == labels.count(0) == 100
    for text, label in s.rows:
        words = text.split()
        assert len(words) == 7 and words[:3] == ["the", "movie", "was"]
        positive = words[-1] in synthetic.SENTIMENT_POSITIVE
        assert int(label) == int(positive != ("not" in words))


def test_files_are_read_by_their_tasks(cli, workspace):
    for task, ext in synthetic.EXTENSIONS.items():
        out = workspace / "data" / f"{task}{ext}"
        r = cli("data", "make", task, "--length", "6", "--n", "5", "--out", out, "--json")
        assert r.code == 0, r.err
        assert r.json()["out"] == str(out) and r.json()["n"] == 5
        if ext == ".conll":
            assert len(read_tagged(out)) == 5
        elif r.json()["config_task"] == "seq2seq":  # source<TAB>target pairs
            assert len(read_examples(out, text_field="source", label_field="target")) == 5
        else:
            assert len(read_examples(out)) == 5


def test_data_make_table_prints_the_baseline(cli, workspace):
    r = cli("data", "make", "adding", "--length", "100", "--n", "1000", "--out", "data/adding-100.tsv")
    assert r.code == 0, r.err
    lines = [line.rstrip() for line in r.out.splitlines()]
    assert "task          │ adding (config task: regress, model.input: features)" in lines
    assert "baseline      │ always predict 1: mse 0.1663 (expected 0.1667)" in lines
    assert (workspace / "data/adding-100.tsv").read_text().startswith("text\tlabel\n")


@pytest.mark.parametrize("args,message", [
    (["addng", "--length", "10"], "Error: unknown synthetic task 'addng' (did you mean 'adding'?)."),
    (["parity", "--length", "0"], "Error: --length must be at least 1; got 0."),
    (["adding", "--length", "1"], "Error: the adding problem needs --length of at least 2; got 1."),
    (["sentiment", "--length", "3"], "Error: toy sentiment needs --length of at least 4 words; got 3."),
    (["copy", "--length", "5", "--n", "0"], "Error: --n must be at least 1; got 0."),
])
def test_data_make_bad_input(cli, workspace, args, message):
    r = cli("data", "make", *args, "--out", "x.tsv")
    assert r.code == 2
    assert r.err_lines[0] == message
    assert not (workspace / "x.tsv").exists()


def test_data_make_refuses_to_overwrite(cli, workspace):
    assert cli("data", "make", "parity", "-T", "4", "--out", "p.tsv", "-q").code == 0
    r = cli("data", "make", "parity", "-T", "4", "--out", "p.tsv")
    assert r.code == 2 and r.err_lines[0] == "Error: p.tsv already exists."
    assert cli("data", "make", "parity", "-T", "5", "--out", "p.tsv", "--force").code == 0
    assert len((workspace / "p.tsv").read_text().splitlines()[1].split("\t")[0].split()) == 5
