"""Run configs: a YAML file validated against frozen dataclasses.

``load_config(path, overrides)`` reads and validates a file; ``config_from_dict``
validates a nested dict; every problem is reported at once in one ConfigError.

The names below are imported on first use (PEP 562), so that importing only
``rnncli.config.schema`` (as loading a trained run does) does not import YAML.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_SOURCES = {
    "config_to_yaml": "load", "load_config": "load", "parse_override": "load", "read_yaml": "load",
    "Config": "schema", "DataConfig": "schema", "ModelConfig": "schema", "RunConfig": "schema",
    "TrainConfig": "schema", "VocabConfig": "schema", "describe_schema": "schema", "leaf_keys": "schema",
    "config_from_dict": "validate", "replace_in": "validate",
}

__all__ = sorted(_SOURCES)

if TYPE_CHECKING:
    from rnncli.config.load import config_to_yaml, load_config, parse_override, read_yaml  # noqa: F401
    from rnncli.config.schema import (  # noqa: F401
        Config, DataConfig, ModelConfig, RunConfig, TrainConfig, VocabConfig, describe_schema, leaf_keys,
    )
    from rnncli.config.validate import config_from_dict, replace_in  # noqa: F401


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"rnncli.config.{_SOURCES[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
