#!/usr/bin/env python
"""`rnn predict` from the shell: cold-start latency and throughput, on a small SST-2 model.

    python benchmarks/bench_predict.py [--quick] [--json] [--model RUN]

1. Builds a model in a temporary directory (unless --model is given): a bidirectional LSTM over
   word embeddings (64/64, forget bias 1; vocabulary of the full training set with min_freq 2,
   tokenizer whitespace), trained with `rnn train` for one epoch on a seeded sample of
   datasets/sst2/train.tsv.gz (8,000 sentences; --quick 1,000), scored on the dev set.
2. Cold start: wall time of `rnn predict --model RUN "movie was good"` as a new process, median of
   5 (--quick 3) after one untimed run, using the `rnn` console script next to this Python (not a
   pyenv shim), with `python -c pass`, `python -c "import numpy"` and the imports of every runtime
   dependency the command uses (numpy, typer, rich's table) as floors, and
   `python -X importtime` for where the time goes.
3. Throughput: 2,000 dev sentences (the 872 cycled; --quick 500) piped by `cat` into
   `rnn predict - --json --model RUN`, median of 3 runs (--quick 1), sentences/s end to end and with
   one cold start taken off; and, as the reference for stdin's streaming, the same sentences given
   as TEXT arguments (read up front, one batch): the ratio of the two wall times.

Target (the performance issue): ≤ 0.3 s from a cold start.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SST2 = ROOT / "datasets" / "sst2"
TARGET_S = 0.3
TEXT = "movie was good"
DEPS_IMPORT = "import numpy, typer, rich.console, rich.table"  # what predict needs besides rnncli itself


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rnn_command() -> list[str]:
    """The real console script of this interpreter (a pyenv shim would add its own ~0.1 s)."""
    script = Path(sys.executable).parent / "rnn"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "rnncli"]


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd if isinstance(cmd, str) else ' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stderr.strip()[-2000:]}")
    return proc


def _wall(cmd, repeats: int, **kw) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _run(cmd, **kw)
        times.append(time.perf_counter() - t0)
    return times


def train_model(workdir: Path, quick: bool, log=_log) -> dict:
    """`rnn vocab build` on the full training set, then `rnn train` for one epoch on a sample."""
    with gzip.open(SST2 / "train.tsv.gz", "rt", encoding="utf-8") as fh:
        header, *rows = fh.read().splitlines()
    n = 1_000 if quick else 8_000
    sample = random.Random(0).sample(rows, n)
    (workdir / "train-sample.tsv").write_text("\n".join([header, *sample]) + "\n", encoding="utf-8")
    rnn = rnn_command()
    _run(rnn + ["-q", "vocab", "build", str(SST2 / "train.tsv.gz"), "--out", str(workdir / "vocab.json"),
                "--text-field", "sentence", "--tokenizer", "whitespace", "--min-freq", "2"])
    config = f"""\
# benchmarks/bench_predict.py: a small SST-2 bi-LSTM, one epoch on a sample
task: classify
data:
  train: {workdir / 'train-sample.tsv'}
  dev: {SST2 / 'dev.tsv.gz'}
  text_field: sentence
  label_field: label
  tokenizer: whitespace
vocab:
  path: {workdir / 'vocab.json'}
model:
  cell: lstm
  bidirectional: true
  embedding_dim: 64
  hidden_size: 64
  forget_bias: 1.0
train:
  epochs: 1
  batch_size: 64
  optimizer: adam
  lr: 0.005
  seed: 0
run:
  dir: {workdir / 'run'}
"""
    (workdir / "sst2-bench.yaml").write_text(config, encoding="utf-8")
    log(f"predict: training a bi-LSTM on {n:,} SST-2 sentences for one epoch …")
    t0 = time.perf_counter()
    proc = _run(rnn + ["-q", "train", "--config", str(workdir / "sst2-bench.yaml"), "--json"])
    seconds = time.perf_counter() - t0
    done = {}
    for line in proc.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "done":
            done = event
    final = done.get("final", {})
    info = {"run_dir": str(workdir / "run"), "train_sentences": n, "train_seconds": seconds,
            "num_params": done.get("num_params"), "dev_accuracy": final.get("dev_accuracy"),
            "vocab_size": _vocab_size(workdir / "vocab.json"),
            "model": "lstm, bidirectional, embedding 64, hidden 64"}
    log(f"predict: trained in {seconds:.1f} s, dev accuracy {info['dev_accuracy']}")
    return info


def _vocab_size(path: Path) -> int | None:
    try:
        vocab = json.loads(path.read_text())
        return len(vocab["specials"]) + len(vocab["tokens"])
    except (OSError, ValueError, KeyError, TypeError):  # another vocabulary format: leave it out
        return None


def import_breakdown(run_dir: str, top: int = 10) -> list[dict]:
    """`python -X importtime` of the predict command: the slowest imports (cumulative, top level first)."""
    rnn = rnn_command()
    cmd = [sys.executable, "-X", "importtime"] + (rnn[1:] if rnn[0] == sys.executable else rnn)
    cmd += ["predict", "--model", run_dir, TEXT]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = line.split(":", 1)[1].split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2  # one space, then two per level of nesting
        rows.append({"module": name.strip(), "depth": depth, "self_ms": int(self_us) / 1e3, "cum_ms": int(cum_us) / 1e3})
    # importtime prints children before their parent: group each top-level import with its direct children
    tops, children = [], []
    for r in rows:
        if r["depth"] == 1:
            children.append(r)
        elif r["depth"] == 0:
            tops.append(r | {"children": sorted(children, key=lambda c: -c["cum_ms"])})
            children = []
    tops.sort(key=lambda r: -r["cum_ms"])
    return tops[:top]


def bench_predict(quick: bool = False, model: str | None = None, log=_log) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="rnncli-bench-"))
    try:
        info = {"run_dir": model, "trained_here": False} if model else train_model(workdir, quick, log) | {"trained_here": True}
        run_dir = info["run_dir"]
        rnn = rnn_command()
        repeats = 3 if quick else 5
        log(f"predict: cold start × {repeats} ({' '.join(Path(c).name for c in rnn)} predict …)")
        _run(rnn + ["predict", "--model", run_dir, TEXT])  # the run's files into the page cache, as a user's would be
        floor = _wall([sys.executable, "-c", "pass"], repeats)
        floor_np = _wall([sys.executable, "-c", "import numpy"], repeats)
        floor_deps = _wall([sys.executable, "-c", DEPS_IMPORT], repeats)
        cold = _wall(rnn + ["predict", "--model", run_dir, TEXT], repeats)
        imports = import_breakdown(run_dir)

        with gzip.open(SST2 / "dev.tsv.gz", "rt", encoding="utf-8") as fh:
            dev = [line.split("\t")[0] for line in fh.read().splitlines()[1:] if line.strip()]
        n = 500 if quick else 2_000
        lines = "\n".join(dev[i % len(dev)] for i in range(n)) + "\n"
        sentences = workdir / "sentences.txt"
        sentences.write_text(lines, encoding="utf-8")
        rounds = 1 if quick else 3
        log(f"predict: {n:,} sentences piped in by cat × {rounds}")
        through = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            proc = _run(f"cat {shlex.quote(str(sentences))} | {shlex.join(rnn + ['predict', '-', '--json', '--model', run_dir])}",
                        shell=True)
            through.append(time.perf_counter() - t0)
            got = sum(1 for line in proc.stdout.splitlines() if line.startswith("{"))
            if got != n:
                raise RuntimeError(f"rnn predict - --json printed {got} JSON lines for {n} inputs")
        # The reference: the same sentences as TEXT arguments, read up front and predicted in one call.
        # stdin is answered as it arrives (a batch per read of up to 64 KiB), which must cost nothing here.
        args_runs = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            proc = _run(rnn + ["predict", "--json", "--model", run_dir, *lines.splitlines()])
            args_runs.append(time.perf_counter() - t0)
            if sum(1 for line in proc.stdout.splitlines() if line.startswith("{")) != n:
                raise RuntimeError("rnn predict --json TEXT… did not print one JSON line per input")
        cold_med, wall = statistics.median(cold), statistics.median(through)
        return {
            "model": {k: v for k, v in info.items() if k != "run_dir"} | {"run_dir": run_dir if model else "(temporary)"},
            "command": " ".join(Path(rnn[0]).name if i == 0 else c for i, c in enumerate(rnn)) + f' predict --model RUN "{TEXT}"',
            "cold_start_s": {"median": cold_med, "min": min(cold), "runs": cold},
            "python_pass_s": {"median": statistics.median(floor), "runs": floor},
            "python_import_numpy_s": {"median": statistics.median(floor_np), "runs": floor_np},
            "python_import_dependencies_s": {"command": DEPS_IMPORT, "median": statistics.median(floor_deps),
                                             "runs": floor_deps},
            "target_s": TARGET_S, "pass": cold_med <= TARGET_S,
            "slowest_imports": imports,
            "throughput": {"sentences": n, "wall_s": wall, "runs_s": through,
                           "sentences_per_s": n / wall, "arguments_wall_s": statistics.median(args_runs),
                           "arguments_runs_s": args_runs, "stdin_over_arguments": wall / statistics.median(args_runs),
                           "sentences_per_s_after_startup": n / max(wall - cold_med, 1e-9)},
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def print_predict(p: dict, table) -> None:
    c, t = p["cold_start_s"], p["throughput"]
    m = p["model"]
    desc = f"{m.get('model', 'given run')}"
    if m.get("trained_here"):
        desc += (f", 1 epoch on {m['train_sentences']:,} sentences in {m['train_seconds']:.0f} s"
                 + (f", dev accuracy {m['dev_accuracy']:.3f}" if m.get("dev_accuracy") is not None else ""))
    rows = [
        [f"cold start: {p['command']}", f"{c['median']:.3f} s", f"≤ {p['target_s']} s", "pass" if p["pass"] else "FAIL"],
        ["  floor: python -c pass", f"{p['python_pass_s']['median']:.3f} s", "", ""],
        ["  floor: python -c 'import numpy'", f"{p['python_import_numpy_s']['median']:.3f} s", "", ""],
        *([[f"  floor: python -c '{p['python_import_dependencies_s']['command']}'",
            f"{p['python_import_dependencies_s']['median']:.3f} s", "", ""]] if "python_import_dependencies_s" in p else []),
        [f"throughput: {t['sentences']:,} sentences, rnn predict - --json", f"{t['sentences_per_s']:,.0f} sentences/s",
         "", ""],
        ["  the same, less one cold start", f"{t['sentences_per_s_after_startup']:,.0f} sentences/s", "", ""],
        *([["  stdin (answered as it arrives) ÷ the same as TEXT arguments (read first)",
            f"{t['stdin_over_arguments']:.2f}×", "≈ 1", ""]] if "stdin_over_arguments" in t else []),
    ]
    table(f"rnn predict (SST-2 model: {desc}; medians)", ["measure", "value", "target", "result"], rows)
    if p.get("slowest_imports"):
        table("Slowest imports of the predict command (python -X importtime, one run; indented: what the "
              "import above pulls in)",
              ["module", "cumulative ms", "own ms"],
              [[("  " + r["module"]) if r.get("child") else r["module"], f"{r['cum_ms']:.0f}", f"{r['self_ms']:.0f}"]
               for r in _import_rows(p["slowest_imports"])])


def _import_rows(tops, limit: int = 5, min_ms: float = 10.0):
    """Top-level imports (≥ min_ms), each followed by its slowest direct children."""
    for r in tops:
        if r["cum_ms"] < min_ms:
            continue
        yield r
        for c in r.get("children", [])[:limit]:
            if c["cum_ms"] >= min_ms:
                yield c | {"child": True}


def make_table(plain: bool = False):
    """A function table(title, headers, rows, left=1) that prints with rich, or as plain text."""
    if not plain:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            plain = True
    if not plain:
        console = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 160)

        def table(title, headers, rows, left=1):
            t = Table(title=title, title_justify="left")
            for i, h in enumerate(headers):
                t.add_column(h, justify="left" if i < left else "right")
            for r in rows:
                t.add_row(*[str(c) for c in r])
            console.print(t)

        return table

    def table(title, headers, rows, left=1):
        cells = [headers] + [[str(c) for c in r] for r in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        print(title)
        for j, r in enumerate(cells):
            print("  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
            if j == 0:
                print("  ".join("-" * w for w in widths))
        print()

    return table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smaller training sample and one throughput round")
    ap.add_argument("--model", help="an existing run directory instead of training one")
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    ap.add_argument("--plain", action="store_true", help="plain-text tables instead of rich's")
    args = ap.parse_args(argv)
    result = bench_predict(args.quick, args.model)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_predict(result, make_table(args.plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
