"""Tests for rnncli.data: readers, tokenizers, vocabularies, batching, and the toy datasets."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli.data import (
    PAD,
    PAD_ID,
    UNK,
    UNK_ID,
    Example,
    LabelVocab,
    Vocab,
    batch_indices,
    bucketed_indices,
    pad_batch,
    read_examples,
    tokenize,
)
from rnncli.errors import DataError, ExitCode

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "datasets" / "toy"


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# ------------------------------------------------------------------ readers: happy paths


def test_tsv_with_header(tmp_path):
    p = write(tmp_path / "a.tsv", "text\tlabel\nmovie was good\t1\nmovie was bad\t0\n")
    assert read_examples(p) == [Example("movie was good", "1"), Example("movie was bad", "0")]


def test_tsv_columns_in_any_order_and_extra_columns(tmp_path):
    p = write(tmp_path / "a.tsv", "id\tlabel\ttext\tnote\n7\t1\tfun film\tx\n")
    assert read_examples(p) == [Example("fun film", "1")]


def test_sst2_style_trailing_space_is_stripped(tmp_path):
    p = write(tmp_path / "train.tsv", "sentence\tlabel\nit 's a charming and often affecting journey . \t1\n")
    ex = read_examples(p, text_field="sentence")
    assert ex == [Example("it 's a charming and often affecting journey .", "1")]


def test_tsv_has_no_quoting(tmp_path):
    p = write(tmp_path / "a.tsv", 'text\tlabel\n"quoted" words, and "more\t1\n')
    assert read_examples(p)[0].text == '"quoted" words, and "more'


def test_csv_with_quotes(tmp_path):
    p = write(tmp_path / "a.csv", 'text,label\n"good, really good",1\n"she said ""bad""",0\nplain,1\n')
    assert read_examples(p) == [
        Example("good, really good", "1"),
        Example('she said "bad"', "0"),
        Example("plain", "1"),
    ]


def test_csv_quoted_field_spanning_lines(tmp_path):
    p = write(tmp_path / "a.csv", 'text,label\n"line one\nline two",1\nok,0\n')
    assert [e.text for e in read_examples(p)] == ["line one\nline two", "ok"]


def test_by_index_without_header(tmp_path):
    p = write(tmp_path / "a.txt", "movie was good\t1\nmovie was bad\t0\n")
    assert read_examples(p, text_field=0, label_field=1) == [
        Example("movie was good", "1"),
        Example("movie was bad", "0"),
    ]


def test_by_index_with_forced_header(tmp_path):
    p = write(tmp_path / "a.tsv", "label\ttext\n1\tfun\n")
    assert read_examples(p, text_field=1, label_field=0, header=True) == [Example("fun", "1")]


def test_unlabelled(tmp_path):
    p = write(tmp_path / "a.tsv", "text\nfun film\nbad film\n")
    assert read_examples(p, label_field=None) == [Example("fun film", ""), Example("bad film", "")]
    q = write(tmp_path / "b.txt", "fun film\nbad film\n")
    assert [e.label for e in read_examples(q, text_field=0, label_field=None)] == ["", ""]


@pytest.mark.parametrize("name", ["a.tsv.gz", "a.txt.gz"])
def test_gzip_tsv(tmp_path, name):
    p = write(tmp_path / name, gzip.compress(b"text\tlabel\nfun\t1\n"))
    assert read_examples(p) == [Example("fun", "1")]


def test_gzip_csv_auto_format(tmp_path):
    p = write(tmp_path / "a.csv.gz", gzip.compress(b'text,label\n"a, b",1\n'))
    assert read_examples(p) == [Example("a, b", "1")]


def test_format_override(tmp_path):
    p = write(tmp_path / "a.txt", "text,label\nfun,1\n")
    assert read_examples(p, format="csv") == [Example("fun", "1")]


def test_blank_lines_crlf_and_bom_are_handled(tmp_path):
    p = write(tmp_path / "a.tsv", "\ufefftext\tlabel\r\n\r\nfun\t1\r\n   \r\nbad\t0\r\n\r\n")
    assert read_examples(p) == [Example("fun", "1"), Example("bad", "0")]


def test_path_may_be_str(tmp_path):
    p = write(tmp_path / "a.tsv", "text\tlabel\nfun\t1\n")
    assert read_examples(str(p)) == [Example("fun", "1")]


# ------------------------------------------------------------------ readers: errors


def data_error(path, **kw) -> DataError:
    with pytest.raises(DataError) as info:
        read_examples(path, **kw)
    err = info.value
    assert err.exit_code == ExitCode.DATA == 4
    assert str(path) in err.message
    return err


def test_missing_file(tmp_path):
    err = data_error(tmp_path / "nope.tsv")
    assert "no such file" in err.message
    assert err.hint


def test_directory(tmp_path):
    assert "directory" in data_error(tmp_path).message


def test_non_utf8_reports_line(tmp_path):
    p = write(tmp_path / "a.tsv", b"text\tlabel\nfine\t1\ncaf\xe9\t0\n")
    err = data_error(p)
    assert f"{p}:3:" in err.message and "UTF-8" in err.message
    assert "iconv" in err.hint


def test_binary_file(tmp_path):
    p = write(tmp_path / "a.tsv", b"text\tlabel\n\x00\x01\x02binary\t1\n")
    assert "binary" in data_error(p).message


def test_bad_gzip(tmp_path):
    p = write(tmp_path / "a.tsv.gz", b"this is not gzip data\n")
    assert "gzip" in data_error(p).message


def test_too_few_columns_reports_file_and_line(tmp_path):
    p = write(tmp_path / "a.tsv", "text\tlabel\nfun\t1\n\nno label here\n")
    err = data_error(p)
    assert f"{p}:4:" in err.message
    assert "only 1 column" in err.message


def test_too_few_columns_hints_at_csv(tmp_path):
    p = write(tmp_path / "a.tsv", "text,label\nfun,1\n", )
    err = data_error(p, text_field=0, label_field=1, header=True)
    assert f"{p}:2:" in err.message
    assert "CSV" in err.hint


def test_integer_field_out_of_range(tmp_path):
    p = write(tmp_path / "a.txt", "fun\t1\nbad\t0\n")
    err = data_error(p, text_field=0, label_field=5)
    assert f"{p}:1:" in err.message and "column 5" in err.message


def test_negative_index(tmp_path):
    p = write(tmp_path / "a.txt", "fun\t1\n")
    assert "start at 0" in data_error(p, text_field=-1, label_field=1).message


def test_unknown_column_lists_columns_and_suggests(tmp_path):
    p = write(tmp_path / "a.tsv", "sentence\tlabel\nfun\t1\n")
    err = data_error(p, text_field="sentense")
    assert "'sentence', 'label'" in err.message and "'sentense'" in err.message
    assert "did you mean 'sentence'" in err.hint


def test_named_field_without_header(tmp_path):
    p = write(tmp_path / "a.tsv", "fun\t1\n")
    assert "header" in data_error(p, header=False).message


def test_empty_file(tmp_path):
    p = write(tmp_path / "a.tsv", "")
    assert "empty" in data_error(p).message
    q = write(tmp_path / "b.tsv", "\n  \n\n")
    assert "empty" in data_error(q).message


def test_header_only(tmp_path):
    p = write(tmp_path / "a.tsv", "text\tlabel\n")
    assert "no examples" in data_error(p).message


def test_empty_text_cell(tmp_path):
    p = write(tmp_path / "a.tsv", "text\tlabel\nfun\t1\n \t0\n")
    err = data_error(p)
    assert f"{p}:3:" in err.message and "text" in err.message and "empty" in err.message


def test_empty_label_cell(tmp_path):
    p = write(tmp_path / "a.tsv", "text\tlabel\nfun\t\n")
    err = data_error(p)
    assert f"{p}:2:" in err.message and "label" in err.message


def test_malformed_csv(tmp_path):
    p = write(tmp_path / "a.csv", 'text,label\nok,1\n"bad"x,0\n')
    err = data_error(p)
    assert f"{p}:3:" in err.message and "CSV" in err.message


def test_csv_line_numbers_after_multiline_field(tmp_path):
    p = write(tmp_path / "a.csv", 'text,label\n"a\nb",1\nno label\n')
    assert f"{p}:4:" in data_error(p).message


def test_unknown_format_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError):
        read_examples(tmp_path / "a.tsv", format="xml")


# ------------------------------------------------------------------ tokenizers


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("good.", ["good", "."]),
        ("(really)", ["(", "really", ")"]),
        ("don't", ["don't"]),
        ("does n't", ["does", "n't"]),
        ("well-made", ["well-made"]),
        ("It 's fine", ["it", "'s", "fine"]),
        ("The Movie was GOOD!!", ["the", "movie", "was", "good", "!", "!"]),
        ("'quoted'", ["'", "quoted", "'"]),
        ("...", [".", ".", "."]),
        ("  spaced \t out\n", ["spaced", "out"]),
        ("", []),
    ],
)
def test_word_tokenizer(text, tokens):
    assert tokenize(text) == tokens
    assert tokenize(text, "word") == tokens


def test_word_tokenizer_keeps_case_when_asked():
    assert tokenize("Good Film.", lowercase=False) == ["Good", "Film", "."]


def test_whitespace_tokenizer():
    assert tokenize("Movie was good.", "whitespace") == ["movie", "was", "good."]
    assert tokenize("Movie  was", "whitespace", lowercase=False) == ["Movie", "was"]


def test_char_tokenizer():
    assert tokenize("Ab c", "char") == ["a", "b", " ", "c"]
    assert tokenize("Ab", "char", lowercase=False) == ["A", "b"]


def test_unknown_tokenizer():
    with pytest.raises(ValueError, match="unknown tokenizer"):
        tokenize("x", "bpe")


@settings(max_examples=300)
@given(st.text(), st.sampled_from(["word", "whitespace", "char"]), st.booleans())
def test_tokenize_never_raises(text, kind, lowercase):
    tokens = tokenize(text, kind, lowercase)
    assert isinstance(tokens, list) and all(isinstance(t, str) and t for t in tokens)
    base = text.lower() if lowercase else text
    if kind == "char":
        assert "".join(tokens) == base
    else:  # word/whitespace keep every non-space character, in order
        assert "".join(tokens) == "".join(base.split())
        assert all(not any(c.isspace() for c in t) for t in tokens)


# ------------------------------------------------------------------ vocab


def test_vocab_order_specials_and_unk():
    v = Vocab.build([["b", "a", "c"], ["a", "c"], ["a"]])
    assert v.itos == [PAD, UNK, "a", "c", "b"]  # a:3, c:2, b:1
    assert (PAD_ID, UNK_ID) == (0, 1) and v.stoi[PAD] == 0 and v.stoi[UNK] == 1
    assert len(v) == 5
    assert v.counts == {"a": 3, "c": 2, "b": 1}
    assert v.encode(["a", "zzz", "b"]) == [2, UNK_ID, 4]
    assert v.decode([2, 1, 0]) == ["a", UNK, PAD]
    assert v.decode(np.array([3])) == ["c"]


def test_vocab_ties_are_alphabetical_and_deterministic():
    a = Vocab.build([["z", "y", "x"], ["x", "y", "z"]])
    b = Vocab.build([["x", "z", "y"], ["y", "x", "z"]])
    assert a.itos == b.itos == [PAD, UNK, "x", "y", "z"]


def test_vocab_min_freq_and_max_size():
    data = [["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]]
    assert Vocab.build(data, min_freq=2).itos[2:] == ["a", "b", "c"]
    assert Vocab.build(data, max_size=2).itos == [PAD, UNK, "a", "b"]
    assert Vocab.build(data, min_freq=3, max_size=10).itos[2:] == ["a", "b"]
    assert Vocab.build(data, max_size=0).itos == [PAD, UNK]
    with pytest.raises(ValueError):
        Vocab.build(data, min_freq=0)


def test_vocab_ignores_special_strings_in_data():
    v = Vocab.build([["<pad>", "<unk>", "a"]])
    assert v.itos == [PAD, UNK, "a"]


def test_vocab_decode_out_of_range():
    with pytest.raises(IndexError):
        Vocab.build([["a"]]).decode([3])


def test_vocab_save_load_round_trip(tmp_path):
    v = Vocab.build([["movie", "was", "good"], ["movie", "was", "bad"]])
    path = tmp_path / "vocab.json"
    v.save(path)
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d["format"] == "rnncli-vocab" and d["version"] == 1
    assert d["specials"] == [PAD, UNK] and d["tokens"] == v.itos
    assert d["counts"] == {"movie": 2, "was": 2, "bad": 1, "good": 1}
    w = Vocab.load(path)
    assert w == v and w.itos == v.itos and w.counts == v.counts
    assert Vocab.from_dict(v.to_dict()) == v


def test_vocab_save_is_atomic_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text("old contents")
    Vocab.build([["a"]]).save(path)
    assert os.listdir(tmp_path) == ["vocab.json"]
    assert Vocab.load(path).itos[2:] == ["a"]


def test_vocab_save_creates_parent_dirs(tmp_path):
    path = tmp_path / "run" / "vocab.json"
    Vocab.build([["a"]]).save(path)
    assert Vocab.load(path).itos[2:] == ["a"]


def test_vocab_unicode_round_trip(tmp_path):
    v = Vocab.build([["café", "日本", "😀"]])
    v.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == v


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "not an rnncli vocabulary"),
        (b'{"format": "other"}', "not an rnncli vocabulary"),
        (b'{"format": "rnncli-vocab", "version": 99, "specials": ["<pad>", "<unk>"], "tokens": []}', "version 99"),
        (b'{"format": "rnncli-vocab", "version": 1, "specials": ["<unk>"], "tokens": []}', "specials"),
        (b'{"format": "rnncli-vocab", "version": 1, "specials": ["<pad>", "<unk>"], "tokens": ["a"]}', "start with"),
        (
            b'{"format": "rnncli-vocab", "version": 1, "specials": ["<pad>", "<unk>"], "tokens": ["<pad>", "<unk>", 3]}',
            "list of strings",
        ),
        (
            b'{"format": "rnncli-vocab", "version": 1, "specials": ["<pad>", "<unk>"],'
            b' "tokens": ["<pad>", "<unk>", "a", "a"]}',
            "more than once",
        ),
        (
            b'{"format": "rnncli-vocab", "version": 1, "specials": ["<pad>", "<unk>"],'
            b' "tokens": ["<pad>", "<unk>", "a"], "counts": {"a": "x"}}',
            "counts",
        ),
        (
            b'{"format": "rnncli-vocab", "version": 1, "specials": ["<pad>", "<unk>"],'
            b' "tokens": ["<pad>", "<unk>", "a"], "counts": {"a": true}}',
            "counts",
        ),
        (
            b'{"format": "rnncli-vocab", "version": 1, "specials": ["<pad>", "<unk>"],'
            b' "tokens": ["<pad>", "<unk>", "a"], "counts": {"a": -1}}',
            "counts",
        ),
        (b'{"format": "rnncli-vocab", "version": 1, "specials": ["<pad>", "<unk>"], "tokens": {}}', "list of strings"),
    ],
)
def test_vocab_load_bad_files(tmp_path, content, needle):
    path = write(tmp_path / "vocab.json", content)
    with pytest.raises(DataError) as info:
        Vocab.load(path)
    assert needle in info.value.message and str(path) in info.value.message
    assert info.value.hint


def test_vocab_load_missing_and_directory(tmp_path):
    with pytest.raises(DataError, match="no such vocabulary file") as info:
        Vocab.load(tmp_path / "missing.json")
    assert "rnn vocab build" in info.value.hint
    with pytest.raises(DataError, match="directory"):
        Vocab.load(tmp_path)


# ------------------------------------------------------------------ label vocab


def test_label_vocab_numeric_sort():
    lv = LabelVocab.build(["10", "2", "1", "0", "2", "1"])
    assert lv.labels == ["0", "1", "2", "10"] and len(lv) == 4
    assert [lv.encode(s) for s in ["0", "10"]] == [0, 3]
    assert lv.decode(3) == "10" and lv.decode(np.int64(1)) == "1"
    assert LabelVocab.build(["1", "-1", "0"]).labels == ["-1", "0", "1"]


def test_label_vocab_string_sort():
    assert LabelVocab.build(["pos", "neg", "pos"]).labels == ["neg", "pos"]
    assert LabelVocab.build(["10", "2", "x"]).labels == ["10", "2", "x"]


def test_label_vocab_unseen_label():
    lv = LabelVocab.build(["0", "1"])
    with pytest.raises(DataError) as info:
        lv.encode("2")
    assert "'2'" in info.value.message and "'0', '1'" in info.value.message
    assert info.value.exit_code == ExitCode.DATA


def test_label_vocab_round_trip_and_bad_dict():
    lv = LabelVocab.build(["b", "a"])
    assert lv.to_dict() == {"labels": ["a", "b"]}
    assert LabelVocab.from_dict(lv.to_dict()) == lv
    for bad in [None, {}, {"labels": "ab"}, {"labels": [1]}, {"labels": ["a", "a"]}]:
        with pytest.raises(DataError):
            LabelVocab.from_dict(bad)


# ------------------------------------------------------------------ batching


def test_pad_batch_shapes_and_values():
    ids, mask = pad_batch([[5, 6, 7], [8], [9, 10]])
    assert ids.shape == mask.shape == (3, 3)
    assert ids.dtype == np.int64 and mask.dtype == bool
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0], [9, 10, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0], [1, 1, 0]])
    np.testing.assert_array_equal(mask.sum(1), [3, 1, 2])


def test_pad_batch_zero_length_row():
    ids, mask = pad_batch([[], [3, 4]])
    np.testing.assert_array_equal(ids, [[0, 0], [3, 4]])
    np.testing.assert_array_equal(mask, [[False, False], [True, True]])
    ids, mask = pad_batch([[]])
    assert ids.shape == mask.shape == (1, 0)


def test_pad_batch_truncation_and_fixed_length():
    ids, mask = pad_batch([[1, 2, 3, 4], [5]], max_len=2)
    np.testing.assert_array_equal(ids, [[1, 2], [5, 0]])
    np.testing.assert_array_equal(mask, [[1, 1], [1, 0]])
    ids, mask = pad_batch([[1], [2, 3]], max_len=4)
    assert ids.shape == (2, 4) and mask.sum() == 3


def test_pad_batch_accepts_arrays_and_empty_batch():
    ids, _ = pad_batch([np.array([1, 2], dtype=np.int32), (3,)])
    np.testing.assert_array_equal(ids, [[1, 2], [3, 0]])
    ids, mask = pad_batch([])
    assert ids.shape == mask.shape == (0, 0)


def test_batch_indices_coverage_and_sizes():
    batches = batch_indices(10, 4, shuffle=True, rng=np.random.default_rng(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert all(b.dtype == np.int64 for b in batches)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10))


def test_batch_indices_deterministic_per_rng_state():
    a = batch_indices(50, 8, True, np.random.default_rng(42))
    b = batch_indices(50, 8, True, np.random.default_rng(42))
    c = batch_indices(50, 8, True, np.random.default_rng(43))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_batch_indices_no_shuffle_and_edge_cases():
    batches = batch_indices(5, 2, shuffle=False, rng=None)
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert batch_indices(0, 3, False, None) == []
    assert [len(b) for b in batch_indices(3, 10, True, np.random.default_rng(0))] == [3]
    with pytest.raises(ValueError):
        batch_indices(5, 0, False, None)
    with pytest.raises(ValueError):
        batch_indices(5, 2, True, None)


# ------------------------------------------------------------------ fuzzing the reader


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=st.sampled_from("ab \t,\"'\n\r\x00é"), max_size=200).map(lambda s: s.encode("utf-8")),
    ),
    suffix=st.sampled_from([".tsv", ".csv", ".txt", ".tsv.gz"]),
    fields=st.sampled_from([("text", "label", None), (0, 1, None), (0, None, None), (1, 0, True), ("text", None, None)]),
    compress=st.booleans(),
)
def test_read_examples_on_arbitrary_bytes(data, suffix, fields, compress):
    text_field, label_field, header = fields
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"data{suffix}"
        path.write_bytes(gzip.compress(data) if compress and suffix.endswith(".gz") else data)
        try:
            examples = read_examples(path, text_field=text_field, label_field=label_field, header=header)
        except DataError as e:
            assert str(path) in e.message
        else:
            assert examples and all(isinstance(e, Example) and e.text for e in examples)


# ------------------------------------------------------------------ toy datasets


@pytest.mark.parametrize("name", ["lecture.tsv", "sentiment.tsv", "sentiment-dev.tsv", "cat-mat-rat.tsv"])
def test_toy_files_parse(name):
    examples = read_examples(TOY / name)
    assert examples and {e.label for e in examples} == {"0", "1"}
    assert len({e.text for e in examples}) == len(examples)  # no duplicate rows


def test_lecture_vocabulary_is_exactly_five_words():
    examples = read_examples(TOY / "lecture.tsv")
    assert examples == [
        Example("movie was good", "1"),
        Example("movie was bad", "0"),
        Example("movie was not good", "0"),
    ]
    vocab = Vocab.build(tokenize(e.text) for e in examples)
    assert len(vocab) - 2 == 5
    assert set(vocab.itos[2:]) == {"movie", "was", "good", "bad", "not"}


def test_sentiment_train_dev_are_disjoint_balanced_and_contain_the_lecture():
    train = read_examples(TOY / "sentiment.tsv")
    dev = read_examples(TOY / "sentiment-dev.tsv")
    assert 120 <= len(train) <= 200 and 30 <= len(dev) <= 40
    assert not {e.text for e in train} & {e.text for e in dev}
    for split in (train, dev):
        share = sum(e.label == "1" for e in split) / len(split)
        assert 0.4 <= share <= 0.6
    rows = {e.text: e.label for e in train}
    assert rows["movie was good"] == "1" and rows["movie was not good"] == "0"
    assert rows["movie was bad"] == "0" and rows["movie was not bad"] == "1"
    assert rows["the film was very boring"] == "0"
    assert sum("not" in tokenize(e.text) for e in train) >= 40
    train_vocab = Vocab.build(tokenize(e.text) for e in train)
    assert all(t in train_vocab for e in dev for t in tokenize(e.text))


def test_cat_mat_rat_rule():
    examples = read_examples(TOY / "cat-mat-rat.tsv")
    assert examples[:3] == [Example("cat mat rat", "1"), Example("rat mat mat", "1"), Example("mat mat cat", "0")]
    for e in examples:
        words = e.text.split()
        assert len(words) == 3 and set(words) <= {"cat", "mat", "rat"}
        assert e.label == ("1" if "rat" in words else "0")  # the rule stated in datasets/README.md


# --- JSON Lines and on_error: skip ------------------------------------------------------


def test_jsonl_examples_with_selectable_keys(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"review": "good film", "stars": 1}\n\n{"review": " bad film ", "stars": 0, "x": null}\n'
                 '{"review": "ok", "stars": true}\n')
    ex = read_examples(p, text_field="review", label_field="stars")
    assert ex == [Example("good film", "1"), Example("bad film", "0"), Example("ok", "true")]
    gz = tmp_path / "r.jsonl.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    assert read_examples(gz, text_field="review", label_field="stars") == ex


@pytest.mark.parametrize("line,fragment", [
    ('{"text": "a", "label": 1', "r.jsonl:2: not valid JSON"),
    ('["a", 1]', "r.jsonl:2: a JSON list, not an object"),
    ('{"txt": "a", "label": 1}', "r.jsonl:2: no key 'text' (wanted for the text); the object has keys: 'txt', 'label'"),
    ('{"text": "", "label": 1}', "r.jsonl:2: the text ('text') is \"\", not a non-empty string"),
])
def test_jsonl_errors_name_the_line(tmp_path, line, fragment):
    p = tmp_path / "r.jsonl"
    p.write_text('{"text": "fine", "label": 0}\n' + line + "\n")
    assert fragment in data_error(p).message


def test_jsonl_fields_must_be_keys(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"text": "fine", "label": 0}\n')
    with pytest.raises(DataError, match="JSON Lines fields are keys"):
        read_examples(p, text_field=0, label_field="label")


def test_on_error_skip_counts_and_keeps_the_good_rows(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_text("text\tlabel\ngood\t1\nno label here\n\t0\nbad\t0\n")
    with pytest.raises(DataError):
        read_examples(p)
    skipped: list[str] = []
    assert read_examples(p, on_error="skip", skipped=skipped) == [Example("good", "1"), Example("bad", "0")]
    assert len(skipped) == 2 and skipped[0].startswith(f"{p}:3:")
    q = tmp_path / "all-bad.jsonl"
    q.write_text("nope\n[1]\n")
    with pytest.raises(DataError, match="all 2 rows were malformed and skipped"):
        read_examples(q, on_error="skip", skipped=[])


def test_bucketed_batches_cover_everything_with_less_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=1003)
    batches = bucketed_indices(lengths, 16, np.random.default_rng(1), pool=10)
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == list(range(1003))
    assert [len(b) for b in batches[:-1]] == [16] * 62 and len(batches[-1]) == 11  # the short one last
    again = bucketed_indices(lengths, 16, np.random.default_rng(1), pool=10)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    padded = lambda bs: sum(len(b) * lengths[b].max() for b in bs)  # noqa: E731
    plain = batch_indices(1003, 16, True, np.random.default_rng(1))
    assert padded(batches) < 0.7 * padded(plain)
    # consecutive chunks of the concatenated order are the batches again (what a resume relies on)
    assert all(np.array_equal(order[i * 16 : (i + 1) * 16], b) for i, b in enumerate(batches))


def test_csv_reads_very_long_fields(tmp_path):
    p = tmp_path / "long.csv"
    long_text = "word " * 60_000  # 300,000 characters, beyond csv's default field limit
    p.write_text(f'text,label\n"{long_text}",1\n')
    (ex,) = read_examples(p)
    assert len(ex.text) == len(long_text.strip()) and ex.label == "1"
