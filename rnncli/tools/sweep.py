"""``rnn sweep``: hyper-parameter search, each trial a normal training run under the sweep's folder.

Local backend: up to ``max_concurrent`` trials at once, each an ``rnn train --json`` process whose BLAS,
OpenMP and engine threads are limited to cores ÷ workers (so workers × threads ≤ cores: two trainings on two
cores do not fight over them). A trial scores its best epoch's ``metric``. A trial that fails (bad input,
divergence, a crash) is marked failed with its error, and the sweep goes on. With ``scheduler: asha``
(asynchronous successive halving) a trial that reaches epoch 1, 3, 9, … is stopped unless its metric there is
in the best third of the trials that reached the same epoch.

The sweep's folder holds ``sweep.yaml`` (the sweep as given, its base config written out in full: the folder
alone resumes it, wherever the sweep file was and whatever became of the base file since), one
``trial-NNN.yaml`` config and run directory ``trial-NNN/`` per trial, ``sweep.jsonl`` (every finished trial, appended as it ends), and at the end
``best.yaml`` (the best trial's resolved config) and ``best/`` (a copy of its run directory, for
``rnn predict --model DIR/best``). ``--resume DIR`` runs only the trials that ``sweep.jsonl`` lacks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from rnncli.config import config_to_yaml
from rnncli.config.sweep import ASHA_FACTOR, Sweep
from rnncli.errors import ConfigError, RunError, UsageError
from rnncli.fileio import atomic_write

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Trial:
    trial: str  # "trial-000"
    params: dict
    status: str = "pending"  # pending, running, done, stopped (by ASHA), failed
    metric: float | None = None  # the best epoch's value of the sweep's metric
    epoch: int | None = None  # that epoch
    epochs: int = 0  # epochs finished
    run_dir: str = ""
    error: str | None = None
    seconds: float = 0.0
    process: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "process"}


def read_journal(path: Path) -> dict[str, dict]:
    """The finished trials that ``sweep.jsonl`` records, by name. A last line cut short (the sweep was stopped
    while appending it) counts as not written, so that trial runs again; any other line that is not a trial's
    record is a :class:`RunError`."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    done = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            try:
                record = json.loads(line)
            except ValueError:
                if n == len(lines):  # cut short while it was appended
                    break
                raise
            if not (isinstance(record, dict) and isinstance(record.get("trial"), str)
                    and isinstance(record.get("params"), dict) and set(record) <= set(Trial.__dataclass_fields__)):
                raise ValueError("not the record of a trial")
        except ValueError as exc:
            raise RunError(f"{path}, line {n}, is damaged: {exc}.",
                           hint="delete that line (rnn sweep --resume then runs its trial again), or start the sweep "
                                "over with --force.") from None
        done[record["trial"]] = record
    return done


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


class LocalSweep:
    """Runs a sweep's trials on this machine (see the module docstring)."""

    def __init__(self, sweep: Sweep, out: Path, on_change: Callable[[list[Trial]], None] | None = None):
        self.sweep, self.out = sweep, out
        self.on_change = on_change or (lambda trials: None)
        self.lock = threading.Lock()
        self.rungs: dict[int, list[float]] = {}  # ASHA: epoch → metrics of the trials that reached it
        self.stopping = False
        self.trials: list[Trial] = []

    # ------------------------------------------------------------------ the folder

    def prepare(self, resume: bool) -> list[Trial]:
        """The trials, and their configs written to the folder; finished ones read back when resuming."""
        done = {}
        journal = self.out / "sweep.jsonl"
        if resume:
            if journal.is_file():
                done = read_journal(journal)
                text = "".join(json.dumps(record) + "\n" for record in done.values())
                atomic_write(journal, lambda f: f.write(text.encode("utf-8")))  # without a torn last line
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            write_sweep_yaml(self.out, self.sweep)
            journal.unlink(missing_ok=True)
        self.trials = []
        for i, params in enumerate(self.sweep.trials()):
            name = f"trial-{i:03d}"
            run_dir = str(self.out / name)
            trial = Trial(name, params, run_dir=run_dir)
            if name in done:
                record = done[name]
                trial = Trial(**{k: record[k] for k in Trial.__dataclass_fields__ if k in record and k != "process"})
                trial.run_dir = run_dir  # the journal's may be relative to where the sweep started
            else:
                cfg = self.sweep.config_of(params, run_dir)
                text = config_to_yaml(cfg)
                atomic_write(self.out / f"{name}.yaml", lambda f, t=text: f.write(t.encode("utf-8")))
            self.trials.append(trial)
        return self.trials

    # ------------------------------------------------------------------ running

    def run(self) -> list[Trial]:
        pending = [t for t in self.trials if t.status in ("pending", "running")]
        workers = min(self.sweep.max_concurrent, max(1, len(pending)))
        env = {**os.environ, **{v: str(threads_per_worker(workers)) for v in THREAD_VARIABLES}}
        self.on_change(self.trials)
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            futures = [pool.submit(self._run_trial, t, env) for t in pending]
            while futures:  # a timed wait, so that Ctrl-C and SIGTERM reach this thread
                done, futures = wait(futures, timeout=0.2)
                for future in done:
                    future.result()
        except BaseException:  # Ctrl-C, SIGTERM, or a bug: stop the running trials, keep the finished ones
            self.stopping = True
            for t in self.trials:
                if t.process is not None and t.process.poll() is None:
                    t.process.terminate()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return self.trials

    def _run_trial(self, trial: Trial, env: dict) -> None:
        if self.stopping:
            return
        start = time.perf_counter()
        cmd = [sys.executable, "-m", "rnncli", "-q", "train", "--config", str(self.out / f"{trial.trial}.yaml"),
               "--json", "--force"]
        trial.status = "running"
        trial.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.on_change(self.trials)
        values = []
        for line in trial.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") != "epoch":
                continue
            trial.epochs = event["epoch"]
            value = event.get(self.sweep.metric)
            if value is None:
                trial.error = f"the epochs have no metric {self.sweep.metric!r}: " + ", ".join(
                    k for k, v in event.items() if isinstance(v, (int, float)) and k not in ("epoch", "step"))
                trial.process.terminate()
                break
            values.append((value, event["epoch"]))
            best = min(values, key=lambda v: (-v[0] if self.sweep.mode == "max" else v[0], v[1]))  # ties: the earliest
            trial.metric, trial.epoch = best
            if self.sweep.scheduler == "asha" and self._asha_stops(trial, value, event["epoch"]):
                trial.status = "stopped"
                trial.process.terminate()
                break
            self.on_change(self.trials)
        code = trial.process.wait()
        err = trial.process.stderr.read()
        trial.seconds = time.perf_counter() - start
        if trial.error is None and trial.status != "stopped":
            if code == 0:
                trial.status = "done"
            else:
                trial.status = "failed"
                lines = [x for x in err.splitlines() if x.strip()]
                trial.error = next((x for x in lines if x.startswith("Error:")), lines[-1] if lines else f"exit {code}")
        elif trial.error is not None:
            trial.status = "failed"
        trial.process = None
        if self.stopping:  # stopped by Ctrl-C or SIGTERM, not failed: it runs again with --resume
            trial.status, trial.error = "pending", None
            return
        with self.lock:
            with open(self.out / "sweep.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(trial.to_dict()) + "\n")
        self.on_change(self.trials)

    def _asha_stops(self, trial: Trial, value: float, epoch: int) -> bool:
        rung = 1
        while rung < epoch:
            rung *= ASHA_FACTOR
        if rung != epoch:
            return False
        with self.lock:
            seen = self.rungs.setdefault(epoch, [])
            seen.append(value)
            if len(seen) < ASHA_FACTOR:
                return False  # too few trials at this rung to judge
            ranked = sorted(seen, reverse=self.sweep.mode == "max")
            cut = ranked[max(0, len(ranked) // ASHA_FACTOR - 1)]
            return self.sweep.better(cut, value)

    # ------------------------------------------------------------------ results

    def finish(self) -> Trial | None:
        """best.yaml and best/ from the best finished trial; returns it (None when every trial failed)."""
        ranked = ranked_trials(self.trials, self.sweep)
        best = next((t for t in ranked if t.status in ("done", "stopped") and t.metric is not None), None)
        if best is None:
            return None
        text = (self.out / f"{best.trial}.yaml").read_text(encoding="utf-8")
        atomic_write(self.out / "best.yaml", lambda f: f.write(text.encode("utf-8")))
        target = self.out / "best"
        staging = self.out / ".best.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(best.run_dir, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        return best


def ranked_trials(trials: list[Trial], sweep: Sweep) -> list[Trial]:
    """Trials with a metric, best first; then the rest in order."""
    scored = [t for t in trials if t.metric is not None and t.status in ("done", "stopped")]
    scored.sort(key=lambda t: t.metric, reverse=sweep.mode == "max")
    return scored + [t for t in trials if t not in scored]


def write_sweep_yaml(out: Path, sweep: Sweep) -> None:
    """DIR/sweep.yaml: the sweep as given, with its base config in full (``--resume`` reads nothing else)."""
    import yaml

    text = yaml.safe_dump({**sweep.raw, "base": sweep.base.to_dict()}, sort_keys=False, allow_unicode=True)
    atomic_write(out / "sweep.yaml", lambda f: f.write(text.encode("utf-8")))


def sweep_folder(sweep: Sweep, out: Path | None) -> Path:
    return out if out is not None else Path("runs") / sweep.name


def check_resume(out: Path) -> Path:
    if not (out / "sweep.yaml").is_file():
        raise UsageError(f"{out} is not a sweep folder: it has no sweep.yaml.",
                         hint="pass the folder an earlier rnn sweep wrote (runs/<sweep file name> by default).")
    return out / "sweep.yaml"


# what a sweep writes (and the temporary files of writes it was stopped in)
SWEEP_ENTRIES = re.compile(r"sweep\.yaml|sweep\.jsonl|best\.yaml|best|ray|trial-\d+(\.yaml)?|\..*\.tmp")


def check_fresh(out: Path, force: bool, config: Path | None = None) -> None:
    """A new sweep's folder: none yet, an empty one, or (with ``force``) an earlier sweep's, whose own files
    and trial runs are removed so that none stays beside the new ones. A folder holding anything else (a run
    directory, ``runs/`` itself, the sweep file) is not the sweep's to take."""
    for path in (out, *out.parents):
        if path.exists() and not path.is_dir():
            raise UsageError(f"{path} is a file; a sweep writes the folder {out}.", hint="choose another --out.")
    if config is not None and out.resolve() in Path(config).resolve().parents:
        raise UsageError(f"the sweep file {config} is inside --out {out}, the folder the sweep writes.",
                         hint="keep the sweep file elsewhere, or give the sweep a folder of its own with --out.")
    entries = sorted(out.iterdir()) if out.is_dir() else []
    others = [p.name for p in entries if not SWEEP_ENTRIES.fullmatch(p.name)]
    if others:
        raise UsageError(f"{out} already holds files that are not a sweep's ({', '.join(others[:3])}"
                         f"{', …' if len(others) > 3 else ''}).",
                         hint="give the sweep a folder of its own with --out, e.g. --out runs/my-sweep.")
    if entries and not (out / "sweep.yaml").is_file():  # names like a sweep's, but no sweep wrote them
        raise UsageError(f"{out} holds {', '.join(p.name for p in entries[:3])}{', …' if len(entries) > 3 else ''} "
                         "but no sweep.yaml: it is not a sweep's folder to start over in.",
                         hint="give the sweep a folder of its own with --out, e.g. --out runs/my-sweep.")
    if entries and not force:
        raise ConfigError(f"{out} already holds a sweep.",
                          hint=f"continue it with rnn sweep --resume {out}, or start over with --force.")
    try:
        for path in entries:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    except OSError as exc:
        raise UsageError(f"cannot remove the earlier sweep's {exc.filename or out}: {exc.strerror or exc}.",
                         hint="remove it yourself, or choose another --out.") from None
