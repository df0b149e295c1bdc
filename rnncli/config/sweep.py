"""Sweep files: a base config, a search space over its keys, and how to search it.

    base: configs/sentiment-toy.yaml        # a config file (relative to the sweep file), or an inline config
    method: grid                            # grid: every combination of the choices; random: num_trials draws
    num_trials: 8                           # random: how many; grid: at most this many (null: all)
    seed: 0                                 # the draws of random search
    metric: dev_accuracy                    # a per-epoch metric of metrics.jsonl; a trial scores its best epoch's
    mode: max                               # max | min (default: max for an accuracy, BLEU or exact match, else min)
    max_concurrent: 2                       # trials at once (local backend: worker processes)
    scheduler: none                         # none | asha: stop trials whose metric trails at epochs 1, 3, 9, …
    space:                                  # config keys → a list of values, or one distribution
      train.lr: {loguniform: [0.001, 0.1]}
      model.hidden_size: {choice: [16, 32]}
      model.dropout: {uniform: [0.0, 0.5]}
      train.batch_size: {randint: [16, 64]}  # both ends included

Every problem of a file is reported at once, with did-you-mean for keys, as for configs.
"""

from __future__ import annotations

import difflib
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnncli.config.load import read_yaml
from rnncli.config.schema import Config, leaf_keys
from rnncli.config.validate import config_from_dict, format_problems, replace_in
from rnncli.errors import ConfigError, show
from rnncli.tasks.metrics import higher_is_better

KEYS = ("base", "method", "num_trials", "seed", "metric", "mode", "max_concurrent", "scheduler", "space")
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint")
ASHA_FACTOR = 3  # rungs at epochs 1, 3, 9, …; a trial goes on past a rung when it is in the best third there


@dataclass(frozen=True)
class Sweep:
    base: Config
    space: dict[str, Any]  # key → list of values, or {distribution: [low, high]}
    method: str = "grid"
    num_trials: int | None = None
    seed: int = 0
    metric: str = "dev_loss"
    mode: str = "min"
    max_concurrent: int = 2
    scheduler: str = "none"
    source: str = "<sweep>"
    name: str = "sweep"
    raw: dict = field(default_factory=dict, compare=False)

    def trials(self) -> list[dict[str, Any]]:
        """The parameters of every trial, the same list for the same file and seed."""
        if self.method == "grid":
            combos: list[dict] = [{}]
            for key, values in self.space.items():
                combos = [{**c, key: v} for c in combos for v in _choices(values)]
            return combos[: self.num_trials] if self.num_trials else combos
        rng = random.Random(self.seed)
        return [{key: _draw(values, rng) for key, values in self.space.items()} for _ in range(self.num_trials or 0)]

    def config_of(self, params: dict[str, Any], run_dir: str) -> Config:
        cfg = self.base
        for key, value in params.items():
            cfg = replace_in(cfg, key, value)
        return replace_in(cfg, "run.dir", run_dir)

    def better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b


def _choices(values: Any) -> list:
    return list(values["choice"]) if isinstance(values, dict) else list(values)


def _draw(values: Any, rng: random.Random) -> Any:
    if not isinstance(values, dict) or "choice" in values:
        return rng.choice(_choices(values))
    (kind, (low, high)), = values.items()
    if kind == "uniform":
        return round(rng.uniform(low, high), 6)
    if kind == "loguniform":
        return float(f"{math.exp(rng.uniform(math.log(low), math.log(high))):.6g}")
    return rng.randint(low, high)


def _space_problems(space: Any, method: str) -> list[tuple[str, str]]:
    if not isinstance(space, dict) or not space:
        return [("space", "must map config keys to values to try, e.g. {train.lr: {loguniform: [0.001, 0.1]}}")]
    problems, keys = [], leaf_keys()
    for key, values in space.items():
        where = f"space.{key}"
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            problems.append((where, "unknown config key" + (f" (did you mean {close[0]!r}?)" if close else "")))
            continue
        if key == "run.dir":
            problems.append((where, "each trial gets its own run.dir under the sweep's folder"))
        if isinstance(values, list):
            if not values:
                problems.append((where, "an empty list of values"))
            continue
        if not (isinstance(values, dict) and len(values) == 1):
            problems.append((where, "must be a list of values or one of {choice: [...]}, {uniform: [low, high]}, "
                                    "{loguniform: [low, high]}, {randint: [low, high]}"))
            continue
        (kind, args), = values.items()
        if kind not in DISTRIBUTIONS:
            close = difflib.get_close_matches(str(kind), DISTRIBUTIONS, n=1)
            problems.append((where, f"unknown distribution {show(kind)}" + (f" (did you mean {close[0]!r}?)" if close else "")))
        elif kind == "choice":
            if not isinstance(args, list) or not args:
                problems.append((where, "choice takes a non-empty list of values"))
        elif method == "grid":
            problems.append((where, f"{kind} draws at random: use method: random, or a list of values for grid"))
        elif not (isinstance(args, list) and len(args) == 2 and all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                                                    for a in args) and args[0] < args[1]):
            problems.append((where, f"{kind} takes [low, high] with low < high; got {show(args)}"))
        elif kind == "loguniform" and args[0] <= 0:
            problems.append((where, "loguniform needs low > 0"))
        elif kind == "randint" and not all(isinstance(a, int) for a in args):
            problems.append((where, "randint takes two integers"))
    return problems


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; every problem in one ConfigError."""
    path = Path(path)
    data = read_yaml(path)
    return sweep_from_dict(data, path)


def is_sweep(data: Any) -> bool:
    """Whether a YAML document is a sweep file rather than a config."""
    return isinstance(data, dict) and "space" in data and "base" in data


def _selection_problems(metric: str, base) -> list[tuple[str, str]]:
    """A sweep ranks trials on the set its base config selects epochs on: the holdout (data.holdout_split)
    or dev, never one for the epoch and the other for the settings."""
    from rnncli.tasks import task_of

    kind, _, name = metric.partition("_")
    recorded = task_of(base.task).epoch_metrics  # as dev_* each epoch, or holdout_* with data.holdout_split
    if kind not in ("dev", "holdout") or name not in recorded:
        choices = ", ".join(f"{k}_{m}" for k in ("dev", "holdout") for m in recorded)
        return [("metric", f"a {base.task} run's metrics.jsonl has no per-epoch {metric!r}; choose one of {choices}")]
    if base.data.holdout_split and kind == "dev":
        return [("metric", f"the base config selects on data.holdout_split's part of the training data and scores dev "
                           f"only after training; rank the trials on it too: holdout_{name}")]
    if kind == "holdout" and not base.data.holdout_split:
        return [("metric", f"{metric} needs data.holdout_split in the base config")]
    return []


def _trial_problems(sweep: Sweep) -> list[tuple[str, str]]:
    """What makes a trial's config invalid (a value of the space out of its key's range), found before anything
    is written: every trial of a grid, and the draws of a random search (the same for the same seed)."""
    problems: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for params in sweep.trials():
        try:
            sweep.config_of(params, "runs/trial")
        except ConfigError as exc:
            for key, message in exc.problems or [("", exc.message)]:
                where = f"space.{key}" if key in params else key or "space"
                if (where, message) not in seen:  # one line per problem, naming the first trial that has it
                    seen.add((where, message))
                    problems.append((where, f"{message} (in the trial {_show_params(params)})"))
    return problems


def _show_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def sweep_from_dict(data: Any, path: Path) -> Sweep:
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a sweep file: expected a mapping of keys.", hint="see docs/sweeps.md")
    for key in data:
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            problems.append((str(key), "unknown sweep key" + (f" (did you mean {close[0]!r}?)" if close else "")))
    method = data.get("method", "grid")
    if method not in ("grid", "random"):
        problems.append(("method", f"must be 'grid' or 'random'; got {show(method)}"))
    num_trials = data.get("num_trials")
    if num_trials is not None and not (isinstance(num_trials, int) and not isinstance(num_trials, bool) and num_trials >= 1):
        problems.append(("num_trials", f"must be an integer >= 1 or null; got {show(num_trials)}"))
    elif method == "random" and num_trials is None:
        problems.append(("num_trials", "random search needs the number of trials"))
    for key, default, check, what in (("seed", 0, lambda v: isinstance(v, int), "an integer"),
                                      ("max_concurrent", 2, lambda v: isinstance(v, int) and v >= 1, "an integer >= 1"),
                                      ("metric", "dev_loss", lambda v: isinstance(v, str) and v, "a metric name, e.g. dev_accuracy")):
        value = data.get(key, default)
        if isinstance(value, bool) or not check(value):
            problems.append((key, f"must be {what}; got {show(value)}"))
    metric = data.get("metric", "dev_loss")
    # like train.monitor: accuracies, BLEU and exact match are maximised, losses and errors minimised
    mode = data.get("mode", "max" if isinstance(metric, str) and higher_is_better(metric) else "min")
    if mode not in ("max", "min"):
        problems.append(("mode", f"must be 'max' or 'min'; got {show(mode)}"))
    scheduler = data.get("scheduler", "none")
    if scheduler not in ("none", "asha"):
        problems.append(("scheduler", f"must be 'none' or 'asha'; got {show(scheduler)}"))
    problems += _space_problems(data.get("space"), method)
    base, base_raw = None, data.get("base")
    if base_raw is None:
        problems.append(("base", "the config the trials start from: a file or an inline mapping"))
    else:
        try:
            if isinstance(base_raw, dict):
                base = config_from_dict(base_raw, source=f"{path} (base)", name=path.stem)
            elif isinstance(base_raw, str):
                from rnncli.config import load_config

                file = Path(base_raw)
                base = load_config(file if file.exists() or file.is_absolute() else path.parent / file)
            else:
                problems.append(("base", f"must be a config file's path or a mapping; got {show(base_raw)}"))
        except ConfigError as exc:
            problems += [(f"base.{k}" if k else "base", p) for k, p in (exc.problems or [("", exc.message)])]
    if base is not None and isinstance(metric, str) and metric:
        problems += _selection_problems(metric, base)
    if base is not None and not problems:
        problems += _trial_problems(Sweep(base, dict(data["space"]), method, num_trials, data.get("seed", 0)))
    if problems:
        raise ConfigError(format_problems(str(path), problems),
                          hint="fix the keys listed above; docs/sweeps.md describes them", problems=problems)
    return Sweep(base, dict(data["space"]), method, num_trials, data.get("seed", 0), data.get("metric", "dev_loss"),
                 mode, data.get("max_concurrent", 2), scheduler, str(path), path.stem, dict(data))
