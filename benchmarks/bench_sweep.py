#!/usr/bin/env python
"""`rnn sweep`: trials per minute, one at a time against the local pool and against a local Ray.

    python benchmarks/bench_sweep.py [--quick] [--json] [--no-ray]

The same 8 trials (a grid of 2 learning rates × 4 hidden sizes over configs/sentiment-toy.yaml, 30 epochs each;
--quick: 4 trials of 10 epochs) three ways, in one run: `max_concurrent: 1` on the local backend (the
reference: trials one after another, each with every core), `max_concurrent: 2` on the local backend (two
worker processes with one BLAS thread each on 2 cores), and `--backend ray` with `max_concurrent: 2` (Ray
started by the sweep on this machine; skipped without Ray or with --no-ray). Each is the wall time of the whole
`rnn sweep` command. Target (the sweep issue): the pool reaches ≥ 1.6 × the one-at-a-time rate on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.6


def rnn_command() -> list[str]:
    script = Path(sys.executable).parent / "rnn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rnncli"]


def sweep_file(folder: Path, concurrent: int, quick: bool) -> Path:
    hidden = [8, 16] if quick else [8, 16, 24, 32]
    epochs = 10 if quick else 30
    path = folder / f"bench-{concurrent}.yaml"
    path.write_text(json.dumps({
        "base": str(ROOT / "configs/sentiment-toy.yaml"), "method": "grid", "metric": "dev_loss", "mode": "min",
        "max_concurrent": concurrent,
        "space": {"train.lr": [0.003, 0.01], "model.hidden_size": hidden, "train.epochs": [epochs]}}))
    return path


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 trials of 10 epochs")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--no-ray", action="store_true", help="leave the Ray backend out")
    args = ap.parse_args()
    try:
        import ray.tune  # noqa: F401
        has_ray = not args.no_ray
    except ImportError:
        has_ray = False
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "datasets", work / "datasets")
        for name, concurrent, extra in [("one at a time", 1, []), ("local pool", 2, []),
                                        *([("ray", 2, ["--backend", "ray"])] if has_ray else [])]:
            path = sweep_file(work, concurrent, args.quick)
            trials = 4 if args.quick else 8
            print(f"sweep: {name} …", file=sys.stderr, flush=True)
            seconds = timed(rnn_command() + ["sweep", "--config", str(path), "--out", str(work / name.replace(" ", "-")),
                                             *extra], work)
            rows.append({"backend": name, "trials": trials, "seconds": seconds, "trials_per_minute": 60 * trials / seconds})
    base = rows[0]["trials_per_minute"]
    for r in rows:
        r["ratio"] = r["trials_per_minute"] / base
    result = {"rows": rows, "target": TARGET, "pass": rows[1]["ratio"] >= TARGET}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'backend':14} {'trials':>6} {'seconds':>8} {'trials/min':>10} {'ratio':>6}")
    for r in rows:
        print(f"{r['backend']:14} {r['trials']:>6} {r['seconds']:>8.1f} {r['trials_per_minute']:>10.1f} {r['ratio']:>6.2f}")
    print(f"target: the local pool ≥ {TARGET} × one at a time: {'pass' if result['pass'] else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
