"""rnn predict --data FILE: every example of a file with its original columns and its prediction; rnn evaluate
--predictions for error analysis."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from rnncli.errors import ExitCode

DEV = "datasets/toy/sentiment-dev.tsv"


@pytest.fixture
def toy(cli, workspace):
    assert cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "run.dir=runs/toy", "--json").code == 0
    return "runs/toy"


def _rows(path, delimiter="\t"):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def test_every_row_keeps_its_columns_and_the_accuracy_is_evaluates(cli, workspace, toy):
    r = cli("predict", "--model", toy, "--data", DEV, "--out", "p.csv")
    assert r.code == 0, r.err
    rows = _rows(workspace / "p.csv", ",")
    assert len(rows) == 36 and list(rows[0]) == ["text", "label", "predicted", "probability"]
    original = _rows(workspace / DEV)
    assert [(x["text"], x["label"]) for x in rows] == [(o["text"], o["label"]) for o in original]
    accuracy = sum(x["predicted"] == x["label"] for x in rows) / len(rows)
    assert accuracy == pytest.approx(cli("evaluate", "--model", toy, "--data", DEV, "--json").json()["accuracy"])
    single = cli("predict", "--model", toy, rows[3]["text"], "--json").jsonl()[0]
    assert rows[3]["predicted"] == single["label"]
    assert float(rows[3]["probability"]) == pytest.approx(single["scores"][single["label"]], rel=1e-5)


def test_stdout_formats_top_k_and_threshold(cli, workspace, toy):
    r = cli("predict", "--model", toy, "--data", DEV)  # stdout, in the file's own format: TSV
    assert r.out.splitlines()[0] == "text\tlabel\tpredicted\tprobability"
    objs = cli("predict", "--model", toy, "--data", DEV, "--json", "--top-k", "2").jsonl()
    assert len(objs) == 36 and [t["label"] for t in objs[0]["top_k"]][0] == objs[0]["predicted"]
    assert len(objs[0]["top_k"]) == 2
    strict = cli("predict", "--model", toy, "--data", DEV, "--json", "--threshold", "0.999").jsonl()
    assert any(o["predicted"] == "" for o in strict)
    assert all(o["predicted"] == "" or o["probability"] >= 0.999 for o in strict)


def test_large_gzipped_file_in_chunks(cli, workspace, toy):
    lines = (workspace / DEV).read_text().splitlines()
    body = [lines[1 + i % 36] for i in range(1300)]  # more than two chunks of 512
    with gzip.open(workspace / "big.tsv.gz", "wt") as f:
        f.write("\n".join([lines[0], *body]) + "\n")
    r = cli("predict", "--model", toy, "--data", "big.tsv.gz", "--out", "big.jsonl")
    assert r.code == 0, r.err
    out = [json.loads(x) for x in (workspace / "big.jsonl").read_text().splitlines()]
    assert len(out) == 1300 and out[1299]["text"] == body[1299].split("\t")[0]


def test_a_tagger_writes_a_row_per_token(cli, workspace):
    assert cli("train", "--config", "configs/tagging-toy.yaml", "--set", "run.dir=runs/tag", "-q").code == 0
    r = cli("evaluate", "--model", "runs/tag", "--data", "datasets/toy/tagging-dev.conll", "--predictions", "e.tsv",
            "--json")
    assert r.code == 0, r.err
    rows = _rows(workspace / "e.tsv")
    assert list(rows[0]) == ["sentence", "token", "gold", "predicted", "probability", "correct"]
    assert len(rows) == 151 and rows[0]["sentence"] == "1"
    assert sum(x["correct"] == "True" for x in rows) / len(rows) == pytest.approx(r.json()["accuracy"])


def test_seq2seq_and_lm(cli, workspace):
    assert cli("data", "make", "reverse", "--length", "5", "--n", "200", "--out", "data/reverse.tsv").code == 0
    assert cli("train", "--config", "configs/reverse-seq2seq.yaml", "--set", "train.epochs=1",
               "--set", "run.dir=runs/rev", "-q").code == 0
    objs = cli("predict", "--model", "runs/rev", "--data", "data/reverse.tsv", "--json").jsonl()
    assert len(objs) == 200 and {"source", "target", "predicted", "log_probability"} <= set(objs[0])
    (workspace / "lines.txt").write_text("ROMEO:\nTo be or not to b\n")
    assert cli("train", "--config", "configs/char-lm-toy.yaml", "--set", "train.epochs=1", "--set",
               "model.hidden_size=16", "--set", "run.dir=runs/lm", "-q").code == 0
    objs = cli("predict", "--model", "runs/lm", "--data", "lines.txt", "--json", "--top-k", "3").jsonl()
    assert [o["text"] for o in objs] == ["ROMEO:", "To be or not to b"] and len(objs[0]["top_k"]) == 3
    for model, option in [("runs/rev", "--top-k"), ("runs/rev", "--threshold")]:
        r = cli("predict", "--model", model, "--data", "data/reverse.tsv", option, "1")
        assert r.code == ExitCode.USAGE and f"{option} does not apply to a seq2seq model's predictions." in r.err


def test_tsv_cells_stay_on_one_line():
    """A tab or a line break in a cell (a language model predicts newlines) is escaped in TSV; a backslash, which
    the TSV reader takes as written, is not."""
    import io

    from rnncli.data.rows import RowWriter

    buf = io.StringIO()
    writer = RowWriter(buf, "tsv")
    writer.write({"text": "a\tb", "predicted": "\n", "top_k": [{"token": "\\"}]})
    assert buf.getvalue() == 'text\tpredicted\ttop_k\na\\tb\t\\n\t[{"token": "\\\\"}]\n'


def test_a_tagger_takes_a_threshold_not_a_top_k(cli, workspace):
    assert cli("train", "--config", "configs/tagging-toy.yaml", "--set", "run.dir=runs/tag", "-q").code == 0
    r = cli("predict", "--model", "runs/tag", "--data", "datasets/toy/tagging-dev.conll", "--top-k", "2")
    assert r.code == ExitCode.USAGE and "--top-k does not apply to a tag model's predictions; --threshold does." in r.err
    r = cli("predict", "--model", "runs/tag", "--data", "datasets/toy/tagging-dev.conll", "--threshold", "1")
    assert r.code == 0 and all(line.split("\t")[3] == "" for line in r.out.splitlines()[1:]), r.out


@pytest.mark.parametrize("args,code,needle", [
    (["--data", DEV, "--out", "p.txt"], ExitCode.USAGE, "cannot tell the format of p.txt"),
    (["--data", "none.tsv"], ExitCode.DATA, "none.tsv: no such file"),
    (["--data", "bad.tsv"], ExitCode.DATA, "no column named 'text'"),
    (["--data", "empty-text.tsv", "--out", "p.csv"], ExitCode.DATA, "empty-text.tsv:3: the text is empty"),
    (["--data", "cut.tsv.gz", "--out", "p.csv"], ExitCode.DATA, "cut.tsv.gz: not a valid gzip file"),
    (["good", "--data", DEV], ExitCode.USAGE, "give TEXT arguments or --data FILE, not both"),
    (["good", "--top-k", "2"], ExitCode.USAGE, "--out, --top-k and --threshold apply to --data FILE"),
])
def test_bad_requests(cli, workspace, toy, args, code, needle):
    import gzip

    (workspace / "cut.tsv.gz").write_bytes(gzip.compress(b"text\tlabel\n" + b"good movie\t1\n" * 2000)[:-40])
    (workspace / "bad.tsv").write_text("sentence\tlabel\ngood\t1\n")
    (workspace / "empty-text.tsv").write_text("text\tlabel\ngood\t1\n \t0\n")
    r = cli("predict", "--model", toy, *args)
    assert r.code == code, r.err
    assert needle in r.err and "Traceback" not in r.err
    assert not (workspace / "p.csv").exists()
