"""Pretrained word vectors: reading GloVe, word2vec and fastText files, initialising, freezing, coverage."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from rnncli.config import load_config
from rnncli.data import vectors
from rnncli.errors import DataError, ExitCode
from rnncli.training.prepare import initial_params, prepare

WORDS = ["movie", "good", "bad", "film", "was", "great", "dull", "the", "not", "a", "plot", "boring"]


def _table(dim: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {w: rng.standard_normal(dim).astype(np.float32) for w in WORDS}


def write_glove(path, table, header: bool = False, compress: bool = False) -> None:
    lines = ([f"{len(table)} {len(next(iter(table.values())))}"] if header else []) + \
            [w + " " + " ".join(repr(float(x)) for x in v) for w, v in table.items()]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)


def write_binary(path, table) -> None:
    dim = len(next(iter(table.values())))
    with open(path, "wb") as f:
        f.write(f"{len(table)} {dim}\n".encode())
        for w, v in table.items():
            f.write(w.encode() + b" " + np.asarray(v, dtype="<f4").tobytes() + b"\n")


@pytest.mark.parametrize("kind", ["glove", "word2vec", "glove.gz", "bin"])
def test_every_format_reads_the_same_vectors(tmp_path, kind):
    table = _table()
    path = tmp_path / {"glove": "v.txt", "word2vec": "v.vec", "glove.gz": "v.txt.gz", "bin": "v.bin"}[kind]
    if kind == "bin":
        write_binary(path, table)
    else:
        write_glove(path, table, header=kind == "word2vec", compress=kind.endswith(".gz"))
    found = vectors.read_vectors(path, {"movie", "plot", "absent"})
    assert found.dim == 16 and found.words_read == len(WORDS) and sorted(found.vectors) == ["movie", "plot"]
    np.testing.assert_allclose(found.vectors["plot"], table["plot"], rtol=1e-6)
    assert vectors.vocabulary_words(path, 3) == WORDS[:3]


def test_words_with_spaces_and_the_lowercase_fallback(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("New York 1 2\nMovie 3 4\nmovie 5 6\nGood 7 8\n")
    found = vectors.read_vectors(path, {"new york", "movie", "good"}, lowercase=True)
    assert found.vectors["new york"].tolist() == [1, 2]
    assert found.vectors["movie"].tolist() == [3, 4]  # the first form that lowercases to it
    assert found.vectors["good"].tolist() == [7, 8]
    assert "new york" not in vectors.read_vectors(path, {"new york"}).vectors  # exact case only without lowercase


@pytest.mark.parametrize("text,line,needle", [
    ("good 1 2\nbad 1 x\n", 2, "something that is not a number"),
    ("good 1 2 3\nbad 1 2\n", 2, "expected a word and 3 numbers"),
    ("good\n", 1, "a word but no numbers"),
    ("good 1 nan\n", 1, "infinite or NaN"),
])
def test_a_malformed_line_names_its_file_and_line(tmp_path, text, line, needle):
    path = tmp_path / "v.txt"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        vectors.read_vectors(path, {"good", "bad"})
    assert err.value.message.startswith(f"{path}:{line}: ") and needle in err.value.message


def test_a_truncated_binary_file(tmp_path):
    path = tmp_path / "v.bin"
    write_binary(path, _table())
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="the file ends inside entry 12 of the 12"):
        vectors.read_vectors(path, {"movie"})


def _config(workspace, *sets):
    return load_config("configs/sentiment-toy.yaml", ["model.embeddings.path=vectors.txt", *sets])


def test_initial_table_holds_the_vectors_and_the_rest_is_random(workspace):
    table = _table()
    write_glove(workspace / "vectors.txt", table)
    cfg = _config(workspace)
    prepared = prepare(cfg)
    params = initial_params(cfg, prepared.spec, prepared)
    E = params["embedding.weight"]
    for word in ("movie", "good", "bad"):
        np.testing.assert_array_equal(E[prepared.vocab.stoi[word]], table[word])
    plain = initial_params(cfg, prepared.spec)  # the same seed without vectors
    others = [i for w, i in prepared.vocab.stoi.items() if w not in table]
    np.testing.assert_array_equal(E[others], plain["embedding.weight"][others])
    c = prepared.coverage.to_dict()
    assert c["found"] == len(prepared.vectors.vectors) and c["types"] == len(prepared.vocab) - 2
    assert 0 < c["type_share"] < 1 and 0 < c["token_share"] < 1


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_keeps_the_table(cli, workspace, freeze):
    write_glove(workspace / "vectors.txt", _table())
    r = cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "model.embeddings.path=vectors.txt",
            "--set", f"model.embeddings.freeze={str(freeze).lower()}", "--set", "train.epochs=3", "--set", "run.dir=runs/v")
    assert r.code == 0, r.err
    assert "vectors: " in r.err and "have a 16-dimensional vector in vectors.txt, covering " in r.err
    cfg = _config(workspace)
    prepared = prepare(cfg)
    start = initial_params(cfg, prepared.spec, prepared)["embedding.weight"]
    with np.load(workspace / "runs/v/weights.npz") as npz:
        trained = npz["embedding.weight"]
        moved = not np.array_equal(npz["rnn.l0.W_hh"], initial_params(cfg, prepared.spec, prepared)["rnn.l0.W_hh"])
    assert moved
    assert np.array_equal(trained, start) == freeze
    with np.load(workspace / "runs/v/checkpoint.npz") as npz:
        assert any(k.startswith("optim/") for k in npz.files)
        assert any(k.endswith(".embedding.weight") for k in npz.files if k.startswith("optim/")) != freeze
    assert cli("train", "--resume", "runs/v", "--set", "train.epochs=4").code == 0


def test_the_vocabulary_from_the_vectors(cli, workspace):
    write_glove(workspace / "vectors.txt", _table())
    r = cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "model.embeddings.path=vectors.txt",
            "--set", "vocab.from_embeddings=true", "--set", "vocab.max_size=5", "--set", "train.epochs=1",
            "--set", "run.dir=runs/v", "--json")
    assert r.code == 0, r.err
    vocab = json.loads((workspace / "runs/v/vocab.json").read_text())
    assert vocab["tokens"] == ["<pad>", "<unk>", *WORDS[:5]]
    assert "vectors: 5 of the vocabulary's 5 words (100.0%)" in r.err


@pytest.mark.parametrize("sets,code,needle", [
    (["model.embedding_dim=8"], ExitCode.CONFIG, "holds 16-dimensional vectors, but model.embedding_dim is 8"),
    (["model.input=onehot"], ExitCode.CONFIG, "pretrained vectors fill the input embedding"),
    (["model.embeddings.path=null", "model.embeddings.freeze=true"], ExitCode.CONFIG, "set model.embeddings.path"),
    (["model.embeddings.path=null", "vocab.from_embeddings=true"], ExitCode.CONFIG, "takes the words of model.embeddings.path"),
    (["model.embeddings.path=missing.txt"], ExitCode.DATA, "missing.txt: no such vectors file"),
    (["model.embeddings.path=other.txt"], ExitCode.DATA, "none of the vocabulary's 35 words has a vector"),
    (["model.embeddings.path=broken.txt"], ExitCode.DATA, "broken.txt:2: "),
    (["model.embeddings.path=cut.txt.gz"], ExitCode.DATA, "cut.txt.gz: not a valid gzip file"),
    (["model.embeddings.path=cut.txt.gz", "vocab.from_embeddings=true"], ExitCode.DATA, "cut.txt.gz: not a valid gzip file"),
    (["model.embeddings.path=garbled.txt.gz"], ExitCode.DATA, "garbled.txt.gz: not a valid gzip file"),
])
def test_bad_vectors_are_clear_errors(cli, workspace, sets, code, needle):
    write_glove(workspace / "vectors.txt", _table())
    write_glove(workspace / "whole.txt.gz", _table(), compress=True)
    whole = (workspace / "whole.txt.gz").read_bytes()
    (workspace / "cut.txt.gz").write_bytes(whole[:-3])  # a download cut short
    (workspace / "garbled.txt.gz").write_bytes(whole[:30] + b"\xff" * 20 + whole[50:])
    (workspace / "other.txt").write_text("zebra 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n")
    (workspace / "broken.txt").write_text("good " + "1 " * 16 + "\nbad 1 2\n")
    args = ["train", "--config", "configs/sentiment-toy.yaml", "--set", "model.embeddings.path=vectors.txt",
            "--set", "run.dir=runs/v"]
    for s in sets:
        args += ["--set", s]
    r = cli(*args)
    assert r.code == code, r.err
    assert needle in r.err and "Traceback" not in r.err
    assert not (workspace / "runs/v").exists()
