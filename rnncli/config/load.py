"""Read a config file, apply ``--set`` overrides, validate; and write configs back.

YAML is read with ``yaml.safe_load`` only: a config is data, never code.
"""

from __future__ import annotations

import copy
import datetime
import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from rnncli.config.schema import Config, field_types, union_members
from rnncli.config.validate import INVALID_HINT, check_key, config_from_dict, format_problems, show
from rnncli.errors import ConfigError, UsageError


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Read the YAML file at ``path``, apply ``key.sub=value`` overrides, validate.

    ``name`` is the file stem (the default run directory is ``runs/<name>``).
    """
    path = Path(path)
    # Command-line mistakes first, as an argument parser would report them.
    parsed = [parse_override(item) for item in overrides]
    data = read_yaml(path)
    if parsed:
        data = copy.deepcopy(data)
        for key, value in parsed:
            _set(data, key, value)
    set_keys = [key for key, _ in parsed]
    try:
        return config_from_dict(data, source=str(path), name=path.stem)
    except ConfigError as err:
        if not (err.problems and set_keys):
            raise
        # Point at the command line for values that came from it, not at the file.
        problems = [(loc, msg + " (from --set)" if loc in set_keys else msg) for loc, msg in err.problems]
        raise ConfigError(format_problems(str(path), problems), hint=INVALID_HINT, problems=problems) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error: YAML forbids it, and
    PyYAML would keep the last value without a word (two `train:` sections, say, the first one lost)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: merged by the parent, overridable
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):  # a list or mapping as a key: PyYAML's own error
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"the key {key!r} appears twice (first at line {seen[key].line + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> Mapping[str, Any]:
    """The top-level mapping of a YAML file, or a ConfigError that names the file."""
    try:
        if not path.exists():
            raise ConfigError(f"config file {path} not found", hint=_missing_hint(path))
        if path.is_dir():
            raise ConfigError(f"{path} is a directory, not a config file", hint=_yaml_files_hint(path))
        raw = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: e.g. a NUL byte in the path
        if isinstance(exc, ValueError):
            raise ConfigError(f"cannot read config file {path!r}: {exc}", hint="check the path") from None
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}", hint="check its permissions") from None
    try:
        text = raw.decode("utf-8-sig")  # tolerate the byte-order mark some editors write
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            hint="save the file as UTF-8; a config is a YAML text file",
        ) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "syntax error"
        if exc.problem and exc.context:
            cm = exc.context_mark
            since = f" that starts at line {cm.line + 1}, column {cm.column + 1}" if cm and (cm.line, cm.column) != (mark.line, mark.column) else ""
            what += f" ({exc.context}{since})"
        raise ConfigError(
            f"{path} is not valid YAML{where}: {what}",
            hint="check the indentation (spaces, not tabs) and quoting near that line",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", hint="check the file's syntax") from None
    if data is None:
        raise ConfigError(
            f"{path} is empty",
            hint="a config is a mapping of sections (data:, model:, train:, …); `rnn config keys` lists them",
        )
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path} must be a mapping of sections (data:, model:, train:, …) at the top level; got {show(data)}",
            hint="write `section:` lines with indented `key: value` lines under them",
        )
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """``"train.lr=0.1"`` → ``("train.lr", 0.1)``; the value is parsed as YAML.

    Where YAML gives a non-string scalar for a string-only key (``run.dir=2024``,
    ``data.train=2024-01-01``) the raw text is kept, since a shell has no YAML quoting.
    """
    key, eq, text = item.partition("=")
    key = key.strip()
    if not eq:
        raise UsageError(f"--set expects KEY=VALUE; got {item!r}", hint="e.g. --set train.lr=0.1 or --set model.cell=lstm")
    check_key(key, what=f"--set {item}")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text  # e.g. an unbalanced bracket; validation reports it if the key wants something else
    *sections, leaf = key.split(".")
    owner = Config
    for name in sections:  # the section class that holds the key
        owner = field_types(owner)[name]
    tp = field_types(owner)[leaf]
    members = union_members(tp)
    if str in members and int not in members and value is not None and not isinstance(value, str):
        if not isinstance(value, (Mapping, list)):
            value = text.strip()
    if isinstance(value, (datetime.date, datetime.datetime)):
        value = text.strip()
    return key, value


def _set(data: dict, key: str, value: Any) -> None:
    *sections, leaf = key.split(".")
    target = data
    for name in sections:
        inner = target.get(name)
        if inner is None:
            inner = {}
        if not isinstance(inner, Mapping):
            return  # `model: 3` in the file: validation reports that section, with the override unapplied
        target[name] = inner = dict(inner)
        target = inner
    target[leaf] = value



def config_to_yaml(cfg: Config) -> str:
    """The resolved config as YAML, every key, in schema order."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=False, allow_unicode=True)


def _yaml_names(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    except OSError:  # only feeds a hint; never turn it into a second error
        return []


def _missing_hint(path: Path) -> str:
    close = difflib.get_close_matches(path.name, _yaml_names(path.parent), n=1)
    if close:
        return f"did you mean {path.parent / close[0]}?"
    return "check the path; a config is a YAML file such as configs/<name>.yaml"


def _yaml_files_hint(path: Path) -> str:
    names = _yaml_names(path)[:5]
    if names:
        return "pass one of its YAML files, e.g. " + ", ".join(str(path / n) for n in names)
    return "pass a YAML config file, e.g. configs/<name>.yaml"
