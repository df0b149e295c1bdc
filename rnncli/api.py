"""The Python API: train, load and use models without the shell.

    import rnncli

    run = rnncli.train("configs/sentiment-toy.yaml", overrides={"train.epochs": 5, "run.dir": "runs/api"})
    run = rnncli.load("runs/api")
    run.predict(["movie was good"])          # the objects `rnn predict --json` prints
    run.evaluate("datasets/toy/sentiment-dev.tsv")   # the object `rnn evaluate --json` prints
    run.generate(prime="ROMEO:", length=50)  # task lm; task generate: condition=LABEL, num=N

``progress`` (of :func:`train`) is called as ``progress(event, info)`` for every step and epoch: the hook for
experiment trackers (MLflow, Weights & Biases, Ray Tune's ``tune.report``). Events: "epoch_start",
"batch", "epoch_end" (info: the epoch's metrics, as a row of metrics.jsonl), "skipped", "holdout", "stream", "vectors", "transfer", "resume".
Errors are :class:`rnncli.errors.RnncliError` subclasses with ``message``, ``hint`` and ``exit_code``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rnncli.errors import UsageError

Progress = Callable[[str, dict], None]


class Run:
    """A trained model and its run directory."""

    def __init__(self, loaded) -> None:
        self._run = loaded  # rnncli.rundir.Run

    def __repr__(self) -> str:
        return f"rnncli.Run({str(self.path)!r}, task={self.task!r})"

    @property
    def path(self) -> Path:
        return self._run.path

    @property
    def task(self) -> str:
        return self._run.spec.task

    @property
    def labels(self) -> list[str]:
        return self._run.labels.to_dict()["labels"]

    @property
    def config(self) -> dict:
        """The run's resolved config, as plain data."""
        return self._run.config.to_dict()

    @property
    def params(self) -> dict:
        """The weights, by name (NumPy arrays; see `rnn summary --model RUN`)."""
        return self._run.params

    def predict(self, texts: Sequence[str] | str, beam: int = 1, max_length: int | None = None) -> list[dict]:
        """One object per text, as `rnn predict --json` prints it."""
        from rnncli.evaluation.predict import predict

        texts = [texts] if isinstance(texts, str) else _strings(texts, "texts")
        return predict(self._run, texts, *_decoding(beam, max_length))

    def evaluate(self, data: str | Path, beam: int = 1, max_length: int | None = None) -> dict:
        """The metrics of a data file, as `rnn evaluate --json` prints them."""
        from rnncli.evaluation.evaluate import evaluate

        data, (beam, max_length) = _path(data, "data"), _decoding(beam, max_length)
        epoch = self._run.best["epoch"] if self._run.best else self._run.meta.get("epochs_done")
        return {"model": str(self.path), "weights": self._run.weights, "epoch": epoch,
                **evaluate(self._run, data, beam, max_length).to_dict()}

    def generate(self, prime: str | None = None, condition: str | None = None, num: int = 1,
                 length: int | None = None, temperature: float = 1.0, top_k: int | None = None,
                 seed: int | None = None) -> dict | list[dict]:
        """A language model's text after ``prime`` ({"prime", "text", "tokens", "before_prime"}: before it, for a
        backward model), or a generator's ``num``
        texts for ``condition`` ([{"condition", "text", "tokens"}, …]), as `rnn generate --json` prints."""
        from rnncli.evaluation.generate import continuation, generate, generate_from

        if condition is not None or self._run.spec.architecture == "generator":
            if condition is None:
                raise UsageError(f"{self.path} generates text from a label: pass condition=LABEL.",
                                 hint="its labels: " + ", ".join(map(repr, self.labels)) + ".")
            return generate_from(self._run, condition, num, 100 if length is None else length, temperature, top_k, seed)
        prime = "\n" if prime is None else prime
        tokens = list(generate(self._run, prime, 500 if length is None else length, temperature, top_k, seed))
        return continuation(self._run, prime, tokens)


def load(run_dir: str | Path, last: bool = False) -> Run:
    """A trained run: its best epoch's weights when it kept them, unless ``last``."""
    from rnncli.rundir import load_run

    if not isinstance(last, bool):
        raise UsageError(f"last must be True or False; got {last!r}.", hint="e.g. rnncli.load(RUN, last=True)")
    return Run(load_run(_path(run_dir, "run_dir"), last=last))


def train(config: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None,
          progress: Progress | None = None, force: bool = False) -> Run:
    """Train the model a config describes (a YAML file's path, or the same keys as a nested dict) with dotted
    ``overrides`` such as {"train.epochs": 5}, write its run directory, and return the trained run."""
    from rnncli.config import config_from_dict, load_config, replace_in
    from rnncli.training.train import train as run_training

    if overrides is not None and not (isinstance(overrides, Mapping) and all(isinstance(k, str) for k in overrides)):
        raise UsageError(f"overrides must be a mapping of dotted keys (str) to values; got {overrides!r:.60}.",
                         hint='e.g. overrides={"train.epochs": 5}')
    if not isinstance(force, bool):
        raise UsageError(f"force must be True or False; got {force!r}.", hint="e.g. force=True")
    if progress is not None and not callable(progress):
        raise UsageError(f"progress must be a function progress(event, info); got {type(progress).__name__}.",
                         hint="e.g. progress=lambda event, info: print(event, info)")
    if isinstance(config, Mapping):
        cfg = config_from_dict(dict(config))
        for key, value in (overrides or {}).items():
            cfg = replace_in(cfg, key, value)
    else:
        cfg = load_config(_path(config, "config"), [f"{key}={_yaml(value)}" for key, value in (overrides or {}).items()])
    result = run_training(cfg, force=force, progress=progress)
    return load(result.run_dir)


def _path(value: Any, name: str) -> Path:
    """A file or directory argument: a str or a path-like object, else a UsageError naming ``name``."""
    if isinstance(value, str) or hasattr(value, "__fspath__"):
        return Path(value)
    raise UsageError(f"{name} must be a path (a str or a pathlib.Path); got {type(value).__name__}.",
                     hint=f'e.g. {name}="datasets/toy/sentiment-dev.tsv"' if name == "data" else "pass a path")


def _strings(values: Any, name: str) -> list[str]:
    """A list of str from any iterable of str, else a UsageError naming ``name``."""
    try:
        values = list(values)
    except TypeError:
        values = None
    if values is None or not all(isinstance(v, str) for v in values):
        raise UsageError(f"{name} must be a str or a list of str.", hint=f'e.g. {name}=["movie was good"]')
    return values


def _decoding(beam: Any, max_length: Any) -> tuple[int, int | None]:
    """seq2seq's beam width (≥ 1) and output length (None or ≥ 1), as `rnn predict --beam/--max-length` take them."""
    def whole(v: Any) -> bool:  # NumPy's integers too
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if not (whole(beam) and beam >= 1):
        raise UsageError(f"beam must be an integer of at least 1; got {beam!r}.", hint="e.g. beam=4")
    if max_length is not None and not (whole(max_length) and max_length >= 1):
        raise UsageError(f"max_length must be None or an integer of at least 1; got {max_length!r}.",
                         hint="e.g. max_length=50")
    return int(beam), None if max_length is None else int(max_length)


def _yaml(value: Any) -> str:
    """A value as --set reads it (YAML flow style)."""
    import json

    return value if isinstance(value, str) else json.dumps(value)
