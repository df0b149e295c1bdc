#!/usr/bin/env python
"""Inference throughput: sentences per second of our forward pass against PyTorch eager on the same model.

    python benchmarks/bench_infer.py [--quick] [--json] [--plain] [--batch-sizes 256,1]

Two models, shaped as the shipped configs, with random weights (speed does not depend on them):

    sst2  configs/sst2-bilstm.yaml: embedding → bidirectional LSTM stack → max over the words → 1 logit;
          on SST-2's dev sentences (datasets/sst2/dev.tsv.gz, whitespace tokens)
    ewt   configs/ewt-upos-bilstm.yaml's word-level tagger: embedding → bidirectional LSTM → 17 tags per
          token; on UD English EWT's dev sentences.

The configs' word features (SST-2's affixes; EWT's affixes, shape and character encoder) are left out on
both sides: the PyTorch export (nn.Embedding → nn.LSTM → nn.Linear) has no place for them.

Ours is what `rnn predict` runs over many inputs: the task's ``score`` (batches of similar lengths,
``by_length``, padded, the forward pass without caches, probabilities). PyTorch's is the module of
``rnncli.tools.export`` (the one `rnn export --format torch` writes) loaded with our weights
(``load_state_dict(strict=True)``), fed the very same padded batches and lengths under
``torch.no_grad()``, with the same probabilities taken. The two agree to float32 rounding (checked on the
first batch: ``max_abs_diff``). Both use the same number of BLAS threads (read from NumPy's OpenBLAS as in
bench_train.py; ``torch.set_num_threads`` to match).

Timing: one untimed pass of each side, then ``repeats`` interleaved passes (ours, torch, torch, ours, …)
over all the sentences; the figure is the median pass, as sentences per second. Batch size 256 is
`rnn predict`'s; batch size 1 is one sentence per call, as `rnn serve` sees at concurrency 1 (the first
``--single`` sentences only). Target (the performance issue): ours ÷ PyTorch ≥ 1.0.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_predict import make_table  # noqa: E402
from bench_train import _commit, _cpu_name, _emit, _loadavg, blas_info, progress, simd_info  # noqa: E402
from rnncli.data.batching import by_length  # noqa: E402
from rnncli.models import init_params  # noqa: E402
from rnncli.tasks import model_spec, task_of  # noqa: E402
from rnncli.tasks.base import Dataset, pad_inputs  # noqa: E402
from rnncli.tools.export import module_listing, torch_state_dict  # noqa: E402

SEED = 1234
TARGET = 1.0
MODEL_KEYS = ("cell", "bidirectional", "embedding_dim", "hidden_size", "num_layers", "pooling")


def sst2_sentences() -> list[list[str]]:
    with gzip.open(ROOT / "datasets" / "sst2" / "dev.tsv.gz", "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        col = header.index("sentence")
        return [line.rstrip("\n").split("\t")[col].split() for line in fh if line.strip()]


def ewt_sentences() -> list[list[str]]:
    sentences, words = [], []
    with gzip.open(ROOT / "datasets" / "ud_english_ewt" / "en_ewt-ud-dev.conllu.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                if words:
                    sentences.append(words)
                words = []
            elif not line.startswith("#"):
                cols = line.split("\t")
                if cols[0].isdigit():  # not a multiword range (3-4) or an empty node (3.1)
                    words.append(cols[1].lower())
    if words:
        sentences.append(words)
    return sentences


MODELS = {  # name: (config, task, sentences, outputs)
    "sst2": ("sst2-bilstm.yaml", "classify", sst2_sentences, 2),
    "ewt": ("ewt-upos-bilstm.yaml", "tag", ewt_sentences, 17),
}


def build(name: str):
    """(spec, params, id lists, description) of one model, its config's sizes and random float32 weights."""
    config, task, read, classes = MODELS[name]
    model = yaml.safe_load((ROOT / "configs" / config).read_text(encoding="utf-8"))["model"]
    sentences = read()
    itos = sorted({w for s in sentences for w in s})
    stoi = {w: i + 2 for i, w in enumerate(itos)}  # 0 <pad>, 1 <unk>
    ids = [np.array([stoi[w] for w in s], dtype=np.int64) for s in sentences]
    spec = model_spec(dict(task=task, vocab_size=len(itos) + 2, num_classes=classes,
                           **{k: model[k] for k in MODEL_KEYS if k in model}))
    params = init_params(spec, np.random.default_rng(SEED), dtype=np.float32)
    desc = (f"configs/{config}: {spec.cell}, {spec.num_layers} layer(s), "
            f"{'bidirectional, ' if spec.bidirectional else ''}embedding {spec.embedding_dim}, hidden {spec.hidden_size}, "
            f"{'one output per token' if spec.per_step else f'{spec.pooling} pooling'}, {len(ids):,} sentences, "
            f"{sum(len(i) for i in ids) / len(ids):.1f} tokens on average")
    return spec, params, ids, desc


class Ours:
    def __init__(self, spec, params, ids, batch_size: int):
        self.task, self.spec, self.params = task_of(spec.task), spec, params
        self.data, self.batch_size = Dataset(ids=ids), batch_size

    def run(self):
        return self.task.score(self.params, self.spec, self.data, batch_size=self.batch_size).outputs


class Torch:
    def __init__(self, spec, params, ids, batch_size: int):
        import torch

        namespace: dict = {}
        exec(module_listing(), namespace)  # noqa: S102 - the export module's own listing
        self.torch, self.spec = torch, spec
        self.model = namespace["RnncliModel"](
            spec.vocab_size, spec.embedding_dim, spec.hidden_size, spec.num_outputs, cell=spec.cell,
            nonlinearity=spec.activation, num_layers=spec.num_layers, bidirectional=spec.bidirectional,
            onehot=spec.input == "onehot", pooling=spec.pooling, per_step=spec.per_step).float().eval()
        state = torch_state_dict(params, spec)
        self.model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
        data = Dataset(ids=ids)
        self.batches = []
        for chunk in by_length(ids, batch_size):
            padded, mask = pad_inputs(data, chunk)
            self.batches.append((chunk, torch.from_numpy(padded), torch.from_numpy(mask.sum(axis=1))))
        self.n = len(ids)

    def run(self):
        torch = self.torch
        outputs: list = [None] * self.n
        with torch.no_grad():
            for chunk, ids, lengths in self.batches:
                z = self.model(ids, lengths)
                if self.spec.num_outputs == 1:  # one logit for two classes: [p(0), p(1)], as ours
                    p1 = torch.sigmoid(z)
                    p = torch.cat([1 - p1, p1], dim=-1)
                else:
                    p = torch.softmax(z, dim=-1)
                p = p.numpy()
                for j, i in enumerate(chunk):
                    outputs[i] = p[j, : lengths[j]] if self.spec.per_step else p[j]
        return outputs


def max_abs_diff(a, b) -> float:
    return max(float(np.max(np.abs(np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64))))
               for x, y in zip(a, b))


def bench(name: str, batch_size: int, limit: int | None, repeats: int, settle_s: float) -> dict:
    spec, params, ids, desc = build(name)
    ids = ids[:limit]
    sides = {"ours": Ours(spec, params, ids, batch_size), "torch": Torch(spec, params, ids, batch_size)}
    first = {k: side.run() for k, side in sides.items()}  # untimed: warms caches and BLAS buffers
    diff = max_abs_diff(first["ours"], first["torch"])
    times: dict[str, list[float]] = {k: [] for k in sides}
    order = list(sides)
    for r in range(repeats):
        for k in order if r % 2 == 0 else order[::-1]:
            gc.collect()
            time.sleep(settle_s)  # the other library's idle worker threads stop spinning
            t0 = time.perf_counter()
            sides[k].run()
            times[k].append(time.perf_counter() - t0)
    row = {"model": name, "description": desc, "batch_size": batch_size, "sentences": len(ids),
           "max_abs_diff": diff, "repeats": repeats}
    for k, ts in times.items():
        med = statistics.median(ts)
        row[k] = {"seconds": med, "sentences_per_s": len(ids) / med, "passes_s": ts,
                  "spread": (max(ts) - min(ts)) / med}
    row["ratio"] = row["ours"]["sentences_per_s"] / row["torch"]["sentences_per_s"]
    row["pass"] = bool(row["ratio"] >= TARGET)
    return row


def print_tables(result: dict, plain: bool) -> None:
    table = make_table(plain)
    env = result["environment"]
    print(f"rnncli inference benchmark, {env['date']}, commit {env['rnncli_commit']}  ({env['cpu']}, "
          f"{env['cpus']} CPUs, NumPy SIMD up to {env['simd']['level']}; NumPy {env['numpy']} with "
          f"{env['blas']['threads']} BLAS threads; PyTorch {env['torch']} with "
          f"torch.set_num_threads({env['torch_threads']}); load average {env['loadavg_start']} at the start, "
          f"{env['loadavg_end']} at the end)")
    for name in dict.fromkeys(r["model"] for r in result["rows"]):
        print(f"{name}: {next(r['description'] for r in result['rows'] if r['model'] == name)}")
    rows = [[r["model"], r["batch_size"], f"{r['sentences']:,}", f"{r['ours']['sentences_per_s']:,.0f}",
             f"{r['torch']['sentences_per_s']:,.0f}", f"{r['ratio']:.2f}×", f"≥ {TARGET:.2f}×",
             "pass" if r["pass"] else "FAIL", f"{100 * max(r['ours']['spread'], r['torch']['spread']):.0f}%",
             f"{r['max_abs_diff']:.1e}"] for r in result["rows"]]
    table(f"Sentences per second, median of {result['settings']['repeats']} interleaved passes per side "
          "(ours: the task's score, as rnn predict; PyTorch: the exported module under torch.no_grad())",
          ["model", "batch", "sentences", "ours sent/s", "torch sent/s", "ratio", "target", "result", "spread",
           "max |Δp|"], rows, left=3)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 passes instead of 7, and 100 single sentences")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, from " + ", ".join(MODELS))
    p.add_argument("--batch-sizes", default="256,1", help="comma-separated (default 256,1)")
    p.add_argument("--single", type=int, help="sentences timed at batch size 1 (default 400; --quick 100)")
    p.add_argument("--sentences", type=int, help="the first N sentences only, at every batch size (default: all)")
    p.add_argument("--repeats", type=int, help="passes per side (default 7; --quick 3)")
    p.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    p.add_argument("--plain", action="store_true", help="plain-text tables")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        progress("PyTorch is not installed: pip install -e '.[torch]' (this benchmark compares against it).")
        return 2
    import datetime as dt
    import os
    import platform

    blas = blas_info()
    torch.set_num_threads(blas["threads"])
    repeats = args.repeats or (3 if args.quick else 7)
    single = args.single or (100 if args.quick else 400)
    env = {"date": dt.datetime.now().isoformat(timespec="seconds"), "cpu": _cpu_name(), "cpus": os.cpu_count(),
           "simd": simd_info(),
           "python": platform.python_version(), "numpy": np.__version__, "blas": blas, "torch": torch.__version__,
           "torch_threads": torch.get_num_threads(), "rnncli_commit": _commit(), "loadavg_start": _loadavg()}
    started = time.perf_counter()
    rows = []
    for name in args.models.split(","):
        for b in (int(x) for x in args.batch_sizes.split(",")):
            progress(f"{name}, batch size {b} …")
            limit = min(single, args.sentences or single) if b == 1 else args.sentences
            row = bench(name, b, limit, repeats, 0.05 if args.quick else 0.2)
            progress(f"  ours {row['ours']['sentences_per_s']:,.0f} sent/s, torch {row['torch']['sentences_per_s']:,.0f}"
                     f" sent/s, ratio {row['ratio']:.2f}")
            rows.append(row)
    result = {"environment": env, "settings": {"repeats": repeats, "single": single}, "rows": rows}
    return _emit(result, args, started, print_tables)


if __name__ == "__main__":
    sys.exit(main())
