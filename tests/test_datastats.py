"""rnn data stats: counts, percentiles, label distribution and coverage, exact on small files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TOY = Path(__file__).resolve().parents[1] / "datasets" / "toy"


def test_lecture_file_exactly(cli):
    r = cli("data", "stats", TOY / "lecture.tsv", "--json")
    assert r.code == 0, r.err
    s = json.loads(r.out)
    assert (s["task"], s["examples"], s["tokens"], s["distinct_tokens"]) == ("classify", 3, 10, 5)
    assert s["labels"] == {"0": 2, "1": 1}
    assert s["lengths"] == {"p50": 3.0, "p90": 3.8, "p99": 3.98, "max": 4}
    # seen at least twice: movie ×3, was ×3, good ×2 → 8 of 10 tokens
    assert s["coverage"] == pytest.approx(0.8)


def test_coverage_by_a_given_vocabulary(cli, tmp_path, toy_run):
    (tmp_path / "new.tsv").write_text("text\tlabel\nmovie was superb\t1\n")
    r = cli("data", "stats", tmp_path / "new.tsv", "--model", toy_run, "--json")
    s = json.loads(r.out)
    assert s["coverage"] == pytest.approx(2 / 3) and "given vocabulary" in s["coverage_of"]
    cli("vocab", "build", TOY / "lecture.tsv", "--out", tmp_path / "v.json")
    s = json.loads(cli("data", "stats", tmp_path / "new.tsv", "--vocab", tmp_path / "v.json", "--json").out)
    assert s["coverage"] == pytest.approx(2 / 3)


def test_tagged_and_text_files(cli):
    s = json.loads(cli("data", "stats", TOY / "tagging-dev.conll", "--json").out)
    assert (s["task"], s["examples"], s["tokens"]) == ("tag", 24, 151)
    assert sum(s["labels"].values()) == 151 and next(iter(s["labels"])) == "NOUN"
    r = cli("data", "stats", TOY / "shakespeare-tiny.txt", "--tokenizer", "char", "--keep-case")
    assert r.code == 0 and "lines" in r.out and "39908" in r.out


@pytest.mark.parametrize("args,code,message", [
    (["--format", "xml"], 2, "unknown format 'xml'"),
    (["--tokenizer", "bpe"], 2, "unknown tokenizer 'bpe'"),
    (["--vocab", "v.json", "--model", "runs/x"], 2, "give --vocab or --model, not both"),
    (["--text-field", "review"], 4, "the header has no column named 'review'"),
])
def test_bad_arguments(cli, args, code, message):
    r = cli("data", "stats", TOY / "lecture.tsv", *args)
    assert r.code == code and message in r.err and "Traceback" not in r.err


def test_missing_file(cli, tmp_path):
    r = cli("data", "stats", tmp_path / "nope.tsv")
    assert r.code == 4 and "no such file" in r.err
