"""`rnn export --format torch`: PyTorch's state_dict names and shapes, without needing PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnncli.cli import main
from rnncli.errors import RunError, UsageError
from rnncli.tools.export import export_run, torch_module_code, torch_names, torch_shapes, torch_state_dict
from rnncli.models import ModelSpec, init_params
from rnncli.tasks import model_spec

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "sentiment-toy.yaml"
CELL_VARIANTS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
V, D, H = 9, 4, 3
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _spec(cell, act, bidirectional, num_layers, input_, num_classes=3):
    return ModelSpec(vocab_size=V, num_classes=num_classes, cell=cell, activation=act, input=input_,
                     embedding_dim=D, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional)


def _expected(cell, bidirectional, num_layers, onehot, num_outputs) -> dict[str, tuple[int, ...]]:
    """Written out by hand from PyTorch's documentation of nn.RNN/LSTM/GRU parameters."""
    G, dirs = GATES[cell], 2 if bidirectional else 1
    names: dict[str, tuple[int, ...]] = {}
    if not onehot:
        names["embedding.weight"] = (V, D)
    for k in range(num_layers):
        for suffix in ["", "_reverse"][:dirs]:
            d_in = (V - 2 if onehot else D) if k == 0 else H * dirs
            names[f"rnn.weight_ih_l{k}{suffix}"] = (G * H, d_in)
            names[f"rnn.weight_hh_l{k}{suffix}"] = (G * H, H)
            names[f"rnn.bias_ih_l{k}{suffix}"] = (G * H,)
            names[f"rnn.bias_hh_l{k}{suffix}"] = (G * H,)
    names["head.weight"] = (num_outputs, H * dirs)
    names["head.bias"] = (num_outputs,)
    return names


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("input_", ["embedding", "onehot"])
def test_names_and_shapes(cell, act, bidirectional, num_layers, input_):
    spec = _spec(cell, act, bidirectional, num_layers, input_)
    params = init_params(spec, np.random.default_rng(0), np.float32)
    state = torch_state_dict(params, spec)
    expected = _expected(cell, bidirectional, num_layers, input_ == "onehot", spec.num_outputs)
    # same names in PyTorch's state_dict() order, same shapes, dtype kept
    assert list(state) == list(expected)
    assert {k: v.shape for k, v in state.items()} == expected
    assert torch_shapes(spec) == expected
    assert all(v.dtype == np.float32 for v in state.values())
    # every value is copied from the parameter it maps from
    for name, value in params.items():
        first, *rest = torch_names(name)
        np.testing.assert_array_equal(state[first], value)
        for other in rest:  # RNN/LSTM single bias: bias_hh is zero
            assert cell != "gru" and other.startswith("rnn.bias_hh_l")
            np.testing.assert_array_equal(state[other], np.zeros_like(value))


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
def test_bias_hh_is_zero_for_rnn_and_lstm_and_kept_for_gru(cell, act):
    spec = _spec(cell, act, True, 2, "embedding")
    params = init_params(spec, np.random.default_rng(1), np.float64)
    state = torch_state_dict(params, spec)
    bias_hh = [k for k in state if k.startswith("rnn.bias_hh_")]
    assert len(bias_hh) == 4
    for k in bias_hh:
        ours = k.replace("rnn.bias_hh_l", "rnn.l")
        if cell == "gru":
            np.testing.assert_array_equal(state[k], params[f"{ours}.b_hh"])
            np.testing.assert_array_equal(state[k.replace("_hh_", "_ih_")], params[f"{ours}.b_ih"])
        else:
            assert not state[k].any()
            np.testing.assert_array_equal(state[k.replace("_hh_", "_ih_")], params[f"{ours}.b"])


def test_name_mapping():
    assert torch_names("embedding.weight") == ("embedding.weight",)
    assert torch_names("rnn.l0.W_ih") == ("rnn.weight_ih_l0",)
    assert torch_names("rnn.l1_reverse.W_hh") == ("rnn.weight_hh_l1_reverse",)
    assert torch_names("rnn.l0_reverse.b") == ("rnn.bias_ih_l0_reverse", "rnn.bias_hh_l0_reverse")
    assert torch_names("rnn.l2.b_ih") == ("rnn.bias_ih_l2",)
    assert torch_names("rnn.l2.b_hh") == ("rnn.bias_hh_l2",)
    assert torch_names("head.W") == ("head.weight",)
    assert torch_names("head.b") == ("head.bias",)
    assert torch_names("rnn.l0.h0") is None


def test_module_code():
    spec = _spec("lstm", "tanh", True, 2, "onehot", num_classes=2)
    assert torch_module_code(spec) == [
        "self.rnn = nn.LSTM(7, 3, num_layers=2, batch_first=True, bidirectional=True)",
        "self.head = nn.Linear(6, 1)",
        "# forward: one_hot(ids, 9)[..., 2:] → packed sequence → rnn → h_n of the top layer "
        "([forward, backward] concatenated) → head",
    ]
    spec = _spec("rnn", "relu", False, 1, "embedding")
    assert torch_module_code(spec)[:3] == [
        "self.embedding = nn.Embedding(9, 4)",
        "self.rnn = nn.RNN(4, 3, num_layers=1, batch_first=True, bidirectional=False, nonlinearity='relu')",
        "self.head = nn.Linear(3, 3)",
    ]


def test_module_code_dropout_pooling_and_per_step():
    spec = model_spec(dict(vocab_size=V, num_classes=5, task="tag", cell="gru", hidden_size=H, embedding_dim=D,
                     num_layers=2, dropout=0.25))
    code = torch_module_code(spec)
    assert code[1] == "self.rnn = nn.GRU(4, 3, num_layers=2, batch_first=True, bidirectional=False, dropout=0.25)"
    assert code[2] == "self.head = nn.Linear(3, 5)"
    assert "every step's output" in code[3]
    one_layer = ModelSpec(vocab_size=V, num_classes=2, cell="gru", dropout=0.25, pooling="max")
    assert "dropout" not in torch_module_code(one_layer)[1]  # PyTorch warns: no effect with one layer
    assert "the max of the top layer's outputs" in torch_module_code(one_layer)[3]


@pytest.mark.parametrize("cell,names", [("lstm", "rnn.l0.c0, rnn.l0.h0, rnn.l0_reverse.c0, rnn.l0_reverse.h0"),
                                        ("gru", "rnn.l0.h0, rnn.l0_reverse.h0")])
def test_learned_initial_states_cannot_be_exported(cell, names, tmp_path):
    spec = ModelSpec(vocab_size=V, num_classes=2, cell=cell, hidden_size=H, embedding_dim=D,
                     bidirectional=True, learn_h0=True)
    params = init_params(spec, np.random.default_rng(0))
    with pytest.raises(UsageError) as info:
        torch_state_dict(params, spec)
    assert info.value.message.endswith(f"cannot hold: {names}.")
    assert "learn_h0" in info.value.hint and "h_0" in info.value.hint


def test_params_that_do_not_fit_the_spec():
    spec = _spec("gru", "tanh", False, 1, "embedding")
    params = init_params(spec, np.random.default_rng(0))
    wrong = dict(params, **{"rnn.l0.W_hh": np.zeros((2, 2), np.float32)})
    with pytest.raises(RunError, match=r"rnn.weight_hh_l0 has shape \(2, 2\), expected \(9, 3\)"):
        torch_state_dict(wrong, spec)
    missing = {k: v for k, v in params.items() if k != "head.b"}
    with pytest.raises(RunError, match="head.bias missing"):
        torch_state_dict(missing, spec)


def test_export_run_rejects_unknown_format(tmp_path):
    with pytest.raises(UsageError, match="unknown export format 'tflite'"):
        export_run(None, "tflite", tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


# ---------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("export")
    code = main(["train", "--config", str(CONFIG), "--set", f"run.dir={tmp / 'run'}", "--set", "train.epochs=1",
                 "--set", f"data.train={REPO / 'datasets/toy/sentiment.tsv'}",
                 "--set", f"data.dev={REPO / 'datasets/toy/sentiment-dev.tsv'}", "-q"])
    assert code == 0
    return tmp / "run"


def test_cli_export_json(toy_run, tmp_path, capsys):
    out = tmp_path / "model.npz"
    capsys.readouterr()
    assert main(["export", str(toy_run), "--format", "torch", "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    with np.load(out, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    names = ["embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
             "head.weight", "head.bias"]
    assert report["out"] == str(out) and report["format"] == "torch"
    assert [t["name"] for t in report["tensors"]] == names
    assert {t["name"]: tuple(t["shape"]) for t in report["tensors"]} == {k: v.shape for k, v in arrays.items()}
    assert sorted(arrays) == sorted(names)
    from rnncli.rundir import load_run

    run = load_run(toy_run)
    np.testing.assert_array_equal(arrays["rnn.weight_hh_l0"], run.params["rnn.l0.W_hh"])
    np.testing.assert_array_equal(arrays["rnn.bias_ih_l0"], run.params["rnn.l0.b"])
    assert not arrays["rnn.bias_hh_l0"].any()
    assert arrays["head.weight"].shape == (1, 16)  # two classes: one sigmoid logit
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temp file


def test_cli_export_table(toy_run, tmp_path, capsys):
    out = tmp_path / "model.npz"
    capsys.readouterr()
    assert main(["export", str(toy_run), "--format", "torch", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"wrote {out} (torch, 7 tensors)")
    assert "nn.RNN(16, 16, num_layers=1, batch_first=True, bidirectional=False, nonlinearity='tanh')" in captured.out
    assert "rnn.weight_ih_l0" in captured.out and "16×16" in captured.out
    assert out.is_file()


def test_cli_export_bad_format_is_usage_error(toy_run, tmp_path, capsys):
    capsys.readouterr()
    code = main(["export", str(toy_run), "--format", "tflite", "--out", str(tmp_path / "m.npz")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.splitlines()[0] == "Error: unknown export format 'tflite'; choose one of: torch, onnx, safetensors."
    assert not (tmp_path / "m.npz").exists()


def test_cli_export_missing_run(tmp_path, capsys):
    capsys.readouterr()
    missing = tmp_path / "no-such-run"
    code = main(["export", str(missing), "--format", "torch", "--out", str(tmp_path / "m.npz")])
    captured = capsys.readouterr()
    assert code == 5
    assert captured.out == ""
    assert captured.err.splitlines()[0] == f"Error: {missing} is not a usable run directory: it does not exist."
    assert not (tmp_path / "m.npz").exists()


def test_cli_export_missing_out_directory(toy_run, tmp_path, capsys):
    capsys.readouterr()
    code = main(["export", str(toy_run), "--format", "torch", "--out", str(tmp_path / "no" / "m.npz")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--format", "torch"], ["--out", "m.npz"]], ids=["no-out", "no-format"])
def test_cli_export_required_options(toy_run, args, capsys):
    assert main(["export", str(toy_run), *args]) == 2


def test_cli_export_help_has_example(capsys):
    capsys.readouterr()
    assert main(["export", "--help"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if line.strip().startswith("Example:"))
    assert "rnn export" in lines[i] and "--format torch" in lines[i]


def test_cli_export_learned_initial_state_is_usage_error(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "-q", "--config", str(CONFIG), "--set", f"run.dir={run_dir}", "--set", "train.epochs=1",
                 "--set", "model.learn_h0=true", "--set", f"data.train={REPO / 'datasets/toy/sentiment.tsv'}",
                 "--set", f"data.dev={REPO / 'datasets/toy/sentiment-dev.tsv'}"]) == 0
    capsys.readouterr()
    code = main(["export", str(run_dir), "--format", "torch", "--out", str(tmp_path / "m.npz")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.splitlines()[0] == ("Error: cannot export to PyTorch: the model has parameters "
                                            "nn.Embedding/nn.RNN/nn.Linear cannot hold: rnn.l0.h0.")
    assert captured.err.splitlines()[1].startswith("hint: nn.RNN, nn.LSTM and nn.GRU hold only weights and biases")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("fmt", ["torch", "onnx"])
def test_cli_export_refuses_real_valued_features(tmp_path, capsys, fmt):
    """The adding problem's model reads feature vectors; the exported modules read token ids."""
    data, run_dir = tmp_path / "adding.tsv", tmp_path / "run"
    assert main(["data", "make", "adding", "--length", "5", "--n", "40", "--out", str(data)]) == 0
    assert main(["train", "-q", "--config", str(REPO / "configs/adding-rnn.yaml"), "--set", f"data.train={data}",
                 "--set", "data.dev=null", "--set", "train.epochs=1", "--set", f"run.dir={run_dir}"]) == 0
    capsys.readouterr()
    code = main(["export", str(run_dir), "--format", fmt, "--out", str(tmp_path / ("m.onnx" if fmt == "onnx" else "m.npz"))])
    err = capsys.readouterr().err
    assert code == 2 and "reads real-valued features (model.input: features)" in err, err
    assert "--format torch" not in err and not list(tmp_path.glob("m.*"))


@pytest.mark.parametrize("fmt,companion", [("torch", "m.json"), ("torch", "model.py"), ("onnx", "m.vocab.json")])
def test_an_export_writes_all_its_files_or_none(toy_run, tmp_path, capsys, fmt, companion):
    """A companion file that cannot be written (here a folder has its name) leaves no weights behind either."""
    (tmp_path / companion).mkdir()
    out = tmp_path / ("m.onnx" if fmt == "onnx" else "m.npz")
    code = main(["export", str(toy_run), "--format", fmt, "--out", str(out)])
    err = capsys.readouterr().err
    if companion == "model.py":  # a model.py rnncli did not write is refused before anything is written
        assert code == 2 and "exists and rnncli did not write it" in err, err
    else:
        assert code == 2 and f"cannot write {tmp_path / companion}: Is a directory" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [companion]  # no weights, no temporary files


def test_outputs_that_cannot_be_written_are_usage_errors(toy_run, tmp_path, capsys):
    """A folder that takes no new files (Linux's /proc, which even root cannot write into) is named, with exit 2,
    not an unexpected error."""
    proc = Path("/proc")
    if not (proc / "self").is_dir():
        pytest.skip("needs Linux's /proc")
    for args in (["export", str(toy_run), "--format", "torch", "--out", str(proc / "m.npz")],
                 ["export", str(toy_run), "--format", "onnx", "--out", str(proc / "m.onnx")],
                 ["predict", "--model", str(toy_run), "--data", str(REPO / "datasets/toy/sentiment-dev.tsv"),
                  "--out", str(proc / "p.csv")],
                 ["data", "make", "parity", "--length", "5", "--n", "10", "--out", str(proc / "d.tsv")]):
        code = main(args)
        err = capsys.readouterr().err
        assert code == 2 and f"cannot write {proc}/" in err and "unexpected" not in err, (args, err)


@pytest.mark.parametrize("fmt,out", [("torch", "m.onnx"), ("onnx", "m.npz"), ("safetensors", "m.npz")])
def test_cli_export_out_must_carry_the_formats_extension(toy_run, tmp_path, capsys, fmt, out):
    code = main(["export", str(toy_run), "--format", fmt, "--out", str(tmp_path / out)])
    err = capsys.readouterr().err
    assert code == 2 and f"--format {fmt} writes a" in err and not list(tmp_path.iterdir()), err
