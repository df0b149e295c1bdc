"""rnn train"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import SET, app


@app.command(help="""Train a model from a YAML config and write its run directory.

The run directory (run.dir, default runs/<config name>) holds the resolved config,
vocabulary, weights and metrics.jsonl, so evaluate and predict need nothing else. Each
epoch's row is printed as the epoch ends. After every epoch (and every
train.checkpoint_every steps) it also saves a checkpoint; Ctrl-C saves one after the current
step and exits with 130, SIGTERM likewise with 143. --resume RUN continues a run from its
checkpoint, with RUN/config.yaml, and ends bit for bit where an uninterrupted run would;
--init-from RUN starts a new run from RUN's weights and vocabulary (fine-tuning). A
diverging run (an overflow, a NaN, a loss above 1e4 x its first step's) stops with exit 6.
With a dev set the best epoch by train.monitor is kept as weights-best.npz, and
train.patience stops early. --seeds N trains the config with N seeds (train.seed, +1, …) into
run.dir/seed-S and prints each run's selected epoch with the mean ± standard deviation over the
seeds (also in run.dir/seeds.json); interrupted, they continue with --resume run.dir.

\b
Examples:  rnn train --config configs/sentiment-toy.yaml --set train.epochs=10
           rnn train --resume runs/sentiment-toy --set train.epochs=40
           rnn train --config configs/sentiment-toy.yaml --init-from runs/sentiment-toy --set train.lr=0.001
           rnn train --config configs/sst2-bilstm.yaml --seeds 3
""")
def train(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file (not needed with --resume)."),
    set_: Optional[list[str]] = SET,
    resume: Optional[Path] = typer.Option(
        None, "--resume", metavar="RUN", help="Continue the run in RUN from its last checkpoint, with RUN/config.yaml; "
        "--set may change only train.epochs, train.patience and train.checkpoint_every. The folder of an "
        "interrupted --seeds continues as it was (no --set)."),
    init_from: Optional[list[Path]] = typer.Option(
        None, "--init-from", metavar="RUN", help="Start from RUN's weights and vocabulary (train.init_from): fine-tune "
        "or warm-start a new run with this config's data, learning rate and epochs. A run of another task, or "
        "--init-from given twice (a forward and a backward language model), transfers its embedding and layers."),
    force: bool = typer.Option(False, "--force", help="Overwrite the run directory if it exists."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object per epoch (JSON Lines), then a summary line."),
    grad_norms: bool = typer.Option(False, "--grad-norms", help="After every epoch, record ‖∂L/∂h_t‖ per timestep in "
                                    "metrics.jsonl (train.log_grad_norms); see rnn grad-norms --history."),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1, metavar="N", help="Train N runs with the seeds "
                                        "train.seed … train.seed + N - 1 into run.dir/seed-S, and report the mean ± "
                                        "std of their results (run.dir/seeds.json)."),
) -> None:
    from rnncli.config import load_config
    from rnncli.errors import UsageError
    from rnncli.training.resume import resume_config
    from rnncli.training.train import train as run_training

    if resume is not None and force:
        raise UsageError("--resume continues a run and --force replaces it; pass one of them.",
                         hint=f"rnn train --resume {resume}   (or rnn train --config FILE --force)")
    if resume is None and config is None:
        raise UsageError("rnn train needs --config FILE to start a run, or --resume RUN to continue one.",
                         hint="e.g. rnn train --config configs/sentiment-toy.yaml")
    if resume is not None and seeds is not None:
        raise UsageError("--resume continues a run, or the runs of an interrupted --seeds; --seeds starts new ones.",
                         hint=f"rnn train --resume {resume}   (it knows its seeds)")
    if resume is not None and init_from:
        raise UsageError("--resume continues a run; --init-from starts a new one from a run's weights. Pass one of them.",
                         hint=f"rnn train --config FILE --init-from {init_from[0]}")
    from rnncli.training.seeds import is_seed_group

    group = resume is not None and is_seed_group(resume)
    if group and (set_ or config is not None or grad_norms):
        raise UsageError(f"{resume} holds the runs of an rnn train --seeds; they continue with their own configs.",
                         hint=f"rnn train --resume {resume}   (without --config, --set or --grad-norms)")
    sets = list(set_ or [])
    if init_from:  # validated with the rest (model.embeddings.freeze may rest on it)
        paths = [str(p) for p in init_from]
        sets.append("train.init_from=" + json.dumps(paths[0] if len(paths) == 1 else paths))
    if group:
        from rnncli.training.seeds import group_plan

        planned = group_plan(resume)
        cfg = planned[0]
    else:
        cfg = resume_config(resume, config, sets) if resume is not None else load_config(config, sets)
    if grad_norms:
        from rnncli.config import replace_in

        cfg = replace_in(cfg, "train.log_grad_norms", True)
    rows = render.RowStream(title=f"Training {cfg.name}")
    watch = Watch(cfg.train.epochs)
    with render.progress_bar("training") as update:

        def progress(event: str, info: dict) -> None:
            if event == "resume":
                render.note(resumed(resume, info, cfg.train.epochs))
            elif event == "epoch_start":
                watch.epoch_start(info)
                update(total=info["batches"], completed=0, description=f"epoch {info['epoch']}/{info['epochs']}")
            elif event == "batch":
                update(total=info["batches"], completed=info["batch"], text=watch.batch(info))
            elif event == "epoch_end":
                watch.epoch_end(info)
                if json_:
                    render.print_jsonl({"event": "epoch", **info})
                else:
                    rows.add(epoch_row(info))
            elif event == "skipped":
                render.note(f"skipped {info['rows']} malformed row(s) of {info['file']} (data.on_error: skip); "
                            f"the first: {info['first']}")
            elif event == "holdout":
                dropped = f", and {info['dropped']:,} training examples found only inside them left out" \
                    if info["by"] == "container" else ""
                render.note(f"holding out {info['holdout']:,} {'texts' if info['by'] == 'container' else 'examples'} "
                            f"of the training data to select on (data.holdout_split){dropped}; training on "
                            f"{info['train']:,}")
            elif event == "stream":
                left = " (texts found inside others left out: data.drop_contained)" if info["drop_contained"] else ""
                render.note(f"reading {info['texts']:,} texts of {info['file']}{left} as one stream of "
                            f"{info['tokens']:,} tokens, each text followed by <eos>")
            elif event == "transfer":
                words = [] if info["words"] is None else \
                    [f"the embedding rows of {info['words']:,} of the vocabulary's {info['vocabulary']:,} words"]
                render.note(f"starting from {info['run']} (train.init_from): "
                            + ", ".join(words + info["layers"]) + "; the rest starts fresh")
            elif event == "vectors":
                tokens = "" if info["token_share"] is None else f", covering {info['token_share']:.1%} of the training tokens"
                render.note(f"vectors: {info['found']:,} of the vocabulary's {info['types']:,} words "
                            f"({info['type_share']:.1%}) have a {info['dim']}-dimensional vector in {info['file']}{tokens}; "
                            "the others start random")

        if seeds is not None or group:
            from rnncli.training.seeds import resume_seeds, train_seeds

            current = {}

            def seed_progress(event: str, info: dict) -> None:
                nonlocal rows, watch
                if event == "seed_start":  # a table and an ETA of its own for each run
                    current.update(info)
                    rows = render.RowStream(title=f"Training {info['config']}, seed {info['seed']} "
                                                  f"({info['index'] + 1} of {info['count']}) → {info['run_dir']}")
                    watch = Watch(cfg.train.epochs)
                elif event == "resume":  # the interrupted seed's run continues from its checkpoint
                    render.note(resumed(current["run_dir"], info, cfg.train.epochs, more=False))
                elif event == "seed_end":
                    if json_:
                        render.print_jsonl({"event": "seed", **info})
                else:
                    progress(event, info)

            if group:
                result = resume_seeds(resume, progress=seed_progress, planned=planned)
            else:
                result = train_seeds(cfg, seeds, force=force, progress=seed_progress)
        else:
            result = run_training(cfg, force=force, progress=progress, resume_dir=resume)
    if seeds is not None or group:
        return show_seeds(result, json_)
    if json_:
        render.print_jsonl({"event": "done", **{k: v for k, v in result.to_dict().items() if k != "epochs"}})
        return
    weights = f"epoch {result.best['epoch']}'s weights" if cfg.train.monitor.startswith("holdout_") and result.best \
        else "the last epoch's weights"
    for name, scores in (("dev", result.dev), ("test", result.test)):
        if scores is not None:
            render.line(f"{name} ({getattr(cfg.data, name)}, scored once with {weights}): "
                        + ", ".join(f"{k} {render.fmt(v)}" for k, v in scores.items()))
    best = result.best
    if result.stopped_early:
        render.line(f"Stopped early after epoch {result.epochs[-1]['epoch']}: {best['monitor']} has not improved "
                    f"for {cfg.train.patience} epochs.")
    if best is not None:
        render.line(f"Best epoch {best['epoch']} ({best['monitor']} {render.fmt(best['value'])}), kept as "
                    f"{result.run_dir / 'weights-best.npz'}; evaluate and predict use it.")

    render.line(f"Saved {result.run_dir} ({result.num_params:,} parameters, {result.seconds:.1f} s). "
                f"Next: {next_command(cfg, result.run_dir)}")


def next_command(cfg, run_dir) -> str:
    """What to try with a new run: the task's own command, or, for a model of real-valued features, which reads
    no text, its evaluation on the config's dev (or training) file."""
    from rnncli.tasks import task_of

    if cfg.model.input == "features":
        return f"rnn evaluate --model {run_dir} --data {cfg.data.dev or cfg.data.train}"
    return task_of(cfg.task).try_command(run_dir)


def show_seeds(group, json_: bool) -> None:
    """The runs of --seeds, one row each (its selected epoch), then mean ± std over them."""
    if json_:
        render.print_jsonl({"event": "done", **group.to_dict()})
        return
    keys = list(group.summary)
    rows = [[h["seed"], h["epoch"], *(h.get(k) for k in keys)] for h in group.headlines]
    spread = [f"{s['mean']:.4f} ± {s['std']:.4f}" if k != "seconds" else f"{s['mean']:.1f} ± {s['std']:.1f}"
              for k, s in group.summary.items()]
    render.table(["seed", "epoch", *keys], rows + [["mean ± std", "", *spread]],
                 title=f"{len(group.seeds)} seeds (the selected epoch of each run)")
    render.line(f"Saved {len(group.seeds)} runs in {group.group}/seed-S and the summary in {group.group}/seeds.json.")


def epoch_row(record: dict) -> dict:
    """An epoch's row of the training table: the task decides the metrics; with --grad-norms, the summary
    of `rnn grad-norms` on the first batch."""
    row = {k: v for k, v in record.items() if k not in ("step", "grad_norms")}
    if "grad_norms" in record:
        row.update({"h_1/h_T": f"{record['grad_norms']['ratio']:.1e}", "gradient": record["grad_norms"]["verdict"]})
    return row


class Watch:
    """What the progress bar says beside its counter: the epoch's running loss, the last dev metric, and the
    time left in the epoch and in the run (from the seconds per batch seen so far in this process, dev
    scoring included)."""

    def __init__(self, epochs: int) -> None:
        self.epochs, self.started, self.done, self.dev = epochs, time.perf_counter(), 0, ""
        self.epoch_started, self.epoch_done = self.started, 0

    def epoch_start(self, info: dict) -> None:
        self.epoch_started, self.epoch_done = time.perf_counter(), 0

    def batch(self, info: dict) -> str:
        self.done += 1
        self.epoch_done += 1
        now = time.perf_counter()
        per_batch = (now - self.started) / self.done
        left_epoch = info["batches"] - info["batch"]
        left_run = left_epoch + (self.epochs - info["epoch"]) * info["batches"]
        epoch_rate = (now - self.epoch_started) / self.epoch_done
        return (f"loss {info['running_loss']:.4f}{self.dev}  ETA epoch {clock(epoch_rate * left_epoch)}, "
                f"run {clock(per_batch * left_run)}")

    def epoch_end(self, record: dict) -> None:
        dev = next((k for k in record if k.startswith("dev_") and k != "dev_loss"), "dev_loss")
        self.dev = f"  {dev} {record[dev]:.4f}" if isinstance(record.get(dev), float) else ""


def clock(seconds: float) -> str:
    """H:MM:SS or M:SS."""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def resumed(run: Path, info: dict, epochs: int, more: bool = True) -> str:
    """The note printed when a run resumes (``more``: say how to train it further, which --set does)."""
    if info["epoch"] >= epochs:
        further = " (raise train.epochs with --set to train further)" if more else ""
        return f"{run} has finished {info['epoch']} of {epochs} epochs; nothing to train{further}."
    where = f"after epoch {info['epoch']}" if info["batch"] == 0 else f"in epoch {info['epoch'] + 1}, after batch {info['batch']}"
    return f"Resuming {run} {where} (step {info['step']}), up to epoch {epochs}."
