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
        from rnncli.training.prepare import spec_from_config

        spec = spec_from_config(load_config(config, set_ or []))
    else:
        from rnncli.rundir import load_run

        spec = load_run(model, last=True).spec  # the shapes only: any weights do
    rows = [{"name": k, "shape": list(s), "count": _count(s)} for k, s in spec.param_shapes().items()]
    total = sum(r["count"] for r in rows)
    if json_:
        render.print_json({"model": spec.to_dict(), "parameters": rows, "total": total})
        return
    if spec.architecture == "encoder_decoder":
        render.line(f"task seq2seq: {spec.cell} encoder × {spec.num_layers} layer(s)"
                    f"{' (bidirectional, linear bridge)' if spec.bidirectional else ''} → {spec.cell} decoder"
                    f"{' with additive attention' if spec.attention else ''}, hidden {spec.hidden_size}; source "
                    f"vocabulary {spec.vocab_size}, target vocabulary {spec.num_classes} (incl. <pad>, <unk>, <bos>, <eos>)")
        render.table(["parameter", "shape", "count"],
                     [[r["name"], "×".join(map(str, r["shape"])), r["count"]] for r in rows] + [["total", "", total]])
        return
    from rnncli.tasks import task_of

    head = task_of(spec.task).describe_head(spec)
    features = f" + word features {', '.join(n for n, _ in spec.word_features)}" if spec.word_features else ""
    source = f"{spec.feature_dim} values per step" if spec.input == "features" else \
        f"vocabulary {spec.vocab_size} (incl. <pad>, <unk>)"  # real-valued features have no vocabulary
    render.line(f"task {spec.task}: {spec.cell} × {spec.num_layers} layer(s)"
                f"{', bidirectional' if spec.bidirectional else ''}, {spec.input}{features} input, {source}, "
                f"hidden {spec.hidden_size} → {head}")
    render.table(["parameter", "shape", "count"], [[r["name"], "×".join(map(str, r["shape"])), r["count"]] for r in rows]
                 + [["total", "", total]])


def _count(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
