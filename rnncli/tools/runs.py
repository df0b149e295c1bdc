"""``rnn runs`` and ``rnn plot``: the runs under a folder, and their learning curves.

A run is listed from its run.json and metrics.jsonl alone (no weights are loaded): path, task, cell and
size of the model, epochs done, the best epoch and its metric, the last epoch's dev metric, the size on
disk and when it was written. A directory that holds a run.json that cannot be read is listed as damaged
rather than stopping the listing; one that only holds a checkpoint is listed as unfinished.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass
from pathlib import Path

from rnncli.errors import RunError
from rnncli.rundir import CHECKPOINT, METRICS, RUN_JSON, RunDir, find_latest_run


@dataclass
class RunInfo:
    path: str
    status: str  # "ok", "unfinished" (a checkpoint, no run.json yet) or "damaged"
    task: str | None = None
    cell: str | None = None
    hidden: int | None = None
    epochs: int | None = None
    best: dict | None = None  # {"epoch", "monitor", "value"}
    last: dict | None = None  # the last epoch's record from metrics.jsonl
    bytes: int = 0
    written: str | None = None  # ISO time of run.json (or the checkpoint)
    latest: bool = False  # what `rnn predict` picks without --model

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _when(path: Path) -> str:
    return datetime.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")


def _run_folders(root: Path) -> list[Path]:
    """The folders directly under ``root`` that are runs (run.json or a checkpoint), and those one level further
    down a folder that is not one itself: ``rnn train --seeds``' seed-S runs, a sweep's trials."""
    def is_run(path: Path) -> bool:
        return (path / RUN_JSON).is_file() or (path / CHECKPOINT).is_file()

    found = []
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        found += [path] if is_run(path) else sorted(p for p in path.iterdir() if p.is_dir() and is_run(p))
    return found


def list_runs(root: str | Path = "runs") -> list[RunInfo]:
    """Every run directory under ``root`` (see :func:`_run_folders`), newest first."""
    root = Path(root)
    if not root.is_dir():
        raise RunError(f"{root} is not a folder of runs.", hint="pass the folder that holds your run directories, e.g. runs.")
    try:
        latest = find_latest_run(root).resolve()
    except RunError:
        latest = None
    found = []
    for path in _run_folders(root):
        marker = path / RUN_JSON
        if not marker.is_file():
            found.append(RunInfo(str(path), "unfinished", bytes=_size(path), written=_when(path / CHECKPOINT)))
            continue
        info = RunInfo(str(path), "ok", bytes=_size(path), written=_when(marker), latest=path.resolve() == latest)
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
            model = meta["model"]
            info.task, info.cell, info.hidden = model["task"], model["cell"], model["hidden_size"]
            info.epochs, info.best = meta.get("epochs_done"), meta.get("best")
            records = RunDir(path).read_metrics() if (path / METRICS).is_file() else []
            info.last = records[-1] if records else None
        except (ValueError, KeyError, TypeError, RunError):
            info.status = "damaged"
        found.append(info)
    return sorted(found, key=lambda r: r.written or "", reverse=True)


@dataclass
class Curve:
    run: str
    metric: str
    epochs: list[int]
    values: list[float | None]

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def curves(runs: list[str | Path], metrics: list[str] | None = None) -> list[Curve]:
    """The per-epoch values of ``metrics`` (default: train_loss, and dev_loss where there is a dev set) of each run."""
    out = []
    for run in runs:
        records = RunDir(Path(run)).read_metrics()
        if not records:
            raise RunError(f"{run} has no finished epoch yet.", hint="train it for at least one epoch.")
        names = metrics or [m for m in ("train_loss", "dev_loss") if any(m in r for r in records)]
        for name in names:
            if not any(name in r for r in records):
                known = sorted({k for r in records for k, v in r.items() if isinstance(v, (int, float)) and k != "epoch"})
                raise RunError(f"{run} has no metric {name!r}.", hint="its metrics: " + ", ".join(known) + ".")
            values = [r.get(name) for r in records]
            out.append(Curve(str(run), name, [r["epoch"] for r in records],
                             [v if isinstance(v, (int, float)) and math.isfinite(v) else None for v in values]))
    return out
