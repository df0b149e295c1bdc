"""``rnn train --seeds N``: one config trained with N seeds, and the spread of its results.

The runs go to ``<run.dir>/seed-<s>`` for s = train.seed, train.seed + 1, …, each a complete run
directory (resume, evaluate and predict take it as any other). What each run reports is its selected
epoch's record (the best by train.monitor when there is one, else the last), the dev and test scores of
:class:`rnncli.training.train.TrainResult` when they were scored once after training (``dev_*``,
``test_*``), and its wall time. Over the runs, every such number gets its mean and its sample standard
deviation (ddof = 1; 0 for one run), written to ``<run.dir>/seeds.json``.

``seeds.json`` is written when the runs start (the seeds, ``"summary": null``) and again after each run, so an
interrupted ``--seeds`` continues with ``rnn train --resume <run.dir>`` (:func:`resume_seeds`): the finished
runs are kept, the interrupted one continues from its checkpoint (its ``seconds`` then count only what is left),
and the others are trained.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from rnncli.config import Config, load_config, replace_in
from rnncli.errors import ExitCode, RunError, TrainingInterrupted
from rnncli.rundir import CHECKPOINT, SEEDS, RunDir, write_seed_summary
from rnncli.training.resume import resume_config
from rnncli.training.train import Progress, TrainResult, train

# Bookkeeping in an epoch's record that says nothing about how good the model is.
NOT_RESULTS = ("epoch", "step", "lr", "seconds", "grad_norm", "grad_norms")


@dataclass
class SeedsResult:
    group: Path  # <run.dir>, holding seed-<s>/ and seeds.json
    seeds: list[int]
    runs: list[TrainResult]  # the runs trained (or continued) by this call
    headlines: list[dict]  # per run: {"seed", "epoch", metrics…, "seconds"}
    summary: dict  # metric -> {"mean", "std", "values"}

    def to_dict(self) -> dict:
        return {"group": str(self.group), "seeds": self.seeds, "runs": self.headlines, "summary": self.summary}


def headline(seed: int, result: TrainResult) -> dict:
    """A run's results: its selected epoch's metrics, what was scored once after training, its wall time."""
    best = result.best["epoch"] if result.best else None
    record = next((r for r in result.epochs if r["epoch"] == best), result.epochs[-1])
    out = {"seed": seed, "epoch": record["epoch"]}
    out.update({k: v for k, v in record.items() if k not in NOT_RESULTS and isinstance(v, (int, float))})
    for name, scores in (("dev", result.dev), ("test", result.test)):
        out.update({f"{name}_{k}": v for k, v in (scores or {}).items() if isinstance(v, (int, float))})
    out["seconds"] = round(result.seconds, 3)
    return out


def summarise(headlines: list[dict]) -> dict:
    """Mean and sample standard deviation of every number the runs report (not the seed or the epoch)."""
    keys = [k for k in headlines[0] if k not in ("seed", "epoch") and all(k in h for h in headlines)]
    summary = {}
    for key in keys:
        values = [float(h[key]) for h in headlines]
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
        summary[key] = {"mean": mean, "std": math.sqrt(var), "values": values}
    return summary


def train_seeds(cfg: Config, count: int, force: bool = False, progress: Progress | None = None) -> SeedsResult:
    """Train ``cfg`` with ``count`` consecutive seeds from train.seed; ``progress`` also gets "seed_start"
    ({"seed", "index", "count", "run_dir", "config"}) and "seed_end" (the run's headline)."""
    group = RunDir(cfg.run_dir())
    if group.path.exists() and not force:
        raise RunError(f"the directory {group} already exists.",
                       hint=f"continue an interrupted --seeds with rnn train --resume {group}, replace it and every "
                            "seed's run in it with --force, or choose another directory with --set run.dir=PATH.")
    group.create(force)
    group.write_config(cfg)
    plan = {"config": cfg.name, "seeds": [cfg.train.seed + i for i in range(count)], "runs": [], "summary": None}
    write_seed_summary(group.path, plan)
    return _train_group(cfg, group, plan, progress or (lambda event, info: None))


def is_seed_group(path: str | Path) -> bool:
    """Whether ``path`` is the directory of an ``rnn train --seeds`` (it holds seeds.json, not a checkpoint)."""
    return (Path(path) / SEEDS).is_file() and not (Path(path) / CHECKPOINT).is_file()


def group_plan(path: str | Path) -> tuple[Config, dict]:
    """The config and seeds.json of an ``rnn train --seeds`` folder, checked; a RunError when either is missing or
    damaged."""
    group = RunDir(Path(path))
    if not group.config_file.is_file():
        raise RunError(f"{group.path} has seeds.json but no config.yaml: an older rnncli wrote it, which kept no "
                       "config to continue its seeds with.",
                       hint=f"train them again: rnn train --config CONFIG --set run.dir={group.path} --seeds N --force.")
    try:
        plan = json.loads((group.path / SEEDS).read_text(encoding="utf-8"))
        seeds = plan.get("seeds") if isinstance(plan, dict) else None
        if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds)):
            raise ValueError("it lists no seeds")
        if not (isinstance(plan.get("runs"), list)
                and all(isinstance(h, dict) and h.get("seed") in seeds for h in plan["runs"])):
            raise ValueError("a finished run's record names no seed of the list")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{group.path / SEEDS} is damaged ({exc}).",
                       hint=f"train the seeds again: rnn train --config {group.config_file} --set run.dir={group.path} "
                            "--seeds N --force.") from None
    cfg = dataclasses.replace(load_config(group.config_file), name=str(plan.get("config") or group.path.name))
    return cfg, plan


def resume_seeds(path: str | Path, progress: Progress | None = None,
                 planned: tuple[Config, dict] | None = None) -> SeedsResult:
    """Continue an ``rnn train --seeds`` in ``path`` (see the module docstring); ``planned``: its
    :func:`group_plan`, when the caller has read it already."""
    cfg, plan = planned or group_plan(path)
    return _train_group(cfg, RunDir(Path(path)), plan, progress or (lambda event, info: None))


def _train_group(cfg: Config, group: RunDir, plan: dict, progress: Progress) -> SeedsResult:
    """The seeds of ``plan`` that have no headline yet: each continued from its checkpoint, or trained."""
    seeds, done = plan["seeds"], {h["seed"] for h in plan["runs"]}
    runs = []
    for i, seed in enumerate(seeds):
        if seed in done:
            continue
        run_dir = group.path / f"seed-{seed}"
        progress("seed_start", {"seed": seed, "index": i, "count": len(seeds), "run_dir": str(run_dir),
                                "config": cfg.name})
        try:
            if (run_dir / CHECKPOINT).is_file():
                result = train(resume_config(run_dir), progress=progress, resume_dir=run_dir)
            else:  # not started, or stopped before its first checkpoint
                run_cfg = replace_in(replace_in(cfg, "train.seed", seed), "run.dir", str(run_dir))
                result = train(run_cfg, force=True, progress=progress)
        except TrainingInterrupted as exc:
            raise TrainingInterrupted(exc.message, hint=f"continue the {len(seeds)} seeds where they stopped with: "
                                      f"rnn train --resume {group.path}",
                                      terminated=exc.exit_code == ExitCode.TERMINATED) from None
        runs.append(result)
        plan["runs"].append(headline(seed, result))
        write_seed_summary(group.path, plan)
        progress("seed_end", plan["runs"][-1])
    headlines = sorted(plan["runs"], key=lambda h: seeds.index(h["seed"]))
    plan["summary"] = summarise(headlines)
    write_seed_summary(group.path, plan)
    return SeedsResult(group.path, seeds, runs, headlines, plan["summary"])
