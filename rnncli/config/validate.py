"""Turn a nested dict into a :class:`Config`, reporting every problem at once.

Each problem is a ``(dotted location, message)`` pair; all of them end up in one
:class:`ConfigError` whose message lists them in a column, so a user fixes a
config in one edit instead of one error per run.
"""

from __future__ import annotations

import difflib
import math
import re
import typing
from collections.abc import Mapping
from typing import Any, Literal

from rnncli.config.schema import (
    Config,
    choices_of,
    field_types,
    is_section,
    leaf_keys,
    schema_fields,
    union_members,
)
from rnncli.errors import ConfigError, show

Problems = list[tuple[str, str]]

INVALID_HINT = "fix the keys listed above; `rnn config keys` lists every key with its type, default and choices"

_NOUNS = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
          dict: "a mapping of label: weight (positive numbers)", list: "a non-empty list of strings"}


def config_from_dict(d: Any, source: str = "<config>", name: str = "config") -> Config:
    """Validate a nested mapping; missing sections and keys take their defaults.

    Raises one :class:`ConfigError` listing every problem (``err.problems``).
    """
    if not isinstance(d, Mapping):
        raise ConfigError(
            f"{source} must be a mapping of sections (task:, data:, model:, …); got {show(d)}",
            hint=INVALID_HINT,
        )
    problems: Problems = []
    values = _build(Config, d, "", problems)
    cfg = Config(**values, name=name, source=source)
    if not any(loc.startswith("data.") for loc, _ in problems):
        problems += _cross_checks(cfg)
    if problems:
        raise ConfigError(format_problems(source, problems), hint=INVALID_HINT, problems=problems)
    return cfg


def format_problems(source: str, problems: Problems) -> str:
    """``<source> is invalid (N problems)`` and one aligned line per problem."""
    n = len(problems)
    width = max(len(loc) for loc, _ in problems) + 3
    lines = [f"{source} is invalid ({n} problem{'s' if n != 1 else ''})"]
    lines += [f"  {loc.ljust(width)}{msg}" for loc, msg in problems]
    return "\n".join(lines)


def replace_in(cfg: Config, key: str, value: Any) -> Config:
    """A copy of ``cfg`` with the dotted ``key`` set to ``value``, validated."""
    check_key(key, what=key)
    d = cfg.to_dict()
    head, _, leaf = key.rpartition(".")
    target = d
    for part in head.split(".") if head else []:
        target = target[part]
    target[leaf] = value
    return config_from_dict(d, source=cfg.source, name=cfg.name)


def check_key(key: str, what: str) -> None:
    """Raise a ConfigError with a did-you-mean unless ``key`` is a settable dotted key."""
    keys = leaf_keys()
    if key in keys:
        return
    if key in {f.name for f in schema_fields(Config)}:
        raise ConfigError(
            f"{what}: {key!r} is a section, not a key",
            hint=f"set one of its keys, e.g. {next(k for k in keys if k.startswith(key + '.'))}=…",
        )
    close = difflib.get_close_matches(key, keys, n=1)
    # A bare leaf name ("lr") is a likely slip for its full path ("train.lr").
    close = close or [k for k in keys if k.rpartition(".")[2] == key][:1]
    suggestion = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(
        f"{what}: unknown key {key!r}{suggestion}",
        hint="`rnn config keys` lists every key with its type, default and choices",
    )


# --- walking the schema -------------------------------------------------------


def _build(cls: type, data: Mapping, prefix: str, problems: Problems) -> dict[str, Any]:
    """Validated constructor kwargs for ``cls``; invalid keys are left to their defaults."""
    types_ = field_types(cls)
    known = [f.name for f in schema_fields(cls)]
    values: dict[str, Any] = {}
    for name in known:
        if name not in data:
            continue
        raw, loc, tp = data[name], prefix + name, types_[name]
        if is_section(tp):
            if raw is None:  # `model:` with every key commented out
                raw = {}
            if not isinstance(raw, Mapping):
                problems.append((loc, f"must be a mapping (a section of keys); got {show(raw)}"))
                continue
            values[name] = tp(**_build(tp, raw, loc + ".", problems))
            continue
        meta = next(f.metadata for f in schema_fields(cls) if f.name == name)
        value, error = check_value(tp, raw, meta.get("ge"), meta.get("gt"), meta.get("lt"), meta.get("le"))
        if error:
            problems.append((loc, error))
        else:
            values[name] = value
    for key in data:
        if key not in known:
            problems.append((prefix + _key_text(key), _unknown(str(key), prefix)))
    return values


def _key_text(key: Any) -> str:
    """A key for the location column: as written if plain, else quoted so it stays on one line."""
    text = str(key)
    if text and text.isprintable() and not any(c.isspace() for c in text) and len(text) <= 40:
        return text
    return show(text)


def _unknown(key: str, prefix: str) -> str:
    what = "unknown key" if prefix else "unknown section"
    section = prefix.rstrip(".")
    siblings = [k.rpartition(".")[2] for k in leaf_keys() if k.rpartition(".")[0] == section]
    if not prefix:
        siblings = [f.name for f in schema_fields(Config)]
    close = difflib.get_close_matches(key, siblings, n=1)
    if not close:
        # The key may belong to another section: `model.lr` → 'train.lr', `epochs` → 'train.epochs'.
        close = [k for k in leaf_keys() if k.rpartition(".")[2] == key][:1]
    return f"{what} (did you mean {close[0]!r}?)" if close else what


def _cross_checks(cfg: Config) -> Problems:
    """Problems that involve two keys; run only when each key is valid on its own. What a task accepts
    is the task's to say (:class:`rnncli.tasks.Task`); its own checks come last."""
    from rnncli.tasks import TASKS

    data, model, problems = cfg.data, cfg.model, []
    task = TASKS[cfg.task]

    def tasks_where(accepts) -> str:
        names = [t.name for t in TASKS.values() if accepts(t)]
        return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)

    def only_for(key: str, accepts) -> None:
        if not accepts(task):
            problems.append((key, f"applies to task {tasks_where(accepts)} only; task is {show(cfg.task)}"))

    if model.pooling != "last":
        only_for("model.pooling", lambda t: t.pools)
    if model.attention:
        only_for("model.attention", lambda t: t.attention)
    if model.feed_condition:
        only_for("model.feed_condition", lambda t: t.conditioned)
    if cfg.train.class_weights is not None:
        only_for("train.class_weights", lambda t: t.class_weighted)
    if task.causal and model.bidirectional:
        problems.append(("model.bidirectional", f"must be false for task {cfg.task}: a model that generates text may "
                                                "not read the tokens it predicts"))
    if model.init == "identity" and model.cell != "rnn":
        problems.append(("model.init", f"identity applies to the vanilla rnn cell (IRNN); model.cell is {show(model.cell)}"))
    if model.input == "features" and "features" not in task.inputs:
        problems.append(("model.input", f"features applies to task {tasks_where(lambda t: 'features' in t.inputs)}; "
                                        f"task is {show(cfg.task)}"))
    elif model.input == "features" and data.format not in ("features", "auto"):
        problems.append(("data.format", f"must be 'features' (or 'auto') with model.input: features; got {show(data.format)}"))
    elif data.format == "features" and model.input != "features":
        problems.append(("model.input", f"must be 'features' with data.format: features; got {show(model.input)}"))
    word_features = [k for k in ("prefix", "suffix", "shape", "char_hidden_size") if getattr(model, k)]
    if word_features and (not task.reads_words or model.input != "embedding" or data.tokenizer == "char"):
        why = (f"task is {show(cfg.task)}" if not task.reads_words else f"model.input is {show(model.input)}"
               if model.input != "embedding" else "data.tokenizer is 'char'")
        readers = ", ".join(t.name for t in TASKS.values() if t.reads_words)
        problems.append((f"model.{word_features[0]}", "word features need words with an embedding "
                         f"(tasks {readers}; model.input embedding; a word tokenizer); {why}"))
    vectors = model.embeddings
    if vectors.path and (model.input != "embedding" or task.architecture != "sequence"):
        readers = ", ".join(t.name for t in TASKS.values() if t.architecture == "sequence")
        problems.append(("model.embeddings.path", f"pretrained vectors fill the input embedding of tasks {readers} "
                         f"with model.input: embedding; here task is {show(cfg.task)} and model.input {show(model.input)}"))
    if vectors.freeze and not vectors.path and not cfg.train.init_from:
        problems.append(("model.embeddings.freeze", "freezes a pretrained table: set model.embeddings.path or "
                                                    "train.init_from"))
    if cfg.vocab.from_embeddings and not vectors.path:
        problems.append(("vocab.from_embeddings", "takes the words of model.embeddings.path: set it"))
    elif cfg.vocab.from_embeddings and cfg.vocab.path:
        problems.append(("vocab.from_embeddings", "and vocab.path both give the vocabulary: keep one"))
    if cfg.train.init_from and vectors.path:
        problems.append(("model.embeddings.path", "and train.init_from both set the starting weights: keep one"))
    if word_features and vectors.freeze:
        problems.append(("model.embeddings.freeze", "is not available with word features (model.prefix/suffix/shape), "
                                                    "whose tables learn next to it; set it to false"))
    if model.input == "onehot" and model.input_dropout:
        problems.append(("model.input_dropout", "drops out features of an embedding; with model.input: onehot use "
                                                "model.word_dropout"))
    if model.input == "features" and model.word_dropout:
        problems.append(("model.word_dropout", "replaces tokens by <unk>; model.input: features has no tokens "
                                               "(use model.input_dropout)"))
    train = cfg.train
    if train.adversarial and (task.architecture != "sequence" or model.input == "onehot"):
        why = f"task is {show(cfg.task)}" if task.architecture != "sequence" else "model.input is 'onehot'"
        problems.append(("train.adversarial", "moves the embedded (or feature) input of task "
                                              f"{tasks_where(lambda t: t.architecture == 'sequence')}, with "
                                              f"model.input embedding or features; {why}"))
    if train.label_smoothing and task.output == "value":
        problems.append(("train.label_smoothing", f"smooths class labels; task {cfg.task} predicts a number"))
    elif train.label_smoothing and train.class_weights is not None:
        problems.append(("train.label_smoothing", "and train.class_weights together are not supported: keep one"))
    if data.holdout_by == "container":
        only_for("data.holdout_by", lambda t: t.pools or t.stream)
    if data.reverse:
        only_for("data.reverse", lambda t: t.stream)
    if data.drop_contained:
        only_for("data.drop_contained", lambda t: t.stream)
    selection, _, metric = train.monitor.partition("_")  # "dev" or "holdout", and e.g. "accuracy"
    if train.patience is not None and not data.dev and not data.dev_split and not data.holdout_split:
        problems.append(("train.patience", "needs a set to monitor: set data.dev, data.dev_split or data.holdout_split"))
    if f"dev_{metric}" not in task.monitors:  # the tasks name their metrics as dev's; the holdout has the same
        problems.append(("train.monitor", f"{train.monitor} applies to task "
                                          f"{tasks_where(lambda t: f'dev_{metric}' in t.monitors)}; "
                                          f"task is {show(cfg.task)} (use {selection}_loss)"))
    elif selection == "holdout" and not data.holdout_split:
        problems.append(("train.monitor", f"{train.monitor} is scored on data.holdout_split's part of the training "
                                          "data: set data.holdout_split (e.g. 0.1)"))
    elif selection == "dev" and data.holdout_split:
        problems.append(("data.holdout_split", f"holds out data to select on, but train.monitor is {train.monitor}: "
                                               f"monitor holdout_{metric}"))
    if data.holdout_split and data.dev_split and not data.dev:
        problems.append(("data.holdout_split", "and data.dev_split both cut the training data: set data.dev instead "
                                               "of data.dev_split"))
    if data.text_field == data.label_field:
        problems.append(("data.label_field", f"must differ from data.text_field; both are {show(data.text_field)}"))
    if data.header is False:
        for key in ("text_field", "label_field"):
            value = getattr(data, key)
            if isinstance(value, str):
                problems.append(
                    (f"data.{key}", f"must be a 0-based column index because data.header is false; got {show(value)}")
                )
    return problems + task.config_problems(cfg)


# --- one value ----------------------------------------------------------------


def check_value(tp: Any, value: Any, ge: float | None = None, gt: float | None = None,
                lt: float | None = None, le: float | None = None) -> tuple[Any, str | None]:
    """``(converted value, None)`` if ``value`` fits type ``tp`` and the range, else ``(None, message)``."""
    members = union_members(tp)
    nullable = type(None) in members
    members = tuple(m for m in members if m is not type(None))
    if value is None and nullable:
        return None, None
    for m in members:
        ok, converted = _accept(m, value)
        if ok:
            break
    else:
        return None, _expected(members, nullable, value)
    if isinstance(converted, float) and not math.isfinite(converted):
        return None, f"must be a finite number; got {show(value)}"
    if isinstance(converted, (int, float)) and not isinstance(converted, bool):
        if ge is not None and not converted >= ge:
            return None, f"must be >= {ge}; got {show(value)}"
        if gt is not None and not converted > gt:
            return None, f"must be > {gt}; got {show(value)}"
        if lt is not None and not converted < lt:
            return None, f"must be < {lt}; got {show(value)}"
        if le is not None and not converted <= le:
            return None, f"must be <= {le}; got {show(value)}"
    return converted, None


_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _accept(tp: Any, value: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) is Literal:
        return value in typing.get_args(tp) and isinstance(value, str), value
    if isinstance(value, bool):  # bool is an int subclass; only a bool field takes it
        return tp is bool, value
    if tp is int:
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():  # `epochs: 30.0`
            return True, int(value)
        return False, None
    if tp is float:
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads `1e-3` (no dot) as a string
        if isinstance(value, (int, float)):
            try:
                return True, float(value)
            except OverflowError:  # an int too large for a float
                return True, math.inf
        return False, None
    if tp is str:
        return isinstance(value, str), value
    if tp is dict:  # {label: weight}; YAML reads `0: 5` with an int key, and labels are strings
        ok = isinstance(value, Mapping) and bool(value) and all(
            isinstance(k, (str, int, float, bool)) and isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v) and v > 0 for k, v in value.items())
        return ok, ({_label(k): float(v) for k, v in value.items()} if ok else None)
    if tp is list:
        ok = isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
        return ok, (list(value) if ok else None)
    return False, None


def _label(key: Any) -> str:
    return show(key) if isinstance(key, bool) else str(key)


def _expected(members: tuple[Any, ...], nullable: bool, value: Any) -> str:
    choices = next((choices_of(m) for m in members if choices_of(m)), None)
    if choices:
        others = "".join(f" or {_NOUNS[m]}" for m in members if m in _NOUNS)
        text = "must be one of " + ", ".join(repr(c) for c in choices) + f"{others}; got {show(value)}"
        if isinstance(value, str):
            lower = {c.lower(): c for c in choices}
            close = difflib.get_close_matches(value.lower(), list(lower), n=1)
            if close:
                text += f" (did you mean {lower[close[0]]!r}?)"
        return text
    nouns = [_NOUNS[m] for m in members] + (["null"] if nullable else [])
    return f"must be {' or '.join(nouns)}; got {show(value)}"
