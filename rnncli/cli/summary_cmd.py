"""rnn summary"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, SET, app
from rnncli.errors import UsageError


@app.command(help="""Print the model's parameter tensors (name, shape, count) and the total.

With --config the vocabulary is built from data.train (or read from vocab.path) to size
the input layer; with --model a trained run is described.

\b
Example:  rnn summary --config configs/seed-params.yaml      # the lecture's 31 parameters
""")
def summary(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Run directory of a trained model."),
    set_: Optional[list[str]] = SET,
    json_: bool = JSON,
) -> None:
    if (config is None) == (model is None):
        raise UsageError("summary needs exactly one of --config FILE or --model RUN_DIR.",
                         hint="e.g. rnn summary --config configs/seed-params.yaml")
    if config is not None:
        from rnncli.config import load_config
        from rnncli.data import LabelVocab
        from rnncli.train import build_vocab, model_spec, read_split

        cfg = load_config(config, set_ or [])
        if not cfg.data.train:
            raise UsageError(f"{config} sets no data.train, so the vocabulary size is unknown.",
                             hint="set data.train (or vocab.path), e.g. --set data.train=datasets/toy/sentiment.tsv")
        examples = read_split(cfg, "train")
        spec = model_spec(cfg, len(build_vocab(cfg, examples)), len(LabelVocab.build(ex.label for ex in examples)))
    else:
        from rnncli.checkpoint import load_run

        spec = load_run(model).spec
    rows = [{"name": k, "shape": list(s), "count": _count(s)} for k, s in spec.param_shapes().items()]
    total = sum(r["count"] for r in rows)
    if json_:
        render.print_json({"model": spec.to_dict(), "parameters": rows, "total": total})
        return
    head = "sigmoid (1 output)" if spec.num_outputs == 1 else f"softmax ({spec.num_outputs} outputs)"
    render.line(f"{spec.cell} × {spec.num_layers} layer(s){', bidirectional' if spec.bidirectional else ''}, "
                f"{spec.input} input, vocabulary {spec.vocab_size} (incl. <pad>, <unk>), "
                f"hidden {spec.hidden_size}, {spec.num_classes} classes → {head}")
    render.table(["parameter", "shape", "count"], [[r["name"], "×".join(map(str, r["shape"])), r["count"]] for r in rows]
                 + [["total", "", total]])


def _count(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
