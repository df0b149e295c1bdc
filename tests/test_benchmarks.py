"""The benchmark scripts still run and report what benchmarks/README.md describes (smoke runs: the
figures themselves are never asserted, timings are far too noisy for tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(*args: str, timeout: int = 300) -> dict:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_bench_train_smoke():
    d = _run(str(BENCH / "bench_train.py"), "--quick", "--no-torch", "--workloads", "W3", "--cells", "rnn,gru",
             "--no-predict", "--json")
    assert [(r["workload"], r["cell"]) for r in d["training"]] == [("W3", "rnn"), ("W3", "gru")]
    for r in d["training"]:
        assert r["ours"]["tokens_per_s"] > 0 and r["repeats"] >= 1 and "ratio" not in r  # no PyTorch side
        assert r["over_floor"] > 0 and "torch_floor" not in r
    (m,) = d["memory"]  # --quick: the first cell only
    assert m["cell"] == "rnn" and m["activations_bytes"] > 0 and m["peak_bytes"] >= m["activations_bytes"]


def test_bench_train_floor_and_torch_smoke():
    pytest.importorskip("torch")
    d = _run(str(BENCH / "bench_train.py"), "--quick", "--workloads", "W1", "--cells", "gru", "--no-predict",
             "--no-memory", "--repeats", "1", "--json")
    (r,) = d["training"]
    assert r["floor_gemms"] == 2 * 32 + 4 + 3 and r["floor"]["step_ms"] > 0 and r["torch_floor"]["step_ms"] > 0
    assert r["over_floor"] == r["ours"]["step_ms"] / r["floor"]["step_ms"] and isinstance(r["floor_pass"], bool)
    assert r["optimizer"]["step_ms"] > 0 and r["fb_over_floor"] < r["over_floor"]
    assert r["parity_rel_diff"] < 1e-3  # both sides start from the same weights


def test_bench_train_times_torch_lstm_without_onednn():
    torch = pytest.importorskip("torch")
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this PyTorch has no oneDNN")
    d = _run(str(BENCH / "bench_train.py"), "--quick", "--workloads", "W3", "--cells", "lstm,gru", "--no-predict",
             "--no-memory", "--no-floor", "--repeats", "1", "--json")
    lstm, gru = d["training"]
    assert lstm["ratio_native"] == lstm["ours"]["tokens_per_s"] / lstm["torch_native"]["tokens_per_s"]
    assert lstm["onednn_speedup"] == lstm["torch_native"]["step_ms"] / lstm["torch"]["step_ms"]
    assert "torch_native" not in gru  # PyTorch's GRU has no oneDNN path to compare with


def test_torch_side_runs_the_lstm_with_and_without_onednn():
    torch = pytest.importorskip("torch")
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this PyTorch has no oneDNN")
    sys.path.insert(0, str(BENCH))
    from bench_train import WORKLOADS, Ours, Torch, make_batches

    wl = WORKLOADS["W3"]
    batches = make_batches(wl, np.random.default_rng(0))
    ours = Ours(wl, "lstm", batches)
    ops = {}
    for onednn in (True, False):
        side = Torch(wl, "lstm", batches, ours, onednn=onednn)
        assert side.initial_loss() == pytest.approx(ours.initial_loss(), rel=1e-4)  # the same function both ways
        with torch.profiler.profile() as prof:
            side.step()
        ops[onednn] = {e.name for e in prof.events()}
    assert "aten::mkldnn_rnn_layer" in ops[True] and "aten::mkldnn_rnn_layer_backward" in ops[True]
    assert not any("mkldnn" in name for name in ops[False])


def test_bench_train_orientations_smoke():
    d = _run(str(BENCH / "bench_train.py"), "--orientations", "--quick", "--no-torch", "--workloads", "W3", "--cells",
             "lstm", "--json")
    (r,) = d["orientations"]
    assert (r["N"], r["H"], r["GH"]) == (32, 128, 512) and len(r["numpy_us"]) == 4 and not r["torch_us"]
    assert len(r["step_us"]) == 3 and all(us > 0 for us in r["step_us"].values())


def test_bench_limits_smoke():
    d = _run(str(BENCH / "bench_limits.py"), "--quick", "--workloads", "W3", "--cells", "gru", "--json")
    (a,) = d["adam"]
    assert a["floor_ms"] > 0 and a["adam_ms"] > 0 and a["traffic_ms"] > 0
    assert a["floor_plus_adam"] == pytest.approx((a["floor_ms"] + a["adam_ms"]) / a["floor_ms"])
    if d["notes"]:  # a BLAS whose threads cannot be set, or one core: no bits or pairs
        assert not d["bits"] and not d["pairs"]
        return
    assert [r["product"].split()[0] for r in d["bits"]] == ["projection", "forward", "backward", "dW_hh"]
    (p,) = d["pairs"]
    assert isinstance(p["same_bits_blas_1"], bool) and isinstance(p["same_bits_blas_n"], bool)
    assert p["speedup_blas_1"] > 0 and p["speedup_blas_n"] > 0


def test_gate_sums_compute_the_same_pre_activations():
    sys.path.insert(0, str(BENCH))
    from bench_train import gate_sums

    rng = np.random.default_rng(0)
    N, H, G = 5, 4, 4
    h, W, a = (rng.standard_normal(s).astype(np.float32) for s in ((N, H), (G * H, H), (N, G * H)))
    expected = (a + h @ W.T).reshape(N, G, H).transpose(1, 0, 2)
    gates, ways = gate_sums(h, W, a, G)
    for name, fn in ways.items():
        gates[...] = np.nan
        fn()
        np.testing.assert_allclose(gates, expected, rtol=1e-5, atol=1e-5, err_msg=name)


def test_bench_infer_smoke():
    pytest.importorskip("torch")
    d = _run(str(BENCH / "bench_infer.py"), "--quick", "--json", "--batch-sizes", "64,1", "--sentences", "80",
             "--single", "10", "--repeats", "1")
    assert [(r["model"], r["batch_size"], r["sentences"]) for r in d["rows"]] == [
        ("sst2", 64, 80), ("sst2", 1, 10), ("ewt", 64, 80), ("ewt", 1, 10)]
    for r in d["rows"]:  # the exported PyTorch module computes what we compute
        assert r["max_abs_diff"] < 1e-4 and r["ours"]["sentences_per_s"] > 0 and isinstance(r["pass"], bool)


def test_bench_predict_smoke():
    d = _run(str(BENCH / "bench_predict.py"), "--quick", "--json")
    assert d["throughput"]["sentences"] == 500 and d["throughput"]["sentences_per_s"] > 0
    assert len(d["cold_start_s"]["runs"]) == 3 and d["python_pass_s"]["median"] > 0
    assert d["python_import_dependencies_s"]["command"].startswith("import numpy")
    assert isinstance(d["pass"], bool) and d["model"]["train_sentences"] == 1_000


def test_bench_jacobian_smoke():
    d = _run(str(BENCH / "bench_jacobian.py"), "--quick", "--json")
    assert [r["cell"] for r in d["cases"]] == ["rnn", "lstm", "gru"]
    for r in d["cases"]:
        assert r["jacobian_s"] > 0 and r["grad_norms_s"] > 0 and r["examples"] == 32 and r["steps"] == 100
    assert [r["state_size"] for r in d["cases"]] == [32, 64, 32]


def test_bench_serve_smoke():
    pytest.importorskip("uvicorn")
    d = _run(str(BENCH / "bench_serve.py"), "--quick", "--json", "--requests", "40", "--seconds", "30")
    assert [level["concurrency"] for level in d["levels"]] == [1, 16]
    for level in d["levels"]:
        assert level["requests"] == 40 and level["failed"] == 0 and level["p50_ms"] > 0
    assert d["cold_predict_s"]["median"] > 0 and isinstance(d["pass"], bool)


def test_bench_sweep_smoke():
    d = _run(str(BENCH / "bench_sweep.py"), "--quick", "--json", "--no-ray")
    assert [r["backend"] for r in d["rows"]] == ["one at a time", "local pool"]
    assert all(r["trials"] == 4 and r["seconds"] > 0 for r in d["rows"]) and isinstance(d["pass"], bool)
