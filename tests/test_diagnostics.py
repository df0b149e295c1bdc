"""rnn grad-norms: the per-step norms against finite differences, the summary math, the formats
and the errors."""

from __future__ import annotations

import builtins
import csv
import json
import math

import numpy as np
import pytest

from rnncli.tools import diagnostics as dg
from rnncli.tools import gradcheck as gc
from rnncli.models import ModelSpec, init_params, loss_and_grads
from rnncli.tasks import model_spec
from rnncli.models.sequence import forward, loss_from_logits

CELL_VARIANTS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


# ------------------------------------------------------- an independent reference


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_loss(params, spec: ModelSpec, inputs, lengths, targets, poke=None):
    """The batch's mean loss from a per-example, per-step loop over PyTorch's equations.

    ``poke = (layer, direction, t, n, part, delta)`` adds ``delta`` to ``part`` of example n at
    step t of that layer and direction: "h" right after h_t is computed (h_t is both the layer's
    output at t and the state the next step reads), "c" right after c_t is computed, before
    h_t = o ⊙ tanh(c_t) reads it.
    """
    H = spec.hidden_size
    N = len(lengths)
    T = inputs.shape[1]
    logits = np.zeros((N, T, spec.num_outputs)) if spec.per_step else np.zeros((N, spec.num_outputs))
    for n, L in enumerate(lengths):
        if spec.input == "features":
            seq = [inputs[n, t] for t in range(L)]
        else:
            seq = [params["embedding.weight"][i] for i in inputs[n, :L]]
        for k in range(spec.num_layers):
            outputs = []
            for d in range(2 if spec.bidirectional else 1):
                name = f"rnn.l{k}{'_reverse' if d else ''}"
                W_ih, W_hh = params[f"{name}.W_ih"], params[f"{name}.W_hh"]
                h, c = np.zeros(H), np.zeros(H)
                hs = [None] * L
                for t in (range(L - 1, -1, -1) if d else range(L)):
                    x = seq[t]
                    if spec.cell == "rnn":
                        z = W_ih @ x + W_hh @ h + params[f"{name}.b"]
                        h = np.tanh(z) if spec.activation == "tanh" else np.maximum(z, 0)
                    elif spec.cell == "lstm":
                        g = W_ih @ x + W_hh @ h + params[f"{name}.b"]
                        i, f, gg, o = _sig(g[:H]), _sig(g[H : 2 * H]), np.tanh(g[2 * H : 3 * H]), _sig(g[3 * H :])
                        c = f * c + i * gg
                        if poke is not None and poke[:5] == (k, d, t, n, "c"):
                            c = c + poke[5]
                        h = o * np.tanh(c)
                    else:
                        gi = W_ih @ x + params[f"{name}.b_ih"]
                        gh = W_hh @ h + params[f"{name}.b_hh"]
                        r = _sig(gi[:H] + gh[:H])
                        zz = _sig(gi[H : 2 * H] + gh[H : 2 * H])
                        nn = np.tanh(gi[2 * H :] + r * gh[2 * H :])
                        h = (1 - zz) * nn + zz * h
                    if poke is not None and poke[:5] == (k, d, t, n, "h"):
                        h = h + poke[5]
                    hs[t] = h
                outputs.append((hs, h))
            seq = [np.concatenate([o[0][t] for o in outputs]) for t in range(L)]
            final = np.concatenate([o[1] for o in outputs])
        if spec.per_step:
            for t in range(L):
                logits[n, t] = params["head.W"] @ seq[t] + params["head.b"]
        elif spec.pooling == "mean":
            logits[n] = params["head.W"] @ np.mean(seq, axis=0) + params["head.b"]
        else:
            logits[n] = params["head.W"] @ final + params["head.b"]
    mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    return loss_from_logits(logits, targets, spec, mask)[0]


def finite_difference_norms(params, spec, inputs, lengths, targets, part, eps=1e-6):
    """{(layer, direction): (N, T) array of ‖∂L/∂part_t‖ by centred differences; NaN at padding."""
    H = spec.hidden_size
    N, T = len(lengths), inputs.shape[1]
    out = {}
    for k in range(spec.num_layers):
        for d in range(spec.stack.directions):
            norms = np.full((N, T), np.nan)
            for n, L in enumerate(lengths):
                for t in range(L):
                    g = np.zeros(H)
                    for j in range(H):
                        delta = np.zeros(H)
                        delta[j] = eps
                        up = reference_loss(params, spec, inputs, lengths, targets, (k, d, t, n, part, delta))
                        down = reference_loss(params, spec, inputs, lengths, targets, (k, d, t, n, part, -delta))
                        g[j] = (up - down) / (2 * eps)
                    norms[n, t] = np.linalg.norm(g)
            out[(k, d)] = norms
    return out


def _case(cell, act, bidirectional, task="classify", input="embedding", pooling="last", seed=0):
    rng = np.random.default_rng(seed)
    classes = {"classify": 3, "regress": 1, "tag": 3}[task]
    spec = model_spec(dict(vocab_size=7, num_classes=classes, task=task, cell=cell, activation=act, input=input,
                     embedding_dim=3, hidden_size=3, num_layers=2, bidirectional=bidirectional, pooling=pooling,
                     feature_dim=2 if input == "features" else 0))
    params = init_params(spec, rng, np.float64)
    if act == "relu":  # keep every unit active so no finite difference straddles relu's kink
        for name in params:
            if name.endswith(".b"):
                params[name] = np.abs(params[name]) + 0.5
    lengths = [4, 2]
    T = max(lengths)
    mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    if input == "features":
        inputs = np.abs(rng.standard_normal((2, T, 2))) * mask[:, :, None]
    else:
        inputs = rng.integers(2, spec.vocab_size, size=(2, T)) * mask
    if task == "tag":
        targets = rng.integers(0, classes, size=(2, T)) * mask
    elif task == "regress":
        targets = rng.standard_normal(2)
    else:
        targets = rng.integers(0, classes, size=2)
    return spec, params, inputs, mask, lengths, targets


CASES = [(cell, act, bi, "classify", "embedding", "last") for cell, act in CELL_VARIANTS for bi in (False, True)]
CASES += [("lstm", "tanh", True, "tag", "embedding", "last"), ("gru", "tanh", True, "regress", "features", "mean"),
          ("rnn", "tanh", False, "regress", "features", "last")]


@pytest.mark.parametrize("cell,act,bi,task,input,pooling", CASES,
                         ids=lambda v: str(v) if not isinstance(v, bool) else ("bi" if v else "uni"))
def test_recorded_norms_match_finite_differences(cell, act, bi, task, input, pooling):
    """‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖) of every example, position, layer and direction, against centred
    differences of an independent per-example loop, in float64."""
    spec, params, inputs, mask, lengths, targets = _case(cell, act, bi, task, input, pooling)
    reference = reference_loss(params, spec, inputs, lengths, targets)
    record: dict = {}
    loss, _, _, _ = loss_and_grads(params, spec, inputs, mask, targets, record=record)
    assert loss == pytest.approx(reference, rel=1e-12)  # the reference computes the same function
    parts = ["h", "c"] if cell == "lstm" else ["h"]
    for part in parts:
        numeric = finite_difference_norms(params, spec, inputs, lengths, targets, part)
        for key, fd in numeric.items():
            got = record[key][part]
            assert got.shape == mask.shape
            np.testing.assert_allclose(got[mask], fd[mask], rtol=1e-6, atol=1e-10, err_msg=f"{part} {key}")
            assert np.all(got[~mask] == 0.0)  # padding gets no gradient
    assert set(record) == {(k, d) for k in range(2) for d in range(2 if bi else 1)}


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
def test_recording_changes_no_result(cell, act):
    spec, params, inputs, mask, lengths, targets = _case(cell, act, True)
    loss1, grads1, logits1, _ = loss_and_grads(params, spec, inputs, mask, targets)
    loss2, grads2, logits2, _ = loss_and_grads(params, spec, inputs, mask, targets, record={})
    assert loss1 == loss2
    np.testing.assert_array_equal(logits1, logits2)
    for k in grads1:
        np.testing.assert_array_equal(grads1[k], grads2[k])


def test_report_averages_each_examples_own_gradient_over_real_tokens():
    """h[t] = mean over examples with a token at t of N·‖∂(mean loss)/∂h_t‖, i.e. of ‖∂ℓ_n/∂h_t‖."""
    from rnncli.tasks import Batch

    spec, params, inputs, mask, lengths, targets = _case("gru", "tanh", True)
    record: dict = {}
    loss_and_grads(params, spec, inputs, mask, targets, record=record)
    report = dg.grad_norms(params, spec, [Batch(inputs, mask, targets)])
    N = len(lengths)
    for layer in report.layers:
        d = dg.DIRECTIONS.index(layer.direction)
        rec = record[(layer.layer, d)]["h"] * N
        expected = [rec[mask[:, t], t].mean() for t in range(mask.shape[1])]
        np.testing.assert_allclose(layer.h, expected, rtol=1e-12)
        assert layer.examples == [2, 2, 1, 1]
    # each example alone gives its own norms: the scaling removes the batch size
    alone = dg.grad_norms(params, spec, [Batch(inputs[:1], mask[:1], targets[:1])])
    np.testing.assert_allclose(alone.layers[0].h, record[(0, 0)]["h"][0] * N, rtol=1e-10)


# ---------------------------------------------------------------- summary math


def test_rate_and_ratio_of_a_geometric_decay():
    T = 50
    h = [0.5 ** (T - 1 - i) for i in range(T)]  # h_T = 1, each step back halves it
    layer = dg.LayerNorms(0, "forward", h, None, [1] * T).summarise()
    assert layer.ratio == pytest.approx(0.5 ** (T - 1))
    assert layer.rate == pytest.approx(0.5)
    assert layer.verdict == "vanishing"
    # the reverse direction starts BPTT at t = 1: the same numbers reversed give the same figures
    rev = dg.LayerNorms(0, "reverse", h[::-1], None, [1] * T).summarise()
    assert (rev.ratio, rev.verdict) == (pytest.approx(layer.ratio), "vanishing")
    assert rev.rate == pytest.approx(0.5)


@pytest.mark.parametrize("ratio,verdict", [(0.0099, "vanishing"), (0.01, "stable"), (1.0, "stable"), (100.0, "stable"),
                                           (100.1, "exploding"), (math.inf, "exploding"), (math.nan, "exploding")])
def test_verdict_thresholds(ratio, verdict):
    assert dg.verdict_of(ratio) == verdict
    assert dg.VANISHING_BELOW == 1e-2 and dg.EXPLODING_ABOVE == 1e2


def test_flow_ratio_edge_cases():
    assert dg.flow_ratio([2.0, 3.0]) == 1.5
    assert dg.flow_ratio([0.0, 0.0]) == 0.0
    assert dg.flow_ratio([0.0, 1.0]) == math.inf
    assert dg.flow_ratio([1.0, math.inf]) == math.inf
    assert math.isnan(dg.fit_rate([1.0]))
    assert dg.fit_rate([1.0, 0.0, 0.25]) == pytest.approx(0.5)  # zeros are left out of the fit


def test_summary_is_the_layer_farthest_from_one():
    mk = lambda d, h: dg.LayerNorms(0, d, h, None, [1] * len(h)).summarise()  # noqa: E731
    report = dg.GradNormReport("s", "d", "classify", "rnn", 1, 1, 3, 0.0,
                               [mk("forward", [0.5, 1.0, 1.0]), mk("reverse", [1.0, 1.0, 1e-3])])
    assert report.summary.direction == "reverse" and report.to_dict()["verdict"] == "vanishing"


def test_tanh_rnn_vanishes_and_an_exploding_relu_rnn_explodes_at_initialisation():
    from rnncli.tasks import Batch

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(8, 60, 2))
    mask = np.ones((8, 60), dtype=bool)
    y = rng.uniform(size=8)
    spec = model_spec(dict(vocab_size=2, num_classes=1, task="regress", input="features", feature_dim=2, hidden_size=8))
    tanh = dg.grad_norms(init_params(spec, np.random.default_rng(0), np.float32), spec, [Batch(x, mask, y)])
    assert tanh.summary.verdict == "vanishing"
    relu = model_spec({**spec.to_dict(), "activation": "relu"})
    big = init_params(relu, np.random.default_rng(0), np.float32, init="identity", recurrent_gain=1.5)
    assert dg.grad_norms(big, relu, [Batch(x, mask, y)]).summary.verdict == "exploding"
    irnn = init_params(relu, np.random.default_rng(0), np.float32, init="identity")
    assert dg.grad_norms(irnn, relu, [Batch(x, mask, y)]).summary.verdict == "stable"


# ------------------------------------------------------------- features input


def test_features_input_is_in_the_gradcheck_matrix():
    cases = [spec for spec, _ in gc.default_cases() if spec.input == "features"]
    assert {spec.cell for spec in cases} == {"rnn", "lstm", "gru"}
    for spec, padded in [(s, p) for s, p in gc.default_cases() if s.input == "features"][:2]:
        assert gc.check_case(spec, padded).passed


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
def test_features_padding_invariance(cell, act):
    rng = np.random.default_rng(2)
    spec = model_spec(dict(vocab_size=2, num_classes=1, task="regress", cell=cell, activation=act, input="features",
                     feature_dim=3, hidden_size=3, num_layers=2, bidirectional=True))
    params = init_params(spec, rng, np.float64)
    lengths = [5, 2, 3]
    mask = np.arange(5)[None, :] < np.asarray(lengths)[:, None]
    x = rng.standard_normal((3, 5, 3)) * mask[:, :, None]
    y = rng.standard_normal(3)
    logits, _ = forward(params, spec, x, mask)
    _, grads, _, _ = loss_and_grads(params, spec, x, mask, y)
    summed = {k: np.zeros_like(v) for k, v in grads.items()}
    for n, L in enumerate(lengths):
        one, _ = forward(params, spec, x[n : n + 1, :L], mask[n : n + 1, :L])
        np.testing.assert_allclose(one[0], logits[n], rtol=1e-12, atol=1e-12)
        _, g, _, _ = loss_and_grads(params, spec, x[n : n + 1, :L], mask[n : n + 1, :L], y[n : n + 1])
        for k in g:
            summed[k] += g[k] / len(lengths)  # the batch loss is the mean
    for k in grads:
        np.testing.assert_allclose(grads[k], summed[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_float32_model_keeps_float32_with_float64_features():
    spec = model_spec(dict(vocab_size=2, num_classes=1, task="regress", input="features", feature_dim=2, hidden_size=3))
    params = init_params(spec, np.random.default_rng(0), np.float32)
    logits, _ = forward(params, spec, np.ones((2, 3, 2)), np.ones((2, 3), dtype=bool))
    assert logits.dtype == np.float32


# ------------------------------------------------------------------------ CLI

ADDING_CONFIG = """\
task: regress
data:
  train: data/adding.tsv
  format: features
model:
  cell: {cell}
  input: features
  hidden_size: 4
train:
  epochs: 2
  batch_size: 8
  lr: 0.01
"""


@pytest.fixture
def adding_ws(cli, workspace):
    """A workspace with a small adding data set and configs for it."""
    r = cli("data", "make", "adding", "--length", "12", "--n", "40", "--out", "data/adding.tsv")
    assert r.code == 0, r.err
    for cell in ("rnn", "lstm"):
        (workspace / f"adding-{cell}.yaml").write_text(ADDING_CONFIG.format(cell=cell))
    return workspace


def test_grad_norms_table(cli, adding_ws):
    r = cli("grad-norms", "--config", "adding-lstm.yaml", "--steps", "0")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "lstm, task regress: adding-lstm.yaml at initialisation (seed 0)"
    assert lines[1] == "data data/adding.tsv: 1 batch(es), 8 examples, T = 12, loss " + lines[1].split()[-1]
    assert "l0 forward ‖∂L/∂h_t‖" in lines[2] and "l0 forward ‖∂L/∂c_t‖" in lines[2]
    assert sum(1 for line in lines if line.split("│")[0].strip().isdigit()) == 12  # --steps 0: every step
    assert any(line.startswith("l0 forward h  ") for line in lines) and any(line.startswith("l0 forward c  ") for line in lines)
    assert "rnn.l0.W_hh" in r.out and "‖∂L/∂θ‖/‖θ‖" in r.out
    assert lines[-1].startswith("verdict: ")
    assert "vanishing < 0.01 ≤ stable ≤ 100 < exploding" in lines[-1]


def test_grad_norms_json_csv_and_batches(cli, adding_ws):
    r = cli("grad-norms", "--config", "adding-rnn.yaml", "--batches", "3", "--json", "--csv", "norms.csv")
    assert r.code == 0, r.err
    d = r.json()
    assert (d["batches"], d["examples"], d["steps"], d["task"], d["cell"]) == (3, 24, 12, "regress", "rnn-tanh")
    assert d["verdict"] in ("vanishing", "stable", "exploding")
    assert d["thresholds"] == {"vanishing_below": 0.01, "exploding_above": 100.0}
    (layer,) = d["layers"]
    assert len(layer["h"]) == 12 and "c" not in layer and layer["examples"] == [24] * 12
    assert layer["ratio"] == pytest.approx(layer["h"][0] / layer["h"][-1])
    assert [p["name"] for p in d["params"]] == ["rnn.l0.W_ih", "rnn.l0.W_hh", "rnn.l0.b", "head.W", "head.b"]
    rows = list(csv.DictReader((adding_ws / "norms.csv").open()))
    assert len(rows) == 12 and rows[0]["t"] == "1" and rows[0]["direction"] == "forward"
    assert float(rows[5]["h_norm"]) == pytest.approx(layer["h"][5])
    assert "wrote norms.csv (12 rows)" in r.err


def test_grad_norms_set_changes_the_model(cli, adding_ws):
    relu = cli("grad-norms", "--config", "adding-rnn.yaml", "--set", "model.activation=relu",
               "--set", "model.init=identity", "--set", "model.recurrent_gain=3", "--json")
    assert relu.code == 0, relu.err
    assert relu.json()["cell"] == "rnn-relu" and relu.json()["verdict"] == "exploding"


def test_grad_norms_of_a_trained_run_and_its_history(cli, adding_ws):
    r = cli("train", "--config", "adding-lstm.yaml", "--grad-norms", "--json")
    assert r.code == 0, r.err
    records = [json.loads(line) for line in (adding_ws / "runs/adding-lstm/metrics.jsonl").read_text().splitlines()]
    assert all(set(rec["grad_norms"]) >= {"ratio", "rate", "verdict", "layers"} for rec in records)
    assert len(records[0]["grad_norms"]["layers"][0]["h"]) == 12 and "c" in records[0]["grad_norms"]["layers"][0]

    now = cli("grad-norms", "--model", "runs/adding-lstm", "--data", "data/adding.tsv", "--json")
    assert now.code == 0, now.err
    assert now.json()["source"] == "runs/adding-lstm (trained, 2 epochs)"

    hist = cli("grad-norms", "--model", "runs/adding-lstm", "--history")
    assert hist.code == 0, hist.err
    assert "epoch" in hist.out.splitlines()[1] and "epoch 2  " in hist.out
    hj = cli("grad-norms", "--model", "runs/adding-lstm", "--history", "--json", "--csv", "hist.csv")
    assert [e["epoch"] for e in hj.json()["epochs"]] == [1, 2]
    assert len(list(csv.DictReader((adding_ws / "hist.csv").open()))) == 2 * 12


def test_train_grad_norms_does_not_change_training(cli, adding_ws):
    a = cli("train", "--config", "adding-rnn.yaml", "--json", "--set", "run.dir=runs/a")
    b = cli("train", "--config", "adding-rnn.yaml", "--json", "--set", "run.dir=runs/b", "--grad-norms")
    assert a.code == b.code == 0
    fa, fb = a.jsonl()[-1]["final"], b.jsonl()[-1]["final"]
    assert fa["train_loss"] == fb["train_loss"]
    assert "grad_norms" in fb and "grad_norms" not in fa
    with np.load(adding_ws / "runs/a/weights.npz") as wa, np.load(adding_ws / "runs/b/weights.npz") as wb:
        for k in wa.files:
            np.testing.assert_array_equal(wa[k], wb[k])
    table = cli("train", "--config", "adding-rnn.yaml", "--set", "run.dir=runs/c", "--grad-norms")
    assert "h_1/h_T" in table.out and "grad_norms" not in table.out
    # a model of real-valued features reads no text: the next step offered is its evaluation, which works
    nxt = table.out.rsplit("Next: ", 1)[1].strip()
    assert nxt.startswith("rnn evaluate --model runs/c --data ") and cli(*nxt.split()[1:]).code == 0
    summary = cli("summary", "--config", "adding-rnn.yaml")
    assert "features input, 2 values per step," in summary.out and "vocabulary" not in summary.out.splitlines()[0]


def test_history_without_records(cli, adding_ws):
    assert cli("train", "--config", "adding-rnn.yaml", "-q").code == 0
    r = cli("grad-norms", "--model", "runs/adding-rnn", "--history")
    assert r.code == 5
    assert r.err_lines[0] == "Error: runs/adding-rnn recorded no gradient norms during training."


def test_plot_without_matplotlib(cli, adding_ws, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    r = cli("grad-norms", "--config", "adding-rnn.yaml", "--plot", "norms.png")
    assert r.code == 2
    assert r.err_lines == ["Error: --plot needs matplotlib, which is not installed.",
                           "hint: install the plot extra: pip install 'rnncli[plot]' (or pip install matplotlib); "
                           "--csv FILE writes the same numbers without it."]
    assert r.out == "" and not (adding_ws / "norms.png").exists()


def test_plot_with_matplotlib(cli, adding_ws):
    pytest.importorskip("matplotlib")
    r = cli("grad-norms", "--config", "adding-lstm.yaml", "--plot", "norms.png", "-q")
    assert r.code == 0, r.err
    assert (adding_ws / "norms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli("train", "--config", "adding-rnn.yaml", "--grad-norms", "-q").code == 0
    h = cli("grad-norms", "--model", "runs/adding-rnn", "--history", "--plot", "hist.png", "-q")
    assert h.code == 0 and (adding_ws / "hist.png").stat().st_size > 1000


@pytest.mark.parametrize("args,message", [
    ([], "Error: grad-norms needs exactly one of --config FILE or --model RUN_DIR."),
    (["--config", "adding-rnn.yaml", "--model", "runs/x"], "Error: grad-norms needs exactly one of --config FILE or --model RUN_DIR."),
    (["--config", "adding-rnn.yaml", "--history"], "Error: --history reads a trained run's metrics.jsonl; it needs --model RUN_DIR."),
])
def test_grad_norms_usage_errors(cli, adding_ws, args, message):
    r = cli("grad-norms", *args)
    assert r.code == 2
    assert r.err_lines[0] == message


def test_grad_norms_zero_batches_is_a_usage_error(cli, adding_ws):
    r = cli("grad-norms", "--config", "adding-rnn.yaml", "--batches", "0")
    assert r.code == 2 and "--batches" in r.err


def test_model_and_data_mismatch(cli, adding_ws, toy_run):
    assert cli("train", "--config", "adding-rnn.yaml", "-q").code == 0
    # a features model fed text
    r = cli("grad-norms", "--model", "runs/adding-rnn", "--data", "datasets/toy/sentiment.tsv")
    assert r.code == 4
    assert r.err_lines[0] == ("Error: datasets/toy/sentiment.tsv: example 1: timestep 1 ('movie') is not a "
                              "comma-separated list of numbers.")
    # a features model fed the wrong number of features per step
    (adding_ws / "three.tsv").write_text("text\tlabel\n0.1,0,1 0.2,1,0\t0.3\n")
    r = cli("grad-norms", "--model", "runs/adding-rnn", "--data", "three.tsv")
    assert r.code == 4
    assert r.err_lines[0] == ("Error: three.tsv: example 1 has 3 features per timestep, but the model reads 2.")
    # a text model fed features: the targets do not fit, or else the tokens
    r = cli("grad-norms", "--model", toy_run, "--data", "data/adding.tsv")
    assert r.code == 4 and r.err_lines[0].startswith("Error: data/adding.tsv: example 1 has an unknown label ")
    (adding_ws / "bits.tsv").write_text("text\tlabel\n0.1,0 0.2,1\t1\n")
    r = cli("grad-norms", "--model", toy_run, "--data", "bits.tsv")
    assert r.code == 4
    assert r.err_lines[0] == ("Error: bits.tsv: none of its tokens is in the model's vocabulary, so it cannot "
                              "be data for this model.")
    # --set is for configs
    r = cli("grad-norms", "--model", "runs/adding-rnn", "--set", "train.lr=1")
    assert r.code == 2 and r.err_lines[0] == "Error: --set changes a config; it applies with --config only."


def test_grad_norms_on_text_tasks(cli, workspace):
    """Token models work too: a bidirectional GRU classifier and a tagger."""
    r = cli("grad-norms", "--config", "configs/sentiment-toy-bigru.yaml", "--json")
    assert r.code == 0, r.err
    assert [(la["layer"], la["direction"]) for la in r.json()["layers"]] == [(0, "forward"), (0, "reverse")]
    r = cli("grad-norms", "--config", "configs/tagging-toy.yaml")
    assert r.code == 0, r.err


def test_features_model_evaluates_and_predicts(cli, adding_ws):
    assert cli("train", "--config", "adding-rnn.yaml", "-q").code == 0
    e = cli("evaluate", "--model", "runs/adding-rnn", "--data", "data/adding.tsv", "--json")
    assert e.code == 0, e.err
    assert e.json()["n"] == 40 and e.json()["task"] == "regress"
    r = cli("predict", "--model", "runs/adding-rnn", "--json", "0.5,1 0.25,0 0.25,1")
    assert r.code == 0, r.err
    (p,) = r.jsonl()
    assert p["text"] == "0.5,1 0.25,0 0.25,1" and p["steps"] == 3 and isinstance(p["value"], float)
    bad = cli("predict", "--model", "runs/adding-rnn", "0.5 0.25")
    assert bad.code == 4
    assert bad.err_lines[0] == "Error: input: example 1 has 1 features per timestep, but the model reads 2."
