"""Tests for the sequence-task readers: read_tagged (CoNLL-U, two-column CoNLL), read_text,
format resolution, read_examples' refusal of tagged/plain-text files, and the toy tagging
and char-LM datasets."""

from __future__ import annotations

import gzip
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli.data import (
    FORMATS,
    TaggedSentence,
    read_examples,
    read_tagged,
    read_text,
    resolve_format,
)
from rnncli.errors import DataError, ExitCode

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "datasets" / "toy"
SHAKESPEARE = Path("/work/shared/datasets/tinyshakespeare/input.txt")


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def row(*cols: str) -> str:
    return "\t".join(cols) + "\n"


def word(i, form, upos, xpos="_", deprel="dep", lemma="_") -> str:
    """One CoNLL-U word line (10 columns)."""
    return row(str(i), form, lemma, upos, xpos, "_", "0", deprel, "_", "_")


def tagged_error(path, **kw) -> DataError:
    with pytest.raises(DataError) as info:
        read_tagged(path, **kw)
    err = info.value
    assert err.exit_code == ExitCode.DATA
    assert str(path) in err.message and err.hint
    assert "\n" not in err.message  # one paragraph
    return err


CONLLU = (
    "# newdoc id = d1\n"
    "# sent_id = 1\n"
    "# text = I don't like it.\n"
    + word(1, "I", "PRON", "PRP", "nsubj")
    + row("2-3", "don't", *["_"] * 8)
    + word(2, "do", "AUX", "VBP", "aux")
    + word(3, "n't", "PART", "RB", "advmod")
    + word(4, "like", "VERB", "VB", "root")
    + word(5, "it", "PRON", "PRP", "obj")
    + row("5.1", "like", "like", "VERB", "VB", "_", "_", "_", "4:conj", "CopyOf=4")
    + word(6, ".", "PUNCT", ".", "punct")
    + "\n"
    + "# sent_id = 2\n"
    + word(1, "Cats", "NOUN", "NNS", "nsubj")
    + word(2, "run", "VERB", "VBP", "root")
    + "\n"
)


# ------------------------------------------------------------------ CoNLL-U


def test_conllu_skips_comments_multiword_tokens_and_empty_nodes(tmp_path):
    p = write(tmp_path / "a.conllu", CONLLU)
    assert read_tagged(p) == [
        TaggedSentence(("I", "do", "n't", "like", "it", "."), ("PRON", "AUX", "PART", "VERB", "PRON", "PUNCT")),
        TaggedSentence(("Cats", "run"), ("NOUN", "VERB")),
    ]


@pytest.mark.parametrize(
    "column, tags",
    [
        ("upos", ("NOUN", "VERB")),
        ("xpos", ("NNS", "VBP")),
        ("deprel", ("nsubj", "root")),
    ],
)
def test_conllu_tag_column(tmp_path, column, tags):
    p = write(tmp_path / "a.conllu", CONLLU)
    sents = read_tagged(p, tag_column=column)
    assert sents[1].tags == tags and sents[1].tokens == ("Cats", "run")


def test_conllu_last_sentence_without_blank_line(tmp_path):
    p = write(tmp_path / "a.conllu", CONLLU.rstrip("\n") + "\n")
    assert [s.tokens for s in read_tagged(p)][-1] == ("Cats", "run")
    q = write(tmp_path / "b.conllu", CONLLU.rstrip("\n"))  # not even a final newline
    assert len(read_tagged(q)) == 2


def test_conllu_crlf_bom_and_extra_blank_lines(tmp_path):
    text = "\ufeff\n\n" + CONLLU.replace("\n\n", "\n\n\n  \n")
    p = write(tmp_path / "a.conllu", text.replace("\n", "\r\n"))
    assert [s.tokens for s in read_tagged(p)] == [s.tokens for s in read_tagged(write(tmp_path / "b.conllu", CONLLU))]


def test_conllu_form_may_hold_spaces_and_is_kept_verbatim(tmp_path):
    p = write(tmp_path / "a.conllu", word(1, "100 000", "NUM") + word(2, "Café", "PROPN"))
    assert read_tagged(p)[0].tokens == ("100 000", "Café")


def test_conllu_wrong_column_count_reports_file_and_line(tmp_path):
    bad = CONLLU.replace(word(4, "like", "VERB", "VB", "root"), "4\tlike\tlike\tVERB\n")
    p = write(tmp_path / "a.conllu", bad)
    err = tagged_error(p)
    assert f"{p}:8:" in err.message and "10" in err.message and "has 4" in err.message


def test_conllu_two_columns_hint_at_conll(tmp_path):
    p = write(tmp_path / "a.conllu", "the\tDET\ncat\tNOUN\n")
    err = tagged_error(p)
    assert f"{p}:1:" in err.message and "conll" in err.hint


def test_conllu_space_separated_columns_hint(tmp_path):
    p = write(tmp_path / "a.conllu", "1 the the DET DT _ 2 det _ _\n")
    assert "spaces" in tagged_error(p).hint


@pytest.mark.parametrize("bad_id", ["x", "one", "1a", "0", "-1", "1-", "²", "١", "1_0", ""])
def test_conllu_non_numeric_id(tmp_path, bad_id):
    p = write(tmp_path / "a.conllu", "# c\n" + word(1, "a", "DET") + row(bad_id, *["_"] * 9))
    err = tagged_error(p)
    assert f"{p}:3:" in err.message and "ID" in err.message


def test_conllu_missing_blank_line_between_sentences(tmp_path):
    text = word(1, "a", "DET") + word(2, "cat", "NOUN") + "# sent_id = 2\n" + word(1, "b", "DET")
    p = write(tmp_path / "a.conllu", text)
    err = tagged_error(p)
    assert f"{p}:4:" in err.message and "blank line" in err.hint


def test_conllu_skipped_id(tmp_path):
    p = write(tmp_path / "a.conllu", word(1, "a", "DET") + word(3, "cat", "NOUN"))
    assert f"{p}:2:" in tagged_error(p).message


def test_conllu_empty_form_or_tag(tmp_path):
    p = write(tmp_path / "a.conllu", word(1, "a", "DET") + word(2, "", "NOUN"))
    err = tagged_error(p)
    assert f"{p}:2:" in err.message and "FORM" in err.message
    q = write(tmp_path / "b.conllu", word(1, "a", ""))
    assert "UPOS" in tagged_error(q).message


def test_conllu_unspecified_column_everywhere(tmp_path):
    p = write(tmp_path / "a.conllu", word(1, "a", "DET") + word(2, "cat", "NOUN"))  # XPOS is '_'
    err = tagged_error(p, tag_column="xpos")
    assert "XPOS" in err.message and "tag_column" in err.hint


def test_conllu_only_comments(tmp_path):
    p = write(tmp_path / "a.conllu", "# sent_id = 1\n# text = nothing\n\n")
    assert "no sentences" in tagged_error(p).message


def test_bad_tag_column_and_format_are_programming_errors(tmp_path):
    p = write(tmp_path / "a.conllu", CONLLU)
    with pytest.raises(ValueError):
        read_tagged(p, tag_column="lemma")
    with pytest.raises(ValueError):
        read_tagged(p, format="xml")


# ------------------------------------------------------------------ two-column CoNLL


def test_conll_two_columns(tmp_path):
    text = "# a comment\nthe\tDET\ncat\tNOUN \n\n\n  dog \tNOUN\n#\tSYM\n"  # no final blank line
    p = write(tmp_path / "a.conll", text)
    assert read_tagged(p) == [
        TaggedSentence(("the", "cat"), ("DET", "NOUN")),
        TaggedSentence(("dog", "#"), ("NOUN", "SYM")),
    ]


def test_conll_tag_column_is_ignored(tmp_path):
    p = write(tmp_path / "a.conll", "the\tDET\n")
    assert read_tagged(p, tag_column="xpos") == read_tagged(p)


def test_tsv_is_read_as_conll_when_asked(tmp_path):
    p = write(tmp_path / "a.tsv", "the\tDET\ncat\tNOUN\n")
    assert read_tagged(p, format="conll") == [TaggedSentence(("the", "cat"), ("DET", "NOUN"))]


@pytest.mark.parametrize(
    "line, needle",
    [
        ("cat\n", "has 1"),
        ("cat\tNOUN\textra\n", "has 3"),
        ("cat\t\n", "tag is empty"),
        ("\tNOUN\n", "token is empty"),
    ],
)
def test_conll_bad_lines_report_file_and_line(tmp_path, line, needle):
    p = write(tmp_path / "a.conll", "the\tDET\n\nthe\tDET\n" + line)
    err = tagged_error(p)
    assert f"{p}:4:" in err.message and needle in err.message


def test_conll_hints(tmp_path):
    p = write(tmp_path / "a.conll", "the DET\n")
    assert "spaces" in tagged_error(p).hint
    q = write(tmp_path / "b.conll", word(1, "the", "DET"))
    assert "conllu" in tagged_error(q).hint


@pytest.mark.parametrize("text", ["", "\n\n  \n", "# only a comment\n"])
def test_conll_without_sentences(tmp_path, text):
    p = write(tmp_path / "a.conll", text)
    assert "no sentences" in tagged_error(p).message


# ------------------------------------------------------------------ files, gzip and formats


@pytest.mark.parametrize("name, content", [("a.conllu.gz", CONLLU), ("a.conll.gz", "the\tDET\ncat\tNOUN\n")])
def test_gzip(tmp_path, name, content):
    p = write(tmp_path / name, gzip.compress(content.encode("utf-8")))
    plain = write(tmp_path / name[: -len(".gz")], content)
    assert read_tagged(p) == read_tagged(plain)


def test_gzip_bytes_without_gz_extension(tmp_path):
    p = write(tmp_path / "a.conll", gzip.compress(b"the\tDET\n"))
    assert read_tagged(p) == [TaggedSentence(("the",), ("DET",))]


def test_bad_gzip(tmp_path):
    p = write(tmp_path / "a.conllu.gz", b"not gzip at all\n")
    assert "gzip" in tagged_error(p).message


def test_missing_file_and_directory(tmp_path):
    assert "no such file" in tagged_error(tmp_path / "nope.conllu").message
    d = tmp_path / "d.conllu"
    d.mkdir()
    assert "directory" in tagged_error(d).message


def test_non_utf8_and_binary_report_line(tmp_path):
    p = write(tmp_path / "a.conll", b"the\tDET\ncaf\xe9\tNOUN\n")
    err = tagged_error(p)
    assert f"{p}:2:" in err.message and "UTF-8" in err.message
    q = write(tmp_path / "b.conllu", b"# c\n\n\x00\x01\n")
    err = tagged_error(q)
    assert f"{q}:3:" in err.message and "binary" in err.message


@pytest.mark.parametrize("name", ["a.tsv", "a.txt", "a.csv", "a", "a.json.gz"])
def test_auto_needs_a_tagged_extension(tmp_path, name):
    p = write(tmp_path / name, "the\tDET\n")
    err = tagged_error(p)
    assert "data.format" in err.hint and ".conllu" in err.message


@pytest.mark.parametrize("fmt", ["tsv", "csv", "text"])
def test_explicit_non_tagged_format(tmp_path, fmt):
    p = write(tmp_path / "a.conll", "the\tDET\n")
    err = tagged_error(p, format=fmt)
    assert repr(fmt) in err.message and "data.format: conll" in err.hint


def test_explicit_format_wins_over_extension(tmp_path):
    p = write(tmp_path / "a.conll", CONLLU)
    assert read_tagged(p, format="conllu") == read_tagged(write(tmp_path / "b.conllu", CONLLU))
    assert "conllu" in tagged_error(p).hint  # read as two columns by extension: 10 columns is wrong


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("a.tsv", "tsv"),
        ("a.TSV.gz", "tsv"),
        ("a.csv", "csv"),
        ("a.csv.gz", "csv"),
        ("a.conllu", "conllu"),
        ("en_ewt-ud-train.conllu.gz", "conllu"),
        ("a.conll", "conll"),
        ("a.conll.gz", "conll"),
        ("a.txt", "text"),
        ("input.txt.gz", "text"),
        ("a", "tsv"),
        ("a.dat", "tsv"),
        ("a.gz", "tsv"),
    ],
)
def test_resolve_format_by_extension(name, fmt):
    assert resolve_format(name) == fmt
    assert resolve_format(Path("dir") / name, "auto") == fmt


def test_resolve_format_explicit_and_unknown():
    for fmt in FORMATS[1:]:
        assert resolve_format("a.tsv", fmt) == fmt
    assert set(FORMATS) == {"auto", "tsv", "csv", "jsonl", "conllu", "conll", "text"}
    with pytest.raises(ValueError):
        resolve_format("a.tsv", "xml")


# ------------------------------------------------------------------ read_examples refuses tagged files


@pytest.mark.parametrize("name", ["a.conllu", "a.conllu.gz", "a.conll", "a.conll.gz"])
def test_read_examples_refuses_tagged_files(tmp_path, name):
    p = write(tmp_path / name, gzip.compress(CONLLU.encode()) if name.endswith(".gz") else CONLLU)
    with pytest.raises(DataError) as info:
        read_examples(p)
    err = info.value
    assert str(p) in err.message and "tagged" in err.message and ".conll" in err.message
    assert "task: tag" in err.hint


@pytest.mark.parametrize("fmt, task", [("conllu", "tag"), ("conll", "tag"), ("text", "lm")])
def test_read_examples_refuses_explicit_sequence_formats(tmp_path, fmt, task):
    p = write(tmp_path / "a.tsv", "text\tlabel\nfun\t1\n")
    with pytest.raises(DataError) as info:
        read_examples(p, format=fmt)
    assert repr(fmt) in info.value.message and f"task: {task}" in info.value.hint


def test_read_examples_still_reads_txt_as_tsv(tmp_path):
    p = write(tmp_path / "a.txt", "fun film\t1\nbad film\t0\n")
    examples = read_examples(p, text_field=0, label_field=1)
    assert [(e.text, e.label) for e in examples] == [("fun film", "1"), ("bad film", "0")]


def test_read_examples_error_for_real_ewt_message():
    """The message the CLI prints for `task: classify` on a .conllu file."""
    with tempfile.TemporaryDirectory() as d:
        p = write(Path(d) / "en_ewt-ud-dev.conllu", CONLLU)
        with pytest.raises(DataError) as info:
            read_examples(p)
    assert info.value.message == (
        f"{p}: a .conllu file holds tagged words (CoNLL-U, one word per line), not text<TAB>label "
        "examples (tasks classify and regress read TSV or CSV rows)."
    )


# ------------------------------------------------------------------ read_text


def test_read_text_plain_gz_crlf_and_bom(tmp_path):
    content = "First Citizen:\nBefore we proceed any further, hear me speak.\n"
    assert read_text(write(tmp_path / "a.txt", content)) == content
    assert read_text(write(tmp_path / "b.txt.gz", gzip.compress(content.encode()))) == content
    assert read_text(write(tmp_path / "c.txt", "\ufeff" + content.replace("\n", "\r\n"))) == content
    assert read_text(str(tmp_path / "a.txt")) == content
    assert read_text(write(tmp_path / "d.md", "  x")) == "  x"  # any extension, spaces kept


@pytest.mark.parametrize("content, needle", [(b"", "empty"), (b"\n \n\t", "whitespace"), (b"\xef\xbb\xbf", "empty")])
def test_read_text_empty(tmp_path, content, needle):
    p = write(tmp_path / "a.txt", content)
    with pytest.raises(DataError) as info:
        read_text(p)
    assert str(p) in info.value.message and needle in info.value.message and info.value.hint


@pytest.mark.parametrize(
    "name, content, needle",
    [
        ("a.txt", b"ok\nok\n\xff\n", ":3: not valid UTF-8"),
        ("a.txt", b"ok\n\x00\n", ":2: contains NUL"),
        ("a.txt.gz", b"not gzip", "gzip"),
        ("missing.txt", None, "no such file"),
    ],
)
def test_read_text_errors(tmp_path, name, content, needle):
    p = tmp_path / name
    if content is not None:
        write(p, content)
    with pytest.raises(DataError) as info:
        read_text(p)
    assert str(p) in info.value.message and needle in info.value.message


# ------------------------------------------------------------------ toy datasets


def majority_accuracy(train: list[TaggedSentence], dev: list[TaggedSentence]) -> tuple[int, int]:
    counts: dict[str, Counter] = defaultdict(Counter)
    for s in train:
        for w, t in zip(s.tokens, s.tags):
            counts[w][t] += 1
    best = {w: c.most_common(1)[0][0] for w, c in counts.items()}
    pairs = [(w, t) for s in dev for w, t in zip(s.tokens, s.tags)]
    return sum(best.get(w) == t for w, t in pairs), len(pairs)


def test_toy_tagging_files():
    train = read_tagged(TOY / "tagging.conll")
    dev = read_tagged(TOY / "tagging-dev.conll")
    assert (len(train), sum(len(s.tokens) for s in train)) == (90, 564)
    assert (len(dev), sum(len(s.tokens) for s in dev)) == (24, 151)
    assert len({s.tokens for s in train}) == len(train)
    assert not {s.tokens for s in train} & {s.tokens for s in dev}
    tags = {t for s in train + dev for t in s.tags}
    assert tags == set("ADJ ADP ADV AUX CCONJ DET NOUN PART PRON PUNCT SCONJ VERB".split())
    train_words = {w for s in train for w in s.tokens}
    assert all(w in train_words for s in dev for w in s.tokens)
    for s in train + dev:
        assert all(w == w.lower() for w in s.tokens)


def test_toy_tagging_has_ambiguous_words_and_the_stated_baseline():
    train = read_tagged(TOY / "tagging.conll")
    dev = read_tagged(TOY / "tagging-dev.conll")
    counts: dict[str, Counter] = defaultdict(Counter)
    for s in train:
        for w, t in zip(s.tokens, s.tags):
            counts[w][t] += 1
    assert set(counts["like"]) == {"VERB", "ADP"}
    assert set(counts["run"]) == {"NOUN", "VERB"}
    assert set(counts["that"]) == {"DET", "PRON", "SCONJ"}
    for c in counts.values():  # the majority tag is never a tie
        top = c.most_common(2)
        assert len(top) == 1 or top[0][1] > top[1][1]
    assert majority_accuracy(train, dev) == (137, 151)  # 90.7%, as datasets/README.md states
    assert majority_accuracy(train, train) == (527, 564)
    assert "90.7% (137/151 words)" in (ROOT / "datasets" / "README.md").read_text(encoding="utf-8")


def test_toy_conllu():
    sents = read_tagged(TOY / "tagging.conllu")
    assert len(sents) == 10 and sum(len(s.tokens) for s in sents) == 71
    assert sents[1].tokens == ("I", "really", "do", "n't", "like", "the", "movie", ".")
    assert sents[1].tags == ("PRON", "ADV", "AUX", "PART", "VERB", "DET", "NOUN", "PUNCT")
    assert sents[4].tokens == ("Cats", "like", "fish", "and", "rats", "cheese", ".")
    assert read_tagged(TOY / "tagging.conllu", tag_column="xpos")[1].tags[:4] == ("PRP", "RB", "VBP", "RB")
    assert read_tagged(TOY / "tagging.conllu", tag_column="deprel")[0].tags == (
        "det", "nsubj", "root", "case", "det", "obl", "punct",
    )
    raw = (TOY / "tagging.conllu").read_text(encoding="utf-8").split("\n")
    assert any(line.startswith("3-4\tdon't\t") for line in raw)
    assert any(line.startswith("5.1\t") for line in raw)
    words = [line.split("\t") for line in raw if line and not line.startswith("#")]
    assert all(len(cols) == 10 for cols in words)


def test_toy_shakespeare():
    text = read_text(TOY / "shakespeare-tiny.txt")
    raw = (TOY / "shakespeare-tiny.txt").read_bytes()
    assert len(raw) == 39_908 and 30_000 <= len(raw) <= 50_000
    assert text == raw.decode("ascii") and text.endswith("\n") and text.startswith("First Citizen:\n")
    assert text.count("\n") == 1490 and len(set(text)) == 58
    assert "39,908 bytes" in (ROOT / "datasets" / "README.md").read_text(encoding="utf-8")
    if SHAKESPEARE.exists():  # a prefix of the full file, cut at a line boundary
        full = SHAKESPEARE.read_bytes()
        assert full.startswith(raw) and full[len(raw) - 1 : len(raw)] == b"\n"


# ------------------------------------------------------------------ fuzzing


@settings(max_examples=400, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=st.sampled_from("1234567890-._ab#\t \n\r\x00é²"), max_size=300).map(str.encode),
        st.lists(
            st.lists(st.sampled_from(["1", "2", "3", "2-3", "1.1", "x", "_", "a", "NOUN", ""]), max_size=11),
            max_size=8,
        ).map(lambda rows: "\n".join("\t".join(r) for r in rows).encode("utf-8")),
    ),
    suffix=st.sampled_from([".conllu", ".conll", ".conllu.gz", ".tsv", ".txt"]),
    fmt=st.sampled_from(["auto", "conllu", "conll"]),
    tag_column=st.sampled_from(["upos", "xpos", "deprel"]),
    compress=st.booleans(),
)
def test_read_tagged_on_arbitrary_bytes(data, suffix, fmt, tag_column, compress):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"data{suffix}"
        path.write_bytes(gzip.compress(data) if compress and suffix.endswith(".gz") else data)
        try:
            sents = read_tagged(path, format=fmt, tag_column=tag_column)
        except DataError as e:
            assert str(path) in e.message and e.hint
        else:
            assert sents and all(isinstance(s, TaggedSentence) for s in sents)
            assert all(s.tokens and len(s.tokens) == len(s.tags) for s in sents)
        try:
            text = read_text(path)
        except DataError as e:
            assert str(path) in e.message
        else:
            assert text.strip()
