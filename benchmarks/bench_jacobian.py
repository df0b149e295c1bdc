#!/usr/bin/env python
"""`rnn jacobian` on the adding problem (T = 100, hidden 128): wall time per cell, against `rnn grad-norms`.

    python benchmarks/bench_jacobian.py [--quick] [--json] [--hidden H] [--repeats R]

In a temporary directory: `rnn data make adding --length 100 --n 10000` (and the 1,000-sequence dev
file the configs name), then for each of configs/adding-rnn.yaml (tanh RNN), adding-lstm.yaml and the
same with model.cell=gru, all with model.hidden_size=H (128):

- `rnn jacobian --config CONFIG --set model.hidden_size=H --json` as a new process: the whole command,
  reading the data, building the model, 32 sequences of one batch (train.batch_size), top 4 exponents;
- `rnn grad-norms` on the same config and batch, the reference measured in the same run (the same
  start-up, data reading and forward pass; jacobian adds the Jacobians, their norms, the products and
  the QR steps, and runs grad-norms itself).

Median of --repeats (3; --quick 1) after one untimed run. Target (the Jacobian issue): ≤ 10 s per
command on 2 cores. --quick: 1,000 sequences, hidden 32.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 10.0
CASES = [("rnn", "adding-rnn.yaml", []), ("lstm", "adding-lstm.yaml", []),
         ("gru", "adding-lstm.yaml", ["--set", "model.cell=gru", "--set", "model.forget_bias=0"])]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rnn_command() -> list[str]:
    script = Path(sys.executable).parent / "rnn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rnncli"]


def _run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _timed(cmd: list[str], cwd: Path, repeats: int) -> tuple[float, list[float], str]:
    out = _run(cmd, cwd)  # untimed: page cache, .pyc files
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = _run(cmd, cwd)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 sequences, hidden 32, one repeat")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--hidden", type=int, default=None, help="model.hidden_size (default 128; --quick 32)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per command (default 3; --quick 1)")
    args = ap.parse_args()
    hidden = args.hidden or (32 if args.quick else 128)
    repeats = args.repeats or (1 if args.quick else 3)
    n = 1000 if args.quick else 10000
    rnn = rnn_command()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "configs", work / "configs")
        _run(rnn + ["data", "make", "adding", "--length", "100", "--n", str(n), "--out", "data/adding-100.tsv"], work)
        _run(rnn + ["data", "make", "adding", "--length", "100", "--n", "1000", "--seed", "1",
                    "--out", "data/adding-100-dev.tsv"], work)
        for cell, config, extra in CASES:
            common = ["--config", f"configs/{config}", "--set", f"model.hidden_size={hidden}", *extra, "--json", "-q"]
            _log(f"{cell}: rnn jacobian / rnn grad-norms, hidden {hidden} …")
            jac_s, jac_runs, out = _timed(rnn + ["jacobian", *common], work, repeats)
            ref_s, ref_runs, _ = _timed(rnn + ["grad-norms", *common], work, repeats)
            report = json.loads(out)
            rows.append({"cell": cell, "hidden": hidden, "state_size": report["state_size"],
                         "examples": report["examples"], "steps": report["steps"],
                         "jacobian_s": jac_s, "jacobian_runs": jac_runs, "grad_norms_s": ref_s,
                         "grad_norms_runs": ref_runs, "ratio": jac_s / ref_s,
                         "lyapunov_1": report["lyapunov"][0], "grad_norm_slope": report["grad_norm_slope"],
                         "pass": jac_s <= TARGET_S})
    result = {"sequences_in_file": n, "target_s": TARGET_S, "cases": rows, "pass": all(r["pass"] for r in rows)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"rnn jacobian on the adding problem (T = 100, {rows[0]['examples']} sequences, hidden {hidden}); "
          f"median of {repeats}")
    print(f"{'cell':6} {'S':>4} {'jacobian s':>11} {'grad-norms s':>13} {'ratio':>6} {'λ_1':>8} {'slope':>8}  target ≤ {TARGET_S:g} s")
    for r in rows:
        print(f"{r['cell']:6} {r['state_size']:>4} {r['jacobian_s']:>11.2f} {r['grad_norms_s']:>13.2f} "
              f"{r['ratio']:>6.2f} {r['lyapunov_1']:>+8.4f} {r['grad_norm_slope']:>+8.4f}  {'ok' if r['pass'] else 'SLOW'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
