"""``rnn train --seeds N``: one config trained with N seeds, and the spread of its results.

The runs go to ``<run.dir>/seed-<s>`` for s = train.seed, train.seed + 1, …, each a complete run
directory (resume, evaluate and predict take it as any other). What each run reports is its selected
epoch's record (the best by train.monitor when there is one, else the last), the dev and test scores of
:class:`rnncli.training.train.TrainResult` when they were scored once after training (``dev_*``,
``test_*``), and its wall time. Over the runs, every such number gets its mean and its sample standard
deviation (ddof = 1; 0 for one run), written to ``<run.dir>/seeds.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rnncli.config import Config, replace_in
from rnncli.errors import RunError
from rnncli.rundir import RunDir, write_seed_summary
from rnncli.training.train import Progress, TrainResult, train

# Bookkeeping in an epoch's record that says nothing about how good the model is.
NOT_RESULTS = ("epoch", "step", "lr", "seconds", "grad_norm", "grad_norms")


@dataclass
class SeedsResult:
    group: Path  # <run.dir>, holding seed-<s>/ and seeds.json
    seeds: list[int]
    runs: list[TrainResult]
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
    ({"seed", "index", "count", "run_dir"}) and "seed_end" (the run's headline)."""
    progress = progress or (lambda event, info: None)
    group = RunDir(cfg.run_dir())
    if group.path.exists() and not force:
        raise RunError(f"the directory {group} already exists.",
                       hint="replace it and every seed's run in it with --force, or choose another directory with "
                            f"--set run.dir=PATH; one seed's interrupted run continues with rnn train --resume {group}/seed-S.")
    group.create(force)
    seeds = [cfg.train.seed + i for i in range(count)]
    runs, headlines = [], []
    for i, seed in enumerate(seeds):
        run_cfg = replace_in(replace_in(cfg, "train.seed", seed), "run.dir", str(group.path / f"seed-{seed}"))
        progress("seed_start", {"seed": seed, "index": i, "count": count, "run_dir": run_cfg.run.dir})
        result = train(run_cfg, progress=progress)
        runs.append(result)
        headlines.append(headline(seed, result))
        progress("seed_end", headlines[-1])
    summary = summarise(headlines)
    write_seed_summary(group.path, {"config": cfg.name, "seeds": seeds, "runs": headlines, "summary": summary})
    return SeedsResult(group.path, seeds, runs, headlines, summary)
