"""Run configs: a YAML file validated against frozen dataclasses.

``load_config(path, overrides)`` reads and validates a file; ``config_from_dict``
validates a nested dict; every problem is reported at once in one ConfigError.
"""

from rnncli.config.load import config_to_yaml, load_config, parse_override, read_yaml
from rnncli.config.schema import (
    Config,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    VocabConfig,
    describe_schema,
    leaf_keys,
)
from rnncli.config.validate import config_from_dict, replace_in

__all__ = [
    "Config",
    "DataConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "VocabConfig",
    "config_from_dict",
    "config_to_yaml",
    "describe_schema",
    "leaf_keys",
    "load_config",
    "parse_override",
    "read_yaml",
    "replace_in",
]
