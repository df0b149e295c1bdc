"""rnn serve: a real uvicorn server in a subprocess, spoken to over loopback (optional: needs uvicorn and
starlette, which CI installs)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rnncli.errors import ExitCode

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, run: Path, *args: str, cwd: Path | None = None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        rnn = Path(sys.executable).parent / "rnn"
        self.proc = subprocess.Popen([str(rnn), "serve", str(run), "--port", str(self.port), *args], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"rnn serve exited {self.proc.returncode}: {self.proc.stderr.read()}")
            try:
                if self.get("/health") == (200, {"status": "ok"}):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("rnn serve did not answer /health within 60 s")

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def get(self, path: str) -> tuple[int, dict]:
        return self.request("GET", path)

    def post(self, path: str, obj=None, raw: bytes | None = None) -> tuple[int, dict]:
        return self.request("POST", path, raw if raw is not None else json.dumps(obj).encode())

    def stop(self, sig=signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


@pytest.fixture(scope="module")
def toy_server(trained_toy):
    server = Server(trained_toy.run_dir, "--max-texts", "300")
    yield server
    if server.proc.poll() is None:
        server.stop()


def _predict_json(cli, run_dir, texts) -> list[dict]:
    r = cli("predict", "--model", str(run_dir), *texts, "--json")
    assert r.code == 0, r.err
    return r.jsonl()


def test_health_and_metadata(toy_server, trained_toy):
    assert toy_server.get("/health") == (200, {"status": "ok"})
    status, meta = toy_server.get("/metadata")
    assert status == 200
    assert meta["task"] == "classify" and meta["labels"] == ["0", "1"] and meta["weights"] == "weights-best.npz"
    assert meta["config"]["model"]["cell"] == "rnn" and meta["limits"]["max_texts"] == 300
    from rnncli import __version__

    assert meta["version"] == __version__


def test_predict_returns_what_rnn_predict_prints(toy_server, trained_toy, cli):
    texts = ["movie was good", "a dull , bad film", "qqq zzz"]
    status, body = toy_server.post("/predict", {"texts": texts})
    assert status == 200
    expected = _predict_json(cli, trained_toy.run_dir, texts)
    for got, want in zip(body["predictions"], expected):
        assert got.keys() == want.keys() and got["label"] == want["label"] and got["ids"] == want["ids"]
        np.testing.assert_allclose(list(got["scores"].values()), list(want["scores"].values()), atol=1e-6)


def test_top_k_and_threshold(toy_server):
    status, body = toy_server.post("/predict", {"texts": ["movie was good"], "top_k": 1})
    assert status == 200
    (p,) = body["predictions"]
    assert [t["label"] for t in p["top"]] == [p["label"]]
    status, body = toy_server.post("/predict", {"texts": ["movie was good"], "threshold": 1.0})
    assert body["predictions"][0]["top"] == []


@pytest.mark.parametrize("body,raw,status,needle", [
    (None, b"{not json", 400, "the request body is not valid JSON"),
    (["movie"], None, 400, "must be a JSON object; got list"),
    ({"texts": "movie"}, None, 400, "'texts' must be a list of strings"),
    ({"texts": [1, 2]}, None, 400, "'texts' must be a list of strings"),
    ({"texts": []}, None, 400, "'texts' is empty"),
    ({"text": ["movie"]}, None, 400, "unknown field 'text' (did you mean 'texts'?)"),
    ({"texts": ["good"], "top_k": "two"}, None, 400, "'top_k' must be an integer"),
    ({"texts": ["   "]}, None, 400, "has no tokens"),
    ({"texts": ["good"] * 301}, None, 413, "the request has 301 texts; this server takes at most 300"),
    ({"texts": ["good"]}, b"\xff\xfe", 400, "not valid JSON"),
    (None, b'{"texts": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400, "nests its arrays or objects too deeply"),
    (None, b'{"texts": ["\\ud800"]}', 400, "'texts' holds a lone UTF-16 surrogate"),
])
def test_bad_requests(toy_server, body, raw, status, needle):
    code, answer = toy_server.post("/predict", body, raw)
    assert code == status, answer
    assert needle in answer["error"] and answer["hint"]


def test_wrong_paths_and_methods(toy_server):
    assert toy_server.get("/nope")[0] == 404
    code, answer = toy_server.get("/predict")
    assert code == 405 and "wrong method" in answer["error"]
    code, answer = toy_server.post("/generate", {})
    assert code == 400 and "a classify model answers POST /predict" in answer["error"]


def test_200_concurrent_requests(toy_server, trained_toy, cli):
    words = ["good", "bad", "movie", "film", "dull", "great", "not"]
    texts = [" ".join(words[(i + j) % len(words)] for j in range(1 + i % 4)) for i in range(200)]
    expected = {p["text"]: p for p in _predict_json(cli, trained_toy.run_dir, sorted(set(texts)))}
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda t: toy_server.post("/predict", {"texts": [t]}), texts))
    assert all(status == 200 for status, _ in answers)
    for text, (_, body) in zip(texts, answers):
        (p,) = body["predictions"]
        assert p["text"] == text and p["label"] == expected[text]["label"]
        np.testing.assert_allclose(p["scores"]["1"], expected[text]["scores"]["1"], atol=1e-6)


def test_a_large_body_is_refused_before_it_is_read(trained_toy):
    server = Server(trained_toy.run_dir, "--max-body", "1000")
    try:
        code, answer = server.post("/predict", {"texts": ["good " * 400]})
        assert code == 413 and "this server takes at most 1000" in answer["error"]
        assert server.post("/predict", {"texts": ["good"]})[0] == 200
    finally:
        code, err = server.stop()
    assert code == 0, err
    lines = [line for line in err.splitlines() if "POST /predict" in line]
    assert len(lines) == 2 and " 413 " in lines[0] and " 200 1 texts " in lines[1]
    assert err.rstrip().endswith("stopped") and "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_it_cleanly(trained_toy, sig):
    server = Server(trained_toy.run_dir)
    code, err = server.stop(sig)
    assert code == 0 and "stopped" in err and "Traceback" not in err


def test_generate_from_a_language_model_and_a_generator(cli, workspace):
    assert cli("train", "--config", "configs/char-lm-toy.yaml", "--set", "train.epochs=1", "--set",
               "model.hidden_size=32", "--set", "run.dir=runs/lm", "-q").code == 0
    assert cli("train", "--config", "configs/sentiment-toy-generate.yaml", "--set", "train.epochs=1",
               "--set", "run.dir=runs/gen", "-q").code == 0
    lm = Server(workspace / "runs/lm")
    try:
        code, body = lm.post("/generate", {"prime": "ROMEO:", "length": 20, "seed": 1})
        assert code == 200 and body["prime"] == "ROMEO:" and body["tokens"] == 20 and len(body["text"]) == 20
        assert lm.post("/generate", {"prime": "ROMEO:", "length": 20, "seed": 1})[1] == body  # seeded
        code, body = lm.post("/generate", {"length": 100000})
        assert code == 413
        code, body = lm.post("/generate", {"condition": "1"})
        assert code == 400 and "apply to a generator" in body["error"]
        for field, value, needle in [("top_k", 0, "top_k must be at least 1"), ("seed", -5, "the seed must be a non-negative"),
                                     ("temperature", 0, "the temperature must be > 0")]:
            code, body = lm.post("/generate", {"prime": "a", field: value})
            assert code == 400 and needle in body["error"] and "--" not in body["error"] + body["hint"], body
    finally:
        lm.stop()
    gen = Server(workspace / "runs/gen")
    try:
        code, body = gen.post("/generate", {"condition": "1", "num": 3, "seed": 0})
        assert code == 200 and [t["condition"] for t in body["texts"]] == ["1", "1", "1"]
        code, body = gen.post("/generate", {"condition": "7"})
        assert code == 400 and "knows no condition '7'" in body["error"]
        code, body = gen.post("/generate", {"condition": "1", "top_k": 0})
        assert code == 400 and "top_k must be at least 1" in body["error"]
    finally:
        gen.stop()


def test_more_workers(trained_toy):
    server = Server(trained_toy.run_dir, "--workers", "2")
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: server.post("/predict", {"texts": ["movie was good"]}), range(40)))
        assert {status for status, _ in answers} == {200}
    finally:
        code, err = server.stop(signal.SIGINT)
    assert code == 0, err


def test_port_in_use_and_missing_packages(cli, trained_toy, monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = cli("serve", str(trained_toy.run_dir), "--port", str(port))
    assert r.code == ExitCode.USAGE and f"cannot listen on 127.0.0.1:{port}" in r.err
    import builtins

    real_import = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name.split(".")[0] in ("uvicorn", "starlette"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    monkeypatch.setattr("importlib.import_module", lambda name, *a: no_uvicorn(name))
    r = cli("serve", str(trained_toy.run_dir))
    assert r.code == ExitCode.USAGE
    assert r.err_lines[0] == "Error: rnn serve needs uvicorn and starlette, which are not installed."
    assert "pip install 'rnncli[serve]'" in r.err_lines[1]


def test_a_bad_run_is_reported_before_the_server_starts(cli, workspace):
    r = cli("serve", "runs/none", "--port", str(_free_port()))
    assert r.code == ExitCode.RUN and "Traceback" not in r.err
    assert not os.environ.get("RNNCLI_SERVE_RUN")


def test_seq2seq_decodes_through_predict(cli, workspace):
    assert cli("data", "make", "reverse", "--length", "5", "--n", "300", "--out", "data/reverse.tsv").code == 0
    assert cli("train", "--config", "configs/reverse-seq2seq.yaml", "--set", "train.epochs=1",
               "--set", "run.dir=runs/rev", "-q").code == 0
    expected = cli("predict", "--model", "runs/rev", "abc", "dea", "--beam", "2", "--json").jsonl()
    server = Server(workspace / "runs/rev")
    try:
        code, body = server.post("/predict", {"texts": ["abc", "dea"], "beam": 2})
        assert code == 200
        assert [p["output"] for p in body["predictions"]] == [p["output"] for p in expected]
        code, body = server.post("/predict", {"texts": ["abc"], "beam": 0})
        assert code == 400
    finally:
        server.stop()


def test_the_server_transposes_the_recurrent_weights_once(toy_run):
    """Requests find W_hh^T beside the weights (copied when the app starts, not per request) and predict the same."""
    from rnncli.evaluation.predict import predict
    from rnncli.rundir import load_run
    from rnncli.tools.serve import serving_run

    run = load_run(toy_run)
    served = serving_run(run)
    layers = [name[: -len(".W_hh")] for name in run.params if name.endswith(".W_hh")]
    assert layers and all(np.array_equal(served.params[f"{layer}.W_hh_T"], run.params[f"{layer}.W_hh"].T)
                          for layer in layers)
    assert not any(name.endswith("_T") for name in run.params)  # the loaded run is left as it was
    texts = ["movie was good", "bad bad film", "not good at all"]
    assert predict(served, texts) == predict(run, texts)
