"""Tests of rnncli.config: schema defaults, validation messages, loading, overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli.config import (
    Config,
    config_from_dict,
    config_to_yaml,
    describe_schema,
    leaf_keys,
    load_config,
    replace_in,
)
from rnncli.errors import ConfigError, ExitCode, UsageError

REPO = Path(__file__).parent.parent


def problems_of(d) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        config_from_dict(d)
    return info.value.problems


def problem(d) -> str:
    """The message of the single problem ``d`` has."""
    (only,) = problems_of(d)
    return only[1]


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults and schema -------------------------------------------------------


def test_defaults():
    cfg = config_from_dict({})
    assert cfg == Config()
    assert cfg.task == "classify"
    assert cfg.data.train is None and cfg.data.format == "auto"
    assert cfg.data.text_field == "text" and cfg.data.label_field == "label"
    assert cfg.data.header is None and cfg.data.lowercase is True and cfg.data.tokenizer == "word"
    assert cfg.vocab.min_freq == 1 and cfg.vocab.max_size is None and cfg.vocab.path is None
    m = cfg.model
    assert (m.cell, m.activation, m.input) == ("rnn", "tanh", "embedding")
    assert (m.embedding_dim, m.hidden_size, m.num_layers, m.bidirectional) == (16, 16, 1, False)
    t = cfg.train
    assert (t.epochs, t.batch_size, t.optimizer, t.lr, t.seed) == (30, 8, "adam", 0.01, 0)
    assert (t.shuffle, t.clip_norm, t.dtype) == (True, None, "float32")
    assert cfg.run.dir is None


def test_config_is_frozen():
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.lr = 1.0  # type: ignore[misc]


def test_partial_sections_keep_other_defaults():
    cfg = config_from_dict({"model": {"cell": "gru"}, "train": None})
    assert cfg.model.cell == "gru" and cfg.model.hidden_size == 16
    assert cfg.train == Config().train


def test_describe_schema_covers_every_key_with_help():
    rows = describe_schema()
    assert [r["key"] for r in rows] == leaf_keys()
    assert len(rows) == 1 + 16 + 4 + 29 + 27 + 1  # task, data, vocab, model (with model.embeddings), train, run
    for row in rows:
        assert row["help"] and row["type"]
        assert set(row) >= {"key", "type", "default", "help", "choices"}
    by_key = {r["key"]: r for r in rows}
    assert by_key["model.cell"]["choices"] == ["rnn", "lstm", "gru"]
    assert by_key["model.cell"]["default"] == "rnn"
    assert by_key["train.lr"]["type"] == "float" and by_key["train.lr"]["range"] == "> 0"
    assert by_key["vocab.max_size"]["type"] == "int | null"
    assert by_key["data.text_field"]["type"] == "str | int"
    assert by_key["train.epochs"]["choices"] is None
    assert by_key["model.dropout"]["range"] == ">= 0 and < 1"
    assert by_key["train.teacher_forcing"]["range"] == ">= 0 and <= 1"


@pytest.mark.parametrize("d,key,fragment", [
    ({"task": "tag", "model": {"pooling": "mean"}}, "model.pooling", "applies to task classify or regress only"),
    ({"task": "lm", "model": {"bidirectional": True}}, "model.bidirectional", "must be false for task lm"),
    ({"model": {"cell": "lstm", "init": "identity"}}, "model.init", "identity applies to the vanilla rnn"),
    ({"model": {"dropout": 1.5}}, "model.dropout", "must be < 1; got 1.5"),
])
def test_conflicting_and_out_of_range_keys(d, key, fragment):
    with pytest.raises(ConfigError) as info:
        config_from_dict(d)
    assert any(loc == key and fragment in msg for loc, msg in info.value.problems), info.value.problems


# --- the multi-problem message ---------------------------------------------------


def test_every_problem_reported_at_once_exact_text():
    d = {"model": {"cell": "lstn"}, "train": {"batchsize": 8}}
    with pytest.raises(ConfigError) as info:
        config_from_dict(d, source="configs/sst2.yaml", name="sst2")
    err = info.value
    assert err.message == (
        "configs/sst2.yaml is invalid (2 problems)\n"
        "  model.cell        must be one of 'rnn', 'lstm', 'gru'; got 'lstn' (did you mean 'lstm'?)\n"
        "  train.batchsize   unknown key (did you mean 'batch_size'?)"
    )
    assert err.problems == [
        ("model.cell", "must be one of 'rnn', 'lstm', 'gru'; got 'lstn' (did you mean 'lstm'?)"),
        ("train.batchsize", "unknown key (did you mean 'batch_size'?)"),
    ]
    assert "fix the keys listed above" in err.hint
    assert err.exit_code == ExitCode.CONFIG


def test_one_problem_is_singular():
    with pytest.raises(ConfigError) as info:
        config_from_dict({"train": {"epochs": 0}}, source="x.yaml")
    assert info.value.message == "x.yaml is invalid (1 problem)\n  train.epochs   must be >= 1; got 0"


def test_many_problems_across_sections():
    probs = problems_of(
        {
            "data": {"format": "json", "lowercase": "yes"},
            "vocab": {"min_freq": 0, "max_size": 0},
            "model": {"hidden_size": "abc", "bidirectional": 1},
            "train": {"lr": -0.1, "clip_norm": 0},
            "extra": 1,
        }
    )
    locs = [loc for loc, _ in probs]
    assert locs == [
        "data.format",
        "data.lowercase",
        "vocab.min_freq",
        "vocab.max_size",
        "model.hidden_size",
        "model.bidirectional",
        "train.lr",
        "train.clip_norm",
        "extra",
    ]


# --- did-you-mean ----------------------------------------------------------------


def test_unknown_section_did_you_mean():
    assert problem({"modle": {}}) == "unknown section (did you mean 'model'?)"
    assert problem({"trian": {"lr": 0.1}}) == "unknown section (did you mean 'train'?)"
    assert problem({"zzz": 1}) == "unknown section"


def test_leaf_key_in_wrong_place_suggests_full_path():
    assert problem({"epochs": 3}) == "unknown section (did you mean 'train.epochs'?)"
    assert problem({"model": {"lr": 0.1}}) == "unknown key (did you mean 'train.lr'?)"


def test_unknown_key_did_you_mean():
    assert problem({"model": {"hiden_size": 4}}) == "unknown key (did you mean 'hidden_size'?)"
    assert problem({"model": {"qqqq": 4}}) == "unknown key"


def test_non_string_key_is_unknown_not_a_crash():
    assert problems_of({"model": {1: 2}}) == [("model.1", "unknown key")]


def test_odd_key_is_quoted_to_keep_one_line():
    assert problems_of({"a b\n": 1}) == [("'a b\\n'", "unknown section")]


def test_choice_did_you_mean_ignores_case():
    msg = problem({"model": {"cell": "LSTM"}})
    assert msg == "must be one of 'rnn', 'lstm', 'gru'; got 'LSTM' (did you mean 'lstm'?)"
    assert problem({"train": {"optimizer": "adm"}}).endswith("(did you mean 'adam'?)")
    assert problem({"model": {"cell": "transformer"}}) == "must be one of 'rnn', 'lstm', 'gru'; got 'transformer'"
    assert problem({"model": {"cell": 3}}) == "must be one of 'rnn', 'lstm', 'gru'; got 3"


# --- type rules -------------------------------------------------------------------


def test_int_rejects_bool_string_and_fractional_float():
    assert problem({"train": {"epochs": True}}) == "must be an integer; got true"
    assert problem({"train": {"epochs": "abc"}}) == "must be an integer; got 'abc'"
    assert problem({"train": {"epochs": 2.5}}) == "must be an integer; got 2.5"
    assert problem({"train": {"epochs": None}}) == "must be an integer; got null"
    assert problem({"train": {"epochs": [1]}}) == "must be an integer; got a list"
    assert problem({"train": {"seed": float("nan")}}) == "must be an integer; got nan"


def test_int_accepts_integral_float_as_int():
    cfg = config_from_dict({"train": {"epochs": 3.0}})
    assert cfg.train.epochs == 3 and type(cfg.train.epochs) is int


def test_float_accepts_int_and_stores_float():
    cfg = config_from_dict({"train": {"lr": 1, "clip_norm": 5}})
    assert cfg.train.lr == 1.0 and type(cfg.train.lr) is float
    assert type(cfg.train.clip_norm) is float


def test_float_rejects_bool_string_and_non_finite():
    assert problem({"train": {"lr": True}}) == "must be a number; got true"
    assert problem({"train": {"lr": "fast"}}) == "must be a number; got 'fast'"
    assert problem({"train": {"lr": float("inf")}}) == "must be a finite number; got inf"
    assert problem({"train": {"lr": float("nan")}}) == "must be a finite number; got nan"
    assert problem({"train": {"clip_norm": "x"}}) == "must be a number or null; got 'x'"


def test_bool_accepts_only_true_false():
    assert config_from_dict({"model": {"bidirectional": True}}).model.bidirectional is True
    assert problem({"model": {"bidirectional": 1}}) == "must be true or false; got 1"
    assert problem({"model": {"bidirectional": "yes"}}) == "must be true or false; got 'yes'"
    assert problem({"data": {"lowercase": None}}) == "must be true or false; got null"


def test_optional_bool_accepts_null():
    assert config_from_dict({"data": {"header": None}}).data.header is None
    assert config_from_dict({"data": {"header": True}}).data.header is True
    assert problem({"data": {"header": "auto"}}) == "must be true or false or null; got 'auto'"


def test_str_fields():
    assert config_from_dict({"data": {"train": "a.tsv"}}).data.train == "a.tsv"
    assert problem({"data": {"train": 5}}) == "must be a string or null; got 5"
    assert problem({"data": {"train": {"path": "x"}}}) == "must be a string or null; got a mapping"


def test_str_or_int_field():
    cfg = config_from_dict({"data": {"text_field": 1, "label_field": 0}})
    assert (cfg.data.text_field, cfg.data.label_field) == (1, 0)
    cfg = config_from_dict({"data": {"text_field": "sentence"}})
    assert cfg.data.text_field == "sentence"
    assert problem({"data": {"text_field": True}}) == "must be a string or an integer; got true"
    assert problem({"data": {"text_field": 1.5}}) == "must be a string or an integer; got 1.5"
    assert problem({"data": {"text_field": -1}}) == "must be >= 0; got -1"


def test_optional_int_accepts_null():
    assert config_from_dict({"vocab": {"max_size": None}}).vocab.max_size is None
    assert config_from_dict({"vocab": {"max_size": 100}}).vocab.max_size == 100


def test_sections_must_be_mappings():
    msg = "must be a mapping (a section of keys); got"
    assert problem({"model": "lstm"}) == f"{msg} 'lstm'"
    assert problem({"train": [1, 2]}) == f"{msg} a list"
    assert problem({"data": 3}) == f"{msg} 3"


def test_top_level_must_be_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        config_from_dict([1, 2], source="x.yaml")  # type: ignore[arg-type]


def test_long_values_are_shortened():
    msg = problem({"model": {"cell": "x" * 500}})
    assert len(msg) < 200 and "..." in msg


# --- ranges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["vocab.min_freq", "vocab.max_size", "model.embedding_dim", "model.hidden_size",
            "model.num_layers", "train.epochs", "train.batch_size"]
)
def test_at_least_one(key):
    section, leaf = key.split(".")
    assert problem({section: {leaf: 0}}) == "must be >= 1; got 0"
    assert problem({section: {leaf: -3}}) == "must be >= 1; got -3"
    assert getattr(getattr(config_from_dict({section: {leaf: 1}}), section), leaf) == 1


@pytest.mark.parametrize("key", ["train.lr", "train.clip_norm"])
def test_strictly_positive(key):
    section, leaf = key.split(".")
    assert problem({section: {leaf: 0}}) == "must be > 0; got 0"
    assert problem({section: {leaf: -0.1}}) == "must be > 0; got -0.1"
    assert getattr(getattr(config_from_dict({section: {leaf: 1e-9}}), section), leaf) == 1e-9


def test_seed_may_be_any_integer():
    assert config_from_dict({"train": {"seed": -5}}).train.seed == -5


# --- cross-key checks ---------------------------------------------------------------


def test_text_and_label_field_must_differ():
    assert problem({"data": {"text_field": 0, "label_field": 0}}) == (
        "must differ from data.text_field; both are 0"
    )


def test_header_false_needs_column_indexes():
    probs = problems_of({"data": {"header": False}})
    assert [loc for loc, _ in probs] == ["data.text_field", "data.label_field"]
    assert probs[0][1] == "must be a 0-based column index because data.header is false; got 'text'"
    cfg = config_from_dict({"data": {"header": False, "text_field": 1, "label_field": 0}})
    assert cfg.data.header is False


# --- loading files --------------------------------------------------------------------


def test_load_config_sets_name_and_source(tmp_path):
    path = write(tmp_path, "model:\n  cell: lstm\ntrain:\n  lr: 0.1\n", name="sentiment-toy.yaml")
    cfg = load_config(path)
    assert cfg.model.cell == "lstm" and cfg.train.lr == 0.1
    assert cfg.name == "sentiment-toy" and cfg.source == str(path)
    assert load_config(str(path)) == cfg


def test_load_reports_problems_with_file_name(tmp_path):
    path = write(tmp_path, "model:\n  cell: lstn\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.message.startswith(f"{path} is invalid (1 problem)\n  model.cell")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in info.value.message and "not found" in info.value.message
    assert info.value.hint


def test_missing_file_suggests_a_close_name(tmp_path):
    write(tmp_path, "task: classify\n", name="sentiment.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "sentimnt.yaml")
    assert "sentiment.yaml" in info.value.hint


def test_directory_is_not_a_config(tmp_path):
    write(tmp_path, "task: classify\n", name="a.yaml")
    with pytest.raises(ConfigError, match="is a directory") as info:
        load_config(tmp_path)
    assert "a.yaml" in info.value.hint


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("model:\n  cell: lstm # caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_config(path)
    assert "latin1.yaml" in info.value.message and info.value.hint


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfmodel:\n  cell: gru\n")
    assert load_config(path).model.cell == "gru"


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    path = write(tmp_path, "model:\n  cell: lstm\n  hidden_size: [16\ntrain:\n  lr: 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = info.value.message
    assert str(path) in msg and "not valid YAML" in msg
    assert "line 4, column 6" in msg
    assert "expected ',' or ']'" in msg and "starts at line 3, column 16" in msg
    assert info.value.hint


def test_yaml_bad_indentation_line_and_column(tmp_path):
    path = write(tmp_path, "model:\n  cell: lstm\n hidden_size: 4\n")
    with pytest.raises(ConfigError, match=r"line 3, column 2"):
        load_config(path)


def test_yaml_python_tags_are_refused(tmp_path):
    path = write(tmp_path, "model: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="not valid YAML at line 1"):
        load_config(path)


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "---\n"])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="is empty") as info:
        load_config(path)
    assert info.value.hint


@pytest.mark.parametrize("text,got", [("- a\n- b\n", "a list"), ("just text\n", "'just text'"), ("42\n", "42")])
def test_non_mapping_top_level(tmp_path, text, got):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="must be a mapping") as info:
        load_config(path)
    assert info.value.message.endswith(f"got {got}")


# --- overrides ---------------------------------------------------------------------------


def test_overrides_are_parsed_as_yaml(tmp_path):
    path = write(tmp_path, "model:\n  cell: lstm\nvocab:\n  max_size: 100\n")
    cfg = load_config(
        path,
        ["train.lr=0.1", "model.bidirectional=true", "vocab.max_size=null", "model.cell=gru",
         "data.text_field=2", "train.epochs=3"],
    )
    assert cfg.train.lr == 0.1 and type(cfg.train.lr) is float
    assert cfg.model.bidirectional is True
    assert cfg.vocab.max_size is None
    assert cfg.model.cell == "gru"
    assert cfg.data.text_field == 2
    assert cfg.train.epochs == 3


def test_override_later_wins_and_file_is_untouched(tmp_path):
    path = write(tmp_path, "train:\n  lr: 0.5\n")
    assert load_config(path, ["train.lr=0.1", "train.lr=0.2"]).train.lr == 0.2
    assert load_config(path).train.lr == 0.5


def test_override_creates_missing_or_null_section(tmp_path):
    path = write(tmp_path, "model:\ntask: classify\n")
    cfg = load_config(path, ["model.cell=lstm", "run.dir=out/x"])
    assert cfg.model.cell == "lstm" and cfg.run_dir() == Path("out/x")


def test_override_keeps_text_for_string_keys(tmp_path):
    path = write(tmp_path, "task: classify\n")
    cfg = load_config(path, ["run.dir=2024", "data.train=2024-01-01", "data.dev=a=b.tsv"])
    assert cfg.run.dir == "2024" and cfg.data.train == "2024-01-01" and cfg.data.dev == "a=b.tsv"


def test_override_top_level_key(tmp_path):
    path = write(tmp_path, "task: classify\n")
    assert load_config(path, ["task=classify"]).task == "classify"


def test_override_without_equals_is_usage_error(tmp_path):
    path = write(tmp_path, "task: classify\n")
    with pytest.raises(UsageError, match="KEY=VALUE") as info:
        load_config(path, ["train.lr"])
    assert info.value.exit_code == ExitCode.USAGE and info.value.hint


def test_override_mistakes_are_reported_before_file_errors(tmp_path):
    with pytest.raises(UsageError):
        load_config(tmp_path / "missing.yaml", ["train.lr"])


def test_override_unknown_key_did_you_mean(tmp_path):
    path = write(tmp_path, "task: classify\n")
    with pytest.raises(ConfigError, match=r"unknown key 'train.lrr' \(did you mean 'train.lr'\?\)"):
        load_config(path, ["train.lrr=0.1"])
    with pytest.raises(ConfigError, match=r"did you mean 'model.hidden_size'"):
        load_config(path, ["hidden_size=4"])
    with pytest.raises(ConfigError, match="is a section"):
        load_config(path, ["model=lstm"])


def test_override_bad_value_is_reported_as_from_set(tmp_path):
    path = write(tmp_path, "model:\n  cell: lstn\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["train.lr=-1"])
    assert info.value.problems == [
        ("model.cell", "must be one of 'rnn', 'lstm', 'gru'; got 'lstn' (did you mean 'lstm'?)"),
        ("train.lr", "must be > 0; got -1 (from --set)"),
    ]
    assert info.value.message.startswith(f"{path} is invalid (2 problems)")


def test_override_value_that_is_not_yaml_is_kept_as_text(tmp_path):
    path = write(tmp_path, "task: classify\n")
    with pytest.raises(ConfigError, match=r"got '\[lstm'"):
        load_config(path, ["model.cell=[lstm"])


# --- writing back, replace_in, run_dir -------------------------------------------------------


def test_to_dict_is_nested_in_schema_order_without_name_or_source():
    d = config_from_dict({}, name="n", source="s.yaml").to_dict()
    assert list(d) == ["task", "data", "vocab", "model", "train", "run"]
    assert list(d["train"]) == ["epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay", "ema_decay",
                                "schedule", "step_size", "gamma", "class_weights", "bptt", "label_smoothing", "adversarial", "teacher_forcing", "seed",
                                "init_from", "bucket", "shuffle", "clip_norm",
                                "clip_value", "dtype", "monitor", "patience", "checkpoint_every", "log_grad_norms"]
    assert "name" not in d and "source" not in d


def test_round_trip_dict_and_yaml():
    cfg = config_from_dict(
        {"data": {"train": "t.tsv", "text_field": 1, "label_field": 0, "header": False},
         "vocab": {"max_size": 50}, "model": {"cell": "gru", "bidirectional": True},
         "train": {"lr": 1, "clip_norm": 5.0}, "run": {"dir": "out"}},
        name="x",
    )
    assert config_from_dict(cfg.to_dict()) == cfg
    text = config_to_yaml(cfg)
    assert yaml.safe_load(text) == cfg.to_dict()
    assert config_from_dict(yaml.safe_load(text)) == cfg
    assert text.index("task:") < text.index("data:") < text.index("run:")


def test_yaml_written_then_loaded(tmp_path):
    cfg = replace_in(Config(), "model.cell", "lstm")
    path = write(tmp_path, config_to_yaml(cfg), name="again.yaml")
    assert load_config(path) == cfg


def test_replace_in_validates():
    cfg = Config(name="n", source="s")
    new = replace_in(cfg, "train.lr", 0.5)
    assert new.train.lr == 0.5 and cfg.train.lr == 0.01
    assert (new.name, new.source) == ("n", "s")
    with pytest.raises(ConfigError, match="must be > 0"):
        replace_in(cfg, "train.lr", 0)
    with pytest.raises(ConfigError, match="did you mean 'train.lr'"):
        replace_in(cfg, "train.lrr", 0.5)


def test_run_dir():
    assert config_from_dict({}, name="sentiment-toy").run_dir() == Path("runs/sentiment-toy")
    assert config_from_dict({"run": {"dir": "out/a"}}, name="x").run_dir() == Path("out/a")


def test_equality_ignores_name_and_source():
    assert config_from_dict({}, name="a", source="a.yaml") == config_from_dict({}, name="b", source="b.yaml")


# --- properties -------------------------------------------------------------------------------

_known = st.sampled_from(
    ["task", "data", "vocab", "model", "train", "run"] + [k.rpartition(".")[2] for k in leaf_keys()]
)
_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.sampled_from(
    ["rnn", "lstm", "gru", "tsv", "adam", "float64", "char"]
)
_trees = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_known | st.text(max_size=8), children, max_size=6),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_known | st.text(max_size=8), _trees, max_size=7))
def test_arbitrary_dicts_give_config_or_config_error(d):
    try:
        cfg = config_from_dict(d)
    except ConfigError as err:
        assert err.problems
        assert err.message.splitlines()[0].startswith("<config> is invalid (")
        assert len(err.message.splitlines()) == len(err.problems) + 1
    else:
        assert isinstance(cfg, Config)
        assert config_from_dict(cfg.to_dict()) == cfg


@settings(max_examples=100, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "cell": st.sampled_from(["rnn", "lstm", "gru"]),
            "hidden_size": st.integers(1, 512),
            "bidirectional": st.booleans(),
        }
    ),
    st.floats(min_value=1e-6, max_value=10.0),
    st.none() | st.integers(1, 10_000),
)
def test_valid_configs_round_trip_through_yaml(model, lr, max_size):
    cfg = config_from_dict({"model": model, "train": {"lr": lr}, "vocab": {"max_size": max_size}})
    assert config_from_dict(yaml.safe_load(config_to_yaml(cfg))) == cfg


# --- the repo's own configs -----------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(REPO.glob("configs/*.yaml")), ids=lambda p: p.name)
def test_repo_configs_validate(path):
    from rnncli.config import read_yaml
    from rnncli.config.sweep import is_sweep, load_sweep

    if is_sweep(read_yaml(path)):  # a sweep file: its base config is validated with it
        assert load_sweep(path).trials()
        return
    cfg = load_config(path)
    assert cfg.name == path.stem


def test_model_choices_match_the_schema():
    """Loading a run checks run.json against model.CHOICES, a copy of the schema's choices that spares predict
    the schema import: the two must not drift apart."""
    from rnncli.config.schema import Config, ModelConfig, choices_of, field_types
    from rnncli.models import CHOICES
    from rnncli.tasks import TASKS

    for key, choices in CHOICES.items():
        assert tuple(choices_of(field_types(ModelConfig)[key])) == choices, key
    assert tuple(choices_of(field_types(Config)["task"])) == tuple(TASKS)
