#!/usr/bin/env python
"""`rnn serve` under load from a loopback client: latency percentiles and requests per second.

    python benchmarks/bench_serve.py [--quick] [--json] [--model RUN] [--requests N] [--seconds S]

1. The model: --model RUN (e.g. runs/sst2-bilstm after `rnn train --config configs/sst2-bilstm.yaml`), or
   the small SST-2 bi-LSTM that bench_predict.py trains (one epoch on 8,000 sentences; --quick 1,000).
2. `rnn serve RUN` on a free loopback port (one worker), then, for concurrency 1 and 16, N requests
   (5,000; --quick 500) of one dev sentence each (the 872 cycled), POST /predict from as many client
   threads over keep-alive connections, stopping early after S seconds (60; --quick 15): p50, p90 and
   p99 latency, requests per second, and failed requests (any status but 200, or no answer).
3. The reference, measured in the same run: `rnn predict --model RUN "movie was good"` as a new process,
   median of 3: what a request costs without a server.

Target (the shipping issue): p50 ≤ 5 ms for one sentence at concurrency 1, no failed request in 5,000.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_predict  # noqa: E402  (the model it trains, and how it finds `rnn`)

TARGET_P50_MS = 5.0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dev_sentences() -> list[str]:
    with gzip.open(bench_predict.SST2 / "dev.tsv.gz", "rt", encoding="utf-8") as fh:
        return [line.split("\t")[0] for line in fh.read().splitlines()[1:]]


def start_server(run_dir: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(bench_predict.rnn_command() + ["serve", run_dir, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("rnn serve did not start within 60 s")


def load(port: int, sentences: list[str], requests: int, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    counter = iter(range(requests))
    stop_at = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            body = json.dumps({"texts": [sentences[i % len(sentences)]]})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except OSError:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - t0
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    failures[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = sorted(x * 1000 for x in latencies)

    def pct(q: float) -> float:
        return ms[min(len(ms) - 1, int(q * len(ms)))] if ms else float("nan")

    return {"concurrency": concurrency, "requests": len(ms) + failures[0], "failed": failures[0],
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "requests_per_s": len(ms) / wall,
            "seconds": wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a model of 1,000 sentences, 500 requests, 15 s")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--model", help="serve this run instead of training the small SST-2 model")
    ap.add_argument("--requests", type=int, default=None, help="requests per concurrency level (5,000; --quick 500)")
    ap.add_argument("--seconds", type=float, default=None, help="at most this long per level (60; --quick 15)")
    args = ap.parse_args()
    requests = args.requests or (500 if args.quick else 5000)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            model = {"run_dir": args.model}
        else:
            model = bench_predict.train_model(Path(tmp), args.quick, _log)
        run_dir = model["run_dir"]
        cold = bench_predict._wall(bench_predict.rnn_command() + ["predict", "--model", run_dir, "movie was good"], 3)
        port = _free_port()
        server = start_server(run_dir, port)
        try:
            sentences = dev_sentences()
            levels = []
            for concurrency in (1, 16):
                _log(f"serve: {requests} requests at concurrency {concurrency} …")
                levels.append(load(port, sentences, requests, concurrency, seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
    one = levels[0]
    result = {"model": model, "cold_predict_s": {"median": statistics.median(cold), "runs": cold},
              "levels": levels, "target_p50_ms": TARGET_P50_MS,
              "pass": one["p50_ms"] <= TARGET_P50_MS and all(level["failed"] == 0 for level in levels)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"rnn serve {run_dir}: one dev sentence per request; cold `rnn predict` {statistics.median(cold) * 1000:.0f} ms")
    print(f"{'concurrency':>11} {'requests':>9} {'failed':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'req/s':>8}")
    for level in levels:
        print(f"{level['concurrency']:>11} {level['requests']:>9} {level['failed']:>7} {level['p50_ms']:>7.2f} "
              f"{level['p90_ms']:>7.2f} {level['p99_ms']:>7.2f} {level['requests_per_s']:>8.0f}")
    print(f"target: p50 ≤ {TARGET_P50_MS:g} ms at concurrency 1, no failed request: {'pass' if result['pass'] else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
