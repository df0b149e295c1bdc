"""Bad input never crashes.

1. A matrix of bad inputs, each one `rnn` command, asserting the exit code, the exact start of the
   first stderr line, a `hint:` line, no traceback, nothing on stdout, and that no file appeared,
   changed or was left half-written (the whole workspace is compared before and after).
   Several cases have a more detailed test elsewhere, named in the matrix's comments.
2. Long inputs that are not errors: they work.
3. Property-based tests (hypothesis): arbitrary text, YAML, --set values and file bytes give a
   result or a clean RnncliError, never another exception.
4. Security: YAML only through safe_load, arrays only with allow_pickle=False, no eval/exec/pickle.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncli.errors import ExitCode, RnncliError

REPO = Path(__file__).resolve().parent.parent
TOY = "configs/sentiment-toy.yaml"
RUN = "run-copy"  # the `run_copy` fixture: a writable copy of the trained toy run, inside the workspace


# --- 1. the matrix ----------------------------------------------------------------------------


def write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        path = ws / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return setup


def damage_run(how: Callable[[Path], None]) -> Callable[[Path], None]:
    return lambda ws: how(ws / RUN)


def truncate(name: str) -> Callable[[Path], None]:
    def setup(run: Path) -> None:
        raw = (run / name).read_bytes()
        (run / name).write_bytes(raw[: len(raw) // 2])
    return damage_run(setup)


def tamper(name: str) -> Callable[[Path], None]:
    """Flip bytes inside the first array's data: the zip structure stays valid, the CRC does not."""
    def setup(run: Path) -> None:
        raw = bytearray((run / name).read_bytes())
        start = raw.index(b"\x93NUMPY") + 160  # past the .npy header, into the numbers
        raw[start : start + 8] = bytes(b ^ 0xFF for b in raw[start : start + 8])
        (run / name).write_bytes(bytes(raw))
    return damage_run(setup)


def zip_version(name: str) -> Callable[[Path], None]:
    """Claim in the zip's central directory that the first member needs zip version 6.4."""
    def setup(run: Path) -> None:
        raw = bytearray((run / name).read_bytes())
        at = raw.index(b"PK\x01\x02") + 6  # "version needed to extract"
        raw[at : at + 2] = (64).to_bytes(2, "little")
        (run / name).write_bytes(bytes(raw))
    return damage_run(setup)


def edit_json(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def setup(run: Path) -> None:
        data = json.loads((run / name).read_text(encoding="utf-8"))
        change(data)
        (run / name).write_text(json.dumps(data), encoding="utf-8")
    return damage_run(setup)


def add_token(vocab: dict) -> None:
    vocab["tokens"].append("zzqxw")
    vocab["counts"]["zzqxw"] = 1


@dataclass
class Case:
    args: list[str]
    code: ExitCode
    first: str  # the first stderr line starts with this
    setup: Callable[[Path], None] | None = None
    needs_run: bool = False
    stdin: str | None = None
    extra: list[str] = field(default_factory=list)  # more text expected somewhere in stderr


def train(*sets: str) -> list[str]:
    return ["train", "--config", TOY, *[a for s in sets for a in ("--set", s)]]


C = ExitCode
MATRIX: dict[str, Case] = {
    # missing paths (test_cli: test_missing_config, test_train_missing_data_file, test_missing_run_dir)
    "missing-config": Case(["train", "--config", "nope.yaml"], C.CONFIG, "Error: config file nope.yaml not found"),
    "missing-data": Case(train("data.train=nope.tsv"), C.DATA, "Error: nope.tsv: no such file."),
    "missing-dev-data": Case(train("data.dev=nope.tsv"), C.DATA, "Error: nope.tsv: no such file."),
    "missing-model": Case(["predict", "--model", "runs/nope", "x"], C.RUN,
                          "Error: runs/nope is not a usable run directory: it does not exist."),
    "missing-vocab": Case(train("vocab.path=nope.json"), C.DATA, "Error: nope.json: no such vocabulary file."),
    "missing-eval-data": Case(["evaluate", "--model", RUN, "--data", "nope.tsv"], C.DATA,
                              "Error: nope.tsv: no such file.", needs_run=True),
    # a directory where a file is expected, and the reverse (test_cli: test_run_dir_is_a_file)
    "config-is-a-directory": Case(["train", "--config", "configs"], C.CONFIG,
                                  "Error: configs is a directory, not a config file"),
    "data-is-a-directory": Case(train("data.train=datasets"), C.DATA,
                                "Error: datasets is a directory, not a data file."),
    "eval-data-is-a-directory": Case(["evaluate", "--model", RUN, "--data", "datasets"], C.DATA,
                                     "Error: datasets is a directory, not a data file.", needs_run=True),
    "model-is-a-file": Case(["predict", "--model", "f.txt", "x"], C.RUN,
                            "Error: f.txt is not a usable run directory: it is a file, not a directory.",
                            setup=write("f.txt", "x")),
    # empty and malformed data files
    "empty-data": Case(train("data.train=e.tsv"), C.DATA, "Error: e.tsv: the file is empty.", write("e.tsv", "")),
    "header-only": Case(train("data.train=h.tsv"), C.DATA,
                        "Error: h.tsv: no examples; the file has a header row but no data rows.",
                        write("h.tsv", "text\tlabel\n")),
    "missing-column": Case(train("data.train=s.tsv"), C.DATA,
                           "Error: s.tsv:3: the label is column 1 (0-based), but this row has only 1 column.",
                           write("s.tsv", "text\tlabel\ngood movie\t1\nbad movie\n")),
    # (test_cli: test_train_wrong_column_name, test_evaluate_wrong_column)
    "wrong-column": Case(train("data.text_field=review"), C.DATA,
                         "Error: datasets/toy/sentiment.tsv:1: the header has no column named 'review'"),
    "single-label": Case(train("data.train=one.tsv"), C.DATA, "Error: one.tsv has a single label ('1')",
                         write("one.tsv", "text\tlabel\ngood\t1\nfine\t1\n")),
    # (test_cli: test_evaluate_unknown_label)
    "unseen-label-at-evaluation": Case(["evaluate", "--model", RUN, "--data", "l.tsv"], C.DATA,
                                       "Error: l.tsv: example 1 has an unknown label 'pos'; the known labels are: '0', '1'.",
                                       setup=write("l.tsv", "text\tlabel\nmovie was good\tpos\n"), needs_run=True),
    "empty-eval-data": Case(["evaluate", "--model", RUN, "--data", "e.tsv"], C.DATA, "Error: e.tsv: the file is empty.",
                            write("e.tsv", ""), needs_run=True),
    # bytes that are not UTF-8 text
    "non-utf8-data": Case(train("data.train=latin.tsv"), C.DATA, "Error: latin.tsv:2: not valid UTF-8 (byte 0xe9).",
                          write("latin.tsv", b"text\tlabel\nbad caf\xe9\t1\ngood\t0\n")),
    "binary-data": Case(train("data.train=bin.tsv"), C.DATA,
                        "Error: bin.tsv:1: contains NUL bytes; this looks like a binary file, not text.",
                        write("bin.tsv", bytes(range(256)) * 4)),
    "non-utf8-config": Case(["train", "--config", "latin.yaml"], C.CONFIG,
                            "Error: latin.yaml is not UTF-8 text (byte 0xe9 at offset 18)",
                            write("latin.yaml", b"data:\n  train: caf\xe9.tsv\n")),
    "binary-config": Case(["train", "--config", "bin.yaml"], C.CONFIG, "Error: bin.yaml is not UTF-8 text",
                          write("bin.yaml", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))),
    "binary-vocab": Case(train("vocab.path=v.json"), C.DATA, "Error: v.json", write("v.json", b"\x00\xff" * 50)),
    "vocab-of-other-tokens": Case(train("vocab.path=v.json"), C.DATA,
                                  "Error: v.json holds none of the training data's",
                                  write("v.json", '{"format": "rnncli-vocab", "version": 1, "specials": ["<pad>", "<unk>"], '
                                                  '"tokens": ["<pad>", "<unk>", "zzz"], "counts": {"zzz": 1}}')),
    "vocab-not-a-vocab": Case(train("vocab.path=datasets/toy/sentiment.tsv"), C.DATA,
                              "Error: datasets/toy/sentiment.tsv:1: the vocabulary is not valid JSON"),
    # config files (test_cli: test_yaml_syntax_error, test_config_validate_reports_every_problem)
    "yaml-syntax-error": Case(["train", "--config", "syn.yaml"], C.CONFIG,
                              "Error: syn.yaml is not valid YAML at line 3, column 6: expected ',' or ']'",
                              write("syn.yaml", "data:\n  train: [a, b\nmodel: x\n")),
    "yaml-duplicate-key": Case(["train", "--config", "dup.yaml"], C.CONFIG,
                               "Error: dup.yaml is not valid YAML at line 4, column 1: the key 'train' appears twice "
                               "(first at line 2)", write("dup.yaml", "task: classify\ntrain:\n  lr: 0.1\ntrain:\n  epochs: 2\n")),
    "gradcheck-negative-tolerance": Case(["gradcheck", "--tolerance", "-1"], C.USAGE,
                                         "Error: --tolerance must be a positive number; got -1.0."),
    "gradcheck-set-without-config": Case(["gradcheck", "--set", "train.lr=1"], C.USAGE,
                                         "Error: --set changes the config given with --config"),
    "vocab-min-freq-too-high": Case(["vocab", "build", "datasets/toy/sentiment.tsv", "--out", "v.json", "--min-freq",
                                     "100000"], C.DATA, "Error: no token of datasets/toy/sentiment.tsv occurs 100000 times"),
    "data-make-under-a-file": Case(["data", "make", "parity", "--length", "3", "--out", "f.txt/x.tsv"], C.USAGE,
                                   "Error: cannot write f.txt/x.tsv: cannot make the folder f.txt", write("f.txt", "x")),
    "yaml-tab-indent": Case(["train", "--config", "tab.yaml"], C.CONFIG, "Error: tab.yaml is not valid YAML at line 2",
                            write("tab.yaml", "model:\n\tcell: lstm\n")),
    "yaml-not-a-mapping": Case(["train", "--config", "list.yaml"], C.CONFIG,
                               "Error: list.yaml must be a mapping of sections", write("list.yaml", "- a\n- b\n")),
    "empty-config": Case(["train", "--config", "e.yaml"], C.CONFIG, "Error: e.yaml is empty", write("e.yaml", "")),
    "unknown-key": Case(["train", "--config", "u.yaml"], C.CONFIG, "Error: u.yaml is invalid (1 problem)",
                        write("u.yaml", "model:\n  cel: lstm\n"), extra=["model.cel   unknown key (did you mean 'cell'?)"]),
    "wrong-type": Case(["train", "--config", "t.yaml"], C.CONFIG, "Error: t.yaml is invalid (1 problem)",
                       write("t.yaml", "model:\n  hidden_size: big\n"), extra=["must be an integer; got 'big'"]),
    "negative-lr": Case(train("train.lr=-0.1"), C.CONFIG, f"Error: {TOY} is invalid (1 problem)",
                        extra=["train.lr   must be > 0; got -0.1 (from --set)"]),
    "hidden-size-0": Case(train("model.hidden_size=0"), C.CONFIG, f"Error: {TOY} is invalid (1 problem)",
                          extra=["model.hidden_size   must be >= 1; got 0 (from --set)"]),
    "dropout-1.5": Case(train("model.dropout=1.5"), C.CONFIG, f"Error: {TOY} is invalid (1 problem)",
                        extra=["model.dropout   must be < 1; got 1.5 (from --set)"]),
    "pooling-with-tag": Case(["train", "--config", "p.yaml"], C.CONFIG, "Error: p.yaml is invalid (1 problem)",
                             write("p.yaml", "task: tag\nmodel:\n  pooling: mean\n"),
                             extra=["model.pooling   applies to task classify or regress only; task is 'tag'"]),
    "patience-without-dev": Case(["train", "--config", "configs/seed-params.yaml", "--set", "train.patience=2"],
                                 C.CONFIG, "Error: configs/seed-params.yaml is invalid (1 problem)",
                                 extra=["train.patience   needs a set to monitor: set data.dev"]),
    "accuracy-monitor-for-lm": Case(["train", "--config", "configs/char-lm-toy.yaml", "--set", "train.monitor=dev_accuracy"],
                                    C.CONFIG, "Error: configs/char-lm-toy.yaml is invalid (1 problem)",
                                    extra=["dev_accuracy applies to task classify, tag or seq2seq; task is 'lm'"]),
    # --set (test_cli: test_set_unknown_key, test_set_without_equals)
    "set-unknown-key": Case(train("model.cel=lstm"), C.CONFIG,
                            "Error: --set model.cel=lstm: unknown key 'model.cel' (did you mean 'model.cell'?)"),
    "set-a-section": Case(train("model=lstm"), C.CONFIG, "Error: --set model=lstm: 'model' is a section, not a key"),
    "set-without-value": Case(train("model.cell"), C.USAGE, "Error: --set expects KEY=VALUE; got 'model.cell'"),
    # damaged run directories and checkpoints (test_cli: test_corrupt_weights, test_run_json_*; test_resume)
    "truncated-npz": Case(["predict", "--model", RUN, "x"], C.RUN,
                          f"Error: {RUN} is not a usable run directory: weights-best.npz is corrupt or truncated",
                          truncate("weights-best.npz"), needs_run=True),
    "tampered-npz": Case(["predict", "--model", RUN, "x"], C.RUN,
                         f"Error: {RUN} is not a usable run directory: weights-best.npz is corrupt or truncated "
                         "(Bad CRC-32", tamper("weights-best.npz"), needs_run=True),
    "unsupported-zip-version": Case(["predict", "--model", RUN, "x"], C.RUN,
                                    f"Error: {RUN} is not a usable run directory: weights-best.npz is corrupt or "
                                    "truncated (zip file version 6.4)", zip_version("weights-best.npz"), needs_run=True),
    "tampered-checkpoint": Case(["train", "--resume", RUN, "--set", "train.epochs=40"], C.RUN,
                                f"Error: cannot resume {RUN}: checkpoint.npz is corrupt or truncated (Bad CRC-32",
                                tamper("checkpoint.npz"), needs_run=True),
    "other-format-version": Case(["evaluate", "--model", RUN, "--data", "datasets/toy/sentiment-dev.tsv"], C.RUN,
                                 f"Error: {RUN} was written in run format version 99; this rnncli",
                                 edit_json("run.json", lambda m: m.update(version=99)), needs_run=True),
    "run-json-missing-key": Case(["predict", "--model", RUN, "x"], C.RUN,
                                 f"Error: {RUN} is not a usable run directory: run.json is corrupt",
                                 edit_json("run.json", lambda m: m["data"].pop("tokenizer")), needs_run=True),
    "run-json-model-not-a-mapping": Case(["predict", "--model", RUN, "x"], C.RUN,
                                         f"Error: {RUN} is not a usable run directory: run.json is corrupt",
                                         edit_json("run.json", lambda m: m.update(model="x")), needs_run=True),
    "run-json-unknown-cell": Case(["predict", "--model", RUN, "x"], C.RUN,
                                  f"Error: {RUN} is not a usable run directory: run.json is corrupt "
                                  "(model.cell is ' nn')", edit_json("run.json", lambda m: m["model"].update(cell=" nn")),
                                  needs_run=True),
    "run-json-bad-best": Case(["evaluate", "--model", RUN, "--data", "datasets/toy/sentiment-dev.tsv"], C.RUN,
                              f"Error: {RUN} is not a usable run directory: run.json is corrupt",
                              edit_json("run.json", lambda m: m.update(best="yesterday")), needs_run=True),
    "config-yaml-corrupt": Case(["evaluate", "--model", RUN, "--data", "datasets/toy/sentiment-dev.tsv"], C.RUN,
                                f"Error: {RUN} is not a usable run directory: config.yaml is corrupt",
                                damage_run(lambda run: (run / "config.yaml").write_text("model: [unclosed\n")),
                                needs_run=True),
    "vocab-does-not-match-weights": Case(["predict", "--model", RUN, "x"], C.RUN,
                                         f"Error: {RUN} is not a usable run directory: vocab.json has 38 entries "
                                         "but the weights expect 37", edit_json("vocab.json", add_token), needs_run=True),
    "vocab-does-not-match-checkpoint": Case(["train", "--resume", RUN, "--set", "train.epochs=40"], C.RUN,
                                            f"Error: cannot resume {RUN}: its checkpoint.npz holds a different model",
                                            edit_json("vocab.json", add_token), needs_run=True),
    # predict input (test_cli: test_predict_empty_stdin, test_predict_text_without_tokens)
    "empty-predict-input": Case(["predict", "--model", RUN, "-"], C.USAGE,
                                "Error: there is no input to predict from: stdin was empty.", needs_run=True, stdin=""),
    "blank-predict-text": Case(["predict", "--model", RUN, "   "], C.USAGE, "Error: input 1 ('   ') has no tokens",
                               needs_run=True),
    # the run directory already exists (test_cli: test_run_dir_exists_needs_force; test_resume)
    "run-dir-exists": Case(train(f"run.dir={RUN}"), C.RUN, f"Error: the run directory {RUN} already exists.",
                           needs_run=True, extra=[f"rnn train --resume {RUN}", "--force"]),
    "resume-and-force": Case(["train", "--resume", RUN, "--force"], C.USAGE,
                             "Error: --resume continues a run and --force replaces it", needs_run=True),
}


def snapshot(ws: Path) -> dict[str, str]:
    """Every file under the workspace (not following the dataset/config links) and its hash."""
    files = {}
    for root, _, names in os.walk(ws):
        for name in names:
            path = Path(root) / name
            if not path.is_symlink():
                files[str(path.relative_to(ws))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


@pytest.mark.parametrize("case", MATRIX.values(), ids=MATRIX.keys())
def test_bad_input(cli, workspace, request, case: Case):
    if case.needs_run:
        request.getfixturevalue("run_copy")  # tmp_path/run-copy, inside the workspace
    if case.setup:
        case.setup(workspace)
    before = snapshot(workspace)
    r = cli(*case.args, stdin=case.stdin)
    assert r.code == case.code, f"exit {r.code}, expected {case.code}:\n{r.err}"
    lines = r.err.splitlines()
    assert lines and lines[0].startswith(case.first), r.err
    assert any(line.startswith("hint: ") for line in lines[1:]), r.err
    for text in case.extra:
        assert text in r.err, r.err
    assert "Traceback" not in r.err and "unexpected" not in r.err
    assert r.out == ""
    assert snapshot(workspace) == before  # no partial file, no new file, nothing changed


def test_the_matrix_covers_the_issue():
    assert len(MATRIX) >= 20
    assert {c.code for c in MATRIX.values()} == {C.USAGE, C.CONFIG, C.DATA, C.RUN}


# --- 2. long input is not an error ---------------------------------------------------------------


def test_extremely_long_lines_work(cli, workspace, run_copy):
    line = " ".join(["extraordinarily", "good"] * 4_000)  # 8,000 tokens, 84,000 characters
    r = cli("predict", "--model", RUN, "--json", "-", stdin=line + "\nmovie was good\n")
    assert r.code == 0, r.err
    long, short = r.jsonl()
    assert len(long["tokens"]) == 8_000 and short["tokens"] == ["movie", "was", "good"]
    (workspace / "long.tsv").write_text(f"text\tlabel\n{line}\t1\nmovie was not good\t0\n", encoding="utf-8")
    r = cli("evaluate", "--model", RUN, "--data", "long.tsv", "--json")
    assert r.code == 0, r.err
    assert r.json()["n"] == 2


# --- 3. property-based: a result or a clean RnncliError -------------------------------------------

YAML_PIECES = st.sampled_from([
    "task:", " classify", " tag", "data:", "model:", "train:", "run:", "  cell:", " lstm", "  hidden_size:",
    " 0", " -1", " 1e-3", " .nan", " [1, 2", "]", " {a: 1}", "  lr:", "  epochs:", " 3", " null", " ~", " yes",
    " &a", " *a", " !!python/object:os.system", " 'x", '"', "\t", "\n", "\n  ", ": ", "- ", "#", "%YAML 1.1\n",
    "---\n", "...", "\x00", "\ufeff", "é", "  dropout:", " 1.5", "  pooling:", " mean", "vocab:", "  max_size:",
])


def _load_config_text(text: str):
    from rnncli.config import load_config

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return load_config(path)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(YAML_PIECES, max_size=30).map("".join)))
def test_arbitrary_config_text(text):
    try:
        _load_config_text(text)
    except RnncliError as exc:
        assert exc.exit_code == ExitCode.CONFIG and exc.message


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), st.sampled_from(["train.lr=", "model.cell=", "run.dir=", "task=",
                                                                  "train.epochs=", "=", "model.=", "data.train=["])
                          .flatmap(lambda k: st.text(max_size=12).map(lambda v: k + v))), max_size=4))
def test_arbitrary_set_overrides(overrides):
    from rnncli.config import load_config

    try:
        load_config(REPO / TOY, overrides)
    except RnncliError as exc:
        assert exc.exit_code in (ExitCode.USAGE, ExitCode.CONFIG) and exc.message


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(
                                  ["format", "version", "specials", "tokens", "counts"]), c, max_size=5),
                              max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_arbitrary_vocab_file(raw):
    from rnncli.data import Vocab

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "vocab.json"
        path.write_bytes(raw)
        try:
            Vocab.load(path)
        except RnncliError as exc:
            assert exc.exit_code == ExitCode.DATA


@pytest.fixture(scope="module")
def toy_bytes(tmp_path_factory) -> dict[str, bytes]:
    """The files of a tiny trained run, to damage in property tests."""
    from rnncli.config import config_from_dict
    from rnncli.training.train import train

    ws = tmp_path_factory.mktemp("prop")
    cfg = config_from_dict({"data": {"train": str(REPO / "datasets/toy/lecture.tsv"),
                                     "dev": str(REPO / "datasets/toy/lecture.tsv")},
                            "model": {"hidden_size": 3}, "train": {"epochs": 1}, "run": {"dir": str(ws / "r")}})
    train(cfg)
    return {p.name: p.read_bytes() for p in (ws / "r").iterdir()}


def _flip(raw: bytes, edits: list[tuple[int, int]]) -> bytes:
    data = bytearray(raw)
    for pos, value in edits:
        data[pos % len(data)] = value
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["run.json", "config.yaml", "vocab.json", "weights.npz", "weights-best.npz",
                             "checkpoint.npz"]),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.none() | st.integers(0, 10**5))
def test_damaged_run_files(toy_bytes, name, edits, cut):
    """Random bytes changed in (or a cut of) any run file: loading it, predicting with it and resuming it
    give a result or a clean error."""
    from rnncli.training import resume
    from rnncli.rundir import load_run
    from rnncli.evaluation.predict import predict
    from rnncli.training.train import train

    with tempfile.TemporaryDirectory() as d:
        run = Path(d) / "r"
        run.mkdir()
        for n, raw in toy_bytes.items():
            damaged = _flip(raw, edits) if n == name else raw
            (run / n).write_bytes(damaged[:cut] if n == name and cut is not None else damaged)
        try:
            predict(load_run(run), ["movie was good"])
        except RnncliError as exc:
            assert exc.exit_code in (ExitCode.RUN, ExitCode.DATA), exc
        try:
            ckpt = resume.load(run)
            ckpt.vocabularies()
        except RnncliError as exc:
            assert exc.exit_code == ExitCode.RUN, exc
        try:  # the whole resume: config, data, restoring every state (the run has finished: no training)
            train(resume.resume_config(run), resume_dir=run)
        except RnncliError as exc:
            assert exc.exit_code in (ExitCode.RUN, ExitCode.CONFIG, ExitCode.DATA), exc


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=60), min_size=1, max_size=4))
def test_arbitrary_predict_text(toy_run, texts):
    from rnncli.evaluation.predict import predict

    try:
        out = predict(_cached_run(toy_run), texts)
        assert len(out) == len(texts)
    except RnncliError as exc:
        assert exc.exit_code == ExitCode.USAGE and "has no tokens" in exc.message


_RUNS: dict = {}


def _cached_run(path: Path):
    from rnncli.rundir import load_run

    if path not in _RUNS:
        _RUNS[path] = load_run(path)
    return _RUNS[path]


# --- 4. security ----------------------------------------------------------------------------------

SOURCES = sorted((REPO / "rnncli").rglob("*.py"))


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            yield node, owner, name


def test_the_config_loader_is_a_safe_loader():
    import yaml

    from rnncli.config.load import _UniqueKeyLoader

    assert issubclass(_UniqueKeyLoader, yaml.SafeLoader)
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("!!python/object/apply:os.system ['true']", Loader=_UniqueKeyLoader)  # noqa: S506
    merged = yaml.load("base: &b {epochs: 1, lr: 0.1}\ntrain:\n  <<: *b\n  lr: 0.01\n", Loader=_UniqueKeyLoader)  # noqa: S506
    assert merged["train"] == {"epochs": 1, "lr": 0.01}  # a merge key is no duplicate; explicit keys win


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_unsafe_loading(source):
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            assert not {n.split(".")[0] for n in names} & {"pickle", "cPickle", "dill", "cloudpickle", "marshal",
                                                           "shelve", "joblib"}, f"{source}:{node.lineno}"
    for node, owner, name in _calls(tree):
        where = f"{source.relative_to(REPO)}:{node.lineno}"
        assert not (owner == "" and name in ("eval", "exec", "__import__")), f"{where}: {name}()"
        if owner == "yaml" and name == "load":  # only with the config's loader, a SafeLoader (checked below)
            kw = {k.arg: k.value for k in node.keywords}
            assert isinstance(kw.get("Loader"), ast.Name) and kw["Loader"].id == "_UniqueKeyLoader", f"{where}"
        elif owner == "yaml":
            assert name in ("safe_load", "safe_dump", "safe_load_all"), f"{where}: yaml.{name}"
        if owner == "np" and name == "load":
            kw = {k.arg: k.value for k in node.keywords}
            assert isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value is False, \
                f"{where}: np.load without allow_pickle=False"
        if name in ("loads", "load") and owner in ("pickle", "marshal"):
            pytest.fail(f"{where}: {owner}.{name}")


def test_yaml_tags_cannot_run_code(workspace):
    """A config that asks for a Python object is refused as invalid YAML, and nothing runs."""
    marker = workspace / "pwned"
    text = f"task: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(RnncliError) as info:
        _load_config_text(text)
    assert info.value.exit_code == ExitCode.CONFIG and "is not valid YAML" in info.value.message
    assert not marker.exists()


def test_object_arrays_are_refused(cli, run_copy):
    """weights.npz holding a pickled object array is refused (allow_pickle=False), never unpickled."""
    with np.load(run_copy / "weights-best.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["head.b"] = np.array([object()], dtype=object)
    np.savez(run_copy / "weights-best.npz", **arrays)
    r = cli("predict", "--model", run_copy, "movie was good")
    assert r.code == ExitCode.RUN and "weights-best.npz is corrupt or truncated" in r.err_lines[0]
    assert "Object arrays cannot be loaded when allow_pickle=False" in r.err
