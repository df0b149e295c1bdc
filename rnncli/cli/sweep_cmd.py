"""rnn sweep"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, app


@app.command(help="""Search hyper-parameters: train one run per point of a sweep file's space, on every core.

A sweep file names a base config and a space over its keys (lists of values, or choice, uniform,
loguniform and randint distributions), the method (grid: every combination; random: num_trials
draws, the same for the same seed), the metric and mode a trial is ranked by (its best epoch's
value), max_concurrent and scheduler (none, or asha: stop trials that trail at epochs 1, 3, 9, …).
Each trial is a normal run in DIR/trial-NNN (DIR: --out, default runs/<sweep file name>), trained by
a worker process whose BLAS threads are limited so that workers × threads ≤ cores. A failing trial is
marked failed with its error and the sweep goes on. The trials' progress is shown on stderr, the
ranked table on stdout (--json: one object per trial); DIR/sweep.jsonl lists every trial,
DIR/best.yaml and DIR/best are the best one's config and run. --resume DIR runs only the trials
that have not finished; Ctrl-C (exit 130) or SIGTERM (143) stops the running ones and keeps the
finished. DIR is the sweep's own: a folder holding anything else, or the sweep file, is refused.

\\b
Example:  rnn sweep --config configs/sentiment-toy-sweep.yaml
          rnn predict --model runs/sentiment-toy-sweep/best "movie was good"
""")
def sweep(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="The sweep file (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder of the sweep (default: runs/<sweep file name>)."),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="DIR", help="Finish the sweep in DIR (local backend)."),
    backend: str = typer.Option("local", "--backend", help="local (worker processes here) or ray (Ray Tune: pip install 'rnncli[ray]')."),
    address: Optional[str] = typer.Option(None, "--address", help="ray: the cluster to join (auto, or HOST:PORT); default: a Ray of this machine."),
    storage: Optional[str] = typer.Option(None, "--storage", help="ray: where trials' run directories are kept (a folder every node reaches, or s3://…); default DIR/ray."),
    force: bool = typer.Option(False, "--force", help="Start over in a folder that already holds a sweep: its sweep.yaml, sweep.jsonl, best*, ray/ and trial-* are removed."),
    json_: bool = JSON,
) -> None:
    from rnncli.config.sweep import load_sweep
    from rnncli.errors import Terminated, TrainingInterrupted, UsageError
    from rnncli.tools import sweep as sweeps

    if config is not None and resume is not None:
        raise UsageError("--config starts a sweep and --resume finishes one; pass one of them.",
                         hint=f"rnn sweep --resume {resume}   (it reads its own sweep.yaml)")
    if config is None and resume is None:
        raise UsageError("rnn sweep needs --config SWEEP.yaml, or --resume DIR to finish a sweep.",
                         hint="e.g. rnn sweep --config configs/sentiment-toy-sweep.yaml")
    if backend not in ("local", "ray"):
        raise UsageError(f"--backend must be local or ray; got {backend!r}.", hint="e.g. --backend ray")
    if backend != "ray" and (address or storage):
        raise UsageError("--address and --storage apply to --backend ray.", hint="add --backend ray")
    if backend == "ray" and resume is not None:
        raise UsageError("--resume continues a sweep of the local backend.",
                         hint="with Ray, run the sweep again: Tune's storage keeps the finished trials' runs")
    if resume is not None:
        spec = load_sweep(sweeps.check_resume(resume))
        folder = resume
    else:
        spec = load_sweep(config)
        folder = sweeps.sweep_folder(spec, out)
    if backend == "ray":
        from rnncli.tools.sweep_ray import require_ray, run_ray

        require_ray()  # before --force removes anything
    if resume is None:
        sweeps.check_fresh(folder, force, config)
    if backend == "ray":
        render.note(f"sweep {spec.name}: {len(spec.trials())} trials ({spec.method}) on Ray Tune, "
                    f"up to {spec.max_concurrent} at once, in {folder}")
        import contextlib

        with Live(spec) as live, contextlib.redirect_stdout(sys.stderr):  # Tune's own messages: stdout is the results'
            trials, best = run_ray(spec, folder, address, storage, live.update)
    else:
        runner = sweeps.LocalSweep(spec, folder)
        trials = runner.prepare(resume is not None)
        render.note(f"sweep {spec.name}: {len(trials)} trials ({spec.method}), up to {spec.max_concurrent} at once with "
                    f"{sweeps.threads_per_worker(min(spec.max_concurrent, len(trials)))} thread(s) each, in {folder}")
        with Live(spec) as live:
            runner.on_change = live.update
            try:
                runner.run()
            except (KeyboardInterrupt, Terminated) as exc:
                finished = sum(t.status not in ("pending", "running") for t in runner.trials)
                kept = f" (in {folder}/sweep.jsonl)" if finished else ""
                raise TrainingInterrupted(f"the sweep stopped with {finished} of {len(runner.trials)} trials "
                                          f"finished{kept}; the running ones were stopped.",
                                          hint=f"run the others with: rnn sweep --resume {folder}",
                                          terminated=isinstance(exc, Terminated)) from None
        best = runner.finish()
    ranked = sweeps.ranked_trials(trials, spec)
    if json_:
        for t in ranked:
            render.print_jsonl(t.to_dict())
    else:
        render.table(["rank", "trial", "status", spec.metric, "epoch", "params", "error"],
                     [[i + 1 if t.metric is not None else "-", t.trial, t.status, _metric(t.metric), t.epoch or "-",
                       _params(t.params), t.error or ""] for i, t in enumerate(ranked)], right={0, 3, 4})
    if best is not None:
        render.note(f"best: {best.trial} ({spec.metric} {best.metric:.4f}); its config is {folder / 'best.yaml'}, "
                    f"its run {folder / 'best'}")
    else:
        render.note("no trial finished: see the errors above")


def _metric(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _params(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


class Live:
    """The trials as they run, on stderr: a live table on a terminal, one line per finished trial otherwise."""

    def __init__(self, spec) -> None:
        self.spec, self.live, self.reported = spec, None, set()

    def __enter__(self) -> "Live":
        if sys.stderr.isatty():
            from rich.live import Live as RichLive

            self.live = RichLive(console=render.err(), refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, trials) -> None:
        if self.live is not None:
            from rich.table import Table

            table = Table(box=None)
            for column in ("trial", "status", "epochs", self.spec.metric, "params"):
                table.add_column(column)
            for t in trials:
                table.add_row(t.trial, t.status, str(t.epochs), _metric(t.metric), _params(t.params))
            self.live.update(table)
            return
        for t in trials:
            if t.status in ("done", "stopped", "failed") and t.trial not in self.reported:
                self.reported.add(t.trial)
                what = t.error if t.status == "failed" else f"{self.spec.metric} {_metric(t.metric)} at epoch {t.epoch}"
                render.note(f"{t.trial} {t.status}: {what} ({_params(t.params)})")
